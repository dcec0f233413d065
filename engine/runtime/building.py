"""Build a model the user's builder returned unbuilt, before anything reads its weights.

A subclassed `keras.Model` has no variables until it is called: plain `fit` builds it on the
first batch (while tracing its train step). The engine reads the weights before that (the first
segment's fingerprint, a save, `--from`, the probe's layer list), and an unbuilt model's are
nothing: its fingerprint was the SHA-256 of no bytes, a checkpoint held no weights, and a load
found nothing to fit. So the model is built here, right after the builder returns, on the
structure of one batch of the feed (shapes and dtypes only: nothing is drawn from the user's
pipeline where its element spec says it), as Keras's own symbolic build does.
"""

from __future__ import annotations

from typing import Any


def is_built(model) -> bool:
    return bool(model.built) and all(layer.built for layer in model._flatten_layers())


def batch_structure(feed) -> Any:
    """(x, y, ...) of one batch, as things with `shape` and `dtype`."""
    import keras

    spec = getattr(getattr(feed, "dataset", None), "element_spec", None)
    if spec is not None:  # a tf.data pipeline: its structure, no element drawn
        return spec
    if hasattr(feed, "x"):  # arrays: a batch's worth of rows, no copy
        b = feed.batch_size
        return keras.tree.map_structure(lambda a: a[:b], (feed.x, feed.y))
    return feed.first_batch(0)


def build_unbuilt(model, structure) -> None:
    """Build `model` (if any layer is unbuilt) on symbolic inputs shaped like `structure`."""
    if structure is None or is_built(model):
        return
    import keras
    from keras.src import backend

    def symbolic(v):
        if v is None:
            return None
        shape = tuple(None if d is None else int(d) for d in v.shape)
        return keras.KerasTensor(shape, backend.standardize_dtype(v.dtype))

    if isinstance(structure, tuple | list):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(tuple(structure))
    else:  # a dataset of inputs alone
        x = structure
    backend.compute_output_spec(model, keras.tree.map_structure(symbolic, x), training=False)
