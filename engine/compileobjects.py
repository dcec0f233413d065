"""Keras objects from `[compile]` forms: optimizers (and their schedules), losses and metrics.

`compiling.py` puts them together into `model.compile`'s arguments. A name stays a string where
`compile` resolves names itself; a table or "module:Name" becomes an object, made afresh each
time. Every failure is one line naming the file and the key. Keras is imported inside the
functions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .compileforms import key_at, per_output
from .errors import BadInput, ConfigError
from .tomlread import did_you_mean, show
from .usercode import as_exception, one_line, resolve_import, resolve_values, said

_EXAMPLE = {"loss": "BinaryCrossentropy", "metric": "AUC"}
# Metric names that `model.compile` resolves itself (by the loss) and `keras.metrics.get` refuses.
COMPILE_METRICS = ("accuracy", "acc", "crossentropy", "ce")


# --- optimizers and schedules ------------------------------------------------------------------


def optimizer_classes() -> dict[str, type]:
    """Every optimizer class keras.optimizers exports, by lowercase name; `get` knows only
    some of them (Keras 3.15 exports Lamb but `get("lamb")` fails)."""
    import keras

    return _classes(keras.optimizers, keras.optimizers.Optimizer)


def _classes(module: Any, base: type) -> dict[str, type]:
    return {
        n.lower(): obj
        for n, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, base) and obj is not base
    }


def makes_alone(cls: type) -> bool:
    """True when the class has no required argument (only those can be named bare)."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return False
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return all(p.default is not inspect.Parameter.empty or p.kind in variadic for p in params)


def make_optimizer(
    value: str | dict[str, Any],
    learning_rate: Any,
    key: str,
    file: str,
    error: type[BadInput] = ConfigError,
    rate_key: str | None = None,
) -> Any:
    """A fresh optimizer from a name or a `{type = ..., ...}` table. `learning_rate` (a number,
    a schedule table or None) wins over the table's own."""
    import keras

    name, kwargs = _split(value)
    own = kwargs.pop("learning_rate", None)
    rate = own if learning_rate is None else learning_rate
    if learning_rate is None:
        rate_key = key_at(key, "learning_rate")
    if ":" in name:
        cls = resolve_import(
            name, key if isinstance(value, str) else f"{key}.type", file, error=error
        )
    else:
        cls = optimizer_classes().get(name.lower())
        if cls is None or (isinstance(value, str) and not makes_alone(cls)):
            names = [n for n, c in optimizer_classes().items() if makes_alone(c)]
            raise error(
                f"{file}: {_type_key(value, key)}: unknown optimizer; expected a Keras "
                f"optimizer name, received {show(name)}" + did_you_mean(name.lower(), names)
            )
    kwargs = _kwargs(cls, kwargs, key, file, error)
    if rate is not None:
        kwargs["learning_rate"] = make_schedule(rate, rate_key or key, file, error)
    made = _make(cls, kwargs, name, key, file, error)
    if not isinstance(made, keras.optimizers.Optimizer):
        raise error(
            f"{file}: {key}: expected a keras.optimizers.Optimizer, received "
            f"{show(name)} (a {type(made).__name__})"
        )
    return made


def make_schedule(value: Any, key: str, file: str, error: type[BadInput] = ConfigError) -> Any:
    """A learning rate: a number as it is, a schedule table as its schedule object."""
    import keras

    if not isinstance(value, dict):
        return float(value)
    if "import" in value:
        return resolve_values(value, key, file, error=error)
    name, kwargs = _split(value)
    base = keras.optimizers.schedules.LearningRateSchedule
    if ":" in name:
        cls = resolve_import(name, f"{key}.type", file, error=error)
    else:
        known = _classes(keras.optimizers.schedules, base)
        cls = known.get(name.lower())
        if cls is None:
            shown = [c.__name__ for c in known.values()]
            raise error(
                f"{file}: {key}.type: expected a keras.optimizers.schedules class, "
                f"received {show(name)}" + did_you_mean(name, shown)
            )
    made = _make(cls, _kwargs(cls, kwargs, key, file, error), name, key, file, error)
    if not isinstance(made, base):
        raise error(
            f"{file}: {key}: expected a LearningRateSchedule, received {show(name)} "
            f"(a {type(made).__name__})"
        )
    return made


# --- losses and metrics -------------------------------------------------------------------------


def make_losses(value: Any, key: str, file: str, error: type[BadInput] = ConfigError) -> Any:
    """What `compile(loss=...)` takes: one loss, a list, or a table keyed by output name."""
    if isinstance(value, list):
        return [make_loss(v, f"{key}[{i}]", file, error) for i, v in enumerate(value, start=1)]
    if per_output(value):
        return {k: make_loss(v, key_at(key, k), file, error) for k, v in value.items()}
    return make_loss(value, key, file, error)


def make_loss(value: Any, key: str, file: str, error: type[BadInput] = ConfigError) -> Any:
    import keras

    public = [n for n in dir(keras.losses) if not n.startswith("_")]
    return _make_object(value, key, file, error, "loss", keras.losses, keras.losses.Loss, public)


