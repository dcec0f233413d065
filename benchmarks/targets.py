"""The four whole-job rows that carry issue 12's and 13's targets, with enough rounds to settle
them: the user's plain `fit` / the engine alone / the dashboard live (exact resume on), on the
arrays of `benchmarks/job.py` and on the `tf.data` pipeline of `benchmarks/pipeline.py`.

`job` and `pipeline` measure the same children among others and stop at 5 rounds; on this host
one whole-job run swings by +-15 % or more (two runs of identical code differ by up to 0.3), so a
median of 5 cannot tell 0.97 from 0.99. This section runs only those six kinds, interleaved (the
order rotates every round), for up to 15 rounds (`--rounds 10`: ~11 minutes), and reports the
median of the per-round ratios with its range and its middle half (the quartiles).
"""

from __future__ import annotations

from .common import Row, cpu_step_ratio, median, ratio_row
from .job import interleaved

KINDS = ("plain", "engine", "ui", "pipe_plain", "pipe_engine", "pipe_ui")
MAX_ROUNDS = 15
JOB = "reference MLP 256 hidden, 16,000 samples, batch 32, 12 epochs, exact resume on"
PIPE = "tf.data pipeline (shuffle, batch 32, prefetch), same MLP and job"


def quartiles(values: list[float]) -> tuple[float, float]:
    """The first and third quartiles (midpoint method; the values themselves when few)."""
    s = sorted(values)
    if len(s) < 4:
        return s[0], s[-1]
    half = len(s) // 2
    return median(s[:half]), median(s[len(s) - half :])


def main(quick: bool, rounds: int) -> list[Row]:
    rounds = 1 if quick else min(rounds, MAX_ROUNDS)
    got = interleaved(KINDS, quick, rounds)
    tail = f", {rounds} round{'s' if rounds > 1 else ''}"
    job = JOB if not quick else "reference MLP 256 hidden, QUICK: 2,000 samples, 1 epoch"
    out = []
    for key, base, kind, words, target in (
        ("targets.job.engine", "plain", "engine", f"{job}: engine alone / plain fit", 0.99),
        ("targets.job.ui", "plain", "ui", f"{job}: dashboard live / plain fit", 0.97),
        ("targets.pipeline.engine", "pipe_plain", "pipe_engine", f"{PIPE}: engine alone", 0.99),
        ("targets.pipeline.ui", "pipe_plain", "pipe_ui", f"{PIPE}: dashboard live", 0.97),
    ):
        plain = [t["steps"] / t["wall"] for t in got[base]]
        mine = [t["steps"] / t["wall"] for t in got[kind]]
        row = ratio_row(key, f"steps/s, {words}{tail}", mine, plain, "steps/s", target)
        ratios = [m / b for m, b in zip(mine, plain, strict=True)]
        low, high = quartiles(ratios)
        row.measured += f" (CPU/step ratio {cpu_step_ratio(got[base], got[kind]):.3f})"
        row.shown += f" IQR {low:.3f}-{high:.3f}" if rounds >= 4 else ""
        out.append(row)
    return out
