"""Chart redraw cost and memory against the length of the history: a synthetic feed of 10k, 100k
and 1M steps through the real telemetry store (the block appends the training thread uses), with
the real dashboard drawing it (120x40, Textual's headless driver; the session is the TUI's
fake, which trains nothing, so nothing but the feed moves the charts).

Redraw: one chart round as the dashboard runs it (`redraw_charts`: pull both charts and the
layer table, decimated to their width) plus building both charts' screen lines (`build_lines`,
plotext's build included), median of several rounds. Memory: this process's RSS once 10k steps
are stored and drawn, and again after 1M, with the charts redrawn along the way.
"""

from __future__ import annotations

import asyncio
import gc
import math
import time

import numpy as np

from .common import Row, median, rss_bytes, run_dir

SIZES = (10_000, 100_000, 1_000_000)
BLOCK = 200  # steps per flush: about what the training thread hands over every 0.2 s
EPOCH = 160  # steps per epoch (a val_loss point each)
REDRAWS, QUICK_REDRAWS = 15, 4


def feed(telemetry, start: int, stop: int, layers: int) -> None:
    """Steps start+1..stop: a falling loss, a slowly growing norm, a val_loss per epoch."""
    for a in range(start, stop, BLOCK):
        steps = np.arange(a + 1, min(a + BLOCK, stop) + 1, dtype=np.float64)
        loss = 2.0 / np.sqrt(steps) + 0.05 * np.sin(steps)
        norm = 10.0 + np.log1p(steps)
        columns = {
            "loss": loss,
            "lr": np.full_like(steps, 1e-3),
            "global_norm": norm,
            **{f"layer/{i}": norm * (0.5 + 0.1 * i) for i in range(layers)},
        }
        telemetry.append_columns(steps, columns)
        for end in range(math.ceil(steps[0] / EPOCH) * EPOCH, int(steps[-1]) + 1, EPOCH):
            telemetry.append(float(end), val_loss=2.0 / math.sqrt(end))


def redraw_seconds(dashboard, charts) -> float:
    """UI-thread CPU seconds of one chart round, plotext's build of both charts included."""
    start = time.thread_time()
    dashboard.redraw_charts()
    for chart in charts:
        chart.build_lines()
    return time.thread_time() - start


async def _measure(quick: bool) -> tuple[dict[int, float], dict[int, int]]:
    from weightwatch.tui.widgets.charts import LossChart, NormChart

    from tests.fakes.fake_session import FakeSession, fake_config

    from .runs import live_ui

    session = FakeSession(fake_config(run_dir("charts"), epochs=10_000))
    cost, rss, done = {}, {}, 0
    async with live_ui(session) as (app, pilot):
        while not session.telemetry.layer_names:  # the fake has "started"
            await pilot.pause(0.01)
        layers = len(session.telemetry.layer_names)
        dashboard = app.dashboard
        charts = [dashboard.query_one(LossChart), dashboard.query_one(NormChart)]
        for size in SIZES:
            while done < size:  # redraw along the way, as the UI would while training
                step = min(size, done + 50_000)
                feed(session.telemetry, done, step, layers)
                done = step
                redraw_seconds(dashboard, charts)
                await pilot.pause()
            samples = []
            for _ in range(QUICK_REDRAWS if quick else REDRAWS):
                samples.append(redraw_seconds(dashboard, charts))
                await pilot.pause()
            cost[size] = median(samples)
            gc.collect()
            rss[size] = rss_bytes()
    return cost, rss


def main(quick: bool, rounds: int) -> list[Row]:
    del rounds
    cost, rss = asyncio.run(_measure(quick))
    rows = [
        Row(
            f"charts.redraw.{_k(n)}",
            f"chart round (both charts + layer table), {_k(n)} steps stored",
            f"{cost[n] * 1000:.1f} ms",
            "",
            cost[n] * 1000,
            f"{cost[n] * 1000:.1f} ms",
            "",
            None,
        )
        for n in SIZES
    ]
    flat = cost[SIZES[-1]] / cost[SIZES[0]]
    rows.append(
        Row(
            "charts.redraw.flat",
            "chart round at 1M steps / at 10k steps",
            f"{cost[SIZES[-1]] * 1000:.1f} ms",
            f"{cost[SIZES[0]] * 1000:.1f} ms",
            flat,
            f"{flat:.2f}x",
            "<= 2x",
            flat <= 2.0,
        )
    )
    grew = (rss[SIZES[-1]] - rss[SIZES[0]]) / 2**20
    rows.append(
        Row(
            "memory.rss",
            "RSS after 1M recorded steps - after 10k (store + charts)",
            f"{rss[SIZES[-1]] / 2**20:.1f} MB",
            f"{rss[SIZES[0]] / 2**20:.1f} MB",
            grew,
            f"{grew:+.1f} MB",
            "<= 10 MB",
            grew <= 10.0,
        )
    )
    return rows


def _k(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"
