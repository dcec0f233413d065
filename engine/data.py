"""Batches in an order fixed by (seed, epoch), startable at any (epoch, step).

Keras shuffles with its own RNG and cannot start mid-epoch, so a run resumed from a checkpoint
would see different data than one that never stopped. Here the sample order of epoch `e` is
`default_rng([seed, e]).permutation(n)`, and a feed can start at any step of any epoch, which is
what makes "N steps + restart + M steps == N+M steps" hold bit for bit.

Every feed (this one, and the tf.data / PyDataset feeds in engine/feeds.py) has the position
interface the checkpoints use:

    feed.exact_position: bool          # a resume continues where the data was
    feed.position_state() -> bytes | None  # the iterator's state; None: (epoch, step) is it
    feed.restore_position(state, epoch, step)  # before the loop goes on from (epoch, step)

x, y and the sample weights may be arrays, lists or dicts of arrays (several inputs or
outputs): every leaf is indexed with the same sample order, so weights travel with their batch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _leaves(structure: Any) -> list:
    import keras

    return [leaf for leaf in keras.tree.flatten(structure) if leaf is not None]


class BatchFeed:
    """Deterministic batches over in-memory arrays (any nesting of x, y, sample_weight)."""

    exact_position = True  # (epoch, step) alone fixes which batch comes next

    def __init__(
        self,
        x,
        y,
        *,
        batch_size: int,
        seed: int,
        shuffle: bool = True,
        steps_per_epoch: int | None = None,
        sample_weight=None,
    ) -> None:
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.n = len(_leaves(x)[0])
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        full = math.ceil(self.n / batch_size)
        self.steps_per_epoch = min(steps_per_epoch or full, full)
        self._tensors: Any = None

    # ----- the position interface (engine/checkpoints.py stores it) -------------------------
    def position_state(self) -> bytes | None:
        """None: the order is a function of (seed, epoch), so (epoch, step) is the position."""
        return None

    def restore_position(self, state: bytes | None, epoch: int, step: int) -> None:
        """Nothing to restore: the loop starts the feed at (epoch, step) itself."""

    # ----- batches ------------------------------------------------------------------------
    def order(self, epoch: int) -> np.ndarray:
        """Sample indices of one epoch, truncated to the epoch's batches."""
        if self.shuffle:
            idx = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        else:
            idx = np.arange(self.n)
        return idx[: self.steps_per_epoch * self.batch_size]

    def dataset(self, start_epoch: int, start_step: int, end_epoch: int):
        """A tf.data.Dataset of (x, y[, sample_weight]) batches from (start_epoch, start_step)
        to end_epoch."""
        import tensorflow as tf

        if self._tensors is None:  # constant once per feed: no per-batch Python
            import keras

            parts = (self.x, self.y) + (() if self.sample_weight is None else (self.sample_weight,))
            # tf.data packs a list into one tensor; fit's adapter makes lists tuples first
            self._tensors = tf.nest.map_structure(tf.constant, keras.tree.lists_to_tuples(parts))
        tensors = self._tensors
        b = self.batch_size

        def epochs():
            for e in range(start_epoch, end_epoch):
                idx = self.order(e)
                yield idx[start_step * b :] if e == start_epoch else idx

        ds = tf.data.Dataset.from_generator(
            epochs, output_signature=tf.TensorSpec([None], tf.int64)
        )
        ds = ds.flat_map(lambda idx: tf.data.Dataset.from_tensor_slices(idx).batch(b))
        ds = ds.map(lambda i: tf.nest.map_structure(lambda t: tf.gather(t, i), tensors))
        return ds.prefetch(2)

    def iterator(self, strategy, epoch: int, step: int, end_epoch: int, *, moved: bool = False):
        """The loop's iterator from (epoch, step) to end_epoch, distributed as `fit`'s
        TFEpochIterator does. A new one on every call: the position alone fixes it."""
        ds = self.dataset(epoch, step, end_epoch)
        return iter(strategy.experimental_distribute_dataset(ds))

    def first_batch(self, epoch: int):
        """One batch, for building an unbuilt model as `fit` does."""
        return next(iter(self.dataset(epoch, 0, epoch + 1)))
