"""`weightwatch serve RUN_DIR`: the attached dashboard in a browser, through textual-serve.

textual-serve runs one shell command per browser tab (its `AppService` spawns the command with
Textual's web driver and pipes the screen over a websocket). The command here is `weightwatch
attach RUN_DIR`, so each tab is one more viewer of the live session: it never starts a training
run, and closing a tab detaches that viewer only (the session goes on).

The browser speaks to this server with no token, so it listens on loopback unless told
otherwise; anyone who can reach another address can steer the session, which is said on start.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from pathlib import Path

from weightwatch.engine.errors import BadInput

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def attach_command(run_dir: Path, python: str | None = None) -> str:
    """The shell command one tab runs: this interpreter's `weightwatch attach RUN_DIR` (the
    same install, whatever PATH holds), every part quoted for the shell."""
    parts = [python or sys.executable, "-m", "weightwatch.tui.cli", "attach", str(run_dir)]
    return " ".join(shlex.quote(p) for p in parts)


def public_url(host: str, port: int) -> str:
    """The address the page's websocket connects back to (an IPv6 literal in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(command: str, host: str, port: int, title: str):
    """A textual-serve `Server` for `command` (BadInput when the extra is not installed)."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise BadInput(
            "weightwatch serve needs textual-serve: pip install 'weightwatch[serve]'"
        ) from None
    return Server(command, host=host, port=port, title=title, public_url=public_url(host, port))


def check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise BadInput(f"--port: expected a port number in 1..65535, received {port}")
    return port


def serve_command(args) -> int:
    """The CLI entry: check the run directory has a live session, then serve until Ctrl+C."""
    run_dir = Path(args.run_dir)
    port = check_port(args.port)
    gone = not_answering(run_dir)
    if gone is not None:
        print(f"weightwatch: {gone}", file=sys.stderr)
        return 1
    server = make_server(attach_command(run_dir), args.host, port, f"weightwatch {run_dir.name}")
    if not is_loopback(args.host):
        print(
            f"weightwatch: serving on {args.host}, not loopback: anyone who reaches "
            f"{public_url(args.host, port)} can steer this session",
            file=sys.stderr,
        )
    return run_server(server, args.host, port)


def not_answering(run_dir: Path) -> str | None:
    """None when a session answers on RUN_DIR's socket; else one line saying what happened
    (from the run directory's files, as `attach` says it)."""
    from weightwatch.engine.remote.blocking import Blocking
    from weightwatch.engine.remote.locate import describe_dead

    try:
        Blocking(run_dir, viewer="serve", timeout=5.0).close()
        return None
    except Exception as exc:  # Unreachable, a refusal, a bad folder: one line all the same
        return describe_dead(run_dir) or f"the session in {run_dir} does not answer ({exc})"


def run_server(server, host: str, port: int) -> int:
    """Serve until Ctrl+C / SIGTERM; a port that cannot be bound is one line, exit 2."""
    try:
        server.serve()
    except OSError as exc:
        raise BadInput(
            f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc})"
        ) from None
    return 0
