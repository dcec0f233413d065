"""Building the user's callbacks from their specs, for `check` and for the training thread.

`make_callback` turns a `[[callbacks]]` entry into a Keras callback, with one-line errors naming
the file and the key; `make_entries` does it for a whole list, with paths inside the run
directory (callback_paths.py). The callback editor checks an entry with `callback_class` and
`check_kwargs` before it is applied. Keras is imported inside the functions.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from pathlib import Path
from typing import Any

from .callback_paths import in_run_dir
from .config import did_you_mean, show
from .errors import BadInput, ConfigError
from .specs import CallbackSpec
from .usercode import as_exception, display_path, one_line, resolve_import, resolve_values, said


def make_entries(specs: list[CallbackSpec], file, run_dir: Path) -> list:
    """Instantiate callbacks (enabled or not, so a toggle costs nothing later). The entries keep
    the spec as written; the instance gets paths inside the run directory (callback_paths.py:
    a relative path that leaves it is refused, in one line, before anything changes)."""
    shown = display_path(file) if file else ""
    return [
        (
            spec,
            make_callback(
                in_run_dir(spec, run_dir, file=shown, where=f"[[callbacks]][{i + 1}]"),
                file=file,
                index=i + 1,
            ),
        )
        for i, spec in enumerate(specs)
    ]


def make_callback(
    spec: CallbackSpec,
    *,
    file: str | Path,
    index: int,
    where: str | None = None,
    error: type[BadInput] = ConfigError,
) -> Any:
    """Instantiate one callback from its spec (enabled or not).

    Args:
        spec: The callback's type and keyword arguments.
        file: The file named in messages.
        index: Its 1-based position in `[[callbacks]]`.
        where: Its key path when it is not `[[callbacks]][index]` (a script's
            `[[action]][3].set[1]`, say).
        error: The exception class to raise.

    Returns:
        A `keras.callbacks.Callback`.

    Raises:
        error: An unknown class, an unknown argument (with did-you-mean), an argument the
            constructor rejects, or TensorBoard without the tensorboard package.
    """
    where = where or f"[[callbacks]][{index}]"
    cls = callback_class(spec.type, f"{where}.type", str(file), error)
    check_kwargs(cls, spec, where, str(file), error)
    # `{ import = "module:name" }` values become the objects (the spec keeps the plain table)
    kwargs = {
        k: resolve_values(v, f"{where}.{k}", str(file), error=error) for k, v in spec.kwargs.items()
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise error(
            f"{file}: {where}: {spec.label} rejected its arguments ({one_line(exc)})"
        ) from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a user class's constructor may raise anything, or exit
        cause = as_exception(exc)
        raise error(f"{file}: {where}: {spec.label} {said(cause)}") from cause


def callback_class(name: str, key: str, file: str, error: type[BadInput]) -> type:
    import keras

    if ":" in name:
        cls = resolve_import(name, key, file, error=error)
    else:
        known = [
            n
            for n, obj in vars(keras.callbacks).items()
            if isinstance(obj, type) and issubclass(obj, keras.callbacks.Callback)
        ]
        if name not in known:
            raise error(
                f'{file}: {key}: expected a Keras callback class name, received "{name}"'
                + did_you_mean(name, known)
            )
        cls = getattr(keras.callbacks, name)
    if not (isinstance(cls, type) and issubclass(cls, keras.callbacks.Callback)):
        what = "a class that is not one" if isinstance(cls, type) else f"a {type(cls).__name__}"
        raise error(
            f"{file}: {key}: expected a keras.callbacks.Callback subclass, received "
            f'"{name}" ({what})'
        )
    # Keras's TensorBoard constructs fine without tensorboard and fails only once fit starts.
    if issubclass(cls, keras.callbacks.TensorBoard) and not importlib.util.find_spec("tensorboard"):
        raise error(
            f'{file}: {key}: TensorBoard needs the "tensorboard" package, which is not '
            "installed (pip install tensorboard, or set enabled = false and remove it)"
        )
    return cls


def check_kwargs(cls: type, spec: CallbackSpec, where: str, file: str, err: type) -> None:
    """Name an unknown keyword argument before the constructor gets a chance to."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return  # nothing to compare against; the constructor will say
    if cls.__module__.startswith("keras."):  # a user class may take what it likes
        for key, value in spec.kwargs.items():
            if key in params:
                _check_type(params[key].default, value, f"{where}.{key}", file, err)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in spec.kwargs:
        if key not in accepted:
            raise err(
                f"{file}: {where}.{key}: unknown argument of {spec.label}; expected one of "
                f"{', '.join(accepted)}" + did_you_mean(key, accepted)
            )


# Keras arguments whose default is a string but that take a number of batches too.
_STR_OR_INT = ("save_freq", "update_freq")


def _check_type(default: Any, value: Any, key: str, file: str, err: type) -> None:
    """A Keras callback stores its arguments and uses them only in a hook, mid-training
    (`patience = "five"` fails at the end of an epoch): compare with the default's type now."""
    if default is None or default is inspect.Parameter.empty or key.endswith(_STR_OR_INT):
        return
    if isinstance(value, dict) and "import" in value:  # an imported object: its own type
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, bool):
        ok, expected = isinstance(value, bool), "true or false"
    elif isinstance(default, (int, float)):
        ok, expected = number, "a number"
    elif isinstance(default, str):
        ok, expected = isinstance(value, str), "a string"
    else:
        return
    if not ok:
        raise err(
            f"{file}: {key}: expected {expected} (like its default {show(default)}), "
            f"received {show(value)}"
        )
