"""Where callbacks may write, and what they wrote (`inspect`'s "callback files").

The rule: a callback argument that names a file or folder (PATH_ARGUMENTS) is
- relative: resolved inside the run directory, where the picker and `inspect` look. One that
  leaves it once `..` and symbolic links are resolved (`filepath = "../../x"`) is refused in one
  line, naming the file and the key, at `check`, at the start of `run` and at a callback edit;
- absolute (or `~/...`): the user's explicit choice, used as written; `inspect` lists it.
Every such path is recorded in the `started` and `callbacks_changed` events, so `inspect` can list
what is on disk there from the run directory alone.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import replace
from pathlib import Path

from .errors import BadInput
from .specs import CallbackSpec

PATH_ARGUMENTS = ("filepath", "filename", "log_dir", "backup_dir")
MAX_FILES = 1000  # per path in `inspect` (a TensorBoard folder can hold many)


def _inside(path: Path, folder: Path) -> bool:
    real, base = os.path.realpath(path), os.path.realpath(folder)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def in_run_dir(
    spec: CallbackSpec,
    run_dir: Path,
    *,
    file: str = "",
    where: str = "[[callbacks]]",
    error: type[BadInput] = BadInput,
) -> CallbackSpec:
    """`spec` with relative path arguments made absolute inside `run_dir`; raises BadInput
    for a relative path that leaves it."""
    kwargs = dict(spec.kwargs)
    for key in PATH_ARGUMENTS:
        value = kwargs.get(key)
        if not isinstance(value, str) or not value:
            continue
        if "\0" in value:
            raise error(f"{file}: {where}.{key}: a path with a NUL character")
        if Path(value).expanduser().is_absolute():
            continue  # the user's explicit choice: used as written, listed by `inspect`
        target = Path(run_dir) / value
        if not _inside(target, run_dir):
            raise error(
                f"{file}: {where}.{key}: {value!r} leaves the run directory {run_dir}; "
                "relative paths stay inside it (write an absolute path to put files elsewhere)"
            )
        kwargs[key] = str(target)
    return replace(spec, kwargs=kwargs) if kwargs != spec.kwargs else spec


def check_paths(specs, run_dir: Path, file: str, where=None, error=BadInput) -> None:
    """The rule above, for `check` (raises `error` on the first bad path)."""
    for i, spec in enumerate(specs, start=1):
        at = where(i) if where else f"[[callbacks]][{i}]"
        in_run_dir(spec, run_dir, file=file, where=at, error=error)


def recorded_paths(specs, run_dir: Path) -> list[dict]:
    """[{callback, key, path}] of every path argument, resolved (for the events)."""
    out = []
    for spec in specs:
        for key in PATH_ARGUMENTS:
            value = spec.kwargs.get(key)
            if isinstance(value, str) and value and "\0" not in value:
                path = Path(value).expanduser()
                path = path if path.is_absolute() else Path(run_dir) / path
                out.append({"callback": spec.label, "key": key, "path": str(path)})
    return out


def _named_paths(run_dir: Path) -> list[dict]:
    """Every path recorded in events.jsonl (every session), first mention first."""
    seen: dict[str, dict] = {}
    try:
        lines = (Path(run_dir) / "events.jsonl").read_bytes().decode("utf-8", "replace")
    except OSError:
        return []
    for line in lines.splitlines():
        try:
            rec = json.loads(line)
            named = rec["detail"]["callback_paths"]
        except (ValueError, RecursionError, KeyError, TypeError):
            continue
        for item in named if isinstance(named, list) else []:
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                seen.setdefault(item["path"], item)
    return list(seen.values())


def _pattern(path: str) -> str:
    """ModelCheckpoint's `{epoch:02d}`-style fields match any text on disk."""
    return re.sub(r"\{[^{}]*\}", "*", glob.escape(path))


def _files_at(path: str) -> list[Path]:
    found: list[Path] = []
    for hit in sorted(glob.glob(_pattern(path))):
        p = Path(hit)
        if p.is_dir() and not p.is_symlink():
            found.extend(q for q in sorted(p.rglob("*")) if q.is_file())
        elif p.is_file():
            found.append(p)
        if len(found) >= MAX_FILES:
            break
    return found[:MAX_FILES]


def callback_files(run_dir: Path) -> list[dict]:
    """For each path callbacks were given: the files on disk there now."""
    out = []
    for item in _named_paths(run_dir):
        files = []
        for p in _files_at(item["path"]):
            try:
                files.append({"path": str(p), "size": p.stat().st_size})
            except OSError:
                continue
        out.append(
            {
                "callback": str(item.get("callback", "")),
                "key": str(item.get("key", "")),
                "path": item["path"],
                "inside_run_dir": _inside(Path(item["path"]), run_dir),
                "files": files,
            }
        )
    return out
