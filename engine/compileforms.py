"""The shapes `[compile]` (and a recompile) may take, checked without Keras.

`config.py`, `script.py` and the recompile handler read the same grammar here; whether Keras can
make what a form names is `compiling.py`'s job (it imports Keras). Every value stays plain TOML
data, so a `CompileSpec` can cross the session interface as a recompile's arguments:

- an object form (optimizer, schedule, loss, metric): a name (`"SGD"`, `"mse"`), a
  `"module:Name"`, a table `{ type = ..., <keyword arguments> }`, or (loss, metric, schedule,
  and any keyword argument's value) `{ import = "module:name" }`, the object that name imports;
- per-output forms: a list (in the model's output order) or a table keyed by output name.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any, NoReturn

from .errors import BadInput, ConfigError
from .specs import CompileSpec
from .tomlread import (
    CALLBACK_TYPE,
    IMPORT_PATH,
    POS_INT,
    POS_NUMBER,
    STRING,
    Kind,
    TableReader,
    show,
    toml_key,
)

COMPILE_KEYS = (
    "optimizer",
    "learning_rate",
    "loss",
    "metrics",
    "loss_weights",
    "jit_compile",
    "steps_per_execution",
    "function",
)
# `function` compiles the model itself: any other key would be silently ignored, so it is refused.
FUNCTION_ALONE = tuple(k for k in COMPILE_KEYS if k != "function")

TYPE_NAME = Kind(
    'a Keras class name such as "SGD", or "module:Name"',
    CALLBACK_TYPE.accepts,  # a class name or "module:Name", as a callback's type
)
OBJECT_NAME = Kind(
    'a name such as "adam", or "module:Name"',
    lambda v: STRING.accepts(v) and (":" not in v or IMPORT_PATH.accepts(v)),
)
JIT = Kind('true, false or "auto"', lambda v: isinstance(v, bool) or v == "auto")
WEIGHT = Kind("a number >= 0", lambda v: POS_NUMBER.accepts(v) or v == 0, float)


def is_import(value: Any) -> bool:
    """`{ import = "module:name" }` (checked by `check_values`)."""
    return isinstance(value, dict) and "import" in value


def key_at(where: str, key: str) -> str:
    """`where.key`, or `key` alone when there is no prefix (a recompile command)."""
    return f"{where}.{key}" if where else key


def check_values(value: Any, where: str, file: str, error: type[BadInput] = ConfigError) -> None:
    """Every `{ import = ... }` table inside a keyword argument's value is well formed."""
    if isinstance(value, dict):
        if "import" in value:
            reader = TableReader(value, where, file, error)
            reader.check_keys(("import",))
            reader.get("import", IMPORT_PATH)
            return
        for key, item in value.items():
            check_values(item, key_at(where, key), file, error)
    elif isinstance(value, list):
        for i, item in enumerate(value, start=1):
            check_values(item, f"{where}[{i}]", file, error)


def _fail(file: str, where: str, message: str, error: type[BadInput]) -> NoReturn:
    raise error(f"{file}: {where}: {message}" if where else f"{file}: {message}")


def object_form(
    value: Any, where: str, file: str, error: type[BadInput], what: str, *, imports: bool = True
) -> None:
    """One object: a name, "module:Name", a `type` table, or an import table."""
    if isinstance(value, str):
        if not OBJECT_NAME.accepts(value):
            _fail(file, where, f"expected {what}, received {show(value)}", error)
        return
    if not isinstance(value, dict):
        _fail(file, where, f"expected {what}, received {show(value)}", error)
    if "import" in value and imports:
        check_values(value, where, file, error)
        return
    if "type" not in value:
        _fail(
            file,
            where,
            f'expected a table with a "type" key ({what}), received a table '
            f"without one (keys: {', '.join(value) or 'none'})",
            error,
        )
    TableReader(value, where, file, error).get("type", TYPE_NAME)
    for key, item in value.items():
        if key != "type":
            check_values(item, key_at(where, key), file, error)


