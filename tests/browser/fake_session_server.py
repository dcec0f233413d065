"""A FakeSession training by itself behind a SessionServer, in its own process: a live session
for `weightwatch serve` / `weightwatch attach` without TensorFlow.

    python -m tests.browser.fake_session_server RUN_DIR     (prints "ready"; ends at stdin's end)
"""

from __future__ import annotations

import sys
from pathlib import Path

from weightwatch.engine.remote.server import SessionServer

from tests.fakes.fake_session import FakeSession, fake_config


def main(run_dir: str) -> None:
    session = FakeSession(fake_config(Path(run_dir), epochs=100_000), rate=50.0)
    server = SessionServer(session, Path(run_dir)).start()
    session.start()
    print("ready", flush=True)
    sys.stdin.read()
    server.close()
    session.stop()


if __name__ == "__main__":
    main(sys.argv[1])
