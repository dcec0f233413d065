"""The whole job on Keras's JAX backend (issue 16), with the TensorFlow rows of the same run.

The job of `benchmarks/job.py` (the reference MLP with 256 hidden units, 16,000 samples, batch
32, 12 epochs, exact resume on), one device. Each run is its own fresh process with
`KERAS_BACKEND` set before Keras is imported: plain `model.fit(x, y, batch_size=32, epochs=12,
shuffle=True, verbose=0)` on JAX, the engine alone and the dashboard live on JAX, and plain fit
and the dashboard live on TensorFlow, interleaved, the order rotating every round.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from . import common, job
from .common import Row, cpu_step_ratio, median, pause_row, ratio_row, rotations

KINDS = ("jax_plain", "jax_engine", "jax_ui", "tf_plain", "tf_ui", "dp_plain", "dp_ui")
DP_DEVICES = 4
PLAINS = {
    "jax": "JAX, one device",
    "tf": "TensorFlow, one device",
    "dp": "JAX under DataParallel, 4 CPU devices",
}
LABEL = "reference MLP 256 hidden, 16,000 samples, batch 32, 12 epochs, whole job"


def child(kind: str, folder: Path, samples: int, epochs: int) -> dict:
    backend, inner = kind.split("_", 1)
    os.environ["KERAS_BACKEND"] = "tensorflow" if backend == "tf" else "jax"
    if kind == "dp_pause":
        return _dp_pauses(folder, samples)
    if backend == "dp":
        return _data_parallel(inner, folder, samples, epochs)
    mine = folder / backend  # the config has no backend key: it follows KERAS_BACKEND
    mine.mkdir(exist_ok=True)
    return job.child(inner, mine, samples, epochs)


def _dp_pauses(folder: Path, samples: int) -> dict:
    """Pause latency under data_parallel on 4 JAX CPU devices, the dashboard live: the pauses
    of benchmarks/mirrored.py (random moments, each resumed), on a run that outlasts them."""
    import asyncio

    import jax
    from weightwatch.engine.config import load_config
    from weightwatch.engine.session import Session

    from .mirrored import PAUSES, QUICK_PAUSES, _pauses

    jax.config.update("jax_num_cpu_devices", DP_DEVICES)
    mine = folder / "dp-pause"
    mine.mkdir(exist_ok=True)
    cfg = job.write_job(mine, samples, 5000, deterministic=True)
    text = cfg.read_text().replace(
        "[run]\n", f'[run]\nstrategy = "data_parallel"\ncpu_devices = {DP_DEVICES}\n', 1
    )
    cfg.write_text(text)
    session = Session(load_config(cfg), run_dir=mine / "runs" / "pause")
    trials = PAUSES if samples == job.SAMPLES else QUICK_PAUSES
    return {"pauses": asyncio.run(_pauses(session, trials))}


def _data_parallel(inner: str, folder: Path, samples: int, epochs: int) -> dict:
    """`keras.distribution.DataParallel` over 4 JAX CPU devices: plain fit under it, or the
    session with `strategy = "data_parallel"` under the live dashboard."""
    import jax
    import tensorflow  # noqa: F401  (imported before the clock on every side, as job.child does)

    jax.config.update("jax_num_cpu_devices", DP_DEVICES)
    mine = folder / "dp"
    mine.mkdir(exist_ok=True)
    if inner == "plain":
        import keras

        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
        # One step in flight, as the engine keeps it under a distribution: with several, plain
        # fit's all-reduce over 4 CPU devices deadlocked on this 2-core machine (JAX 0.10.2)
        keras.Model.fit = _one_in_flight(keras.Model.fit)
        return job.child("plain", mine, samples, epochs)
    import time

    from weightwatch.engine.config import load_config
    from weightwatch.engine.session import Session

    cfg = job.write_job(mine, samples, epochs, deterministic=True)
    text = cfg.read_text().replace(
        "[run]\n", f'[run]\nstrategy = "data_parallel"\ncpu_devices = {DP_DEVICES}\n', 1
    )
    cfg.write_text(text)
    session = Session(load_config(cfg), run_dir=mine / "runs" / f"ui-{time.monotonic_ns()}")
    return job.timed_job(session, under_ui=True)


def _one_in_flight(fit):
    import keras

    class Sync(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            float(logs["loss"])  # waits for the step

    def wrapped(self, *args, callbacks=None, **kwargs):
        return fit(self, *args, callbacks=[*(callbacks or []), Sync()], **kwargs)

    return wrapped


def main(quick: bool, rounds: int) -> list[Row]:
    rounds = 1 if quick else min(rounds, 5)
    size = job.QUICK if quick else {"samples": job.SAMPLES, "epochs": job.EPOCHS}
    got: dict[str, list[dict]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory(prefix="ww-bench-jax-") as tmp:
        for kind in rotations(KINDS, rounds):
            got[kind].append(common.run_child("benchmarks.jaxjob", kind, Path(tmp), size))
        pauses = common.run_child("benchmarks.jaxjob", "dp_pause", Path(tmp), size)["pauses"]
    label = LABEL if not quick else "reference MLP, QUICK: 2,000 samples, 1 epoch"
    label += f", {rounds} round{'s' if rounds > 1 else ''}"

    def sps(kind: str) -> list[float]:
        return [t["steps"] / t["wall"] for t in got[kind]]

    out = []
    for backend, plain in (("jax", "jax_plain"), ("tf", "tf_plain"), ("dp", "dp_plain")):
        base = sps(plain)
        out.append(
            Row(
                f"jax.{backend}_plain",
                f"steps/s, {label}: plain fit on {PLAINS[backend]}",
                f"{median(base):,.0f} steps/s",
                "",
                median(base),
                f"{median(base):,.0f} steps/s",
                "",
                None,
            )
        )
    for kind, words, target in (
        ("jax_engine", "JAX, one device: engine alone / plain fit on JAX", 0.99),
        ("jax_ui", "JAX, one device: dashboard live / plain fit on JAX", 0.97),
        ("tf_ui", "TensorFlow, one device: dashboard live / plain fit on TensorFlow", 0.97),
        ("dp_ui", f"JAX DataParallel on {DP_DEVICES} CPU devices: dashboard / plain fit", 0.97),
    ):
        plain = kind.split("_")[0] + "_plain"
        row = ratio_row(
            f"jax.{kind}", f"steps/s, {label}: {words}", sps(kind), sps(plain), "steps/s", target
        )
        row.measured += f" (CPU/step ratio {cpu_step_ratio(got[plain], got[kind]):.3f})"
        out.append(row)
    out.append(
        pause_row(
            "jax.dp_pause",
            f"pause latency under data_parallel on {DP_DEVICES} JAX CPU devices, dashboard "
            f"live, {len(pauses)} pauses",
            pauses,
        )
    )
    return out


def _main() -> None:
    common.child_main(child, KINDS + ("dp_pause",), job.SAMPLES, job.EPOCHS)


if __name__ == "__main__":
    _main()
