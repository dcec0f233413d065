"""Keras 3 on JAX: the reference MLP trains with `fit`, on one device and under
`keras.distribution.DataParallel` over 4 JAX CPU devices; steps/s and CPU per step of each.

    KERAS_BACKEND=jax /tmp/jaxvenv/bin/python docs/scaling/jax_fit.py [--reps 5] [--devices 4]

One process, 4 CPU devices (`jax.config.update("jax_num_cpu_devices", 4)`, before any device
query). The one-device model is built outside any distribution (its variables and batches live
on CPU:0); the DataParallel one is built, compiled and fitted inside `DataParallel(...).scope()`
(variables replicated on the 4 devices, each global batch split 4 ways). The two are timed in
interleaved repetitions (A, B, A, B, ...), medians reported, so the host's drift hits both alike.
A repetition is one `fit` epoch of 160 steps; its clock starts at batch 10 (so the iterator's
start-up is left out) and stops in `on_epoch_end` after the loss has been read (JAX dispatches
asynchronously: the read waits for the last step). CPU is `time.process_time()`: every thread of
the process (XLA's own pool included), which swings far less than wall time on a shared host.
Each model is fitted once before the timed rounds (the first fit traces and compiles).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
REPO = Path(__file__).resolve().parents[2]
WARM = 10  # batches left out at the start of each timed epoch
STEPS = 160


def reference_mlp(inputs: int = 10, hidden: int = 128, classes: int = 10):
    """weightwatch.demo_data.models.reference_mlp, copied (this venv has no weightwatch)."""
    import keras

    x_in = keras.Input(shape=(inputs,), name="features")
    h = keras.layers.Dense(hidden, activation="relu", name="hidden")(x_in)
    out = keras.layers.Dense(classes, activation="softmax", name="output")(h)
    return keras.Model(x_in, out, name="reference_mlp")


def make_clock():
    import keras

    class Clock(keras.callbacks.Callback):
        """Wall and CPU time from batch WARM to the end of the epoch (never touches
        `self.model`: on JAX that property syncs the state into the variables)."""

        def on_train_batch_begin(self, batch, logs=None):
            if batch == WARM:
                self.t0 = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch, logs=None):
            float(logs["loss"])  # waits for the last step
            wall, cpu = time.perf_counter() - self.t0[0], time.process_time() - self.t0[1]
            self.result = (wall, cpu)

    return Clock()


def build(dist, seed: int = 7):
    import contextlib

    import keras

    keras.utils.set_random_seed(seed)
    with dist.scope() if dist is not None else contextlib.nullcontext():
        model = reference_mlp()
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def fit_once(model, dist, x, y, batch: int):
    import contextlib

    clock = make_clock()
    with dist.scope() if dist is not None else contextlib.nullcontext():
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[clock])
    wall, cpu = clock.result
    steps = STEPS - WARM
    return steps / wall, 1000 * cpu / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--devices", type=int, default=4)
    args = ap.parse_args()

    import jax

    jax.config.update("jax_num_cpu_devices", args.devices)
    import keras
    import numpy as np

    print(f"jax {jax.__version__}, keras {keras.__version__}, devices {jax.devices()}")
    data = np.load(REPO / "demo_data" / "reference.npz")
    dist = keras.distribution.DataParallel(devices=keras.distribution.list_devices("cpu"))
    for batch in (32, 256):
        reps = batch * STEPS // len(data["x"])  # enough samples for STEPS batches
        x, y = np.tile(data["x"], (max(reps, 1), 1)), np.tile(data["y"], (max(reps, 1), 1))
        x, y = x[: batch * STEPS], y[: batch * STEPS]
        runs = {
            "1 device": (build(None), None),
            f"DataParallel x{args.devices}": (build(dist), dist),
        }
        rows: dict[str, list] = {name: [] for name in runs}
        for model, d in runs.values():  # trace and compile outside the clock
            fit_once(model, d, x, y, batch)
        for _ in range(args.reps):
            for name, (model, d) in runs.items():
                rows[name].append(fit_once(model, d, x, y, batch))
        print(f"batch {batch} (global), {STEPS - WARM} timed steps, {args.reps} reps, medians:")
        base = statistics.median(r[0] for r in rows["1 device"])
        for name, r in rows.items():
            sps = statistics.median(v[0] for v in r)
            cpu = statistics.median(v[1] for v in r)
            print(f"  {name:<16} {sps:8.0f} steps/s ({sps / base:4.2f}x)  {cpu:6.2f} CPU ms/step")
        # The replicas hold one value: DataParallel replicates every variable.
        w = runs[f"DataParallel x{args.devices}"][0].get_layer("hidden").kernel.value
        print(f"  DataParallel kernel sharding: {w.sharding}")


if __name__ == "__main__":
    main()


# Output (2026-12-01, jax 0.10.2, keras 3.15.1, 2-core shared host):
#
# default (--devices 4)
# jax 0.10.2, keras 3.15.1, devices [CpuDevice(id=0), CpuDevice(id=1), CpuDevice(id=2),
#     CpuDevice(id=3)]
# batch 32 (global), 150 timed steps, 5 reps, medians:
#   1 device             6497 steps/s (1.00x)    0.16 CPU ms/step
#   DataParallel x4      1162 steps/s (0.18x)    0.91 CPU ms/step
#   DataParallel kernel sharding: NamedSharding(mesh=Mesh('batch': 4, axis_types=(Auto,)),
#     spec=P(None, None), memory_kind=device)
# batch 256 (global), 150 timed steps, 5 reps, medians:
#   1 device             6146 steps/s (1.00x)    0.26 CPU ms/step
#   DataParallel x4      1276 steps/s (0.21x)    1.08 CPU ms/step
#   DataParallel kernel sharding: NamedSharding(mesh=Mesh('batch': 4, axis_types=(Auto,)),
#     spec=P(None, None), memory_kind=device)
#
# earlier runs, medians of 5 each (same script)
# --devices 1:
#   1 device (batch 32)             5778 steps/s (1.00x)    0.18 CPU ms/step
#   DataParallel x1 (batch 32)      3883 steps/s (0.67x)    0.27 CPU ms/step
#   1 device (batch 256)            4405 steps/s (1.00x)    0.27 CPU ms/step
#   DataParallel x1 (batch 256)     2773 steps/s (0.63x)    0.44 CPU ms/step
# --devices 2:
#   1 device (batch 32)             5585 steps/s (1.00x)    0.22 CPU ms/step
#   DataParallel x2 (batch 32)      1631 steps/s (0.29x)    0.67 CPU ms/step
#   1 device (batch 256)            4329 steps/s (1.00x)    0.25 CPU ms/step
#   DataParallel x2 (batch 256)     1679 steps/s (0.39x)    0.58 CPU ms/step
