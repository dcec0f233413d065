"""`weightwatch check`'s model checks (before its one-batch trial fit, engine/trial.py): build
the model, compile it as the session does, and put two samples of the data (or a pipeline's
first batch) through it and through the compiled loss. Every failure is a one-line
`ConfigError` naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .errors import ConfigError
from .feeds_loader import Data, flat, is_dataset, map_leaves
from .specs import Config
from .tomlread import show
from .usercode import as_exception, call_user, one_line


def data_key(config: Config) -> str:
    """The key that brought the data: messages about the arrays name it."""
    return "[data].loader" if config.data.loader else "[data].path"


def compile_for_check(config: Config, model, file: str) -> None:
    """Compile as the session does (every `[compile]` form), eagerly: the check trains one
    batch, and tracing a graph would cost far more than it runs."""
    try:
        from .compiling import compile_model
    except ImportError:  # the compile grammar's module is not there: names only
        from .compilenames import make_optimizer

        c = config.compile
        model.compile(
            optimizer=make_optimizer(c.optimizer, c.learning_rate),
            loss=c.loss,
            metrics=list(c.metrics) or None,
            run_eagerly=True,
        )
        return
    compile_model(model, config.compile, file, folder=config.folder, run_eagerly=True)


def check_model(config: Config, builder: Callable, file: str, data: Data) -> tuple[Any, str]:
    """Build the model once, compile it as the session would, and put two samples of x (and
    of x_val; or the first batch of a pipeline) through it and through the compiled loss: the
    loss `fit` computes (it matches ranks, so 1-D labels meet a (n, 1) output as in `fit`).

    Returns:
        The model (compiled, for `trial_fit`) and a note about it.
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
    check_val_shapes(config, file, data)
    compile_for_check(config, model, file)
    out = None
    for names, sample in _samples(data):
        out = _forward(model, sample[0], names[0], file)
        _check_loss(config, file, model, sample, out, names[1])
        if data.is_arrays:
            _check_labels(config, file, out, getattr(data, names[1]), names[1])
    note = (
        f"model: {spec.builder} built {type(model).__name__} with {len(model.layers)} "
        f"layers, {model.count_params()} parameters, output shape {_shapes(out)}"
    )
    return model, note


def _samples(data: Data) -> Iterator[tuple[tuple[str, str], tuple]]:
    """((x name, y name), (x, y, sample_weight)) for the training data and the validation."""
    if data.is_arrays:
        two = lambda v: map_leaves(lambda a: a[:2], v)  # noqa: E731
        yield ("x", "y"), (two(data.x), two(data.y), two(data.sample_weight))
        if data.x_val is not None:
            val = (data.x_val, data.y_val, data.sample_weight_val)
            yield ("x_val", "y_val"), tuple(two(v) for v in val)
        return
    import keras

    for key, pipeline in (("train", data.train), ("validation", data.validation)):
        if pipeline is not None:
            batch = _first_batch(pipeline)
            yield (f"{key} x", f"{key} y"), keras.utils.unpack_x_y_sample_weight(batch)


def _first_batch(pipeline) -> tuple:
    if is_dataset(pipeline):
        return tuple(next(iter(pipeline.take(1))))
    batch = pipeline[0]  # a PyDataset
    return tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)


def _shapes(value) -> str:
    """Sample shapes: `(4,)`, or `x["a"] (4,), x["b"] (2,)` for several."""
    leaves = [(path, leaf) for path, leaf in flat(value, "") if hasattr(leaf, "shape")]
    if len(leaves) == 1:
        return str(tuple(leaves[0][1].shape[1:]))
    return ", ".join(f"{path} {tuple(leaf.shape[1:])}" for path, leaf in leaves)


def check_val_shapes(config: Config, file: str, data: Data) -> None:
    """Validation samples must look like training samples (Keras finds out at epoch end)."""
    for train, val in (("x", "x_val"), ("y", "y_val")):
        a, b = getattr(data, train), getattr(data, val)
        if a is None or b is None:
            continue
        for (name, leaf), (vname, vleaf) in zip(flat(a, train), flat(b, val), strict=False):
            if leaf.shape[1:] != vleaf.shape[1:] or name[len(train) :] != vname[len(val) :]:
                raise ConfigError(
                    f'{file}: {data_key(config)}: expected "{vname}" with samples of the same '
                    f'shape as "{name}" {leaf.shape[1:]}, received "{vname}" (samples of '
                    f"shape {vleaf.shape[1:]})"
                )


def _forward(model, x, name: str, file: str):
    try:
        return model(x, training=False)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # any layer may object to the input; say which data it was
        raise ConfigError(
            f"{file}: [model].builder: expected a model that takes the data's {name} "
            f"(samples of shape {_shapes(x)}), received one that fails: "
            f"{one_line(exc)}"
        ) from as_exception(exc)


def _check_loss(config: Config, file: str, model, sample: tuple, out, name: str) -> None:
    """The compiled loss (what `fit` calls), not the raw loss function."""
    x, y, sw = sample
    if y is None:
        return  # a model that adds its own losses (fit takes x alone then too)
    try:
        model.compute_loss(x=x, y=y, y_pred=out, sample_weight=sw, training=False)
    except Exception as exc:  # shape or dtype mismatch between labels and outputs
        loss = config.compile.loss
        said_loss = loss if isinstance(loss, str) else show(loss)
        raise ConfigError(
            f'{file}: [compile].loss: expected "{said_loss}" to compare '
            f"the data's {name} (shape {_shapes(y)}) with the model's output (shape "
            f"{_shapes(out)}), received an error: {one_line(exc)}"
        ) from exc


def _check_labels(config: Config, file: str, out, y, name: str) -> None:
    """Sparse losses take class indices in [0, outputs): one out of range anywhere in y fails
    the batch that holds it (on CPU; a GPU gives NaN), so every label is checked now."""
    loss = config.compile.loss
    if not isinstance(loss, str) or not isinstance(y, np.ndarray) or not hasattr(out, "shape"):
        return  # per-output losses and loss objects: the trial fit finds bad labels
    if "sparse" not in loss.lower() or "categorical" not in loss.lower():
        return
    classes = int(out.shape[-1])
    flat_y = y.reshape(len(y), -1)
    bad = (flat_y < 0) | (flat_y >= classes) | (flat_y != np.floor(flat_y))
    if bad.any():
        row, column = np.argwhere(bad)[0]
        value = flat_y[row, column].item()
        raise ConfigError(
            f'{file}: {data_key(config)}: expected "{name}" as class indices in [0, {classes}) '
            f"for {loss} (the model has {classes} outputs), received {value:g} at sample {row}"
        )
