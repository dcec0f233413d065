"""The detached session process (`weightwatch run CONFIG --detach` spawns it; engine only).

    python -m weightwatch.engine.remote.daemon CONFIG --run-dir D [--from X] [--listen H:P]

It loads the config, makes the Session, starts the server, then trains on the main thread until
a `stop` (from a viewer, `weightwatch stop`, SIGTERM or SIGINT; SIGHUP, a dropped SSH
connection, is ignored). At the end it writes report.json as a local quit does, closes the
server (queued replies go out first, then the socket is removed), leaves the registry and lets
the run directory go (an emptied session.lock: the clean-stop mark). The parent gave it
RUN_DIR/session.log as stdout and stderr; fd 2 itself (TensorFlow's C++ logging) goes to
RUN_DIR/tensorflow.log, as in a local run. Bad input: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from ..errors import BadInput

READY_LINE = "weightwatch: session serving"  # the parent waits for `hello`, this is for people


def parse_listen(text: str | None) -> tuple[str, int] | None:
    """`HOST:PORT`, `:PORT` or `PORT` (loopback by default); BadInput naming --listen."""
    if text is None:
        return None
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise BadInput(f"--listen {text}: expected HOST:PORT, such as 127.0.0.1:7000")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="weightwatch-session")
    parser.add_argument("config")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--from", dest="from_checkpoint")
    parser.add_argument("--listen")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a dropped SSH connection: training goes on
    try:
        return serve(args)
    except BadInput as e:
        print(f"weightwatch: {e}", file=sys.stderr, flush=True)
        return 2


def serve(args) -> int:
    from ..backend_env import select_backend
    from ..config import load_config
    from ..session import Session
    from . import registry
    from .server import SessionServer

    listen = parse_listen(args.listen)
    config = load_config(Path(args.config))
    select_backend(config.run, args.config)  # as the parent did: KERAS_BACKEND before Keras
    session = Session(config, run_dir=Path(args.run_dir), from_checkpoint=args.from_checkpoint)
    try:
        server = SessionServer(session, session.run_dir, listen).start()
    except BaseException:
        session.close()
        raise
    where = f"{listen[0]}:{server.port}" if listen is not None else None
    entry = registry.register(session.run_dir, where)
    _stop_on_signals(session)
    print(f"{READY_LINE} in {session.run_dir} (pid {os.getpid()})", flush=True)
    code = 0
    try:
        with _fd2_to(session.run_dir / "tensorflow.log"):
            session.run()
    except Exception:  # an internal error: the traceback for session.log, the report still
        traceback.print_exc()
        code = 1
    finally:
        write_final_report(session)
        server.close()
        registry.unregister(entry)
        session.close()
    print(f"weightwatch: session stopped; report {session.run_dir / 'report.json'}", flush=True)
    return code


def write_final_report(session) -> None:
    """report.json in the run directory, as `weightwatch run`'s quit writes it."""
    from ..report import write_report

    try:
        write_report(session.report(), session.run_dir / "report.json")
    except OSError as e:
        print(f"weightwatch: could not write report.json: {e.strerror}", file=sys.stderr)


def _stop_on_signals(session) -> None:
    """SIGTERM / SIGINT: stop at the next boundary. The handler only starts a thread: the main
    thread may be inside the session's lock when the signal arrives."""

    def handler(signum, frame) -> None:
        threading.Thread(target=session.stop, name="weightwatch-signal-stop").start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


class _fd2_to:
    """fd 2 to `path` (TensorFlow's C++ chatter); Python's sys.stderr keeps session.log."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        sys.stderr.flush()
        self.saved = os.dup(2)
        sys.stderr = os.fdopen(os.dup(2), "w", buffering=1, errors="backslashreplace")
        log = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 2)
        os.close(log)

    def __exit__(self, *exc) -> None:
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)


if __name__ == "__main__":
    sys.exit(main())
