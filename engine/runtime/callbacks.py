"""Keras's own `CallbackList`, with a list that can change between two batches.

The loop dispatches every hook through `keras.callbacks.CallbackList`, exactly as `fit` does:
the same order, the same `pythonify_logs` conversion, the same History, and the same choice of
asynchronous batch-end dispatch (callbacks that override a batch-end hook without declaring
`async_safe` are called synchronously). Keras decides that choice once, in the constructor; this
subclass decides it again when the list changes, after waiting for the batch-end calls still in
flight, so that an edit never runs a callback on a thread it did not ask for.

It also notes which callback set `model.stop_training` in `on_epoch_end` (`stopped_by`), so the
session can say who stopped training, and runs batch-end hooks dispatched to Keras's worker
thread as the user's code (`userlog.as_user_thread`: their prints go to the run's user.log; Keras
dispatches there only on backends it deems thread-safe, not TensorFlow).

The private members of `CallbackList` used here (`_configure_async_dispatch`, `_flush_futures`,
`_executor`, `_async_*`, `_in_begin_end_block_count`, `_async_dispatch`) are read in this one
file only.
"""

from __future__ import annotations

import concurrent.futures

import keras
from keras.src.utils.python_utils import pythonify_logs

from ..userlog import as_user_thread


class LiveCallbackList(keras.callbacks.CallbackList):
    """A `CallbackList` whose user callbacks can be swapped at a batch boundary."""

    def __init__(self, callbacks, *, history, progbar, model, params) -> None:
        users = list(callbacks)
        extra = [history] + ([progbar] if progbar is not None else [])
        super().__init__(users + extra, model=model, **params)
        self._extra = extra  # History/Progbar define no batch-end hook: async as Keras decided
        self.stopped_by: str | None = None  # the callback that set stop_training at epoch end

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

    def on_epoch_end(self, epoch, logs=None):
        """Keras's own dispatch (flush, one pythonified `logs`, in order), noting the first
        callback that asks training to stop."""
        if self._async_train:
            self._flush_futures()
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            stopping = bool(getattr(self.model, "stop_training", False))
            callback.on_epoch_end(epoch, logs)
            if not stopping and getattr(self.model, "stop_training", False):
                self.stopped_by = self.stopped_by or type(callback).__name__

    def _async_dispatch(self, fn, *args):
        """A batch-end hook on Keras's worker thread is the user's code there too."""
        super()._async_dispatch(as_user_thread(fn), *args)

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
