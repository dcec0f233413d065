"""Reading a config's data: a .npz or .csv file, or a loader function, into (x, y, x_val, y_val)
arrays, each problem a one-line `ConfigError` naming `[data].path`, `[data].loader` or
`[data].params`. Used by `weightwatch check` and by the engine.
"""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError
from .specs import Config
from .tomlread import show
from .usercode import call_user, display_path, ensure_on_path, one_line, resolve_import

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]
ARRAY_NAMES = ("x", "y", "x_val", "y_val")


def load_data(config: Config) -> Arrays:
    """Read the config's data as `(x, y, x_val, y_val)`; the last two may be None.

    A `.npz` holds `x`, `y` and optionally `x_val`, `y_val`. A `.csv` is numeric with an optional
    header row; its last column is y. A loader is called with `[data].params`.

    Raises:
        ConfigError: naming `[data].path`, `[data].loader` or `[data].params`.
    """
    data, file = config.data, display_path(config.path)
    if data.loader:
        ensure_on_path(config.folder)
        key = "[data].loader"
        loader = resolve_import(data.loader, key, file)
        arrays = _loader_arrays(
            call_user(loader, data.params, data.loader, (key, "[data].params"), file),
            data.loader,
            file,
        )
    elif data.path is not None and data.path.suffix.lower() == ".npz":
        key, arrays = "[data].path", _read_npz(data.path, file)
    elif data.path is not None:
        key, arrays = "[data].path", _read_csv(data.path, file)
    else:  # parse_config guarantees one of them; a hand-made Config might not
        raise ConfigError(
            f"{file}: [data]: expected exactly one of path or loader, received neither"
        )
    _check_arrays(arrays, key, file)
    return arrays


def _read_npz(path: Path, file: str) -> Arrays:
    _check_npz_sizes(path, file)
    try:
        with np.load(path, allow_pickle=False) as npz:  # never unpickle what a config points at
            arrays = {name: npz[name] for name in npz.files}
    except MemoryError as exc:  # what the headers declared fits, but not beside everything else
        raise ConfigError(
            f"{file}: [data].path: {path.name} does not fit in memory ({one_line(exc)})"
        ) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"{file}: [data].path: expected an .npz archive numpy can read, "
            f"received {path.name} ({one_line(exc)})"
        ) from exc
    if "x" not in arrays or "y" not in arrays:
        names = ", ".join(show(n) for n in arrays) or "no arrays"  # zip names are arbitrary
        raise ConfigError(
            f'{file}: [data].path: expected arrays "x" and "y" in {path.name}, received {names}'
        )
    if ("x_val" in arrays) != ("y_val" in arrays):
        only = "x_val" if "x_val" in arrays else "y_val"
        raise ConfigError(
            f'{file}: [data].path: expected "x_val" and "y_val" together in '
            f'{path.name}, received only "{only}"'
        )
    return arrays["x"], arrays["y"], arrays.get("x_val"), arrays.get("y_val")


