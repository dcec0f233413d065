"""A dashboard over a FakeSession training by itself: what `weightwatch serve` puts in a tab
when the test serves this instead of `weightwatch attach` (no session process, no TensorFlow).

    python -m tests.browser.fake_viewer RUN_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from weightwatch.tui.app import WeightwatchApp

from tests.fakes.fake_session import FakeSession, fake_config


def main(run_dir: str) -> None:
    session = FakeSession(fake_config(Path(run_dir)), rate=200.0)
    app = WeightwatchApp(session)
    session.listener = app.session_listener
    app.run()


if __name__ == "__main__":
    main(sys.argv[1])
