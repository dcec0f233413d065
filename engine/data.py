"""Batches in an order fixed by (seed, epoch), startable at any (epoch, step).

Keras shuffles with its own RNG and cannot start mid-epoch, so a run resumed from a checkpoint
would see different data than one that never stopped. Here the sample order of epoch `e` is
`default_rng([seed, e]).permutation(n)`, and a feed can start at any step of any epoch, which is
what makes "N steps + restart + M steps == N+M steps" hold bit for bit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class BatchFeed:
    """Deterministic batches over in-memory arrays."""

    def __init__(
        self,
        x,
        y,
        *,
        batch_size: int,
        seed: int,
        shuffle: bool = True,
        steps_per_epoch: int | None = None,
    ) -> None:
        self.x, self.y = x, y
        self.n = len(x)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        full = math.ceil(self.n / batch_size)
        self.steps_per_epoch = min(steps_per_epoch or full, full)
        self._tensors: Any = None

    def order(self, epoch: int) -> np.ndarray:
        """Sample indices of one epoch, truncated to the epoch's batches."""
        if self.shuffle:
            idx = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        else:
            idx = np.arange(self.n)
        return idx[: self.steps_per_epoch * self.batch_size]

    def dataset(self, start_epoch: int, start_step: int, end_epoch: int):
        """A tf.data.Dataset of (x, y) batches from (start_epoch, start_step) to end_epoch."""
        import tensorflow as tf

        if self._tensors is None:  # constant once per feed: no per-batch Python
            self._tensors = (tf.constant(self.x), tf.constant(self.y))
        xt, yt = self._tensors
        b = self.batch_size

        def epochs():
            for e in range(start_epoch, end_epoch):
                idx = self.order(e)
                yield idx[start_step * b :] if e == start_epoch else idx

        ds = tf.data.Dataset.from_generator(
            epochs, output_signature=tf.TensorSpec([None], tf.int64)
        )
        ds = ds.flat_map(lambda idx: tf.data.Dataset.from_tensor_slices(idx).batch(b))
        ds = ds.map(lambda i: (tf.gather(xt, i), tf.gather(yt, i)))
        return ds.prefetch(2)
