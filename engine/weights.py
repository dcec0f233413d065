"""Fingerprints, norms and snapshots of a model's state (training thread only).

Every read of weights happens on the training thread at a batch boundary (DESIGN.md: "no torn
snapshots"), so these helpers never lock anything themselves.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np


def fingerprint_arrays(arrays) -> str:
    """SHA-256 hex over `np.ascontiguousarray(w).tobytes()` for each array, in order."""
    h = hashlib.sha256()
    for w in arrays:
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def fingerprint(model) -> str:
    """The DESIGN.md fingerprint of `model.get_weights()`."""
    return fingerprint_arrays(model.get_weights())


def global_norm(model) -> float:
    """L2 norm over all trainable weights."""
    total = 0.0
    for v in model.trainable_weights:
        a = np.asarray(v.numpy(), dtype=np.float64)
        total += float(np.dot(a.ravel(), a.ravel()))
    return float(np.sqrt(total))


def rng_variables(model) -> list:
    """Variables that are state but not weights: the SeedGenerator states (Dropout & co)."""
    weight_ids = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weight_ids]


def optimizer_variables(model) -> list:
    opt = getattr(model, "optimizer", None)
    return list(opt.variables) if opt is not None and opt.built else []


def snapshot(model) -> list[tuple[Any, np.ndarray]]:
    """Copies of every variable a load may touch: weights, RNG states, optimizer slots."""
    seen: set[int] = set()
    out = []
    for v in [*model.variables, *optimizer_variables(model)]:
        if id(v) not in seen:
            seen.add(id(v))
            out.append((v, np.array(v.numpy(), copy=True)))
    return out


def restore(snap: list[tuple[Any, np.ndarray]]) -> None:
    """Put back what `snapshot` copied (used to undo a load that failed half-way)."""
    for v, value in snap:
        v.assign(value)


def model_step(model) -> int:
    opt = getattr(model, "optimizer", None)
    return int(opt.iterations.numpy()) if opt is not None else 0


def ensure_optimizer_built(model) -> None:
    """Build the optimizer so that `load_weights` restores its variables instead of skipping."""
    opt = getattr(model, "optimizer", None)
    if opt is not None and not opt.built:
        from .backend import strategy_scope

        with strategy_scope(model):  # mirrored variables under a strategy
            opt.build(model.trainable_variables)


# ----- the `.weights.h5` layout, without writing a file ------------------------------------------
# `model.save_weights(path)` opens an HDF5 file at `path` and lets Keras's `_save_state` walk the
# model. Doing the same walk into a store we choose means: a save is built in memory and reaches
# the disk through plain Python I/O (a full disk is an OSError, where HDF5 writing to a full disk
# crashed the process), and a load's shape check needs no temporary copy of the model on disk.


def _keras_store():
    from keras.src.saving import saving_lib

    return saving_lib


def weights_h5_bytes(model, resume: dict | None = None) -> tuple[memoryview, bool]:
    """The bytes `model.save_weights` would write, built in memory, and whether every float
    value in them is finite. With `resume`, the file also carries that resume record
    (engine/resume.py), in a group plain Keras does not read."""
    import io

    from keras.src import backend

    saving_lib = _keras_store()
    finite = [True]

    store_class: Any = saving_lib.H5IOStore  # Keras's private class, found at run time

    class MemoryStore(store_class):
        def __setitem__(self, key, value):
            value = backend.convert_to_numpy(value)
            if finite[0] and value.dtype.kind in "fc" and not np.isfinite(value).all():
                finite[0] = False
            super().__setitem__(key, value)

    buffer = io.BytesIO()
    store = MemoryStore(buffer, mode="w")
    try:
        saving_lib._save_state(
            model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set()
        )
        if resume is not None:
            from .resume import write_resume

            write_resume(store.h5_file, resume)
    finally:
        store.close()
    return buffer.getbuffer(), finite[0]


def weights_layout(model) -> dict[str, tuple]:
    """{dataset path: shape} of the file `model.save_weights` would write now, from the model's
    variables alone (nothing is copied or written)."""
    saving_lib = _keras_store()
    layout: dict[str, tuple] = {}

    store_class: Any = saving_lib.H5IOStore

    class ShapeStore(store_class):
        def __init__(self):  # no HDF5 file at all
            self.mode, self.prefix = "w", ""

        def __bool__(self):
            return True

        def make(self, path, metadata=None):
            self.prefix = f"{path}/vars" if path else "vars"
            return self

        def __setitem__(self, key, value):
            layout[f"{self.prefix}/{key}"] = tuple(np.shape(value))

        def close(self):
            pass

    saving_lib._save_state(
        model, weights_store=ShapeStore(), assets_store=None, inner_path="", visited_saveables=set()
    )
    return layout
