"""What the user's callbacks do to the weights and the learning rate, seen where it happens.

Keras says nothing when a callback changes the model: EarlyStopping's restore, the callbacks
guide's `EarlyStoppingAtMinLoss`, any `model.set_weights(...)` and ReduceLROnPlateau's
`optimizer.learning_rate = x` all end in `keras.Variable.assign`, called eagerly from Python.
The compiled train step's own updates were traced once and never call it again, so one wrapper
around that method sees every such change and costs the batches nothing: the per-batch path reads
no weights, no norms and no counters it did not read before. On the first assignment of a change
the wrapper notes who made it (the callback and hook, from the frames of Keras's `CallbackList`
dispatch), the norm and fingerprint before it, and asks for a boundary (`mailbox.attention`);
the training thread then records the event there (`Effects.drain`), with the norm and
fingerprint after it.

Assignments outside a user callback (the engine's own loads, a `run_eagerly` optimizer step, an
EMA optimizer's final copy) are not the user's callbacks and are left to the engine.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import keras

from ..weights import fingerprint, global_norm

# id(variable) -> (Effects, "weight" | "lr"): which session watches it, and as what.
_WATCHED: dict[int, tuple[Effects, str]] = {}
_LOCK = threading.Lock()
_installed = False
_STACK_DEPTH = 60  # frames searched for the dispatching CallbackList (rare path only)


@dataclass
class Change:
    """One callback's change, between its first assignment and the boundary that records it."""

    kind: str  # "weights" or "lr"
    callback: str
    hook: str
    epoch: int  # 1-based: the epoch the hook ran in (on_train_end: the last one trained)
    where: dict  # the event's `epoch` (epochs done) and, for a batch hook, `step_in_epoch`
    before: Any  # weights: (norm, fingerprint); lr: the old rate
    source: Any = field(default=None, repr=False)  # the callback object (for its words)


class Effects:
    """One session's watch over its model's weights and learning rate (training thread)."""

    def __init__(self, mailbox, epoch_of) -> None:
        self.mailbox = mailbox
        # () -> (epoch in progress 0-based, epochs finished, batches done in the epoch)
        self.epoch_of = epoch_of
        self.model: Any = None
        self.pending: list[Change] = []
        self.seen: set[tuple[str, str, int]] = set()  # batch-level changes: once per epoch
        self._ids: set[int] = set()

    # ----- what is watched -----------------------------------------------------------------
    def watch(self, model) -> None:
        """Watch `model`'s weights and its optimizer's rate (again after a load, rebuild or
        recompile: new variables)."""
        _install()
        ids: dict[int, str] = {id(v): "weight" for v in model.weights} if model else {}
        lr = getattr(getattr(model, "optimizer", None), "_learning_rate", None)
        if isinstance(lr, keras.Variable):
            ids[id(lr)] = "lr"
        if model is self.model and set(ids) == self._ids:
            return
        with _LOCK:
            for i in self._ids:
                if _WATCHED.get(i, (None,))[0] is self:
                    del _WATCHED[i]
            _WATCHED.update({i: (self, role) for i, role in ids.items()})
        self.model, self._ids = model, set(ids)

    def close(self) -> None:
        self.watch(None)
        self.pending.clear()

    # ----- called by the wrapper (any thread a hook runs on) -------------------------------
    def assigning(self, variable, role: str, value) -> None:
        owner = _dispatching_callback()
        if owner is None:
            return  # not a user callback's doing
        cb, hook = owner
        name = type(cb).__name__
        if role == "lr":
            old = float(variable.numpy())
            new = float(keras.ops.convert_to_numpy(value))
            if old != new and not any(c.kind == "lr" and c.callback == name for c in self.pending):
                self.pending.append(Change("lr", name, hook, *self._where(hook), old, cb))
                self.mailbox.attention = True
            return
        if any(c.kind == "weights" and c.callback == name and c.hook == hook for c in self.pending):
            return  # the same change, its next variable
        epoch, where = self._where(hook)
        if "batch" in hook:
            if (name, hook, epoch) in self.seen:
                return  # a callback that edits every batch: once per epoch is enough
            self.seen.add((name, hook, epoch))
        before = (global_norm(self.model), fingerprint(self.model))
        self.pending.append(Change("weights", name, hook, epoch, where, before, cb))
        self.mailbox.attention = True

    def _where(self, hook: str) -> tuple[int, dict]:
        """(the 1-based epoch the hook ran in, for words; the event's position: epochs done
        as every event counts them, and the batches done in the epoch for a batch hook)."""
        in_progress, finished, step = self.epoch_of()
        if hook == "on_train_end":
            words = done = finished
        else:  # at an epoch's end, that epoch is done (as the boundary after it counts it)
            words, done = in_progress + 1, in_progress + (hook == "on_epoch_end")
        where = {"epoch": done, **({"step_in_epoch": step} if "batch" in hook else {})}
        return words, where

    # ----- the training thread, at a boundary -------------------------------------------
    def drain(self) -> list[tuple[Change, Any]]:
        """The changes since the last drain, each with what the weights (norm, fingerprint) or
        the rate are now; changes that left the weights as they were are dropped."""
        out: list[tuple[Change, Any]] = []
        changes, self.pending = self.pending, []
        weights = [c for c in changes if c.kind == "weights"]
        after_all = (global_norm(self.model), fingerprint(self.model)) if weights else None
        for change in changes:
            if change.kind == "lr":
                now = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
                if now != change.before:
                    out.append((change, now))
                continue
            later = weights[weights.index(change) + 1 :]
            after = (later[0].before[0], None) if later else after_all
            if after is not None and after[1] != change.before[1]:
                out.append((change, after))
        return out


def _dispatching_callback() -> tuple[Any, str] | None:
    """(callback, hook) of the user callback running now, from Keras's `CallbackList` frames
    (its loop variable `callback`; a `LambdaCallback`'s function has no `self`) or, for a
    callback called directly (one joining mid-run), the nearest `on_*` method of a Callback."""
    frame: Any = sys._getframe(2)
    for _ in range(_STACK_DEPTH):
        if frame is None:
            return None
        code = frame.f_code
        if code.co_name.startswith(("on_", "_on_")):
            local = frame.f_locals
            me = local.get("self")
            if isinstance(me, keras.callbacks.CallbackList):
                cb = local.get("callback")
                if isinstance(cb, keras.callbacks.Callback) and not _engine_own(cb):
                    return cb, code.co_name.lstrip("_")
                return None
            if isinstance(me, keras.callbacks.Callback) and not _engine_own(me):
                return me, code.co_name
        frame = frame.f_back
    return None


def _engine_own(cb) -> bool:
    return type(cb).__module__.startswith(("weightwatch.", "keras.src.callbacks.history"))


def _install() -> None:
    """Wrap `keras.Variable.assign` once per process (the wrapper does nothing for variables
    no session watches: one dict lookup)."""
    global _installed
    with _LOCK:
        if _installed:
            return
        from ..backend import inside_trace
        from ..jaxstep import QUIET

        base = keras.Variable
        original = base.assign

        def assign(self, value):
            hit = _WATCHED.get(id(self))
            # not the step's own (traced) updates, nor JAX writing its state back
            if hit is not None and not inside_trace() and not getattr(QUIET, "on", False):
                try:
                    hit[0].assigning(self, hit[1], value)
                except Exception:  # noqa: BLE001 - watching must never break the user's code
                    pass
            return original(self, value)

        assign.__doc__ = original.__doc__
        base.assign = assign  # type: ignore[method-assign]
        _installed = True
