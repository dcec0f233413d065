"""Under `tf.distribute.MirroredStrategy` on 4 logical CPU devices (issue 15): steps/s with the
dashboard live vs the user's plain `fit` under the same strategy, and pause latency.

The user's side, as they write it: split the CPU into 4 logical devices, make the strategy,
build and compile in its scope, `model.fit(x, y, batch_size=32, epochs=E, shuffle=True,
verbose=0)`. weightwatch's side: the same job as a config (`strategy = "mirrored"`,
`cpu_devices = 4`) under the live dashboard (Textual's headless driver), and the engine alone.
Each run is a fresh process (the CPU split must come before TensorFlow initialises), timed over
the whole job, tracing included, rounds interleaved. Same model and data as the `job` section
(reference MLP, 256 hidden, 16,000 samples, global batch 32), 4 epochs.

Pause latency: the `p` key's action sent at a random moment inside a batch, with the dashboard
live under the strategy; batches trained after the command until the engine parked.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

from . import common
from .common import Row, median, pause_row, ratio_row, rotations
from .job import BATCH, HIDDEN, SAMPLES, SEED, timed_job, write_job

DEVICES, EPOCHS = 4, 4
QUICK = {"samples": 1_000, "epochs": 1}
KINDS = ("plain", "ui", "engine")
PAUSES, QUICK_PAUSES = 8, 2


def mirrored_job(folder: Path, samples: int, epochs: int) -> Path:
    cfg = write_job(folder, samples, epochs, deterministic=True)
    text = cfg.read_text().replace(
        "[run]\n", f'[run]\nstrategy = "mirrored"\ncpu_devices = {DEVICES}\n', 1
    )
    out = folder / "mirrored.toml"
    out.write_text(text.replace('run_dir = "runs/job"', 'run_dir = "runs/mirrored"'))
    return out


def split_cpu():
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(DEVICES)]
    )
    return tf


def child(kind: str, folder: Path, samples: int, epochs: int) -> dict:
    # pauses need a run that outlasts them (it stops when they are done)
    cfg_path = mirrored_job(folder, samples, 50 if kind == "pause" else epochs)
    if kind == "plain":
        return _plain(cfg_path, epochs)
    import tensorflow as tf  # noqa: F401  (imported before the clock, as on the plain side)
    from weightwatch.engine.config import load_config
    from weightwatch.engine.session import Session

    session = Session(load_config(cfg_path), run_dir=folder / "runs" / f"{kind}-{time.time_ns()}")
    if kind == "pause":
        return {"pauses": asyncio.run(_pauses(session, PAUSES if samples == SAMPLES else 2))}
    return timed_job(session, under_ui=kind == "ui")


def _plain(cfg_path: Path, epochs: int) -> dict:
    import numpy as np

    tf = split_cpu()
    import keras
    from weightwatch.demo_data.models import reference_mlp

    with np.load(cfg_path.parent / "job.npz") as d:
        x, y = d["x"], d["y"]
    wall = time.perf_counter()
    strategy = tf.distribute.MirroredStrategy(
        [d.name for d in tf.config.list_logical_devices("CPU")]
    )
    keras.utils.set_random_seed(SEED)
    with strategy.scope():
        model = reference_mlp(inputs=10, hidden=HIDDEN, classes=10)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0)
    return {"steps": -(-len(x) // BATCH) * epochs, "wall": time.perf_counter() - wall}


async def _pauses(session, trials: int) -> list[int]:
    from .runs import live_ui

    start = session.hold_at_step(5)  # past the first step's tracing
    rng, got = random.Random(0), []
    async with live_ui(session) as (app, _):
        await asyncio.wrap_future(start)
        session.release()
        for _ in range(trials):
            await asyncio.sleep(rng.uniform(0.15, 0.4))
            before = session.status().session_step
            app.action_toggle_pause()
            await asyncio.wrap_future(app.sent[-1][1])
            event = next(e for e in reversed(session.events()) if e.kind == "pause")
            got.append(event.session_step - before)
            app.action_toggle_pause()
            await asyncio.wrap_future(app.sent[-1][1])
    return got


def run_child(kind: str, folder: Path, quick: bool) -> dict:
    size = QUICK if quick else {"samples": SAMPLES, "epochs": EPOCHS}
    return common.run_child("benchmarks.mirrored", kind, folder, size)


def main(quick: bool, rounds: int) -> list[Row]:
    rounds = 1 if quick else min(rounds, 3)
    got: dict[str, list[dict]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory(prefix="ww-bench-mirrored-") as tmp:
        for kind in rotations(KINDS, rounds):
            got[kind].append(run_child(kind, Path(tmp), quick))
        pauses = run_child("pause", Path(tmp), quick)["pauses"]
    size = QUICK if quick else {"samples": SAMPLES, "epochs": EPOCHS}
    label = (
        f"MirroredStrategy on {DEVICES} logical CPU devices, reference MLP {HIDDEN} hidden, "
        f"{size['samples']:,} samples, global batch {BATCH}, {size['epochs']} epochs, whole job, "
        f"{rounds} round{'s' if rounds > 1 else ''}"
    )

    def sps(kind: str) -> list[float]:
        return [t["steps"] / t["wall"] for t in got[kind]]

    plain = sps("plain")
    return [
        Row(
            "mirrored.plain",
            f"steps/s, {label}: the user's plain fit under the strategy (baseline)",
            f"{median(plain):,.0f} steps/s",
            "",
            median(plain),
            f"{median(plain):,.0f} steps/s",
            "",
            None,
        ),
        ratio_row(
            "mirrored.ui",
            f"steps/s, {label}: dashboard live / plain fit",
            sps("ui"),
            plain,
            "steps/s",
            0.97,
        ),
        ratio_row(
            "mirrored.engine",
            f"steps/s, {label}: engine alone / plain fit",
            sps("engine"),
            plain,
            "steps/s",
            0.99,
        ),
        pause_row(
            "mirrored.pause",
            f"pause latency under the strategy, dashboard live, {len(pauses)} pauses",
            pauses,
        ),
    ]


def _main() -> None:
    common.child_main(child, KINDS + ("pause",), SAMPLES, EPOCHS)


if __name__ == "__main__":
    _main()