OPTIMIZER_WHAT = 'an optimizer name such as "adam", "module:Name" or a table {type = "SGD", ...}'
SCHEDULE_WHAT = 'a positive number or a schedule table {type = "ExponentialDecay", ...}'
LOSS_WHAT = 'a loss: a name such as "mse", "module:function" or a table {type = ..., ...}'
METRIC_WHAT = 'a metric: a name such as "mae", "module:function" or a table {type = ..., ...}'


def optimizer_form(value: Any, where: str, file: str, error: type[BadInput] = ConfigError) -> None:
    object_form(value, where, file, error, OPTIMIZER_WHAT, imports=False)
    if isinstance(value, dict) and "learning_rate" in value:
        rate_form(value["learning_rate"], key_at(where, "learning_rate"), file, error)


def rate_form(value: Any, where: str, file: str, error: type[BadInput] = ConfigError) -> None:
    """A learning rate: a positive number, a schedule table or an import table."""
    if isinstance(value, dict):
        object_form(value, where, file, error, SCHEDULE_WHAT)
    elif not POS_NUMBER.accepts(value):  # a schedule is a table: this was meant as a number
        _fail(file, where, f"expected a positive number, received {show(value)}", error)


def per_output(value: Any) -> bool:
    """A table keyed by output name (not one object's `type` or `import` table)."""
    return isinstance(value, dict) and "type" not in value and "import" not in value


def loss_form(value: Any, where: str, file: str, error: type[BadInput] = ConfigError) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value, start=1):
            object_form(item, f"{where}[{i}]", file, error, LOSS_WHAT)
    elif per_output(value):
        for key, item in value.items():
            object_form(item, key_at(where, key), file, error, LOSS_WHAT)
    else:
        object_form(value, where, file, error, LOSS_WHAT + ", a list or a table keyed by output")


def metrics_form(value: Any, where: str, file: str, error: type[BadInput] = ConfigError) -> None:
    """A list of metrics (or of lists, one per output), or a table keyed by output name."""
    if per_output(value):
        for key, item in value.items():
            items = item if isinstance(item, list) else [item]
            for i, metric in enumerate(items, start=1):
                at = f"{key_at(where, key)}[{i}]" if isinstance(item, list) else key_at(where, key)
                object_form(metric, at, file, error, METRIC_WHAT)
        return
    if not isinstance(value, list):
        _fail(
            file,
            where,
            f"expected a list of metrics or a table keyed by output name, received {show(value)}",
            error,
        )
    for i, item in enumerate(value, start=1):
        for j, metric in enumerate(item if isinstance(item, list) else [item], start=1):
            at = f"{where}[{i}][{j}]" if isinstance(item, list) else f"{where}[{i}]"
            object_form(metric, at, file, error, METRIC_WHAT)


def weights_form(value: Any, where: str, file: str, error: type[BadInput] = ConfigError) -> None:
    """`loss_weights`: a list of numbers >= 0 or a table of them keyed by output name."""
    items = value.items() if isinstance(value, dict) else None
    if items is None and not isinstance(value, list):
        _fail(
            file,
            where,
            f"expected a list of numbers or a table keyed by output name, received {show(value)}",
            error,
        )
    pairs = items if items is not None else ((f"[{i}]", v) for i, v in enumerate(value, 1))
    for key, item in pairs:
        if not WEIGHT.accepts(item):
            at = where + key if key.startswith("[") else key_at(where, key)
            _fail(file, at, f"expected {WEIGHT.expected}, received {show(item)}", error)


