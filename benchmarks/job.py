"""The whole job against the user's plain `fit`: the baseline issue 12 defines.

The reference MLP with 256 hidden units (10 inputs, Dense 256 relu, Dense 10 softmax, Adam,
categorical cross-entropy, accuracy), 16,000 samples, batch 32 (500 steps an epoch), 12 epochs,
no validation data. Every run is its own fresh Python process (so that process-wide settings
such as op determinism never leak between runs) and is timed over the whole job, first-step
tracing included:

- `plain`: what a user writes, `model.fit(x, y, batch_size=32, epochs=12, shuffle=True,
  verbose=0)`, timed from building the model to `fit` returning;
- `plain_same`: the same, after the settings the engine applies for `deterministic = true`
  (`runtime.startup.fix_numerics`: op determinism on a GPU, nothing on the CPU);
- `engine` / `ui`: a `Session` alone (what `weightwatch run --plain` drives) / the session under
  the live dashboard in Textual's headless driver (what `--headless` shows), with
  `deterministic = true` (exact resume on), timed from the training thread's start to the last
  batch; `engine_nodet` / `ui_nodet`: the same with `deterministic = false`.

TensorFlow is imported before the clock starts on every side. Rounds are interleaved (the order
rotates every round) and each ratio pairs runs of one round.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from . import common
from .common import Row, cpu_step_ratio, median, ratio_row, rotations

SAMPLES, EPOCHS, BATCH, HIDDEN, SEED = 16_000, 12, 32, 256, 7
QUICK = {"samples": 2_000, "epochs": 1}
KINDS = ("plain", "plain_same", "engine", "ui", "engine_nodet", "ui_nodet")
PIPE_KINDS = ("pipe_plain", "pipe_engine", "pipe_ui")
LABEL = "reference MLP 256 hidden, 16,000 samples, batch 32, 12 epochs, whole job"


def write_job(
    folder: Path, samples: int, epochs: int, deterministic: bool, pipeline: bool = False
) -> Path:
    """The job as a weightwatch config (and its data) in `folder`; with `pipeline`, the data is
    a `tf.data` pipeline a loader returns (`pipeline_loader`)."""
    import numpy as np

    data = folder / "job.npz"
    if not data.exists():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(samples, 10)).astype("float32")
        labels = np.argmax(x @ rng.normal(size=(10, 10)), axis=1)
        np.savez(data, x=x, y=np.eye(10, dtype="float32")[labels])
    name = ("pipe" if pipeline else "job") + ("" if deterministic else "_nodet")
    data_table = (
        f'loader = "benchmarks.job:pipeline_loader"\nparams = {{ path = "{data}" }}'
        if pipeline
        else f'path = "job.npz"\nbatch_size = {BATCH}\nshuffle = true'
    )
    cfg = folder / f"{name}.toml"
    cfg.write_text(
        f"""[run]
name = "{name}"
seed = {SEED}
deterministic = {str(deterministic).lower()}
run_dir = "runs/{name}"

[model]
builder = "weightwatch.demo_data.models:reference_mlp"
params = {{ inputs = 10, hidden = {HIDDEN}, classes = 10 }}

[compile]
optimizer = "adam"
loss = "categorical_crossentropy"
metrics = ["accuracy"]

[data]
{data_table}

[train]
epochs = {epochs}
"""
    )
    return cfg


def pipeline_loader(path: str):
    """A user's input pipeline: shuffled with a seed, batched, prefetched."""
    import numpy as np
    import tensorflow as tf

    with np.load(path) as d:
        x, y = d["x"], d["y"]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(4096, seed=SEED)
    return ds.batch(BATCH).prefetch(tf.data.AUTOTUNE)


# --- one run, in its own process -----------------------------------------------------------------


def child(kind: str, folder: Path, samples: int, epochs: int) -> dict:
    import keras
    import tensorflow as tf  # noqa: F401  (imported before the clock on every side)

    pipeline = kind.startswith("pipe_")
    cfg_path = write_job(
        folder, samples, epochs, deterministic=not kind.endswith("_nodet"), pipeline=pipeline
    )
    kind = kind.removeprefix("pipe_")
    if kind.startswith("plain"):
        return _plain(kind, cfg_path, keras, pipeline)
    from weightwatch.engine.config import load_config
    from weightwatch.engine.session import Session

    cfg = load_config(cfg_path)
    session = Session(cfg, run_dir=folder / "runs" / f"{kind}-{time.monotonic_ns()}")
    return timed_job(session, under_ui=not kind.startswith("engine"))


