"""Crash-safe file writes: temp file in the same folder, fsync, os.replace, fsync the folder."""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import re
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    try:
        fsync_path(folder)
    except OSError:  # some filesystems cannot fsync a directory; the rename is still atomic
        pass


def commit(temp: Path, final: Path) -> None:
    """Make a fully written temp file the real one, durably."""
    fsync_path(temp)
    os.replace(temp, final)
    fsync_dir(final.parent)


def json_safe(value: object) -> object:
    """`value` with NaN and infinities as None: strict JSON has no such numbers, and a diverged
    loss or weight norm must not make a report or a manifest unreadable. Numpy floats become
    plain floats on the way."""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def write_json(path: Path, data: object) -> None:
    """Write JSON atomically: a reader sees the old file or the new one, never half of one."""
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}")
    try:
        with open(temp, "w", encoding="utf-8") as f:
            json.dump(json_safe(data), f, indent=2, sort_keys=True, default=float)
            f.write("\n")
        commit(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)  # a full disk must not leave half a file behind
        raise


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def os_reason(exc: OSError) -> str:
    """Why a write failed, in a few words. h5py's OSError carries HDF5's multi-line report,
    with the errno inside its text."""
    code = exc.errno
    if code is None and (found := re.search(r"errno = (\d+)", str(exc))):
        code = int(found.group(1))
    if code:
        return os.strerror(code)
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