def parse_compile(reader: TableReader) -> CompileSpec:
    """`[compile]` into a `CompileSpec` (the shape only; `compiling.py` checks the names)."""
    reader.check_keys(COMPILE_KEYS)
    table, file, err = reader.table, reader.file, reader.error
    if "function" in table:
        reader.get("function", IMPORT_PATH)
        for key in FUNCTION_ALONE:
            if key in table:
                reader.fail(
                    key,
                    "expected no other [compile] key beside function (the function "
                    "compiles the model itself: give it there)",
                )
        return CompileSpec(function=table["function"], loss=None)
    if "loss" not in table:
        reader.fail("loss", f"expected {LOSS_WHAT}, received nothing (it is required)")
    optimizer = table.get("optimizer", "adam")
    optimizer_form(optimizer, reader.path("optimizer"), file, err)
    if "learning_rate" in table:
        rate_form(table["learning_rate"], reader.path("learning_rate"), file, err)
        if isinstance(optimizer, dict) and "learning_rate" in optimizer:
            reader.fail(
                "learning_rate",
                "expected one learning rate, received two (here and "
                "in the optimizer table): keep one",
            )
    loss_form(table["loss"], reader.path("loss"), file, err)
    metrics = table.get("metrics", [])
    metrics_form(metrics, reader.path("metrics"), file, err)
    if "loss_weights" in table:
        weights_form(table["loss_weights"], reader.path("loss_weights"), file, err)
    rate = table.get("learning_rate")
    return CompileSpec(
        optimizer=optimizer,
        learning_rate=float(rate) if isinstance(rate, (int, float)) else rate,
        loss=table["loss"],
        metrics=tuple(metrics) if isinstance(metrics, list) else metrics,
        loss_weights=table.get("loss_weights"),
        jit_compile=reader.get("jit_compile", JIT, default="auto"),
        steps_per_execution=reader.get("steps_per_execution", POS_INT, default=1),
    )


def parse_class_weight(reader: TableReader) -> dict[int, float] | None:
    """`[train] class_weight = { "0" = 1.0, "1" = 5.0 }` as `fit` takes it (int keys)."""
    if "class_weight" not in reader.table:
        return None
    sub = reader.section("class_weight")
    out: dict[int, float] = {}
    for key in sub.table:
        if not key.isdigit():
            sub.fail(key, f'expected a class index such as "0" as the key, received {show(key)}')
        out[int(key)] = sub.get(key, WEIGHT)
    return out


def recompile_forms(
    optimizer: Any, learning_rate: Any, file: str, where: str, error: type[BadInput]
) -> None:
    """A recompile's arguments (a script action's, or the session API's plain data)."""
    if optimizer is not None:
        optimizer_form(optimizer, key_at(where, "optimizer"), file, error)
    if learning_rate is not None:
        rate_form(learning_rate, key_at(where, "learning_rate"), file, error)


def optimizer_label(spec: CompileSpec) -> str:
    """What the status line names before the model exists: "SGD", "adam", "function"."""
    if spec.function:
        return "function"
    opt = spec.optimizer
    name = str(opt.get("type", "?")) if isinstance(opt, dict) else str(opt)
    return name.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


def constant_rate(spec: CompileSpec) -> float | None:
    """The spec's learning rate when it is a number (None: the optimizer's default or a
    schedule)."""
    rate: Any = spec.learning_rate
    if rate is None and isinstance(spec.optimizer, dict):
        rate = spec.optimizer.get("learning_rate")
    return float(rate) if POS_NUMBER.accepts(rate) else None


def inline_toml(value: Any) -> str:
    """A value as TOML inline text (for the recompile dialog's table field)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        pairs = (f"{toml_key(k)} = {inline_toml(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(inline_toml(v) for v in value) + "]"
    raise TypeError(f"not TOML data: {type(value).__name__}")


def recompile_spec(
    base: CompileSpec,
    optimizer: Any,
    learning_rate: Any,
    file: str = "recompile",
    where: str = "",
    error: type[BadInput] = BadInput,
) -> CompileSpec:
    """What a recompile compiles with: the config's `[compile]` with this optimizer and rate.
    Neither given: the config's own, afresh (its function called again, if it has one)."""
    if optimizer is None and learning_rate is None:
        return base
    if base.function:
        given = "optimizer" if optimizer is not None else "learning_rate"
        raise error(
            f"{file}: {key_at(where, given)}: the config compiles with [compile].function "
            f'("{base.function}"), which makes its own optimizer; recompile without arguments '
            "to call it again"
        )
    if optimizer is None:
        return replace(base, learning_rate=learning_rate)  # the config's optimizer, this rate
    return replace(base, optimizer=optimizer, learning_rate=learning_rate)
