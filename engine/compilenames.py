"""What `[compile]` names, checked against what this Keras can make (with a did-you-mean), for
`weightwatch check`, a script's recompile and the start of a session. The objects themselves are
made by `compiling.py`; `make_optimizer` and `check_optimizer` keep their older call forms.
Keras is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

from .compileforms import key_at, optimizer_label, per_output, recompile_spec
from .compiling import compile_kwargs
from .compiling import make_optimizer as _make_optimizer
from .errors import BadInput, ConfigError, ScriptError
from .specs import CompileSpec, Config
from .usercode import resolve_import


def make_optimizer(value: str | dict[str, Any], learning_rate: Any = None) -> Any:
    """A fresh optimizer from its name (any case) or table, as the session makes one.

    Raises:
        ValueError: no optimizer can be made from it.
    """
    try:
        return _make_optimizer(value, learning_rate, "optimizer", "compile", BadInput)
    except BadInput as exc:
        raise ValueError(f"no Keras optimizer can be made from {value!r} ({exc})") from None


def check_optimizer(
    value: str | dict[str, Any], key: str, file: str, error: type[BadInput] = ConfigError
) -> None:
    """Raise `error` (one line naming `key`) unless this optimizer can be made."""
    _make_optimizer(value, None, key, file, error)


def check_recompile(args: dict[str, Any], config: Config, where: str, file: str) -> None:
    """A script's recompile: its forms, and that the optimizer it names can be made."""
    optimizer, rate = args.get("optimizer"), args.get("learning_rate")
    spec = recompile_spec(config.compile, optimizer, rate, file, where, ScriptError)
    if not spec.function:
        at = lambda key: key_at(where, key)  # noqa: E731
        _make_optimizer(
            spec.optimizer,
            spec.learning_rate,
            at("optimizer"),
            file,
            ScriptError,
            at("learning_rate"),
        )


def check_compile(config: Config, file: str) -> str:
    """Make every object `[compile]` names (no model yet: the per-output names are checked when
    the model is compiled) and say what it is in one line."""
    spec = config.compile
    if spec.function:
        resolve_import(spec.function, "[compile].function", file)  # it runs on the model later
        return f"compile: by {spec.function}"
    compile_kwargs(None, spec, file)
    return describe(spec)


def describe(spec: CompileSpec) -> str:
    """`compile: adam (learning rate 0.01), loss mse, metrics mae`, or with tables their type."""
    if spec.function:
        return f"compile: by {spec.function}"
    rate = spec.learning_rate
    lr = (
        f" (learning rate {rate:g})"
        if isinstance(rate, (int, float))
        else (" (learning rate schedule)" if rate else "")
    )
    opt = optimizer_label(spec) if isinstance(spec.optimizer, dict) else spec.optimizer
    return f"compile: {opt}{lr}, loss {_names(spec.loss)}, metrics {_names(spec.metrics) or 'none'}"


def _names(value: Any) -> str:
    """Loss or metric forms as short names: `mse`, `BinaryCrossentropy`, `a: mse, b: mae`."""
    if isinstance(value, (list, tuple)):
        return ", ".join(_names(v) for v in value)
    if per_output(value):
        return ", ".join(f"{k}: {_names(v)}" for k, v in value.items())
    if isinstance(value, dict):
        return str(value.get("type") or value.get("import"))
    return "" if value is None else str(value)
