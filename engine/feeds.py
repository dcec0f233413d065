"""Feeds over the user's own pipeline: a `tf.data.Dataset` or a `keras.utils.PyDataset`.

They iterate as `fit` does (Keras's EpochIterator): without `[train] steps_per_epoch` an epoch
is one pass over the dataset, a new `iter()` per epoch, plus the one fit makes and never reads at
each epoch's end (each `iter()` of a reshuffling dataset draws its next seeds, so the data order
is fit's only with the same draws); with it, ONE iterator over `dataset.repeat()` goes on
across epochs (fit's iterator that starts a new pass when one runs out). TensorFlow can
checkpoint either iterator (`tf.train.Checkpoint(iterator=...)`): its state, the shuffle buffer,
its seeds and the dataset's seed counter (which fixes the later passes' shuffles) is the feed's
`position_state()`, so N steps + save + restart + M steps == N+M steps.

A pipeline TensorFlow cannot serialize (`from_generator`, `py_function`; every PyDataset) has
`exact_position = False`: a resume at (epoch, step) draws a new pass and skips the `step`
batches the epoch already trained, which are not the batches the interrupted run saw when the
pipeline shuffles or is random.

The interface (shared with `engine.data.BatchFeed`; engine/checkpoints.py stores the state):
`exact_position`, `position_state() -> bytes | None`, `restore_position(state, epoch, step)`,
and for the loop `iterator(strategy, epoch, step, end_epoch, moved=...)`, `first_batch(epoch)`.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from typing import Any

from . import backend, reaper

INFINITE, UNKNOWN = -1, -2  # tf.data's cardinality codes


class FeedError(ValueError):
    """The pipeline cannot be fed as `fit` would; the message names the config key."""


def _count_batches(ds) -> int:
    """One pass, for a pipeline of unknown length (`filter`, `from_generator`): `fit` learns
    the length at the end of its first epoch; the loop needs it at its start. Every new
    iterator draws the next seeds of a `shuffle` in the pipeline (each `iter()` reshuffles), so
    this pass is made over another copy of the pipeline (`make_feed`'s `reload`) where there
    is one: the one trained on then starts with the order `fit` starts with."""
    import tensorflow as tf

    return int(ds.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def _pack(folder: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(os.listdir(folder)):
            archive.write(os.path.join(folder, name), name)
    return buffer.getvalue()


def _unpack(state: bytes, folder: str) -> tuple[int, int]:
    """The checkpoint files into `folder`; returns the stream's skip and the epoch its
    iterator served (-1: a stream of passes)."""
    with zipfile.ZipFile(io.BytesIO(state)) as archive:
        for name in archive.namelist():
            if name != "skip" and "/" not in name and not name.startswith("."):
                with open(os.path.join(folder, name), "wb") as out:
                    out.write(archive.read(name))
        skip, epoch = archive.read("skip").decode("ascii").split()
        return int(skip), int(epoch)


class DatasetFeed:
    """The user's tf.data pipeline, fed as `fit` feeds it, through checkpointable iterators."""

    owns_iterator = True  # the loop asks for it at each epoch and boundary, never caches it
    batch_size = None  # the dataset batches itself

    def __init__(
        self, dataset, *, steps_per_epoch: int | None, class_weight=None, recount=None
    ) -> None:
        if class_weight:  # what fit's TFDatasetAdapter does: class ids to per-sample weights
            from keras.src.trainers.data_adapters.tf_dataset_adapter import (
                make_class_weight_map_fn,
            )

            try:
                dataset = dataset.map(make_class_weight_map_fn(class_weight))
            except ValueError as exc:  # sample weights too, or several outputs
                raise FeedError(f"[train].class_weight: {exc}".replace("\n", " ")) from None
        self.dataset = dataset
        cardinality = int(dataset.cardinality())
        counted = cardinality == UNKNOWN
        if counted:  # `recount`: another copy of the pipeline, to count
            cardinality = _count_batches(recount() if recount else dataset)
        self.batches = cardinality  # one pass; INFINITE for a repeating pipeline
        _check_length(cardinality, steps_per_epoch)
        self.steps_per_epoch = steps_per_epoch or cardinality
        # fit: without steps_per_epoch one iterator per epoch (one pass), and its EpochIterator
        # makes one more at each epoch's end that it never reads (a reshuffle's seeds drawn)
        # when it knew the length; with steps_per_epoch one iterator that starts a new pass
        # when one runs out: the stream of `dataset.repeat()`
        self.per_pass = not steps_per_epoch and cardinality != INFINITE
        self._extra_draw = self.per_pass and not counted
        self._it: Any = None
        self._epoch: int | None = None  # the epoch the per-pass iterator serves
        self._skip = 0  # batches the current iterator's stream skipped at its start
        self._restored = False  # restore_position made the iterator: the loop's jump is it
        self._exact: bool | None = None

    # ----- the position interface ---------------------------------------------------------
    @property
    def exact_position(self) -> bool:
        """Whether TensorFlow can serialize the pipeline (what an iterator checkpoint writes).
        Asked of the graph, not of a new iterator: each `iter()` of a reshuffling dataset
        draws its next seeds, which shifted every later epoch's order by one pass."""
        if self._exact is None:
            import tensorflow as tf

            try:
                fail = tf.data.experimental.ExternalStatePolicy.FAIL
                self.dataset._as_serialized_graph(external_state_policy=fail)
                self._exact = True
            except (tf.errors.FailedPreconditionError, tf.errors.UnimplementedError):
                self._exact = False  # "PyFunc is stateful": a generator or py_function
        return self._exact

    def position_state(self) -> bytes | None:
        """The iterator's checkpoint (buffers and seeds included, and the dataset's seed
        counter, which fixes the next passes' shuffles) as bytes; None when it cannot be
        serialized or no batch was drawn yet (then (epoch, step) is the position)."""
        if self._it is None or not self.exact_position:
            return None
        import tensorflow as tf

        with tempfile.TemporaryDirectory(prefix="weightwatch-it-") as tmp:
            tf.train.Checkpoint(iterator=self._it).write(f"{tmp}/it")
            with open(f"{tmp}/skip", "w", encoding="ascii") as out:
                out.write(f"{self._skip} {-1 if self._epoch is None else self._epoch}")
            return _pack(tmp)

    def restore_position(self, state: bytes | None, epoch: int, step: int) -> None:
        """Before the loop goes on from (epoch, step): the saved iterator where there is one,
        else a new pass that skips the epoch's `step` trained batches."""
        import tensorflow as tf

        strategy = None if backend.is_jax() else tf.distribute.get_strategy()
        if state is None or not self.exact_position:
            self._it, self._epoch = self._fresh(strategy, step), epoch
        else:
            with tempfile.TemporaryDirectory(prefix="weightwatch-it-") as tmp:
                skip, saved_epoch = _unpack(state, tmp)
                it = self._fresh(strategy, skip)
                tf.train.Checkpoint(iterator=it).read(f"{tmp}/it").assert_consumed()
            self._it, self._epoch = it, (None if saved_epoch < 0 else saved_epoch)
        self._restored = True

    # ----- the loop's side ----------------------------------------------------------------
    def iterator(self, strategy, epoch: int, step: int, end_epoch: int, *, moved: bool = False):
        """The iterator for (epoch, step): the current one; a new pass at a new epoch (per
        pass); a new one skipping `step` batches when the loop jumped (a load or rebuild) to
        where `restore_position` did not put it."""
        restored, self._restored = self._restored, False
        if self._it is not None and moved and not restored:
            self._drop()  # a jump without a saved position: start afresh
        elif self._it is not None and (not self.per_pass or self._epoch == epoch):
            return self._it
        if self._it is not None and self._extra_draw:
            reaper.release([iter(self.dataset)])  # the iterator fit makes at each epoch's end
        self._drop()
        self._it, self._epoch = self._fresh(strategy, step), epoch
        return self._it

    def _drop(self) -> None:
        """Let the spent iterator go, freed off this thread (engine/reaper.py)."""
        if self._it is not None:
            holder, self._it = [self._it], None
            reaper.release(holder)

    def first_batch(self, epoch: int):
        """A batch of zeros shaped as the dataset's elements, for building an unbuilt model
        (only shapes matter): reading one would make an iterator, which draws a reshuffling
        pipeline's next seeds and moves every later pass's order."""
        import tensorflow as tf

        spec = self.dataset.element_spec
        if not all(isinstance(s, tf.TensorSpec) for s in tf.nest.flatten(spec)):
            return next(iter(self.dataset.take(1)))  # ragged or sparse: a real batch
        return tf.nest.map_structure(lambda s: tf.zeros([d or 1 for d in s.shape], s.dtype), spec)

    def _fresh(self, strategy, skip: int):
        """A new iterator over one pass (per pass) or the stream of passes, `skip` in."""
        if self.per_pass or self.batches == INFINITE:
            stream = self.dataset
        else:
            stream = self.dataset.repeat()
        if skip:
            stream = stream.skip(skip)
        self._skip = skip
        return _distributed(strategy, stream)


def _distributed(strategy, ds):
    """An iterator over `ds` as `fit`'s TFEpochIterator makes it (None: the JAX backend,
    whose steps take the batches as numpy arrays: engine/jaxstep.py converts them)."""
    if strategy is None:
        return iter(ds)
    return iter(strategy.experimental_distribute_dataset(ds))


def _check_length(cardinality: int, steps: int | None) -> None:
    if cardinality == 0:
        raise FeedError("expected a dataset that yields at least one batch, received none")
    if cardinality == INFINITE and not steps:
        raise FeedError(
            "[train].steps_per_epoch: expected a number of steps for a dataset that repeats "
            "forever (fit needs steps_per_epoch too), received none"
        )
    if steps and cardinality != INFINITE and cardinality % steps:
        # fit ends an epoch early where a pass runs out ("Your input ran out of data")
        raise FeedError(
            f"[train].steps_per_epoch: expected a divisor of {cardinality} (the dataset's "
            f"batches per pass; fit cuts an epoch short where a pass runs out), received {steps}"
        )


class PyDatasetFeed:
    """A `keras.utils.PyDataset`, through Keras's own adapter (its workers, its shuffle of the
    batch order, its `on_epoch_begin`/`on_epoch_end`), one pass per epoch as `fit` does.
    Python code makes the batches, so the position is never exact."""

    owns_iterator = True
    batch_size = None
    exact_position = False

    def __init__(
        self, py_dataset, *, steps_per_epoch: int | None, class_weight=None, shuffle: bool
    ) -> None:
        from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

        self.adapter = PyDatasetAdapter(py_dataset, class_weight=class_weight, shuffle=shuffle)
        batches = py_dataset.num_batches
        if batches is None and not steps_per_epoch:
            raise FeedError(
                "[train].steps_per_epoch: expected a number of steps for a PyDataset without "
                "a length (fit needs steps_per_epoch too), received none"
            )
        if batches is not None and steps_per_epoch and steps_per_epoch > batches:
            raise FeedError(
                f"[train].steps_per_epoch: expected at most {batches} (the PyDataset's "
                f"batches), received {steps_per_epoch}"
            )
        if batches == 0:
            raise FeedError("expected a PyDataset that yields at least one batch, received none")
        self.batches = batches
        self.steps_per_epoch = steps_per_epoch or batches
        # fit keeps one iterator across epochs when it is told steps_per_epoch (a new pass when
        # one runs out); else each epoch is one pass, begun and ended on the adapter
        self.per_pass = steps_per_epoch is None or steps_per_epoch == batches
        ds = self.adapter.get_tf_dataset()
        self._ds = ds if self.per_pass or batches is None else ds.repeat()
        self._it: Any = None
        self._epoch: int | None = None  # the epoch the iterator serves

    def position_state(self) -> bytes | None:
        return None

    def restore_position(self, state: bytes | None, epoch: int, step: int) -> None:
        """Nothing to restore: the loop's next `iterator` call (moved) starts that epoch's pass
        again and skips the `step` trained batches."""
        self.close()
        self._it = None

    def iterator(self, strategy, epoch: int, step: int, end_epoch: int, *, moved: bool = False):
        same = self._epoch == epoch or not self.per_pass
        if self._it is not None and same and not moved:
            return self._it
        self.close()
        self.adapter.on_epoch_begin()
        ds = self._ds.skip(step) if step else self._ds
        self._it, self._epoch = _distributed(strategy, ds), epoch
        return self._it

    def first_batch(self, epoch: int):
        return next(iter(self._ds.take(1)))

    def close(self) -> None:
        """The adapter's epoch ends (its workers stop)."""
        if self._epoch is not None:
            self.adapter.on_epoch_end()
            self._epoch = None


def make_feed(config, data, file: str, reload=None):
    """The feed for a config's data (engine/feeds_loader.py `Data`), as `fit` would take it:
    arrays in the engine's (seed, epoch) order, a pipeline through its own iterator.
    `reload()`: the data read again, where a pipeline of unknown length must be counted.

    Raises:
        ConfigError: one line naming the file and the key.
    """
    from .data import BatchFeed
    from .errors import ConfigError

    cfg, cw = config.data, config.train.class_weight
    if data.is_arrays:
        weights = _class_weights(data, cw, file) if cw else data.sample_weight
        return BatchFeed(
            data.x,
            data.y,
            sample_weight=weights,
            batch_size=cfg.batch_size,
            seed=config.run.seed,
            shuffle=cfg.shuffle,
            steps_per_epoch=config.train.steps_per_epoch,
        )
    if cfg.validation_split:
        raise ConfigError(
            f"{file}: [data].validation_split: expected 0 with a {data.kind()} (fit splits "
            f"arrays only; return a validation dataset instead), received {cfg.validation_split:g}"
        )
    steps = config.train.steps_per_epoch
    try:
        if data.kind() == "PyDataset":
            feed: Any = PyDatasetFeed(
                data.train, steps_per_epoch=steps, class_weight=cw, shuffle=cfg.shuffle
            )
        else:
            recount = None if reload is None else (lambda: reload().train)
            feed = DatasetFeed(data.train, steps_per_epoch=steps, class_weight=cw, recount=recount)
    except FeedError as exc:
        key = "" if str(exc).startswith("[") else "[data].loader: "
        raise ConfigError(f"{file}: {key}{exc}") from None
    _check_executions(config, feed, file)
    return feed


def _check_executions(config, feed, file: str) -> None:
    """With `[train] steps_per_epoch` one iterator goes on across epochs (as in fit), so an
    execution of `steps_per_execution` batches cannot stop at an epoch's end."""
    from .errors import ConfigError

    k = config.compile.steps_per_execution
    if k > 1 and not feed.per_pass and feed.steps_per_epoch % k:
        raise ConfigError(
            f"{file}: [compile].steps_per_execution: expected a divisor of the "
            f"{feed.steps_per_epoch} batches per epoch of the loader's {type(feed).__name__[:-4]} "
            f"(an execution would run on into the next epoch), received {k}"
        )


def _class_weights(data, class_weight: dict, file: str):
    """`[train] class_weight` as fit's array adapter applies it: per-sample weights by label."""
    from keras.src.trainers.data_adapters.data_adapter_utils import (
        class_weight_to_sample_weights,
    )

    from .errors import ConfigError

    if data.sample_weight is not None:
        raise ConfigError(
            f"{file}: [train].class_weight: expected no sample_weight from the loader (fit "
            f"takes one or the other), received both"
        )
    if not hasattr(data.y, "shape"):
        raise ConfigError(
            f"{file}: [train].class_weight: expected a single y array (fit weights classes "
            f"of one output only), received a {type(data.y).__name__} of outputs"
        )
    return class_weight_to_sample_weights(data.y, class_weight)


def validation_of(data):
    """`fit`'s validation_data: (x, y[, sample_weight]) arrays, or the validation pipeline."""
    if not data.is_arrays:
        return data.validation
    if data.x_val is None:
        return None
    if data.sample_weight_val is None:
        return (data.x_val, data.y_val)
    return (data.x_val, data.y_val, data.sample_weight_val)
