"""One live session per run directory: `RUN_DIR/session.lock`, held with `flock` for its life.

The lock is the `flock` on an open file, not the file: the kernel drops it when the process ends,
however it ends, so a `kill -9` never leaves a lock that blocks. What the file holds (pid, host,
start time, session id, as JSON) is only for messages: who holds the directory, or, found in a
file that nobody holds, whose session was killed. A clean release empties the file, so content
found on taking the lock means the previous owner died without releasing it (a stale lock).

The file is never unlinked: removing it would let a session that opened the old file and one that
creates a new one both hold "the" lock. It is opened with O_NOFOLLOW and must be a plain file
with one link, because a run directory is input too: a planted link must not make weightwatch
truncate a file somewhere else.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import time
import weakref
from pathlib import Path

from .atomic import os_reason
from .errors import BadInput

LOCK_NAME = "session.lock"
READ_TRIES = 20  # x 50 ms: the holder writes its details just after it took the lock


class RunDirInUse(BadInput):
    """A live session holds the run directory (one line, exit code 2 on the CLI)."""


class RunLock:
    """The held lock of one session; `release()` (or garbage collection) lets it go."""

    def __init__(self, path: Path, fd: int, holder: dict, stale: dict | None) -> None:
        self.path = path
        self.holder = holder  # what this session wrote into the file
        self.stale = stale  # what a killed session left in it, or None
        self._release = weakref.finalize(self, _release, fd)

    @classmethod
    def acquire(cls, run_dir: Path, session_id: str) -> RunLock:
        """Take the lock before anything in `run_dir` is touched; `RunDirInUse` if it is held."""
        path = Path(run_dir) / LOCK_NAME
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunDirInUse(in_use_message(Path(run_dir), read_holder(path))) from None
        except OSError as e:  # a file system without flock (some network mounts)
            os.close(fd)
            raise BadInput(f"{path}: cannot lock ({os_reason(e)})") from None
        left = os.pread(fd, 4096, 0)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.time(),
            "session": session_id,
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            os.fsync(fd)
        except OSError:
            pass  # a full disk: the flock is the lock; only the messages lose the pid
        return cls(path, fd, holder, _stale(left))

    @property
    def notes(self) -> list[dict]:
        """What events.jsonl should say about taking the lock (a stale one: whose it was)."""
        if self.stale is None:
            return []
        pid = self.stale.get("pid")
        who = f"from pid {pid}" if pid is not None else "(owner unknown)"
        return [{"message": f"stale lock {who} taken over", "stale_lock": self.stale}]

    def release(self) -> None:
        """Empty the file and let the lock go (idempotent)."""
        self._release()


def _open(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as e:
        why = "a symbolic link" if path.is_symlink() else os_reason(e)
        raise BadInput(f"{path}: cannot open the session lock ({why})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        raise BadInput(f"{path}: not a plain file of its own; remove it (weightwatch makes it)")
    return fd


def _release(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)  # a clean end: the next session finds nothing stale
    except OSError:
        pass
    os.close(fd)  # drops the flock


def _stale(left: bytes) -> dict | None:
    if not left.strip():
        return None
    try:
        found = json.loads(left)
    except ValueError:
        found = None
    return found if isinstance(found, dict) else {"content": left[:200].decode("utf-8", "replace")}


def read_holder(path: Path) -> dict:
    """The live holder's details; waits briefly, since it writes them just after locking."""
    for _ in range(READ_TRIES):
        try:
            found = json.loads(path.read_bytes())
            if isinstance(found, dict):
                return found
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return {}


def in_use_message(run_dir: Path, holder: dict) -> str:
    """`runs/x is in use by a live session (pid 1234, started 10:02); use another --run-dir`."""
    who = [f"pid {holder.get('pid', 'unknown')}"]
    host = holder.get("host")
    if host and host != socket.gethostname():
        who.append(f"on {host}")
    started = holder.get("started")
    if isinstance(started, int | float):
        fmt = "%H:%M" if time.time() - started < 20 * 3600 else "%Y-%m-%d %H:%M"
        who.append(f"started {time.strftime(fmt, time.localtime(started))}")
    return f"{shown(run_dir)} is in use by a live session ({', '.join(who)}); use another --run-dir"


def shown(path: Path) -> str:
    """A path as a person typed it: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
