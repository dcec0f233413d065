"""The user's callbacks, behind one Keras callback the engine owns.

Keras copies the callbacks list when `fit` starts, so edits cannot reach a running `fit`. The
dispatcher owns the live list instead: edits swap its entries at a batch boundary. Each user
callback gets `on_train_begin` once, when it joins (not on every internal `fit` restart), and
`on_train_end` when it leaves or the session stops, so it sees one continuous training run.
"""

from __future__ import annotations

import keras

from .specs import CallbackSpec

_BATCH_END_HOOKS = ("on_batch_end", "on_train_batch_end")


def needs_sync_batch_end(cb) -> bool:
    """Whether Keras must call this callback's batch-end hooks synchronously."""
    if getattr(cb, "async_safe", False):
        return False
    return any(not getattr(getattr(cb, h), "_is_default", False) for h in _BATCH_END_HOOKS)


class CallbackDispatcher(keras.callbacks.Callback):
    """Forwards every hook to the enabled user callbacks, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[tuple[CallbackSpec, keras.callbacks.Callback]] = []
        self._begun: set[int] = set()
        self.async_safe = True

    @property
    def active(self) -> list:
        return [cb for spec, cb in self.entries if spec.enabled]

    @property
    def specs(self) -> list[CallbackSpec]:
        return [spec for spec, _ in self.entries]

    def replace(self, entries, model, params, logs=None) -> None:
        """Swap in a new list; callbacks leaving get on_train_end, joining ones on_train_begin."""
        kept = {id(cb) for spec, cb in entries if spec.enabled}
        for cb in self.active:
            if id(cb) not in kept and id(cb) in self._begun:
                cb.on_train_end(logs)
                self._begun.discard(id(cb))
        self.entries = list(entries)
        self.bind(model, params)

    def bind(self, model, params) -> None:
        """Give every active callback the (possibly new) model and fit params."""
        for cb in self.active:
            cb.set_model(model)
            if params:
                cb.set_params(params)
        self.async_safe = not any(needs_sync_batch_end(cb) for cb in self.active)

    def restart_all(self) -> None:
        """A new model instance: every callback starts a new training run."""
        self._begun.clear()

    def end_all(self, logs=None) -> None:
        for cb in self.active:
            if id(cb) in self._begun:
                cb.on_train_end(logs)
        self._begun.clear()

    # ----- forwarding --------------------------------------------------------------------
    def set_model(self, model):
        super().set_model(model)
        for cb in self.active:
            cb.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for cb in self.active:
            cb.set_params(params)

    def on_train_begin(self, logs=None):
        for cb in self.active:
            if id(cb) not in self._begun:
                cb.on_train_begin(logs)  # if it raises, it has not begun: the next fit retries
                self._begun.add(id(cb))

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.active:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for cb in self.active:
            cb.on_epoch_end(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        for cb in self.active:
            cb.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        for cb in self.active:
            cb.on_train_batch_end(batch, logs)

    def on_test_begin(self, logs=None):
        for cb in self.active:
            cb.on_test_begin(logs)

    def on_test_end(self, logs=None):
        for cb in self.active:
            cb.on_test_end(logs)

    def on_test_batch_begin(self, batch, logs=None):
        for cb in self.active:
            cb.on_test_batch_begin(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        for cb in self.active:
            cb.on_test_batch_end(batch, logs)
