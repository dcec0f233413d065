"""Compile names in a config or a script: the optimizer, the loss and the metrics, checked against
what this Keras can make, with a did-you-mean. `make_optimizer` is how the session makes one too.
Keras is imported inside the functions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .errors import BadInput, ConfigError
from .specs import Config
from .tomlread import did_you_mean, show  # show: a name with a newline stays on one line

# Metric names that `model.compile` resolves itself (by the loss) and `keras.metrics.get` refuses.
_COMPILE_METRICS = ("accuracy", "acc", "crossentropy", "ce")


def _optimizer_classes() -> dict[str, type]:
    """Every optimizer class keras.optimizers exports, by lowercase name; `get` knows only
    some of them (Keras 3.15 exports Lamb but `get("lamb")` fails)."""
    import keras

    return {
        n.lower(): obj
        for n, obj in vars(keras.optimizers).items()
        if isinstance(obj, type)
        and issubclass(obj, keras.optimizers.Optimizer)
        and obj is not keras.optimizers.Optimizer
    }


def make_optimizer(name: str, learning_rate: float | None = None) -> Any:
    """A fresh optimizer from its name (any case), as the session and the check make it.

    Raises:
        ValueError: no optimizer of that name can be made without arguments.
    """
    import keras

    try:
        opt = keras.optimizers.get(name)
    except (ValueError, TypeError, KeyError) as exc:  # KeyError: a wrapper without its inner one
        cls = _optimizer_classes().get(name.lower())
        if cls is None or not _makes_alone(cls):
            raise ValueError(f"no Keras optimizer can be made from the name {name!r}") from exc
        opt = cls()
    if learning_rate is not None:
        opt.learning_rate = learning_rate
    return opt


def check_optimizer(name: str, key: str, file: str, error: type[BadInput] = ConfigError) -> None:
    """Raise `error` unless an optimizer of this name can be made."""
    try:
        make_optimizer(name)
        return
    except (ValueError, TypeError):
        pass
    names = [n for n, cls in _optimizer_classes().items() if _makes_alone(cls)]
    raise error(
        f"{file}: {key}: expected a Keras optimizer name, received {show(name)}"
        + did_you_mean(name.lower(), names)
    )


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _makes_alone(cls: type) -> bool:
    """True when the class has no required argument (only those can be named)."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not inspect.Parameter.empty or p.kind in _VARIADIC for p in params)


def _check_name(
    get: Callable,
    name: str,
    names: list[str],
    key: str,
    file: str,
    what: str,
    error: type[BadInput],
) -> None:
    try:
        if get(name) is not None:
            return
    except (ValueError, TypeError):
        pass
    raise error(
        f"{file}: {key}: expected a Keras {what} name, received {show(name)}"
        + did_you_mean(name, names)
    )


def check_compile(config: Config, file: str) -> str:
    import keras

    spec = config.compile
    check_optimizer(spec.optimizer, "[compile].optimizer", file)
    public = [n for n in dir(keras.losses) if not n.startswith("_")]
    _check_name(keras.losses.get, spec.loss, public, "[compile].loss", file, "loss", ConfigError)
    metric_names = [n for n in dir(keras.metrics) if not n.startswith("_")]
    for i, metric in enumerate(spec.metrics, start=1):
        if metric.lower() not in _COMPILE_METRICS:
            _check_name(
                keras.metrics.get,
                metric,
                [*metric_names, *_COMPILE_METRICS],
                f"[compile].metrics[{i}]",
                file,
                "metric",
                ConfigError,
            )
    lr = f" (learning rate {spec.learning_rate:g})" if spec.learning_rate else ""
    return (
        f"compile: {spec.optimizer}{lr}, loss {spec.loss}, "
        f"metrics {', '.join(spec.metrics) or 'none'}"
    )
