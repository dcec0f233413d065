"""A `tf.data` pipeline (issue 13): steps/s with the dashboard live (and the engine alone) vs plain
`fit` on the same pipeline.

The job of `benchmarks/job.py` (the reference MLP with 256 hidden units, 16,000 samples, 12
epochs), its data given by a loader that returns `from_tensor_slices((x, y)).shuffle(4096,
seed).batch(32).prefetch(AUTOTUNE)`; plain `model.fit(dataset, epochs=12, verbose=0)` on what
the same loader returns. One fresh process per run, timed over the whole job, 3 interleaved
rounds. weightwatch keeps one checkpointable iterator per pass (exact resume on such a pipeline).
"""

from __future__ import annotations

from .common import Row, cpu_step_ratio, ratio_row
from .job import PIPE_KINDS, interleaved

LABEL = "tf.data pipeline (shuffle, batch 32, prefetch), MLP 256 hidden, 16,000 samples, 12 epochs"


def main(quick: bool, rounds: int) -> list[Row]:
    rounds = 1 if quick else min(rounds, 5)  # as benchmarks/job.py
    got = interleaved(PIPE_KINDS, quick, rounds)
    label = LABEL if not quick else "tf.data pipeline, QUICK: 2,000 samples, 1 epoch"
    label += f", {rounds} round{'s' if rounds > 1 else ''}"
    plain = [t["steps"] / t["wall"] for t in got["pipe_plain"]]
    out = []
    for kind, words, target in (
        ("engine", "engine alone / plain fit on the same pipeline", 0.99),
        ("ui", "dashboard live / plain fit on the same pipeline", 0.97),
    ):
        runs = got[f"pipe_{kind}"]
        row = ratio_row(
            f"pipeline.{kind}",
            f"steps/s, {label}: {words}",
            [t["steps"] / t["wall"] for t in runs],
            plain,
            "steps/s",
            target,
        )
        row.measured += f" (CPU/step ratio {cpu_step_ratio(got['pipe_plain'], runs):.3f})"
        out.append(row)
    return out
