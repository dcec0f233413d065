"""Training overhead: steps/s of weightwatch (engine alone, and with the dashboard live) divided by
the steps/s of plain `model.fit(verbose=0)` on the same model, data and settings.

Two baselines: plain `fit` on the numpy arrays (what a person writes without weightwatch: Keras's
own array pipeline), and plain `fit` on weightwatch's deterministic tf.data feed (the same input
pipeline as the engine, so that the ratio is the cost of the monitoring alone).

Rounds are interleaved (the order rotates every round) and each ratio pairs runs of the same
round, so that the machine's load drifts out; the table shows the median ratio and its range.
The CPU time per step of the same runs is a cross-check that holds up better than wall time when
other processes share the cores; UI rows also give the UI thread's CPU share of wall time.
"""

from __future__ import annotations

import asyncio

from .common import Row, config, median, ratio_row
from .runs import engine_run, plain_fit, ui_run

TARGETS = {"reference": 0.97, "heavy": 0.99}
LABELS = {"reference": "reference MLP (~1.5 ms steps)", "heavy": "Conv1D (~20 ms steps)"}
# (warm, measured) epochs: the reference MLP has 160 steps an epoch, the Conv1D 40.
# Each measured part lasts ~7-10 s: long enough for several chart rounds (the redraw budget spaces
# them ~2-3 s apart) and to average out the load other processes put on a shared machine.
EPOCHS = {"reference": (1, 20), "heavy": (1, 6)}
QUICK_EPOCHS = {"reference": (1, 2), "heavy": (1, 1)}


def measure(model: str, rounds: int, quick: bool) -> list[Row]:
    warm, measured = (QUICK_EPOCHS if quick else EPOCHS)[model]
    cfg = config(model, warm + measured)
    _same_settings(cfg)
    runs = {
        "plain": lambda: plain_fit(cfg, warm, measured),
        "plain_feed": lambda: plain_fit(cfg, warm, measured, same_feed=True),
        "engine": lambda: engine_run(cfg, warm, measured),
        "ui": lambda: asyncio.run(ui_run(cfg, warm, measured)),
    }
    got: dict[str, list] = {name: [] for name in runs}
    order = list(runs)
    for r in range(rounds):
        for name in order[r % 4 :] + order[: r % 4]:
            got[name].append(runs[name]())
    return _rows(model, got)


def _same_settings(cfg) -> None:
    """What the engine sets for `deterministic = true` is process-wide: plain fit gets the same
    from the first round on. On the CPU that is nothing (op determinism only on a GPU), so the
    plain rows are also `fit` exactly as a user writes it."""
    if cfg.run.deterministic:
        from weightwatch.engine.runtime.startup import fix_numerics

        fix_numerics()


def _rows(model: str, got: dict[str, list]) -> list[Row]:
    rows = []
    for name, base, words in (
        ("engine", "plain", "engine alone / plain fit"),
        ("ui", "plain", "dashboard live / plain fit"),
        ("engine_same_feed", "plain_feed", "engine alone / plain fit on the same feed"),
        ("ui_same_feed", "plain_feed", "dashboard live / plain fit on the same feed"),
    ):
        runs = got[name.removesuffix("_same_feed")]
        row = ratio_row(
            f"overhead.{model}.{name}",
            f"steps/s, {LABELS[model]}, {words}",
            [t.steps_per_s for t in runs],
            [t.steps_per_s for t in got[base]],
            "steps/s",
            TARGETS[model],
        )
        cpu = [b.cpu_per_step / t.cpu_per_step for b, t in zip(got[base], runs, strict=True)]
        row.measured += f" (CPU/step ratio {median(cpu):.3f})"
        if runs[0].ui_cpu is not None:
            share = median([t.ui_cpu / t.wall for t in runs]) * 100
            drawn = median([t.redraws for t in runs])
            row.measured += f", UI thread {share:.1f}% of wall, {drawn:.0f} charts drawn"
        rows.append(row)
    return rows


def main(quick: bool, rounds: int) -> list[Row]:
    rows = []
    for model in ("reference", "heavy"):
        rows += measure(model, rounds, quick)
    return rows
