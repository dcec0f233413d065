"""Reset visibility: from the rebuild command (what the rebuild dialog sends on Enter) to the
norm chart drawing the jump back to the fresh-init level, with the real engine and the dashboard.

Three times per trial: the command landing (the engine recorded `rebuilt`, at the next batch
boundary), the chart drawing its RESET marker, and the chart drawing the jump itself (its norm
line reaches the fresh model's norm at or after the rebuild's step). The target is about the UI:
once the reset has happened, the next UI refresh shows it.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import contextmanager

from .common import Row, config, median
from .runs import live_ui

TRIALS, QUICK_TRIALS = 3, 1


@contextmanager
def watching_norm_chart(seen: dict):
    """Note the first time the norm chart draws the reset marker and the jump in `seen`
    (`seen["event"]` is the `rebuilt` event to look for, set once it exists)."""
    from weightwatch.tui.widgets.charts import NormChart

    original = NormChart.build_lines

    def build_lines(self):
        result = original(self)
        event, now = seen.get("event"), time.perf_counter()
        if event is not None:
            if "marker" not in seen and any(
                m.x == event.session_step and "RESET" in m.label for m in self.markers
            ):
                seen["marker"] = now
            if "jump" not in seen and _shows_jump(self.traces, event):
                seen["jump"] = now
        return result

    NormChart.build_lines = build_lines
    try:
        yield seen
    finally:
        NormChart.build_lines = original


def _shows_jump(traces, event) -> bool:
    """Whether a line reaches the fresh model's norm late in the run. Decimated lines put a
    column's minimum at the column's first step, which can lie a little before the rebuild's
    step; the first half of the run is left out instead (only its start is near fresh init)."""
    gap = abs(event.norm_before - event.norm_after)
    return any(
        x >= event.session_step / 2 and abs(y - event.norm_after) <= 0.1 * gap
        for trace in traces
        for x, y in zip(trace.xs, trace.ys, strict=False)
    )


async def _trial(seed: int, quick: bool) -> dict:
    from weightwatch.engine.session import Session
    from weightwatch.tui.screens.dialogs import RebuildChoice

    cfg = config("reference", epochs=50)
    session = Session(cfg, run_dir=cfg.run.run_dir)
    # A trained model, whose norm is well above a fresh one's.
    start = session.hold_at_step(600 if quick else 1500)
    seen: dict = {}
    with watching_norm_chart(seen):
        async with live_ui(session) as (app, _):
            await asyncio.wrap_future(start)
            session.release()
            await asyncio.sleep(0.3 if quick else 1.0)  # charts settled into their rhythm
            sent = time.perf_counter()
            app._rebuild(RebuildChoice(seed=seed))  # what the rebuild dialog's Enter does
            await asyncio.wrap_future(app.sent[-1][1])
            landed = time.perf_counter()
            seen["event"] = next(e for e in reversed(session.events()) if e.kind == "rebuilt")
            deadline = landed + 10
            while "jump" not in seen and time.perf_counter() < deadline:
                await asyncio.sleep(0.005)
            period = 1.0 / app.dashboard.refresh_hz
    return {
        "landed": landed - sent,
        "marker": seen.get("marker", float("nan")) - sent,
        "jump": seen.get("jump", float("nan")) - sent,
        "ui": seen.get("jump", float("nan")) - landed,
        "period": period,
    }


def main(quick: bool, rounds: int) -> list[Row]:
    del rounds
    got = [asyncio.run(_trial(100 + k, quick)) for k in range(QUICK_TRIALS if quick else TRIALS)]
    ms = {k: median([g[k] for g in got]) * 1000 for k in ("landed", "marker", "jump", "ui")}
    period = got[0]["period"] * 1000
    refreshes = ms["ui"] / period
    return [
        Row(
            "reset.visible",
            f"rebuild command to the norm chart showing the jump, median of {len(got)}",
            f"{ms['jump']:.0f} ms (landed {ms['landed']:.0f} ms, marker {ms['marker']:.0f} ms, "
            f"jump drawn {ms['ui']:.0f} ms after landing)",
            f"UI refresh {period:.0f} ms",
            refreshes,
            f"{refreshes:.2f} refreshes",
            "<= 1 refresh after landing",
            refreshes <= 1.0 if refreshes == refreshes else False,
        )
    ]
