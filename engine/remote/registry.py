"""The detached sessions this user started, for `weightwatch ps`.

One small JSON file per session process: `${XDG_STATE_HOME:-~/.local/state}/weightwatch/
sessions/<pid>.json` holding {run_dir, pid, started, listen}. The daemon writes it once its
server listens and removes it on a clean stop, so an entry left behind is a session that died
(`kill -9`, a crash); `ps` says so from the run directory's own files (locate.describe_dead).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .locate import private_folder

MAX_ENTRIES = 1000  # ps reads at most this many (a folder someone filled is not a hang)


def registry_dir(create: bool = False) -> Path:
    state = os.environ.get("XDG_STATE_HOME")
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local/state"
    folder = base / "weightwatch" / "sessions"
    if create:
        folder.parent.mkdir(parents=True, exist_ok=True)
    return private_folder(folder, create)


def register(run_dir: Path, listen: str | None) -> Path:
    """This process's entry (written atomically)."""
    entry = {"run_dir": str(run_dir), "pid": os.getpid(), "started": time.time(), "listen": listen}
    path = registry_dir(create=True) / f"{os.getpid()}.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(entry))
    os.replace(tmp, path)
    return path


def unregister(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def entries() -> list[dict]:
    """Every well-formed entry, oldest first; anything else in the folder is skipped."""
    try:
        folder = registry_dir()
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))[:MAX_ENTRIES]
    except (OSError, ValueError):
        return []
    found = []
    for name in names:
        try:
            entry = json.loads((folder / name).read_text()[:10_000])
        except (OSError, ValueError):
            continue
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("run_dir"), str)
            and type(entry.get("pid")) is int
        ):
            entry["entry"] = str(folder / name)
            found.append(entry)
    return sorted(found, key=_started)


def _started(entry: dict) -> float:
    started = entry.get("started")
    return float(started) if isinstance(started, int | float) else 0.0
