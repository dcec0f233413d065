"""`weightwatch check`'s model checks (engine/trial_model.py: build the model, put the data
through it) and its trial: train for one batch with the config's callbacks, so that what would
fail in the first epoch fails here.

Everything runs on a model built for the check alone; the callbacks of the trial fit get their
file arguments inside a throwaway folder (and the trial runs with that folder as the working
directory), so no file the person would see is written. Every failure is a one-line
`ConfigError` naming the file and the key.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .feeds_loader import Data, is_dataset, map_leaves, split
from .specs import CallbackSpec, Config
from .trial_model import check_model, check_val_shapes, data_key
from .usercode import as_exception, one_line, said

__all__ = ["check_model", "check_val_shapes", "data_key", "trial_fit"]

HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
)


# --- one batch of training with the callbacks ---------------------------------------------------


class _HookFailed(Exception):
    def __init__(self, index: int, hook: str, cause: Exception) -> None:
        super().__init__(f"{hook}: {cause}")
        self.index, self.hook, self.cause = index, hook, cause


def _guard_class():
    """A Callback that passes every hook to one user callback and says which one failed."""
    import keras

    class Guard(keras.callbacks.Callback):
        def __init__(self, index: int, inner) -> None:
            super().__init__()
            self.index, self.inner = index, inner

        def set_model(self, model) -> None:
            super().set_model(model)
            self.inner.set_model(model)

        def set_params(self, params) -> None:
            super().set_params(params)
            self.inner.set_params(params)

    def make_hook(hook: str):
        def call(self, *args, **kwargs):
            try:
                return getattr(self.inner, hook)(*args, **kwargs)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # the hook's own error (or sys.exit): name it
                raise _HookFailed(self.index, hook, as_exception(exc)) from exc

        return call

    for hook in HOOKS:
        setattr(Guard, hook, make_hook(hook))
    return Guard


def trial_fit(config: Config, model, file: str, data: Data, make_callback: Callable) -> str:
    """Fit the compiled `model` (trial_model.check_model compiled it) on one batch, validating
    on one batch, with every enabled callback and `[train] class_weight`: each hook runs once,
    so a callback whose arguments only fail when used (`on_epoch_end = "print"`) is found out
    now.

    Returns:
        A note saying what ran.
    """
    guard = _guard_class()
    enabled = [(i, s) for i, s in enumerate(config.callbacks, start=1) if s.enabled]
    with tempfile.TemporaryDirectory(prefix="weightwatch-check-") as tmp, _working_dir(tmp):
        callbacks = [
            guard(i, make_callback(_into(spec, Path(tmp)), file=file, index=i))
            for i, spec in enabled
        ]
        try:
            model.fit(**_one_batch(config, data), callbacks=callbacks, verbose=0, epochs=1)
        except _HookFailed as failed:
            label = config.callbacks[failed.index - 1].label
            raise ConfigError(
                f"{file}: [[callbacks]][{failed.index}]: {label} failed in {failed.hook} "
                f"during a one-batch trial fit ({said(failed.cause)})"
            ) from failed.cause
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the step itself: the model, the loss or the metrics
            raise ConfigError(
                f"{file}: [model].builder: expected a model that trains on one batch of the "
                f"data, received an error: {one_line(exc)}"
            ) from as_exception(exc)
    val = " and one validated" if data.has_validation or config.data.validation_split else ""
    calls = f", calling {len(callbacks)} callbacks" if callbacks else ""
    return f"trial: one batch trained{val}{calls}"


def _one_batch(config: Config, data: Data) -> dict[str, Any]:
    """`fit`'s arguments for one batch of the data (and one of the validation data)."""
    cw = config.train.class_weight
    if not data.is_arrays:
        val = data.validation
        return {
            "x": data.train.take(1) if is_dataset(data.train) else data.train,
            "steps_per_epoch": 1,
            "class_weight": cw,
            "validation_data": val.take(1) if is_dataset(val) else val,
            "validation_steps": None if val is None else 1,
        }
    data = split(data, config.data.validation_split)  # the session's split
    bs = config.data.batch_size
    head = lambda v: map_leaves(lambda a: a[:bs], v)  # noqa: E731
    val = None
    if data.x_val is not None:
        parts = tuple(head(v) for v in (data.x_val, data.y_val, data.sample_weight_val))
        val = parts if parts[2] is not None else parts[:2]
    return {
        "x": head(data.x),
        "y": head(data.y),
        "sample_weight": head(data.sample_weight),
        "batch_size": bs,
        "class_weight": cw,
        "validation_data": val,
        "shuffle": False,
    }


def _into(spec: CallbackSpec, folder: Path) -> CallbackSpec:
    """`spec` with every file argument moved into `folder`, keeping the file's name."""
    from .callback_paths import PATH_ARGUMENTS

    kwargs = dict(spec.kwargs)
    for key in PATH_ARGUMENTS:
        value = kwargs.get(key)
        if isinstance(value, str) and value:
            kwargs[key] = str(folder / (Path(value).name or "path"))
    return replace(spec, kwargs=kwargs)


@contextlib.contextmanager
def _working_dir(folder: str) -> Iterator[None]:
    """A user callback that writes to a relative path writes into the throwaway folder."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)
