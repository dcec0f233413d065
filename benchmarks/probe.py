"""What the fused probe costs the compiled train step itself, on each backend.

The whole-job rows (`job`, `pipeline`, `jaxjob`) swing by +-30 % from round to round on a shared
host, more than the probe costs; this section measures the probe alone, in one process per
backend, where the host's swings hit both sides alike: two copies of the reference MLP (256
hidden, Adam, batch 32), one with the probe installed (`backend.make_probe`, as every session
does) and one without, each driven by its own `train_function` over the same batches, in
interleaved chunks of steps (the order alternating), paired per chunk. TensorFlow feeds a
prefetched `tf.data` pipeline; JAX the stepper the engine uses (`JaxStepper`), one device.

The JAX probe also keeps the last good state (the divergence sentinel: a select per state leaf,
docs/performance.md says what that costs).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from . import common
from .common import Row, ratio_row

KINDS = ("tf", "jax")
FULL, QUICK = {"samples": 30, "epochs": 200}, {"samples": 3, "epochs": 40}  # rounds, chunk


def child(kind: str, folder: Path, rounds: int, chunk: int) -> dict:
    os.environ["KERAS_BACKEND"] = "tensorflow" if kind == "tf" else "jax"
    import keras
    import numpy as np
    from weightwatch.demo_data.models import reference_mlp
    from weightwatch.engine import backend

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4096, 10)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, 4096)]

    def make(probe: bool):
        keras.utils.set_random_seed(7)
        model = reference_mlp(inputs=10, hidden=256, classes=10)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)  # built as fit builds it
        model.train_function = None
        if probe:
            backend.make_probe(model)
        return backend.stepper(model, to_numpy=False), batches(kind, x, y)

    sides = {"none": make(False), "probe": make(True)}
    for step, it in sides.values():
        for _ in range(20):  # traced and warm
            step(it)
    rates: dict[str, list[float]] = {"none": [], "probe": []}
    for r in range(rounds):
        for name in ("none", "probe") if r % 2 == 0 else ("probe", "none"):
            step, it = sides[name]
            began = time.perf_counter()
            for _ in range(chunk):
                logs = step(it)
            float(logs["loss"])  # the last step has finished
            rates[name].append(chunk / (time.perf_counter() - began))
    return rates


def batches(kind: str, x, y):
    if kind == "tf":
        import tensorflow as tf

        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32, drop_remainder=True)
        return iter(ds.repeat().prefetch(tf.data.AUTOTUNE))

    def endless():
        while True:
            for i in range(0, len(x) - 31, 32):
                yield x[i : i + 32], y[i : i + 32]

    return endless()


def main(quick: bool, rounds: int) -> list[Row]:
    size = QUICK if quick else FULL
    out = []
    with tempfile.TemporaryDirectory(prefix="ww-bench-probe-") as tmp:
        for kind in KINDS:
            got = common.run_child("benchmarks.probe", kind, Path(tmp), size)
            label = (
                f"compiled steps/s with the probe / without, reference MLP 256 hidden, "
                f"{'TensorFlow' if kind == 'tf' else 'JAX, one device'}, {size['samples']} "
                f"interleaved chunks of {size['epochs']} steps, one process"
            )
            out.append(
                ratio_row(f"probe.{kind}", label, got["probe"], got["none"], "steps/s", 0.95)
            )
    return out


def _main() -> None:
    # run_child's --samples/--epochs carry the rounds and the chunk's steps here
    common.child_main(child, KINDS, FULL["samples"], FULL["epochs"])


if __name__ == "__main__":
    _main()
