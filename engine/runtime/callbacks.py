"""Keras's own `CallbackList`, with a list that can change between two batches.

The loop dispatches every hook through `keras.callbacks.CallbackList`, exactly as `fit` does:
the same order, the same `pythonify_logs` conversion, the same History, and the same choice of
asynchronous batch-end dispatch (callbacks that override a batch-end hook without declaring
`async_safe` are called synchronously). Keras decides that choice once, in the constructor; this
subclass decides it again when the list changes, after waiting for the batch-end calls still in
flight, so that an edit never runs a callback on a thread it did not ask for.

The private members of `CallbackList` used here (`_configure_async_dispatch`, `_flush_futures`,
`_executor`, `_async_*`, `_in_begin_end_block_count`) are read in this one file only.
"""

from __future__ import annotations

import concurrent.futures

import keras


class LiveCallbackList(keras.callbacks.CallbackList):
    """A `CallbackList` whose user callbacks can be swapped at a batch boundary."""

    def __init__(self, callbacks, *, history, progbar, model, params) -> None:
        users = list(callbacks)
        extra = [history] + ([progbar] if progbar is not None else [])
        super().__init__(users + extra, model=model, **params)
        self._extra = extra  # History/Progbar define no batch-end hook: async as Keras decided

    @property
    def users(self) -> list:
        """The user's callbacks, in order (without the History and progress bar)."""
        return self.callbacks[: len(self.callbacks) - len(self._extra)]

    @property
    def history(self) -> keras.callbacks.History:
        return self._extra[0]

    @property
    def async_train(self) -> bool:
        """Whether train batch-end hooks run on Keras's worker thread (as in `fit`)."""
        return bool(self._async_train)

    def flush(self) -> None:
        """Wait for the batch-end hooks still running on the worker thread (their errors
        surface here, as they would at `fit`'s next epoch end)."""
        if self._futures:
            self._flush_futures()

    def replace(self, callbacks) -> None:
        """A new user list: dispatch is decided again for it."""
        self.flush()
        users = list(callbacks)
        self.callbacks = users + self._extra
        self._configure_async_dispatch(users)
        wants_thread = self._async_train or self._async_test or self._async_predict
        idle = getattr(self, "_executor", None) is None
        if wants_thread and idle and self._in_begin_end_block_count > 0:
            self._executor = concurrent.futures.ThreadPoolExecutor()
