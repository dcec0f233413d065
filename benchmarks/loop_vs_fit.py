"""The engine's own loop (engine/runtime/loop.py) against plain `fit`, and against the
alternative issue 12 names (keep `fit` in chunks, carry the metric state across restarts).

A script, not run by CI:  .venv/bin/python -m benchmarks.loop_vs_fit [--rounds 3] [--epochs 4]

Speed: the reference MLP (10 inputs, Dense 256 relu, Dense 10 softmax, Adam), 16,000 samples,
batch 32 (500 steps an epoch), no op determinism, verbose=0. Each contender gets a fresh model
with the same seed and is timed over its whole `fit`/`run` call, first-step tracing included.
Rounds are interleaved (the order rotates every round); each ratio pairs runs of one round and
the table shows the median ratio with its range. The machine is shared: read the spread; the
CPU time per step is the steadier column when other processes load the cores.

  fit            model.fit(x, y, batch_size=32, shuffle=True): what a user writes (Keras's own
                 array pipeline, its own shuffle)
  fit_feed       model.fit on the engine's deterministic feed (same batches as the loop)
  loop           TrainLoop, no boundaries
  loop_paused    TrainLoop with a trainer-like driver (a counter per batch) and a boundary
                 every 100 batches (an instant pause: what a parked pause costs beyond its wait)
  chunks_carry   fit restarted at the same 100-batch boundaries, mid-epoch, on the feed, the
                 metric variables saved before and restored after each restart

Hook trace: the same contenders (but `fit`, whose batches differ) with a recording callback on
2,000 samples, 2 epochs, boundaries at batches 20 and 45 of each epoch: hook calls that differ
from plain `fit` on the feed, number for number.
"""

from __future__ import annotations

import argparse
import difflib
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from weightwatch.engine.data import BatchFeed  # noqa: E402
from weightwatch.engine.runtime import TrainLoop  # noqa: E402

SEED, BATCH, EVERY = 7, 32, 100


def data(n: int):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 10)).astype("float32")
    labels = np.argmax(x @ rng.normal(size=(10, 10)), axis=1)
    return x, keras.utils.to_categorical(labels, 10).astype("float32")


def build():
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return model


class Counter:
    """A driver shaped like the trainer: a counter and a comparison per batch."""

    def __init__(self, every: int | None, on_boundary=None) -> None:
        self.every, self.done, self.attention = every, 0, False
        self.on_boundary = on_boundary

    def batch_done(self, batches: int) -> None:
        self.done += batches
        self.attention = bool(self.every) and self.done % self.every == 0

    def epoch_done(self, epoch, logs, covers_from) -> None:
        pass

    def boundary(self, where: str) -> None:
        self.attention = False
        if self.on_boundary is not None and where == "batch":
            self.on_boundary()