def timed_job(session, under_ui: bool) -> dict:
    """The whole job of `session`, alone or under the live dashboard: batches, and wall and
    CPU seconds from the training thread's start to its last batch."""
    began: dict = {}
    run = session.run

    def timed_run(*args, **kwargs):
        began["wall"], began["cpu"] = time.perf_counter(), time.process_time()
        return run(*args, **kwargs)

    session.run = timed_run  # type: ignore[method-assign]
    finished = session.hold_when_finished()
    ended: dict = {}
    finished.add_done_callback(
        lambda _: ended.update(wall=time.perf_counter(), cpu=time.process_time())
    )
    if under_ui:
        steps = asyncio.run(_under_ui(session, finished))
    else:
        session.start()
        steps = finished.result(1800)
        session.stop().result(120)
        session.stopped.wait(120)
    return {
        "steps": steps,
        "wall": ended["wall"] - began["wall"],
        "cpu": ended["cpu"] - began["cpu"],
    }


def _plain(
    kind: str, cfg_path: Path, keras, pipeline: bool = False, callbacks: list | None = None
) -> dict:
    import numpy as np
    from weightwatch.demo_data.models import reference_mlp

    if kind == "plain_same":
        try:
            from weightwatch.engine.runtime.startup import fix_numerics
        except ImportError:  # the engine before issue 12 (measuring "before"): op determinism
            import tensorflow as tf

            fix_numerics = tf.config.experimental.enable_op_determinism
        fix_numerics()
    with np.load(cfg_path.parent / "job.npz") as d:
        x, y = d["x"], d["y"]
    epochs = int(cfg_path.read_text().split("epochs = ")[-1].split()[0])
    wall, cpu = time.perf_counter(), time.process_time()
    keras.utils.set_random_seed(SEED)
    model = reference_mlp(inputs=10, hidden=HIDDEN, classes=10)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    if pipeline:  # as the user writes it: fit on the pipeline the loader returns
        data = pipeline_loader(str(cfg_path.parent / "job.npz"))
        model.fit(data, epochs=epochs, verbose=0, callbacks=callbacks)
    else:
        model.fit(
            x, y, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0, callbacks=callbacks
        )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    steps = -(-len(x) // BATCH) * epochs
    return {"steps": steps, "wall": wall, "cpu": cpu}


async def _under_ui(session, finished) -> int:
    from .runs import live_ui

    async with live_ui(session):
        return await asyncio.wrap_future(finished)


# --- the section -----------------------------------------------------------------------------


def run_child(kind: str, folder: Path, quick: bool) -> dict:
    size = QUICK if quick else {"samples": SAMPLES, "epochs": EPOCHS}
    return common.run_child("benchmarks.job", kind, folder, size)


def interleaved(kinds: tuple[str, ...], quick: bool, rounds: int) -> dict[str, list[dict]]:
    """`rounds` rounds of one fresh process per kind, the order rotating every round."""
    got: dict[str, list[dict]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="ww-bench-job-") as tmp:
        for kind in rotations(kinds, rounds):
            got[kind].append(run_child(kind, Path(tmp), quick))
    return got


def main(quick: bool, rounds: int) -> list[Row]:
    # the protocol is 3 rounds; up to 5 when asked (--rounds 5: ~7 minutes), since one
    # run here swings by +-15 % and a median of 3 does not settle a 0.99 target
    rounds = 1 if quick else min(rounds, 5)
    return rows(interleaved(KINDS, quick, rounds), quick, rounds)


def rows(got: dict[str, list[dict]], quick: bool = False, rounds: int = 3) -> list[Row]:
    label = LABEL if not quick else "reference MLP 256 hidden, QUICK: 2,000 samples, 1 epoch"
    label += f", {rounds} round{'s' if rounds > 1 else ''}"

    def sps(kind: str) -> list[float]:
        return [t["steps"] / t["wall"] for t in got[kind]]

    plain = sps("plain")
    out = [
        Row(
            "job.plain",
            f"steps/s, {label}: the user's plain fit (baseline)",
            f"{median(plain):,.0f} steps/s ({median([t['wall'] for t in got['plain']]):.1f} s)",
            "",
            median(plain),
            f"{median(plain):,.0f} steps/s",
            "",
            None,
        )
    ]
    for kind, words, target in (
        ("plain_same", "plain fit with the engine's determinism settings / plain fit", None),
        ("engine", "engine alone, deterministic (exact resume) / plain fit", 0.99),
        ("ui", "dashboard live, deterministic (exact resume) / plain fit", 0.97),
        ("engine_nodet", "engine alone, deterministic = false / plain fit", 0.99),
        ("ui_nodet", "dashboard live, deterministic = false / plain fit", 0.97),
    ):
        row = ratio_row(
            f"job.{kind}", f"steps/s, {label}: {words}", sps(kind), plain, "steps/s", target or 0
        )
        row.measured += f" (CPU/step ratio {cpu_step_ratio(got['plain'], got[kind]):.3f})"
        if target is None:
            row.target, row.holds = "", None
        out.append(row)
    return out


def _main() -> None:
    common.child_main(child, KINDS + PIPE_KINDS, SAMPLES, EPOCHS)


if __name__ == "__main__":
    _main()
