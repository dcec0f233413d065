"""User code a config names: finding it (`ensure_on_path`, `resolve_import`), calling it, and
saying in one line what went wrong (`one_line`, `display_path`). Used by the checks and by the
engine; imports no Keras.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import BadInput, ConfigError
from .tomlread import did_you_mean

_NOISE = ("Exception encountered when calling", "Arguments received by")
# What weightwatch (and Keras under it) imports after a config's folder is put first on
# sys.path: a keras.py or numpy/__init__.py beside the config would be imported instead.
SHADOWABLE = (
    "keras",
    "tensorflow",
    "tf_keras",
    "numpy",
    "h5py",
    "ml_dtypes",
    "absl",
    "google",
    "optree",
    "namex",
    "tensorboard",
    "jax",
    "scipy",
    "textual",
    "rich",
    "plotext",
    "textual_plotext",
    "weightwatch",
)


class UserCodeExit(Exception):
    """User code raised SystemExit, GeneratorExit or another BaseException that is not an
    Exception. That is an error of that code (argparse exits on a bad command line), not a
    reason for weightwatch to end without a word; only a real Ctrl+C (KeyboardInterrupt) is."""


def as_exception(exc: BaseException) -> Exception:
    """`exc` itself if it is an Exception, else a `UserCodeExit` that says what it did and
    keeps its traceback."""
    if isinstance(exc, Exception):
        return exc
    if isinstance(exc, SystemExit):
        said = f"called sys.exit({'' if exc.code is None else repr(exc.code)})"
    else:
        said = f"raised {type(exc).__name__}" + (f": {one_line(exc)}" if str(exc) else "")
    wrapped = UserCodeExit(said).with_traceback(exc.__traceback__)
    wrapped.__cause__ = exc
    return wrapped


def said(exc: Exception) -> str:
    """What user code did, for a message: `raised ValueError: ...` or `called sys.exit(2)`."""
    if isinstance(exc, UserCodeExit):
        return str(exc)
    return f"raised {type(exc).__name__}: {one_line(exc)}"


def check_shadowing(folder: Path, file: str) -> None:
    """Refuse a module beside the config that would be imported instead of a library.

    Raises:
        ConfigError: `<file>: keras.py: shadows the installed "keras" ...`.
    """
    folder = Path(folder)
    suffixes = importlib.machinery.all_suffixes()  # .py, .pyc, extension modules
    for name in SHADOWABLE:
        candidates = [folder / name / "__init__.py", *(folder / (name + s) for s in suffixes)]
        found = next((c for c in candidates if c.is_file()), None)
        if found is not None:
            raise ConfigError(
                f'{file}: {found.relative_to(folder)}: shadows the installed "{name}" (the '
                "config's folder comes first on sys.path so that its modules import); rename it"
            )


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
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a user module may raise anything (or exit) on import
        cause = as_exception(exc)
        user_exit = isinstance(cause, UserCodeExit)
        why = f"the module {cause}" if user_exit else f"{type(cause).__name__}: {one_line(cause)}"
        raise error(f"{prefix} ({why})") from cause
    for part in attr_path.split(".") if attr_path else ():
        if not hasattr(obj, part):
            raise error(
                f'{prefix} ({module_name} has no attribute "{part}")'
                + did_you_mean(part, [n for n in dir(obj) if not n.startswith("_")])
            )
        obj = getattr(obj, part)
    return obj


def resolve_values(
    value: Any, key_path: str, file: str | Path, *, error: type[BadInput] = ConfigError
) -> Any:
    """A keyword argument's value with every `{ import = "module:name" }` table replaced by the
    object that name imports (lists and tables are walked); anything else is returned as is.
    The spec keeps the plain table: this runs where the value is used (check, training thread).
    """
    if isinstance(value, dict):
        if set(value) == {"import"} and isinstance(value["import"], str):
            return resolve_import(value["import"], key_path, file, error=error)
        return {
            k: resolve_values(v, f"{key_path}.{k}", file, error=error) for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            resolve_values(v, f"{key_path}[{i}]", file, error=error)
            for i, v in enumerate(value, start=1)
        ]
    return value


def call_user(fn: Callable, params: dict, spec: str, keys: tuple[str, str], file: str) -> Any:
    """Call a user's builder or loader; `keys` = (its key path, its params' key path)."""
    params = resolve_values(params, keys[1], file)  # `{ import = ... }` values: the objects
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
    except KeyboardInterrupt:
        raise  # a real Ctrl+C: the person wants out
    except BaseException as exc:  # the user's own code failed (or exited): bad input, one line
        cause = as_exception(exc)
        raise ConfigError(f'{file}: {keys[0]}: "{spec}" {said(cause)}') from cause


def call_builder(builder: Callable, config: Any, *, name_key: bool = False) -> Any:
    """Call the config's model builder with its params, as the session does.

    A SystemExit (or another BaseException that is not an Exception) becomes `UserCodeExit`. With
    `name_key` (at start, where the message is the line a person reads first) any failure is a
    `ConfigError` naming the file and `[model].builder`, chained to the cause so that the dialog
    still shows the user's traceback.
    """
    params = resolve_values(config.model.params, "[model].params", display_path(config.path))
    try:
        return builder(**params)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        cause = as_exception(exc)
        if name_key:
            raise ConfigError(
                f'{display_path(config.path)}: [model].builder: "{config.model.builder}" '
                f"{said(cause)}"
            ) from cause
        if cause is exc:
            raise
        raise cause from exc
