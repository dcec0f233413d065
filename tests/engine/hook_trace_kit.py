"""Helpers for tests/engine/test_hook_trace.py: a recording callback, a scripted driver, real
pauses on a thread, and plain `fit`'s trace on the same model and data order."""

from __future__ import annotations

import functools
import threading

import keras
import numpy as np
from weightwatch.engine.data import BatchFeed
from weightwatch.engine.runtime import TrainLoop
from weightwatch.engine.weights import fingerprint

N, BATCH, EPOCHS, SEED = 100, 16, 3, 5  # 7 batches an epoch, the last one of 4 samples
SPE = 7
WAIT = 60  # seconds: the machine is shared


class Recorder(keras.callbacks.Callback):
    """Records every hook: (name, epoch or batch, logs, params at train begin)."""

    def __init__(self) -> None:
        super().__init__()
        self.trace: list[tuple] = []
        self.threads: set[int] = set()

    def _add(self, name, index=None, logs=None):
        self.trace.append((name, index, dict(logs or {})))

    def on_train_begin(self, logs=None):
        self.trace.append(("train_begin", None, dict(logs or {}), dict(self.params)))

    def on_train_end(self, logs=None):
        self._add("train_end", None, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._add("epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._add("epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._add("batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.threads.add(threading.get_ident())
        self._add("batch_end", batch, logs)

    def on_test_begin(self, logs=None):
        self._add("test_begin", None, logs)

    def on_test_end(self, logs=None):
        self._add("test_end", None, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._add("test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._add("test_batch_end", batch, logs)


class EpochOnly(keras.callbacks.Callback):
    """No batch-end hook: Keras may run batch ends on its worker thread."""

    def on_epoch_end(self, epoch, logs=None):
        pass


class Script:
    """A driver that runs actions at chosen boundaries: ("batch", epoch, step) before that
    batch, ("epoch", epoch) after that epoch's end. `attention` is raised the way the engine
    does it: by batch_done, for the next boundary only."""

    def __init__(self, actions: dict) -> None:
        self.actions = dict(actions)
        self.loop: TrainLoop | None = None
        self.attention = ("batch", 0, 0) in self.actions
        self.batches = 0
        self.epochs: list[tuple] = []  # (epoch, logs, covers_from)

    def batch_done(self, batches: int) -> None:
        self.batches += batches
        self.attention = ("batch", self.loop.epoch, self.loop.step) in self.actions

    def epoch_done(self, epoch: int, logs: dict, covers_from: int) -> None:
        self.epochs.append((epoch, dict(logs), covers_from))

    def boundary(self, where: str) -> None:
        loop = self.loop
        key = ("batch", loop.epoch, loop.step) if where == "batch" else ("epoch", loop.epoch - 1)
        self.attention = False
        action = self.actions.pop(key, None)
        if action is not None:
            action(loop)


class Park:
    """A pause: the training thread waits at the boundary until the test releases it."""

    def __init__(self) -> None:
        self.parked, self.release = threading.Event(), threading.Event()
        self.seen: tuple | None = None

    def __call__(self, loop: TrainLoop) -> None:
        self.seen = (loop.epoch, loop.step, fingerprint(loop.model))
        self.parked.set()
        assert self.release.wait(WAIT)


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 4)).astype("float32")
    labels = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
    y = keras.utils.to_categorical(labels, 3).astype("float32")
    return x, y


def validation():
    x, y = data()
    return x[:30] * 0.5, y[:30]


def build(dropout: bool = False):
    keras.utils.set_random_seed(SEED)
    layers = [keras.Input((4,)), keras.layers.Dense(8, activation="relu", name="hidden")]
    if dropout:
        layers.append(keras.layers.Dropout(0.3))
    layers.append(keras.layers.Dense(3, activation="softmax", name="out"))
    model = keras.Sequential(layers)
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return model


def feed(shuffle: bool = True) -> BatchFeed:
    x, y = data()
    return BatchFeed(x, y, batch_size=BATCH, seed=SEED, shuffle=shuffle)


@functools.cache
def plain(dropout: bool = False, val: bool = False, arrays: bool = False):
    """Plain `fit`'s trace, final fingerprint and history (once per setting)."""
    model, rec = build(dropout), Recorder()
    kw = {"validation_data": validation(), "validation_batch_size": BATCH} if val else {}
    common = {"verbose": 0, "callbacks": [rec]}
    if arrays:  # as a user writes it, on the arrays, in their order
        x, y = data()
        model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, **common, **kw)
    else:
        ds = feed().dataset(0, 0, EPOCHS)
        model.fit(ds, epochs=EPOCHS, steps_per_epoch=SPE, shuffle=False, **common, **kw)
    return rec.trace, fingerprint(model), model.history.history


def looped(actions=None, *, dropout=False, val=False, shuffle=True):
    """The loop's trace with `actions` at boundaries, on the same model and data."""
    model, rec = build(dropout), Recorder()
    driver = Script(actions or {})
    loop = TrainLoop(
        model,
        feed(shuffle),
        epochs=EPOCHS,
        callbacks=[rec],
        driver=driver,
        validation=validation() if val else None,
    )
    driver.loop = loop
    return loop, rec, driver


def run_with_pauses(loop: TrainLoop, parks: list[Park]) -> None:
    """Run on a thread; each park is reached, looked at while parked, then released."""
    errors: list[BaseException] = []

    def target():
        try:
            loop.run()
        except BaseException as e:  # the test thread re-raises it
            errors.append(e)

    thread = threading.Thread(target=target)
    thread.start()
    for park in parks:
        assert park.parked.wait(WAIT), "the loop never reached the pause"
        assert thread.is_alive()
        park.release.set()
    thread.join(WAIT)
    assert not errors, errors


def assert_same(trace, expected) -> None:
    assert len(trace) == len(expected)
    for i, (got, want) in enumerate(zip(trace, expected, strict=True)):
        assert got == want, f"hook call {i}: {got} != {want}"
