"""User code a config names: finding it (`ensure_on_path`, `resolve_import`), calling it, and
saying in one line what went wrong (`one_line`, `display_path`). Used by the checks and by the
engine; imports no Keras.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import did_you_mean
from .errors import BadInput, ConfigError

_NOISE = ("Exception encountered when calling", "Arguments received by")


def display_path(path: Path) -> str:
    """How messages name a file: relative to the working directory when inside it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short, plain line for a message.

    Keras wraps layer errors in a preamble ("Exception encountered when calling ...") with ANSI
    bold and a list of arguments; TensorFlow prefixes `{{function_node ...}}`. The line that says
    what went wrong is kept, the rest dropped.
    """
    text = re.sub(r"\x1b\[[0-9;]*m|\{\{[^}]*\}\}", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(_NOISE)] or lines
    line = lines[0] if lines else type(exc).__name__
    line = re.sub(r"\s+name:\s*$", "", line)  # TensorFlow's empty op name
    return line if len(line) <= limit else line[: limit - 3] + "..."


def ensure_on_path(folder: Path) -> None:
    """Put a config's folder first on `sys.path` so user modules beside it import."""
    entry = str(Path(folder).absolute())
    if entry not in sys.path:
        sys.path.insert(0, entry)
    importlib.invalidate_caches()  # a module written after start-up must still be found


def resolve_import(
    spec: str, key_path: str, file: str | Path, *, error: type[BadInput] = ConfigError
) -> Any:
    """Import `"module:attr"` (attr may be dotted) and return the object.

    Raises:
        error: `<file>: <key_path>: cannot import "<spec>" (<why>)`.
    """
    module_name, _, attr_path = spec.partition(":")
    prefix = f'{file}: {key_path}: cannot import "{spec}"'
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise error(f"{prefix} ({one_line(exc)})") from exc
    except Exception as exc:  # a user module may raise anything (or be a SyntaxError) on import
        raise error(f"{prefix} ({type(exc).__name__}: {one_line(exc)})") from exc
    for part in attr_path.split(".") if attr_path else ():
        if not hasattr(obj, part):
            raise error(
                f'{prefix} ({module_name} has no attribute "{part}")'
                + did_you_mean(part, [n for n in dir(obj) if not n.startswith("_")])
            )
        obj = getattr(obj, part)
    return obj


def _call_user(fn: Callable, params: dict, spec: str, keys: tuple[str, str], file: str) -> Any:
    """Call a user's builder or loader; `keys` = (its key path, its params' key path)."""
    try:
        inspect.signature(fn).bind(**params)
    except TypeError as exc:
        raise ConfigError(
            f'{file}: {keys[1]}: "{spec}" does not take these arguments ({one_line(exc)})'
        ) from exc
    except ValueError:
        pass  # no signature to inspect (a builtin, say): just call it
    try:
        return fn(**params)
    except Exception as exc:  # the user's own code failed: report it as bad input, in one line
        raise ConfigError(
            f'{file}: {keys[0]}: "{spec}" raised {type(exc).__name__}: {one_line(exc)}'
        ) from exc


# --- data ---------------------------------------------------------------------------------------
