"""The dashboard's cost on training, measured inside one process: one session trains under the live
dashboard (Textual's headless driver, 120x40) while the dashboard's updates (status line, charts,
layer table) are switched on and off in alternating windows; steps/s in each "on" window is
divided by steps/s in the "off" window next to it.

Runs of separate processes (the overhead section) compare against plain `fit` as the issue asks,
but on a shared machine their medians move by several percent from run to run. Here both sides
share the process, the model, the data pipeline and the moment, so the machine's drift cancels
out and what is left is what the UI's work costs the training thread. The result is the
geometric mean of the window ratios and its 95 % interval.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from contextlib import contextmanager

from .common import Row, config
from .overhead import LABELS, TARGETS, _same_settings
from .runs import _session, live_ui

# (windows, seconds per window): the reference MLP's charts redraw every ~3 s, so a window pair
# covers at least one chart round on average.
WINDOWS = {"reference": (60, 2.0), "heavy": (60, 3.0)}
QUICK_WINDOWS = {"reference": (4, 0.5), "heavy": (2, 0.5)}
SETTLE_S = 0.3  # after a switch, before a window is counted


@contextmanager
def switchable_dashboard():
    """Patch the dashboard's tick so that a flag turns its updates on and off."""
    from weightwatch.tui.screens.dashboard import DashboardScreen

    original = DashboardScreen.tick
    state = {"on": True}

    def tick(self, force: bool = False) -> None:
        if state["on"]:
            original(self, force)

    DashboardScreen.tick = tick
    try:
        yield state
    finally:
        DashboardScreen.tick = original


async def measure(model: str, windows: int, seconds: float) -> dict:
    cfg = config(model, 10_000)
    _same_settings(cfg)
    session, start, _ = _session(cfg, 1, 9_999)
    got: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    with switchable_dashboard() as state:
        async with live_ui(session):
            await asyncio.wrap_future(start)  # the warm-up epoch (tracing) is done
            session.release()
            await asyncio.sleep(2 * seconds)
            for w in range(windows):
                state["on"] = w % 2 == 0
                await asyncio.sleep(SETTLE_S)
                steps, wall, ui = _now(session)
                await asyncio.sleep(seconds)
                steps2, wall2, ui2 = _now(session)
                span = wall2 - wall
                got[state["on"]].append(((steps2 - steps) / span, (ui2 - ui) / span))
            session.stop()
    ratios = [on / off for (on, _), (off, _) in zip(got[True], got[False], strict=False) if off]
    logs = [math.log(r) for r in ratios if r > 0]
    mean = statistics.mean(logs)
    half = 2 * statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else float("nan")
    return {
        "ratio": math.exp(mean),
        "low": math.exp(mean - half),
        "high": math.exp(mean + half),
        "pairs": len(ratios),
        "on": statistics.median(s for s, _ in got[True]),
        "off": statistics.median(s for s, _ in got[False]),
        "ui_on": statistics.median(u for _, u in got[True]),
        "ui_off": statistics.median(u for _, u in got[False]),
    }


def _now(session) -> tuple[int, float, float]:
    """Steps trained, wall time, and this thread's CPU time (this thread runs the whole UI)."""
    return session.status().session_step, time.perf_counter(), time.thread_time()


def main(quick: bool, rounds: int) -> list[Row]:
    del rounds
    rows = []
    for model in ("reference", "heavy"):
        windows, seconds = (QUICK_WINDOWS if quick else WINDOWS)[model]
        r = asyncio.run(measure(model, windows, seconds))
        interval = f"95 % interval {r['low']:.3f}-{r['high']:.3f}" if r["pairs"] > 1 else ""
        rows.append(
            Row(
                f"onoff.{model}",
                f"steps/s, {LABELS[model]}, dashboard updating / the same session with the "
                f"dashboard's updates off, {r['pairs']} pairs of {seconds:g} s windows",
                f"{r['on']:,.0f} steps/s, UI thread {r['ui_on'] * 100:.1f}% of wall",
                f"{r['off']:,.0f} steps/s, UI thread {r['ui_off'] * 100:.1f}%",
                r["ratio"],
                f"{r['ratio']:.3f} ({interval})" if interval else f"{r['ratio']:.3f}",
                f">= {TARGETS[model]:.2f}",
                r["ratio"] >= TARGETS[model],
            )
        )
    return rows