def make_metrics(value: Any, key: str, file: str, error: type[BadInput] = ConfigError) -> Any:
    """What `compile(metrics=...)` takes: a list (of lists), a table keyed by output, or None."""
    if per_output(value):
        return {
            k: [make_metric(m, f"{key_at(key, k)}[{i}]", file, error) for i, m in enumerate(v, 1)]
            if isinstance(v, list)
            else make_metric(v, key_at(key, k), file, error)
            for k, v in value.items()
        }
    out = []
    for i, item in enumerate(value or (), start=1):
        if isinstance(item, list):
            out.append(
                [make_metric(m, f"{key}[{i}][{j}]", file, error) for j, m in enumerate(item, 1)]
            )
        else:
            out.append(make_metric(item, f"{key}[{i}]", file, error))
    return out or None


def make_metric(value: Any, key: str, file: str, error: type[BadInput] = ConfigError) -> Any:
    import keras

    if isinstance(value, str) and value.lower() in COMPILE_METRICS:
        return value  # compile picks the accuracy that fits the loss
    public = [*(n for n in dir(keras.metrics) if not n.startswith("_")), *COMPILE_METRICS]
    return _make_object(
        value, key, file, error, "metric", keras.metrics, keras.metrics.Metric, public
    )


def _make_object(
    value: Any,
    key: str,
    file: str,
    error: type[BadInput],
    what: str,
    module: Any,
    base: type,
    public: list[str],
) -> Any:
    """One loss or metric. A plain name stays a string (compile resolves it as plain Keras
    does, e.g. binary_crossentropy with 1-D labels); the other forms become objects."""
    if isinstance(value, dict) and "import" in value:
        return resolve_values(value, key, file, error=error)
    name, kwargs = _split(value)
    if ":" in name:
        obj = resolve_import(
            name, key if isinstance(value, str) else f"{key}.type", file, error=error
        )
        if not callable(obj):
            raise error(
                f'{file}: {key}: expected "{name}" to be a {what} function or class, '
                f"received a {type(obj).__name__}"
            )
        if isinstance(value, str):
            return obj() if isinstance(obj, type) else obj
        return _with_kwargs(obj, kwargs, name, key, file, error, what)
    if isinstance(value, str):
        try:
            if module.get(name) is not None:
                return name
        except (ValueError, TypeError):
            pass
        raise error(
            f"{file}: {key}: expected a Keras {what} name, received {show(name)}"
            + did_you_mean(name, public)
        )
    classes = {c.__name__: c for c in _classes(module, base).values()}
    cls = classes.get(name) or _classes(module, base).get(name.lower())
    if cls is None:
        raise error(
            f"{file}: {key}.type: expected a Keras {what} class such as "
            f'"{_EXAMPLE[what]}", received {show(name)}' + did_you_mean(name, list(classes))
        )
    return _make(cls, _kwargs(cls, kwargs, key, file, error), name, key, file, error)


def _with_kwargs(
    obj: Any, kwargs: dict, name: str, key: str, file: str, error: type[BadInput], what: str
) -> Any:
    """A user class is instantiated; a user function with arguments is wrapped as Keras wraps
    its own (`LossFunctionWrapper`, `MeanMetricWrapper`), named after the function."""
    import keras

    if isinstance(obj, type):
        return _make(obj, _kwargs(obj, kwargs, key, file, error), name, key, file, error)
    if not kwargs:
        return obj
    kwargs = resolve_values(kwargs, key, file, error=error)
    wrapper = (
        keras.losses.LossFunctionWrapper if what == "loss" else keras.metrics.MeanMetricWrapper
    )
    label = getattr(obj, "__name__", name.rsplit(":", 1)[-1])
    return _make(wrapper, {"fn": obj, "name": label, **kwargs}, name, key, file, error)


# --- shared -----------------------------------------------------------------------------------


def _split(value: Any) -> tuple[str, dict[str, Any]]:
    """(type name, keyword arguments) of a name or a `type` table."""
    if isinstance(value, dict):
        return str(value["type"]), {k: v for k, v in value.items() if k != "type"}
    return str(value), {}


def _type_key(value: Any, key: str) -> str:
    return f"{key}.type" if isinstance(value, dict) else key


def _kwargs(cls: Any, kwargs: dict[str, Any], key: str, file: str, error) -> dict[str, Any]:
    """Name an argument the class does not take (Keras's own classes: their `**kwargs` only
    refuse), then resolve `{ import = ... }` values."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = None
    keras_class = getattr(cls, "__module__", "").startswith("keras")
    takes_any = params is None or (
        not keras_class and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    )
    if not takes_any and params is not None:
        named = [n for n, p in params.items() if p.kind not in _VARIADIC]
        for arg in kwargs:
            if arg not in named:
                raise error(
                    f'{file}: {key_at(key, arg)}: {_label(cls)} does not take "{arg}"'
                    + did_you_mean(arg, named)
                    + f"; it takes {', '.join(named)}"
                )
    return {k: resolve_values(v, key_at(key, k), file, error=error) for k, v in kwargs.items()}


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _label(cls: Any) -> str:
    return getattr(cls, "__name__", type(cls).__name__)


def _make(cls: Callable, kwargs: dict, name: str, key: str, file: str, error) -> Any:
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise error(
            f"{file}: {key}: {_label(cls)} rejected its arguments ({one_line(exc)})"
        ) from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a user class may raise anything, or exit
        cause = as_exception(exc)
        raise error(f"{file}: {key}: {show(name)} {said(cause)}") from cause
