"""Pause latency: from the pause command (the dashboard's pause action, as the `p` key runs it) to
the training thread parked, in batches and milliseconds, with the dashboard live.

Batches: session steps trained after the command was sent (the batch already running when the
command arrives must finish: that is the 1 the target allows). Milliseconds: until the engine
recorded the `pause` event, which it does on the training thread once it has stopped between
batches.
"""

from __future__ import annotations

import asyncio
import random
import time

from .common import Row, config, median
from .runs import live_ui

TRIALS, QUICK_TRIALS = 12, 2


async def _trials(model: str, trials: int) -> list[tuple[int, float]]:
    from weightwatch.engine.session import Session

    cfg = config(model, epochs=5000)  # never finished before the last trial (JAX is fast)
    session = Session(cfg, run_dir=cfg.run.run_dir)
    start = session.hold_at_step(5)  # past the first step's tracing
    rng = random.Random(0)
    got = []
    async with live_ui(session) as (app, _):
        await asyncio.wrap_future(start)
        session.release()
        for _ in range(trials):
            await asyncio.sleep(rng.uniform(0.15, 0.4))  # land anywhere inside a batch
            before, sent = session.status().session_step, time.time()  # live while running
            app.action_toggle_pause()
            await asyncio.wrap_future(app.sent[-1][1])
            event = next(e for e in reversed(session.events()) if e.kind == "pause")
            got.append((event.session_step - before, (event.time - sent) * 1000))
            app.action_toggle_pause()  # resume
            await asyncio.wrap_future(app.sent[-1][1])
    return got


def main(quick: bool, rounds: int) -> list[Row]:
    del rounds  # trials, not rounds: every pause is one sample
    rows = []
    for model, words in (("reference", "reference MLP"), ("heavy", "Conv1D ~20 ms steps")):
        got = asyncio.run(_trials(model, QUICK_TRIALS if quick else TRIALS))
        batches, ms = [b for b, _ in got], [m for _, m in got]
        worst = max(batches)
        rows.append(
            Row(
                f"pause.{model}",
                f"pause latency, {words}, {len(got)} pauses",
                f"batches {min(batches)}-{worst}, median {median(ms):.1f} ms, max {max(ms):.1f} ms",
                "",
                worst,
                f"max {worst} batch",
                "<= 1 batch",
                worst <= 1,
            )
        )
    return rows