def _check_npz_sizes(path: Path, file: str) -> None:
    """Read each array's header (shape and dtype) before numpy allocates it: a header may declare
    far more than the file holds (373 GiB over a few bytes) or than this machine can hold."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [(info, _npy_header(archive, info)) for info in archive.infolist()]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return  # np.load below says what is wrong with the file
    total = 0
    for info, (shape, dtype) in members:
        need = math.prod(shape) * dtype.itemsize
        name = info.filename.removesuffix(".npy")
        if need > info.file_size:  # the data cannot be in the file: its header lies
            raise ConfigError(
                f"{file}: [data].path: expected each array in {path.name} to hold what its "
                f"header declares, received {show(name)} that declares shape {shape} of {dtype} "
                f"({_size(need)}) in {_size(info.file_size)}"
            )
        total += need
    free = _available_memory()
    if free is not None and total > free:
        raise ConfigError(
            f"{file}: [data].path: expected data that fits in memory, received {path.name} "
            f"holding {_size(total)} ({_size(free)} available)"
        )


def _npy_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple, np.dtype]:
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0  # 2.0 and 3.0 share the layout
        )
        shape, _, dtype = read(member)
    return tuple(shape), dtype


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.0f} {unit}"
    return f"{n} bytes"


def _available_memory() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else None: no bound beyond the file's size."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _read_csv(path: Path, file: str) -> Arrays:
    """Numeric CSV, optional header row, last column is y (read with `csv` for exact lines)."""
    prefix = f"{file}: [data].path:"
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            lines = [
                (number, cells)
                for number, cells in enumerate(csv.reader(handle), start=1)
                if any(cell.strip() for cell in cells)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:  # gone since load, binary, ...
        raise ConfigError(
            f"{prefix} expected a UTF-8 CSV file, received {path.name} ({one_line(exc)})"
        ) from exc
    if lines and not all(_is_float(cell) for cell in lines[0][1]):
        lines = lines[1:]  # the first line is a header when it is not all numbers
    width = len(lines[0][1]) if lines else 0
    if width < 2:
        received = f"{width} column" if lines else "no rows of numbers"
        raise ConfigError(
            f"{prefix} expected rows of at least 2 numbers (features, then y) in "
            f"{path.name}, received {received}"
        )
    rows = []
    for number, cells in lines:
        if len(cells) != width:
            raise ConfigError(
                f"{prefix} expected {width} columns on every line of {path.name}, "
                f"received {len(cells)} on line {number}"
            )
        try:
            rows.append([float(cell) for cell in cells])
        except ValueError:
            bad = next(cell for cell in cells if not _is_float(cell))
            raise ConfigError(
                f'{prefix} expected numbers in {path.name}, received "{bad}" on line {number}'
            ) from None
    table = np.asarray(rows, dtype=np.float32)
    return table[:, :-1], table[:, -1], None, None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _loader_arrays(result: Any, spec: str, file: str) -> Arrays:
    """Check a loader's result is (x, y) or (x, y, x_val, y_val) as numpy arrays."""
    ok = isinstance(result, (tuple, list)) and len(result) in (2, 4)
    ok = ok and all(isinstance(item, np.ndarray) for item in result)
    if not ok:
        raise ConfigError(
            f'{file}: [data].loader: expected "{spec}" to return (x, y) or '
            f"(x, y, x_val, y_val) as numpy arrays, received {_describe(result)}"
        )
    x, y, *val = result
    x_val, y_val = val or (None, None)
    return x, y, x_val, y_val


def _describe(value: Any) -> str:
    """A short description of what a loader returned, for messages."""
    if isinstance(value, (tuple, list)):
        kinds = ", ".join(type(item).__name__ for item in value[:5])
        return f"a {type(value).__name__} of {len(value)} ({kinds})"
    return f"a {type(value).__name__}"


def _check_arrays(arrays: Arrays, key: str, file: str) -> None:
    """Numeric arrays, x and y (and x_val and y_val) of the same non-zero length."""
    for name, array in zip(ARRAY_NAMES, arrays, strict=True):
        if array is not None and (array.ndim == 0 or array.dtype.kind not in "biuf"):
            raise ConfigError(
                f'{file}: {key}: expected "{name}" as a numeric array of at least '
                f"1 dimension, received dtype {array.dtype}, shape {array.shape}"
            )
    for first, second in ((0, 1), (2, 3)):
        a, b = arrays[first], arrays[second]
        if a is not None and b is not None and len(a) != len(b):
            raise ConfigError(
                f'{file}: {key}: expected "{ARRAY_NAMES[first]}" and '
                f'"{ARRAY_NAMES[second]}" with the same first dimension, received '
                f"{len(a)} and {len(b)}"
            )
    if len(arrays[0]) == 0:
        raise ConfigError(
            f'{file}: {key}: expected at least one sample, received "x" of shape {arrays[0].shape}'
        )