class Recorder(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.trace: list = []

    def _r(self, *item):
        self.trace.append(item)

    def on_train_begin(self, logs=None):
        self._r("train_begin", dict(self.params))

    def on_train_end(self, logs=None):
        self._r("train_end", dict(logs or {}))

    def on_epoch_begin(self, epoch, logs=None):
        self._r("epoch_begin", epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._r("epoch_end", epoch, dict(logs or {}))

    def on_train_batch_begin(self, batch, logs=None):
        self._r("batch_begin", batch)

    def on_train_batch_end(self, batch, logs=None):
        self._r("batch_end", batch, dict(logs or {}))


# ----- the contenders: each returns (steps, seconds, model) ------------------------------------
def run_fit(x, y, epochs, callbacks=()):
    model = build()
    t = _clock()
    kw = {"verbose": 0, "callbacks": list(callbacks)}
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=True, **kw)
    return _since(t), model


def run_fit_feed(x, y, epochs, callbacks=()):
    model, feed = build(), BatchFeed(x, y, batch_size=BATCH, seed=SEED)
    t = _clock()
    model.fit(
        feed.dataset(0, 0, epochs),
        epochs=epochs,
        steps_per_epoch=feed.steps_per_epoch,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
    )
    return _since(t), model


def run_loop(x, y, epochs, callbacks=(), every=None, at=None):
    model, feed = build(), BatchFeed(x, y, batch_size=BATCH, seed=SEED)
    driver = Counter(every)
    if at is not None:  # boundaries at these steps of every epoch (the trace check)
        driver.batch_done = lambda n: setattr(driver, "attention", loop.step in at)
    loop = TrainLoop(model, feed, epochs=epochs, callbacks=list(callbacks), driver=driver)
    t = _clock()
    loop.run()
    return _since(t), model


class Restart(Exception):
    pass


def run_chunks_carry(x, y, epochs, callbacks=(), every=EVERY, at=None):
    """`fit` ended by an exception at each boundary and called again mid-epoch, the metric
    variables carried across: the alternative to an own loop."""
    model, feed = build(), BatchFeed(x, y, batch_size=BATCH, seed=SEED)
    spe, pos = feed.steps_per_epoch, {"epoch": 0, "step": 0, "done": 0, "carry": None}

    class Control(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if pos["carry"] is not None:  # fit reset the metrics just before this hook
                for v, value in zip(model.metrics_variables, pos["carry"], strict=True):
                    v.assign(value)
                pos["carry"] = None

        def on_train_batch_end(self, batch, logs=None):
            pos["step"] += 1
            pos["done"] += 1
            hit = pos["step"] in at if at is not None else pos["done"] % every == 0
            if hit and pos["step"] < spe:
                pos["carry"] = [np.array(v.numpy()) for v in model.metrics_variables]
                raise Restart

        def on_epoch_end(self, epoch, logs=None):
            pos["epoch"], pos["step"] = epoch + 1, 0

    t = _clock()
    while pos["epoch"] < epochs:
        start, skip = pos["epoch"], pos["step"]
        end = start + 1 if skip else epochs
        try:
            model.fit(
                feed.dataset(start, skip, end),
                epochs=end,
                initial_epoch=start,
                steps_per_epoch=spe - skip,
                verbose=0,
                shuffle=False,
                callbacks=[*callbacks, Control()],  # last: the others see the whole batch
            )
        except Restart:
            continue
    return _since(t), model


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def speed(rounds: int, epochs: int) -> None:
    x, y = data(16_000)
    steps = epochs * BatchFeed(x, y, batch_size=BATCH, seed=SEED).steps_per_epoch
    runs = {
        "fit": lambda: run_fit(x, y, epochs),
        "fit_feed": lambda: run_fit_feed(x, y, epochs),
        "loop": lambda: run_loop(x, y, epochs),
        "loop_paused": lambda: run_loop(x, y, epochs, every=EVERY),
        "chunks_carry": lambda: run_chunks_carry(x, y, epochs, every=EVERY),
    }
    rate: dict[str, list[float]] = {name: [] for name in runs}
    cpu_ms: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs)
    for r in range(rounds):
        for name in order[r % len(order) :] + order[: r % len(order)]:
            (seconds, cpu), _ = runs[name]()
            rate[name].append(steps / seconds)
            cpu_ms[name].append(1000 * cpu / steps)
    print(f"\nspeed: {steps} steps per run, {rounds} interleaved rounds (steps/s, median)")
    print("(CPU ms/step: this process's CPU time, all its threads; steadier than wall time")
    print(" when other processes share the cores)")
    head = f"{'contender':<14}{'steps/s':>9}  {'/ fit':>22}  {'/ fit_feed':>22}"
    print(f"{head}  {'CPU ms/step':>12}  {'/ fit_feed':>22}")
    for name in runs:
        cells = [_ratio(rate[name], rate[base]) for base in ("fit", "fit_feed")]
        cpu = statistics.median(cpu_ms[name])
        line = f"{name:<14}{statistics.median(rate[name]):>9,.0f}  {cells[0]:>22}  {cells[1]:>22}"
        print(f"{line}  {cpu:>12.3f}  {_ratio(cpu_ms[name], cpu_ms['fit_feed']):>22}")


def _ratio(values, base) -> str:
    ratios = [v / b for v, b in zip(values, base, strict=True)]
    return f"{statistics.median(ratios):.3f} [{min(ratios):.3f}-{max(ratios):.3f}]"


def traces() -> None:
    x, y = data(2_000)
    at = {20, 45}
    got = {}
    for name, fn in (
        ("fit_feed", lambda rec: run_fit_feed(x, y, 2, [rec])),
        ("loop", lambda rec: run_loop(x, y, 2, [rec], at=at)),
        ("chunks_carry", lambda rec: run_chunks_carry(x, y, 2, [rec], at=at)),
    ):
        rec = Recorder()
        _, model = fn(rec)
        got[name] = (rec.trace, [w.tobytes() for w in model.get_weights()])
    base, weights = got["fit_feed"]
    print(f"\nhook trace vs fit_feed ({len(base)} hook calls; boundaries at batches 20, 45):")
    for name in ("loop", "chunks_carry"):
        trace, w = got[name]
        differ, kinds = _diff(trace, base)
        print(
            f"  {name:<13} {len(trace)} calls, {differ} not as in fit {kinds or ''}; "
            f"weights {'identical' if w == weights else 'DIFFER'}"
        )


def _diff(trace, base) -> tuple[int, dict]:
    """Hook calls not matched in order (difflib), counted per hook name."""
    a, b = [repr(t) for t in trace], [repr(t) for t in base]
    kinds: dict[str, int] = {}
    total = 0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        total += max(i2 - i1, j2 - j1)
        for item in trace[i1:i2] + base[j1:j2]:
            kinds[item[0]] = kinds.get(item[0], 0) + 1
    return total, kinds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    traces()
    speed(args.rounds, args.epochs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
