"""Training overhead: steps/s of weightwatch (engine alone, and with the dashboard live) divided by
the steps/s of plain `model.fit(verbose=0)` on the same model, data and settings.

Rounds are interleaved (plain, engine, UI; the order rotates every round) and each ratio pairs
runs of the same round, so that the machine's load drifts out; the table shows the median ratio
and its range. The CPU time per step of the same runs is kept as a cross-check that holds up
better than wall time when other processes share the cores.
"""

from __future__ import annotations

import asyncio

from .common import Row, config, median, ratio_row
from .runs import engine_run, plain_fit, ui_run

TARGETS = {"reference": 0.97, "heavy": 0.99}
LABELS = {"reference": "reference MLP (~1.5 ms steps)", "heavy": "Conv1D (~20 ms steps)"}
# (warm, measured) epochs: the reference MLP has 160 steps an epoch, the Conv1D 40.
EPOCHS = {"reference": (1, 20), "heavy": (1, 6)}
QUICK_EPOCHS = {"reference": (1, 2), "heavy": (1, 1)}


def measure(model: str, rounds: int, quick: bool) -> list[Row]:
    warm, measured = (QUICK_EPOCHS if quick else EPOCHS)[model]
    cfg = config(model, warm + measured)
    _same_settings(cfg)
    runs = {
        "plain": lambda: plain_fit(cfg, warm, measured),
        "engine": lambda: engine_run(cfg, warm, measured),
        "ui": lambda: asyncio.run(ui_run(cfg, warm, measured)),
    }
    got: dict[str, list] = {name: [] for name in runs}
    order = list(runs)
    for r in range(rounds):
        for name in order[r % 3 :] + order[: r % 3]:
            got[name].append(runs[name]())
    return _rows(model, got)


def _same_settings(cfg) -> None:
    """The engine enables op determinism for `deterministic = true` (process-wide): plain fit
    gets the same setting from the first round on."""
    if cfg.run.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _rows(model: str, got: dict[str, list]) -> list[Row]:
    plain = [t.steps_per_s for t in got["plain"]]
    rows = []
    for name, words in (("engine", "engine alone"), ("ui", "with the dashboard live")):
        row = ratio_row(
            f"overhead.{model}.{name}",
            f"steps/s, {LABELS[model]}, {words}",
            [t.steps_per_s for t in got[name]],
            plain,
            "steps/s",
            TARGETS[model],
        )
        cpu = median(
            [p.cpu_per_step / t.cpu_per_step for p, t in zip(got["plain"], got[name], strict=True)]
        )
        row.measured += f" (cpu ratio {cpu:.3f})"
        if name == "ui":
            row.measured += f", {median([t.redraws for t in got[name]]):.0f} charts drawn"
        rows.append(row)
    return rows


def main(quick: bool, rounds: int) -> list[Row]:
    rows = []
    for model in ("reference", "heavy"):
        rows += measure(model, rounds, quick)
    return rows
