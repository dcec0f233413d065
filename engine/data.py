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
        self._part: tuple[int, int] = (0, 1)  # (this process, processes): its rows of a batch

    def share(self, index: int, count: int) -> None:
        """Feed only this process's rows of each global batch (a run of several processes,
        engine/peers.py): rows [i*k/N, (i+1)*k/N) of a batch of k. Every batch must split
        evenly (ConfigError otherwise)."""
        from .errors import ConfigError

        last = min(self.n, self.steps_per_epoch * self.batch_size) % self.batch_size
        for size, what in ((self.batch_size, "[data].batch_size"), (last, "the last batch")):
            if size % count:
                raise ConfigError(
                    f"{what} ({size} samples) does not split evenly over processes = {count}"
                )
        self._part = (index, count)

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

        def epoch_batches(e):  # once per epoch: the order as full batches and the partial rest
            e = int(e)
            idx = self.order(e)
            if e == start_epoch:
                idx = idx[start_step * b :]
            full = len(idx) // b
            return idx[: full * b].reshape(full, b), idx[full * b :]

        def orders(e):
            full, rest = tf.numpy_function(epoch_batches, [e], (tf.int64, tf.int64))
            return tf.ensure_shape(full, [None, b]), tf.ensure_shape(rest, [None])

        def batches(full, rest):  # one slice per batch, as fit's adapter does: batching the
            # indices one by one cost ~25 us of tf.data CPU per batch (~2.5 % of a 1 ms step)
            last = tf.data.Dataset.from_tensors(rest).filter(lambda r: tf.size(r) > 0)
            return tf.data.Dataset.from_tensor_slices(full).concatenate(last)

        # Not `from_generator`: its first use sets glibc's M_TRIM_THRESHOLD for the whole
        # process ("Memory patch applied"), which fixes the mmap threshold, and every later
        # step of the process then page-faults ~14x as often (0.11 -> 1.51 faults a step for a
        # plain `fit` in the same process)
        ds = tf.data.Dataset.range(start_epoch, end_epoch).map(orders)
        ds = ds.flat_map(batches)
        ds = ds.map(lambda i: tf.nest.map_structure(lambda t: tf.gather(t, i), tensors))
        options = tf.data.Options()  # as fit's adapter: no graph rewrite at each new iterator
        options.experimental_optimization.apply_default_optimizations = False
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)

    def iterator(self, strategy, epoch: int, step: int, end_epoch: int, *, moved: bool = False):
        """The loop's iterator from (epoch, step) to end_epoch, distributed as `fit`'s
        TFEpochIterator does; on JAX (`strategy` None) numpy batches, as `fit` hands a jitted
        step on the CPU. A new one on every call: the position alone fixes it."""
        if strategy is None:
            return self.numpy_batches(epoch, step, end_epoch)
        ds = self.dataset(epoch, step, end_epoch)
        return iter(strategy.experimental_distribute_dataset(ds))

    @property
    def yields_numpy(self) -> bool:
        """On JAX the batches are numpy arrays already (engine/jaxstep.py converts others)."""
        from . import backend

        return backend.is_jax()

    def numpy_batches(self, start_epoch: int, start_step: int, end_epoch: int):
        """The same batches as `dataset`, as numpy arrays (the JAX backend's feed): one fancy
        index per leaf and batch."""
        import keras

        parts = (self.x, self.y) + (() if self.sample_weight is None else (self.sample_weight,))
        parts = keras.tree.lists_to_tuples(parts)
        leaves = [np.asarray(leaf) for leaf in keras.tree.flatten(parts)]
        b = self.batch_size
        i, n = self._part
        for e in range(start_epoch, end_epoch):
            idx = self.order(e)
            for s in range(start_step * b if e == start_epoch else 0, len(idx), b):
                batch = idx[s : s + b]
                if n > 1:  # this process's rows of the global batch
                    k = len(batch)
                    batch = batch[k * i // n : k * (i + 1) // n]
                yield keras.tree.pack_sequence_as(parts, [leaf[batch] for leaf in leaves])

    def first_batch(self, epoch: int):
        """One batch, for building an unbuilt model as `fit` does."""
        from . import backend

        if backend.is_jax():
            return next(self.numpy_batches(epoch, 0, epoch + 1))
        return next(iter(self.dataset(epoch, 0, epoch + 1)))
