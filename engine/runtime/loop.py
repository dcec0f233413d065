"""The engine's own epoch/batch loop: the user's callbacks see ONE uninterrupted `model.fit`.

Why not `fit` in chunks: ending `fit` with an exception and calling it again mid-epoch makes
Keras reset the metrics (`fit` calls `reset_metrics()` before every epoch it starts), restart
the batch numbers at 0, call `on_epoch_begin` again for the same epoch, give `params["steps"]`
the shortened epoch and make a new History. This loop is `fit`'s loop (keras/src/backend/
tensorflow/trainer.py, TensorFlow backend) with one addition: between two batches it may hand
the thread to the engine (`Driver.boundary`), which parks it for a pause or applies commands,
and then goes on in the same epoch, with the same metrics, the same `CallbackList` and History.

Interface (what the trainer uses)::

    loop = TrainLoop(model, feed, epochs=E, callbacks=[...], driver=trainer,
                     validation=(x_val, y_val), initial_epoch=e0, initial_step=s0)
    loop.run()              # to the end of epoch E-1, or until a callback stops training;
                            # returns the History (also `model.history`), as `fit` does
    loop.epoch, loop.step   # the position: epoch in progress, batches done in it
    loop.set_callbacks(cbs) # at a boundary: leaving ones get on_train_end, joining ones
                            # on_train_begin (and on_epoch_begin when inside an epoch)
    loop.model_changed(m)   # at a boundary, after a load, rebuild or recompile (see below)
    loop.set_epochs(E2)     # a new target (params["epochs"] follows)
    loop.end()              # on_train_end now (the session stops before the last epoch)

- `feed` is an `engine.data.BatchFeed` (epoch e's batches are fixed by (seed, e), so a loop can
  start at any (epoch, step) and see what an uninterrupted one sees) or a feed of the user's
  tf.data pipeline or PyDataset (engine/feeds.py). A feed has `batch_size`, `steps_per_epoch`,
  `iterator(strategy, epoch, step, end_epoch, moved=...)` and `first_batch(epoch)`.
- `validation` is `(x, y)` or `(x, y, sample_weight)` arrays (any nesting) or a dataset, as
  `fit`'s `validation_data`; it is validated every `validation_freq` epochs, as `fit` does.
- `driver` implements `Driver` below. Per batch the loop reads `driver.attention` once and calls
  `driver.batch_done(n)` once (n batches trained: `steps_per_execution`, fewer at an epoch's
  end); `boundary("batch")` runs only while `attention` is true, before the next batch's
  `on_train_batch_begin`, after waiting for the batch-end hooks still on Keras's worker thread
  (so a save or fingerprint there sees what every hook did). After each epoch's `on_epoch_end`
  the loop calls `epoch_done(epoch, logs, covers_from)` and `boundary("epoch")`.
- Re-entrant: when anything raises out of `run()` (a hook, the model, a `Quit` from the
  boundary), the loop keeps its position and state; the next `run()` goes on from there,
  without a second `on_train_begin` or `on_epoch_begin`. A batch whose train step raised is not
  counted and is fed again (without a second `on_train_batch_begin`); an epoch whose end hooks
  raised counts as finished.

After a load, rebuild or recompile (`model_changed`) the epoch goes on for its remaining
batches and the metrics are reset at that step, so its logs cover the batches from there (a
mean over two models would say nothing true). Keras puts only numbers in `logs`, so that is not
a log key: `Driver.epoch_done` gets `covers_from` (0 for a whole epoch) for the epoch record.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import keras
import numpy as np
from keras.src.utils.python_utils import pythonify_logs

from .. import backend, reaper
from .callbacks import LiveCallbackList


class Driver(Protocol):
    """What the loop calls on the engine (the trainer implements it)."""

    @property
    def attention(self) -> bool:  # read before every batch: True makes it call boundary("batch")
        ...

    def batch_done(self, batches: int) -> None: ...

    def epoch_done(self, epoch: int, logs: dict, covers_from: int) -> None: ...

    def boundary(self, where: str) -> None: ...


class NoDriver:
    """A loop without an engine: runs like `fit`."""

    attention = False

    def batch_done(self, batches: int) -> None:
        pass

    def epoch_done(self, epoch: int, logs: dict, covers_from: int) -> None:
        pass

    def boundary(self, where: str) -> None:
        pass


class TrainLoop:
    """`fit`'s epoch loop over the engine's feed, with boundaries between batches."""

    def __init__(
        self,
        model,
        feed,
        *,
        epochs: int,
        callbacks=(),
        driver: Driver | None = None,
        validation=None,
        validation_batch_size: int | None = None,
        validation_steps: int | None = None,
        validation_freq: int | list = 1,
        initial_epoch: int = 0,
        initial_step: int = 0,
        verbose: int = 0,
    ) -> None:
        self.model = model
        self.feed = feed
        self.epochs = epochs
        self.driver: Driver = driver if driver is not None else NoDriver()
        self.validation = validation
        self.validation_batch_size = validation_batch_size or feed.batch_size
        self.validation_steps = validation_steps
        self.validation_freq = validation_freq
        self.verbose = verbose
        self.epoch = initial_epoch  # the epoch in progress (or the next to begin)
        self.step = initial_step  # batches done in it
        self.covers_from = initial_step  # first step the epoch's metrics cover
        self.in_epoch = False  # on_epoch_begin was called for self.epoch
        self.begun = False  # on_train_begin was called, on_train_end not yet
        self.logs: Any = {}  # the last train step's logs (tensors, as `fit` keeps them)
        self.epoch_logs: dict | None = None  # the last finished epoch's (on_train_end's logs)
        self.history: keras.callbacks.History | None = None
        # Made at each begin (as `fit` makes its list); None until the first.
        self.callbacks: LiveCallbackList = None  # type: ignore[assignment]
        self._users = list(callbacks)
        self._eval_iterator = None
        self._moved = False  # model_changed moved the position: the batch loop starts again
        self._retry = False  # the batch at self.step began, and its train step raised
        self._it = None  # the feed's iterator, at (self.epoch, self.step) while not None
        self._feed_moved = True  # the feed has not served this position yet
        self._feed_owns = getattr(feed, "owns_iterator", False)  # the user's own pipeline

    # ----- the run -------------------------------------------------------------------------
    def run(self) -> keras.callbacks.History | None:
        """Train to the target epoch (or until a callback sets `stop_training`)."""
        try:
            if not self.begun:
                self._begin()
            while self.epoch < self.epochs:
                self._train_epoch()
                if self.model.stop_training:
                    break
        except BaseException:  # JAX: whatever reads the model next finds the state in it
            with contextlib.suppress(Exception):  # (buffers a failed step consumed are lost)
                backend.sync(self.model)
            raise
        self._finalize()
        self.end()
        return self.history

    def _begin(self) -> None:
        """`fit`'s start, in `fit`'s order."""
        model = self.model
        self._symbolic_build()
        self.history = keras.callbacks.History()
        progbar = keras.callbacks.ProgbarLogger() if self.verbose else None
        self.callbacks = LiveCallbackList(
            self._users, history=self.history, progbar=progbar, model=model, params=self._params()
        )
        model.stop_training = False
        model.make_train_function()
        self.callbacks.on_train_begin()
        self.begun = True
        # BackupAndRestore sets `_initial_epoch` in on_train_begin; `fit` starts there.
        restored = getattr(model, "_initial_epoch", None)
        if restored and not self.in_epoch:
            self.epoch, self.step, self.covers_from = restored, 0, 0

    def _train_epoch(self) -> None:
        if not self.in_epoch:
            self.model.reset_metrics()
            self.covers_from = self.step
            self.callbacks.on_epoch_begin(self.epoch)
            self.in_epoch = True
        if self._train_batches():
            self._close_epoch()

    def _train_batches(self) -> bool:
        """The per-batch path: one attribute read, the hooks `fit` calls, one counter call.
        False when a load or rebuild moved the loop elsewhere (`model_changed`)."""
        spe = self.feed.steps_per_epoch
        driver, callbacks = self.driver, self.callbacks
        self._moved = False
        iterator = self._iterator()
        fn, k = self._train_function()
        try:
            while self.step < spe:
                if driver.attention:
                    callbacks.flush()
                    backend.sync(self.model)  # JAX: the variables hold the state from here
                    driver.boundary("batch")
                    if self._moved:
                        return False
                    fn, k = self._train_function()  # a recompile or rebuild may have happened
                    if self._feed_owns:  # a load may have restored the pipeline's iterator
                        iterator = self._iterator()
                begin = self.step
                if self._retry:  # its on_train_batch_begin was sent before its step failed
                    self._retry = False
                else:
                    callbacks.on_train_batch_begin(begin)
                try:
                    logs = fn(iterator)
                except StopIteration:  # the feed ran short (cannot happen with a BatchFeed)
                    self._drop_it()
                    break
                except BaseException:
                    self._retry = True  # the step took its batch: feed it again
                    self._drop_it()
                    raise
                self.step = min(begin + k, spe)
                self.logs = logs
                driver.batch_done(self.step - begin)
                callbacks.on_train_batch_end(begin + k - 1, logs)  # `fit`'s end_step
                if self.model.stop_training:
                    break
        finally:  # an iterator no one reads again is freed off this thread (engine/reaper.py)
            if not self._feed_owns and iterator is not self._it:
                holder, iterator = [iterator], None
                reaper.release(holder)
        return True

    def _close_epoch(self) -> None:
        """Epoch logs (from the metrics), validation, on_epoch_end: as `fit` does."""
        model = self.model
        backend.sync(model)  # as `fit` does before the epoch's metrics (JAX)
        logs = pythonify_logs(model._get_metrics_result_or_logs(self.logs))
        try:
            if self.validation is not None and model._should_eval(self.epoch, self.validation_freq):
                logs.update(self._validate())
            self.callbacks.on_epoch_end(self.epoch, logs)
        finally:
            epoch, covers = self.epoch, self.covers_from
            self.epoch, self.step, self.covers_from, self.in_epoch = epoch + 1, 0, 0, False
            self.epoch_logs = logs
            self.driver.epoch_done(epoch, logs, covers)
        self.driver.boundary("epoch")

    def _validate(self) -> dict:
        """`fit`'s validation: `evaluate` on a cached iterator, through the same CallbackList."""
        model = self.model
        if isinstance(self.validation, (tuple, list)):  # arrays, batched here
            vx, vy, vw = keras.utils.unpack_x_y_sample_weight(tuple(self.validation))
            batch_size: int | None = self.validation_batch_size
        else:  # a dataset brings its own batches
            vx, vy, vw, batch_size = self.validation, None, None, None
        if self._eval_iterator is None:
            self._eval_iterator = backend.epoch_iterator(
                model,
                x=vx,
                y=vy,
                sample_weight=vw,
                batch_size=batch_size,
                steps_per_execution=model.steps_per_execution,
                steps_per_epoch=self.validation_steps,
                shuffle=False,
            )
        model._eval_epoch_iterator = self._eval_iterator
        val = model.evaluate(
            x=vx,
            y=vy,
            sample_weight=vw,
            batch_size=batch_size,
            steps=self.validation_steps,
            callbacks=self.callbacks,
            return_dict=True,
            _use_cached_eval_dataset=True,
        )
        return {f"val_{name}": value for name, value in val.items()}

    def _finalize(self) -> None:
        """`fit`'s last act on a finished run (EMA optimizers copy their averages in)."""
        backend.sync(self.model)
        opt = getattr(self.model, "optimizer", None)
        if isinstance(opt, keras.optimizers.Optimizer) and self.epochs > 0:
            opt.finalize_variable_values(self.model.trainable_weights)

    def end(self, logs: dict | None = None) -> None:
        """on_train_end for every callback (once); a later run() is a new `fit`."""
        if not self.begun:
            return
        self.begun = self._retry = False
        backend.sync(self.model)
        self.model.__dict__.pop("_jax_state", None)  # JAX: as `fit` leaves it (None)
        self._drop_it()
        self.in_epoch = False  # a new run begins the epoch again (on_epoch_begin)
        self.model.__dict__.pop("_eval_epoch_iterator", None)
        self._eval_iterator = None
        self.callbacks.on_train_end(logs=self.epoch_logs if logs is None else logs)

    # ----- changes at a boundary -----------------------------------------------------------
    def set_callbacks(self, callbacks, logs: dict | None = None) -> None:
        """A new list of user callbacks, in order. Those leaving get on_train_end; those
        joining get the model, the params, on_train_begin and, inside an epoch,
        on_epoch_begin (so their epoch-end code finds what its epoch-begin set up)."""
        new = list(callbacks)
        if not self.begun:
            self._users = new
            return
        old = self.callbacks.users
        self.callbacks.replace(new)  # waits for batch-end hooks in flight first
        self._users = new
        logs = pythonify_logs(logs)
        kept, had = {id(cb) for cb in new}, {id(cb) for cb in old}
        for cb in old:
            if id(cb) not in kept:
                cb.on_train_end(logs)
        for cb in new:
            if id(cb) not in had:
                cb.set_model(self.model)
                cb.set_params(self._params())
                cb.on_train_begin(logs)
                if self.in_epoch:
                    cb.on_epoch_begin(self.epoch, {})

    def model_changed(self, model=None, *, epoch: int | None = None, step: int | None = None):
        """After a load, rebuild or recompile: training goes on with `model` (or the same one
        with new weights) from `epoch`/`step` (a checkpoint's, 0/0 for a rebuild); metrics are
        reset here. Within the epoch the batch numbers jump there; to another epoch, the one in
        progress ends for the callbacks (`on_epoch_end` with its running means, no validation:
        its weights are gone; no `epoch_done`) and that epoch begins at `step`."""
        epoch = self.epoch if epoch is None else epoch
        step = self.step if step is None else step
        if (epoch, step) != (self.epoch, self.step):
            self._move(epoch, step)
        if model is not None and model is not self.model:
            self.model = model
            self._drop_it()  # its strategy distributes the feed
            model.stop_training = False
            if self.callbacks is not None:
                self.callbacks.set_model(model)  # also sets model.history, as `fit` does
        # Under a strategy a recompile's new optimizer and metrics are built here, as `fit` does
        self._symbolic_build()
        self._eval_iterator = None
        self.model.reset_metrics()
        if self.in_epoch:
            self.covers_from = self.step

    def _move(self, epoch: int, step: int) -> None:
        if self.in_epoch and epoch != self.epoch:
            self.in_epoch = False
            logs = pythonify_logs(self.logs)
            self.epoch_logs = logs
            self.callbacks.on_epoch_end(self.epoch, logs)
        self.epoch, self.step, self.covers_from = epoch, step, step
        self._moved, self._retry = True, False
        self._drop_it()
        self._feed_moved = True

    def set_epochs(self, epochs: int) -> None:
        self.epochs = epochs
        self._drop_it()
        if self.callbacks is not None:
            self.callbacks.set_params(self._params())

    # ----- helpers -------------------------------------------------------------------------
    def _params(self) -> dict:
        return {"verbose": self.verbose, "epochs": self.epochs, "steps": self.feed.steps_per_epoch}

    def _iterator(self):
        """The feed from (epoch, step), distributed as `fit`'s TFEpochIterator does. One
        iterator serves every epoch (a new pipeline and its first batch took 50-150 ms here);
        with steps_per_execution > 1 it is one epoch long, so that an epoch's last execution
        stops at the epoch's end, as `fit`'s does on arrays.
        A user's tf.data pipeline keeps its one iterator in the feed (engine/feeds.py):
        `moved` tells it the loop's position jumped (a load or rebuild)."""
        if self._it is not None:
            return self._it
        per_epoch = self.model.steps_per_execution > 1 or getattr(self.feed, "per_epoch", False)
        end = self.epoch + 1 if per_epoch else self.epochs
        strategy = backend.distribute_strategy(self.model)  # None on JAX
        it = self.feed.iterator(strategy, self.epoch, self.step, end, moved=self._feed_moved)
        self._feed_moved = False
        self._it = None if per_epoch or self._feed_owns else it
        return it

    def _drop_it(self) -> None:
        """Let the feed's iterator go, freed on the reaper thread (engine/reaper.py)."""
        if self._it is not None:
            holder, self._it = [self._it], None
            reaper.release(holder)

    def _train_function(self):
        numpy = getattr(self.feed, "yields_numpy", False)
        return backend.stepper(self.model, to_numpy=not numpy), self.model.steps_per_execution

    def _symbolic_build(self) -> None:
        """`fit` builds an unbuilt model (and its optimizer and metrics) on a first batch when a
        distribution strategy is set, and always on JAX."""
        model = self.model
        if getattr(model, "_distribute_strategy", None) is None and not backend.is_jax():
            return  # (on JAX `fit` always does: the optimizer's variables are in the state)
        batch = self.feed.first_batch(self.epoch)
        if backend.is_jax():  # a pipeline's first batch comes as TensorFlow tensors
            model._symbolic_build(data_batch=keras.tree.map_structure(np.asarray, batch))
        else:
            model._maybe_symbolic_build(data_batch=batch)
