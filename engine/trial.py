"""`weightwatch check`'s model checks: build the model, put the data through it, and train it for
one batch with the config's callbacks, so that what would fail in the first epoch fails here.

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

import numpy as np

from .datafiles import Arrays
from .errors import ConfigError
from .specs import CallbackSpec, Config
from .usercode import as_exception, call_user, one_line, said

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


def data_key(config: Config) -> str:
    """The key that brought the data: messages about the arrays name it."""
    return "[data].loader" if config.data.loader else "[data].path"


def check_model(config: Config, builder: Callable, file: str, arrays: Arrays) -> tuple[Any, str]:
    """Build the model once; put two samples of x (and x_val) through it and the loss.

    Returns:
        The model (uncompiled, for `trial_fit`) and a note about it.
    """
    import keras

    spec = config.model
    model = call_user(
        builder, spec.params, spec.builder, ("[model].builder", "[model].params"), file
    )
    if not isinstance(model, keras.Model):
        raise ConfigError(
            f'{file}: [model].builder: expected "{spec.builder}" to return a '
            f"keras.Model, received a {type(model).__name__}"
        )
    x, y, x_val, y_val = arrays
    check_val_shapes(config, file, arrays)
    out = _forward(model, x, "x", file)
    _check_loss(config, file, y, out, "y")
    if x_val is not None and y_val is not None:
        _check_loss(config, file, y_val, _forward(model, x_val, "x_val", file), "y_val")
    _check_labels(config, file, out, y, "y")
    if y_val is not None:
        _check_labels(config, file, out, y_val, "y_val")
    note = (
        f"model: {spec.builder} built {type(model).__name__} with {len(model.layers)} "
        f"layers, {model.count_params()} parameters, output shape {tuple(out.shape[1:])}"
    )
    return model, note


def check_val_shapes(config: Config, file: str, arrays: Arrays) -> None:
    """Validation samples must look like training samples (Keras finds out at epoch end)."""
    for train, val in ((0, 2), (1, 3)):
        a, b = arrays[train], arrays[val]
        if a is not None and b is not None and a.shape[1:] != b.shape[1:]:
            names = ("x", "y", "x_val", "y_val")
            raise ConfigError(
                f'{file}: {data_key(config)}: expected "{names[val]}" with samples of the same '
                f'shape as "{names[train]}" {a.shape[1:]}, received "{names[val]}" (samples of '
                f"shape {b.shape[1:]})"
            )


def _forward(model, x: np.ndarray, name: str, file: str):
    try:
        return model(x[:2], training=False)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # any layer may object to the input; say which data it was
        raise ConfigError(
            f"{file}: [model].builder: expected a model that takes the data's {name} "
            f"(samples of shape {x.shape[1:]}), received one that fails: "
            f"{one_line(exc)}"
        ) from as_exception(exc)


def _check_loss(config: Config, file: str, y: np.ndarray, out, name: str) -> None:
    import keras

    try:
        keras.losses.get(config.compile.loss)(y[:2], out)
    except Exception as exc:  # shape or dtype mismatch between labels and outputs
        raise ConfigError(
            f'{file}: [compile].loss: expected "{config.compile.loss}" to compare '
            f"the data's {name} (shape {y.shape[1:]}) with the model's output (shape "
            f"{tuple(out.shape[1:])}), received an error: {one_line(exc)}"
        ) from exc


def _check_labels(config: Config, file: str, out, y: np.ndarray, name: str) -> None:
    """Sparse losses take class indices in [0, outputs): one out of range anywhere in y fails
    the batch that holds it (on CPU; a GPU gives NaN), so every label is checked now."""
    loss = config.compile.loss
    if "sparse" not in loss.lower() or "categorical" not in loss.lower():
        return
    classes = int(out.shape[-1])
    flat = y.reshape(len(y), -1)
    bad = (flat < 0) | (flat >= classes) | (flat != np.floor(flat))
    if bad.any():
        row, column = np.argwhere(bad)[0]
        value = flat[row, column].item()
        raise ConfigError(
            f'{file}: {data_key(config)}: expected "{name}" as class indices in [0, {classes}) '
            f"for {loss} (the model has {classes} outputs), received {value:g} at sample {row}"
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


def trial_fit(config: Config, model, file: str, arrays: Arrays, make_callback: Callable) -> str:
    """Compile `model` as the session would and fit it on one batch, validating on one batch,
    with every enabled callback: each hook runs once, so a callback whose arguments only fail
    when used (`on_epoch_end = "print"`) is found out now.

    Returns:
        A note saying what ran.
    """
    from .compilenames import make_optimizer

    x, y, x_val, y_val = _split(config, arrays)
    bs = config.data.batch_size
    c = config.compile
    model.compile(
        optimizer=make_optimizer(c.optimizer, c.learning_rate),
        loss=c.loss,
        metrics=list(c.metrics) or None,
        run_eagerly=True,  # one step: tracing a graph would cost far more than it runs
    )
    guard = _guard_class()
    enabled = [(i, s) for i, s in enumerate(config.callbacks, start=1) if s.enabled]
    with tempfile.TemporaryDirectory(prefix="weightwatch-check-") as tmp, _working_dir(tmp):
        callbacks = [
            guard(i, make_callback(_into(spec, Path(tmp)), file=file, index=i))
            for i, spec in enabled
        ]
        try:
            model.fit(
                x[:bs],
                y[:bs],
                batch_size=bs,
                epochs=1,
                validation_data=None
                if x_val is None or y_val is None
                else (x_val[:bs], y_val[:bs]),
                callbacks=callbacks,
                verbose=0,
                shuffle=False,
            )
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
    val = " and one validated" if x_val is not None else ""
    calls = f", calling {len(callbacks)} callbacks" if callbacks else ""
    return f"trial: one batch trained{val}{calls}"


def _split(config: Config, arrays: Arrays) -> Arrays:
    """The session's split: the last `validation_split` of the samples validate."""
    x, y, x_val, y_val = arrays
    if x_val is None and config.data.validation_split > 0:
        cut = int(len(x) * (1 - config.data.validation_split))
        return x[:cut], y[:cut], x[cut:], y[cut:]
    return arrays


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
