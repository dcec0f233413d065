"""Where a detached session listens, and what to say when nothing answers (docs/protocol.md).

Every path is derived from the run directory alone: a client never reads a socket path from a
file in the run directory (another user may have written it). The folders that hold a socket or
a token are made 0700 and checked to be this user's and closed to others before use.
`describe_dead` reads only fixed file names in the run directory, bounded, and treats what they
hold as data to quote, never as paths to follow.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

from ..errors import BadInput

SESSION_DIR = ".session"
SOCKET_NAME = "sock"
TOKEN_NAME = "token"
SUN_PATH_MAX = 104  # bytes of a Unix socket path, NUL excluded: macOS 104, Linux 108
TAIL_BYTES = 64 << 10  # how much of events.jsonl's end describe_dead reads


def session_dir(run_dir: Path | str, create: bool = False) -> Path:
    """RUN_DIR/.session (0700, this user's; made when `create`)."""
    return private_folder(Path(run_dir).resolve() / SESSION_DIR, create)


def socket_path(run_dir: Path | str, create: bool = False) -> Path:
    """RUN_DIR/.session/sock, or `<runtime dir>/weightwatch/<h>.sock` when that is too long
    for a Unix socket (`<h>`: 16 hex digits of the SHA-256 of the resolved run directory)."""
    resolved = Path(run_dir).resolve()
    local = resolved / SESSION_DIR / SOCKET_NAME
    if len(os.fsencode(local)) <= SUN_PATH_MAX:
        session_dir(resolved, create)
        return local
    h = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:16]
    return private_folder(_runtime_dir(), create) / f"{h}.sock"


def token_path(run_dir: Path | str, create: bool = False) -> Path:
    """RUN_DIR/.session/token: the TCP token, 0600 (always in the run directory)."""
    return session_dir(run_dir, create) / TOKEN_NAME


def _runtime_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_absolute() and Path(runtime).is_dir():
        return Path(runtime) / "weightwatch"
    return Path(tempfile.gettempdir()) / f"weightwatch-{os.getuid()}"


def private_folder(folder: Path, create: bool) -> Path:
    """`folder`, checked (made 0700 first when `create`): a real folder of this user's that
    nobody else may enter. BadInput (one line) otherwise."""
    if create:
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)  # the run directory, say
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError as e:
            raise BadInput(f"{folder}: cannot make the session folder ({e.strerror})") from None
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return folder  # nothing there yet: nothing listens (a client finds no socket)
    except OSError as e:
        raise BadInput(f"{folder}: cannot read the session folder ({e.strerror})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise BadInput(f"{folder}: not a folder (a link or a file); remove it")
    if st.st_uid != os.getuid():
        raise BadInput(f"{folder}: owned by another user (uid {st.st_uid}); refusing to use it")
    if st.st_mode & 0o077:
        if not create:
            raise BadInput(f"{folder}: open to other users (mode {st.st_mode & 0o777:o})")
        os.chmod(folder, 0o700)  # ours, made by an older version or a umask: close it
    return folder


# ----- what happened, when nothing answers ------------------------------------------------------


def describe_dead(run_dir: Path | str) -> str | None:
    """One line saying why no session answers in `run_dir`, or None when its process is alive
    (starting, or a local run without --detach: the caller says so)."""
    run_dir = Path(run_dir)
    where = _shown(run_dir)
    if not run_dir.is_dir():
        return f"no session in {where}: no such run directory"
    holder = _read_json(run_dir / "session.lock", 4096)
    last, step_n = last_event(run_dir), last_metrics_step(run_dir)
    if last and (step_n is None or step_n <= last["session_step"]):
        step, kind = f" at session step {last['session_step']:,}", f" (last event: {last['kind']})"
    elif step_n is not None:
        step = f" at session step {step_n:,}"
        kind = f" (last event: {last['kind']} at step {last['session_step']:,})" if last else ""
    else:
        step = kind = ""
    if isinstance(holder, dict) and holder:
        pid = holder.get("pid")
        if type(pid) is int and pid > 0 and _alive(pid):
            return None
        who = f"process {pid}" if type(pid) is int else "its process"
        return (
            f"the session in {where} is not running: {who} ended without a clean stop{step}{kind}"
        )
    if (run_dir / "report.json").is_file():
        return f"the session in {where} is not running: it stopped cleanly{step}{kind}"
    if last:
        return f"the session in {where} is not running: it ended{step}{kind}"
    return f"no session in {where}: nothing has run there"


def lock_holder(run_dir: Path) -> int | None:
    """The pid written in RUN_DIR/session.lock (the last session to take it, if it has not
    released it), or None."""
    holder = _read_json(Path(run_dir) / "session.lock", 4096)
    pid = holder.get("pid") if isinstance(holder, dict) else None
    return pid if type(pid) is int else None


def last_event(run_dir: Path) -> dict | None:
    """The last whole event record of events.jsonl ({kind, session_step}), from its tail only."""
    for line in reversed(_tail(run_dir / "events.jsonl").split(b"\n")):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn last line (kill -9 mid-write) or the cut first one
        if (
            isinstance(record, dict)
            and record.get("type") == "event"
            and isinstance(record.get("kind"), str)
            and type(record.get("session_step")) is int
        ):
            return {"kind": record["kind"][:60], "session_step": record["session_step"]}
    return None


def _tail(path: Path, limit: int = TAIL_BYTES) -> bytes:
    """The last `limit` bytes of a plain file, b"" for anything else: a FIFO or a device
    planted in a run directory must not hang or flood `attach` and `ps`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return b""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return b""
        return os.pread(fd, limit, max(0, st.st_size - limit))
    except OSError:
        return b""
    finally:
        os.close(fd)


def last_metrics_step(run_dir: Path) -> int | None:
    """The session step of metrics.csv's last whole row (training goes on between events)."""
    lines = _tail(run_dir / "metrics.csv").split(b"\n")
    for line in reversed(lines[:-1]):  # the part after the last newline may be torn
        first = line.split(b",", 1)[0]
        if first.isdigit():
            return int(first)
    return None


def _read_json(path: Path, limit: int) -> object:
    data = _tail(path, limit)
    try:
        return json.loads(data) if data.strip() else {}
    except ValueError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process holds that pid: not ours, but alive
    except (OverflowError, OSError):
        return False
    try:  # a zombie (killed, not yet reaped by its parent) is not alive
        stat_line = Path(f"/proc/{pid}/stat").read_text()
        return stat_line.rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
