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
        opt.build(model.trainable_variables)
