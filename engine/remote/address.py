"""Where a viewer connects (a run directory's socket, or tcp://HOST:PORT), and what it says
when nothing answers there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import errors
from .locate import describe_dead, socket_path


class SessionUnreachable(Exception):
    """Nothing answers at the address: one line for `attach` (exit 1)."""


def parse_address(address: str | Path) -> tuple[str, Any]:
    """('tcp', (host, port)) for `tcp://HOST:PORT`, else ('unix', run_dir)."""
    text = str(address)
    if text.startswith("tcp://"):
        host, sep, port = text[len("tcp://") :].rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise errors.BadInput(f"{text}: expected tcp://HOST:PORT, such as tcp://127.0.0.1:7000")
        return "tcp", (host.strip("[]") or "127.0.0.1", int(port))
    return "unix", Path(text).resolve()


def socket_for(run_dir: Path) -> Path:
    """The socket of the session in `run_dir` (derived from the path, never read from a file)."""
    return socket_path(run_dir)


def describe_gone(run_dir: Path | None) -> str:
    """One line on why nothing answers, from the run directory's files when it is local."""
    if run_dir is None:
        return "the session's connection closed"
    try:
        line = describe_dead(run_dir)
    except Exception:  # an unreadable run directory: say what is known
        line = None
    # None: its process is alive but does not serve viewers (a run without --detach, or one
    # still loading TensorFlow).
    return line or (
        f"the session in {run_dir} does not answer: it runs without --detach, or is still starting"
    )
