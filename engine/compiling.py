"""`compile_model`: a model compiled the way a `CompileSpec` says (the objects it names are made
by `compileobjects.py`).

The session (`runtime/model_state.py`), `weightwatch check` (its trial fit) and a recompile all
compile through here, so a form that one accepts the others accept. The spec holds plain TOML
data (`compileforms.py` checked its shape); the objects are made here, each time, so that a
recompile gets a fresh optimizer. Every failure is one line naming the file and the key:
`cfg.toml: [compile].optimizer.momentom: SGD does not take "momentom" (did you mean
"momentum"?)`. Keras is imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .compileforms import key_at, per_output
from .compileobjects import (  # noqa: F401  (re-exported: one place to import them from)
    COMPILE_METRICS,
    make_losses,
    make_metric,
    make_metrics,
    make_optimizer,
    make_schedule,
    makes_alone,
    optimizer_classes,
)
from .errors import BadInput, ConfigError
from .specs import CompileSpec
from .tomlread import did_you_mean
from .usercode import as_exception, ensure_on_path, resolve_import, said


def compile_model(
    model: Any,
    spec: CompileSpec,
    file: str,
    *,
    folder: Path | None = None,
    where: str = "[compile]",
    error: type[BadInput] = ConfigError,
    run_eagerly: bool = False,
) -> None:
    """Compile `model` as `spec` says (every `[compile]` form, `function` included).

    Args:
        model: The Keras model.
        spec: The compile spec (a config's, or a recompile's).
        file: The file named in messages.
        folder: Put first on sys.path first (the config's folder), if given.
        where: The key path prefix: `[compile]`, a script's `[[action]][3]`, "" for a command.
        error: The exception class to raise.
        run_eagerly: Passed on to `model.compile` (the check's one-batch trial).

    Raises:
        error: One line naming the file and the key.
    """
    if folder is not None:
        ensure_on_path(folder)
    if spec.function:
        call_function(model, spec.function, file, where, error)
        if run_eagerly:
            model.run_eagerly = True
        return
    model.compile(**compile_kwargs(model, spec, file, where, error), run_eagerly=run_eagerly)


def compile_kwargs(
    model: Any, spec: CompileSpec, file: str, where: str = "[compile]", error=ConfigError
) -> dict[str, Any]:
    """`model.compile`'s keyword arguments from a spec without `function`, every object made
    (so a bad one raises before anything about the model changes). With a model, per-output
    forms are checked against its output names."""
    outputs = _output_names(model)
    at = lambda key: key_at(where, key)  # noqa: E731
    _check_outputs(spec.loss, outputs, at("loss"), file, error)
    _check_outputs(spec.metrics, outputs, at("metrics"), file, error)
    _check_outputs(spec.loss_weights, outputs, at("loss_weights"), file, error)
    return {
        "optimizer": make_optimizer(
            spec.optimizer, spec.learning_rate, at("optimizer"), file, error, at("learning_rate")
        ),
        "loss": make_losses(spec.loss, at("loss"), file, error),
        "metrics": make_metrics(spec.metrics, at("metrics"), file, error),
        "loss_weights": spec.loss_weights,
        "jit_compile": spec.jit_compile,
        "steps_per_execution": spec.steps_per_execution,
    }


def call_function(model: Any, spec: str, file: str, where: str, error: type[BadInput]) -> None:
    """`[compile] function`: the user's code compiles the model; it must have."""
    key = key_at(where, "function")
    fn = resolve_import(spec, key, file, error=error)
    if not callable(fn):
        raise error(
            f'{file}: {key}: expected "{spec}" to be a function, received a {type(fn).__name__}'
        )
    try:
        fn(model)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the user's code: bad input, in one line
        cause = as_exception(exc)
        raise error(f'{file}: {key}: "{spec}" {said(cause)}') from cause
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise error(
            f'{file}: {key}: expected "{spec}" to call model.compile(...), but the '
            "model is not compiled after it returned"
        )


def _output_names(model: Any) -> list[str] | None:
    names = getattr(model, "output_names", None) if model is not None else None
    return list(names) if names else None


def _check_outputs(value: Any, outputs: list[str] | None, key: str, file: str, error) -> None:
    """A per-output list has one entry per output; a table names only outputs there are."""
    if outputs is None or value is None or len(value) == 0:  # none given: nothing to match
        return
    if isinstance(value, (list, tuple)) and len(value) != len(outputs) and len(outputs) > 1:
        raise error(
            f"{file}: {key}: expected {len(outputs)} entries, one per output "
            f"({', '.join(outputs)}) in order, or a table keyed by output name, "
            f"received {len(value)}"
        )
    if per_output(value):
        for name in value:
            if name not in outputs:
                raise error(
                    f"{file}: {key_at(key, name)}: the model has no output "
                    f'"{name}"; its outputs are {", ".join(outputs)}' + did_you_mean(name, outputs)
                )
