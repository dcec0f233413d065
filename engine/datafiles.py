"""Reading a config's data: a .npz or .csv file, or a loader function (arrays in any nesting, a
tf.data pipeline or a PyDataset: engine/feeds_loader.py), into a `Data`. Each problem is a
one-line `ConfigError` naming `[data].path`, `[data].loader` or `[data].params`. Used by
`weightwatch check` and by the engine.
"""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError
from .feeds_loader import Data, check_arrays, data_from_result
from .specs import Config
from .tomlread import show
from .usercode import call_user, display_path, ensure_on_path, one_line, resolve_import

Arrays = tuple[Any, Any, Any, Any]  # x, y, x_val, y_val: arrays (or lists/dicts of them)
ARRAY_NAMES = ("x", "y", "x_val", "y_val")


def load_data(config: Config) -> Arrays:
    """Read the config's arrays as `(x, y, x_val, y_val)`; the last two may be None (x and y
    may be lists or dicts of arrays). For a loader's dataset or sample weights: `read_data`.

    Raises:
        ConfigError: naming `[data].path`, `[data].loader` or `[data].params`; also when the
        loader returns a pipeline (tf.data, PyDataset), which has no arrays to give.
    """
    data = read_data(config)
    if not data.is_arrays:
        raise ConfigError(
            f"{display_path(config.path)}: [data].loader: expected arrays here, received a "
            f"{data.kind()}"
        )
    return data.x, data.y, data.x_val, data.y_val


def read_data(config: Config) -> Data:
    """Read the config's data: arrays from a `.npz` (`x`, `y`, optionally `x_val`, `y_val`)
    or a `.csv` (numeric, optional header row, last column is y), or whatever the loader,
    called with `[data].params`, returns in one of the forms engine/feeds_loader.py lists.

    Raises:
        ConfigError: naming `[data].path`, `[data].loader` or `[data].params`.
    """
    data, file = config.data, display_path(config.path)
    if data.loader:
        ensure_on_path(config.folder)
        key = "[data].loader"
        loader = resolve_import(data.loader, key, file)
        result = data_from_result(
            call_user(loader, data.params, data.loader, (key, "[data].params"), file),
            data.loader,
            file,
        )
    elif data.path is not None and data.path.suffix.lower() == ".npz":
        key, result = "[data].path", _as_data(_read_npz(data.path, file))
    elif data.path is not None:
        key, result = "[data].path", _as_data(_read_csv(data.path, file))
    else:  # parse_config guarantees one of them; a hand-made Config might not
        raise ConfigError(
            f"{file}: [data]: expected exactly one of path or loader, received neither"
        )
    if result.is_arrays:
        check_arrays(result, key, file)
    return result


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


def _as_data(arrays: Arrays) -> Data:
    x, y, x_val, y_val = arrays
    return Data(x=x, y=y, x_val=x_val, y_val=y_val)
