"""The engine's own Keras callback: batch boundaries, exact pauses, epoch bookkeeping.

It deliberately defines no `on_train_batch_end`: Keras then keeps dispatching batch-end hooks
asynchronously (as plain `fit` does), and the boundary work happens in `on_train_batch_begin`,
before the next batch runs. The per-batch path is a counter and two comparisons.
"""

from __future__ import annotations

import keras


class ControlCallback(keras.callbacks.Callback):
    """Counts batches, and hands the thread to the trainer when there is something to do."""

    def __init__(self, trainer) -> None:
        super().__init__()
        self.trainer = trainer
        self.mailbox = trainer.mailbox
        self.in_batch = False  # a batch has begun and not yet been counted

    def on_train_begin(self, logs=None):
        self.in_batch = False

    def on_train_batch_begin(self, batch, logs=None):
        if self.in_batch:
            self.in_batch = False
            self.trainer.batch_done()
        if self.mailbox.attention:
            self.trainer.boundary("batch")
        self.in_batch = True

    def on_epoch_end(self, epoch, logs=None):
        self.finish_batch()
        self.trainer.epoch_done(logs or {})
        self.trainer.boundary("epoch")

    def on_train_end(self, logs=None):
        self.finish_batch()

    def finish_batch(self) -> None:
        if self.in_batch:
            self.in_batch = False
            self.trainer.batch_done()
