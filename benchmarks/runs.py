"""The three ways to train one config that the overhead benchmark compares, and the live UI.

- `plain_fit`: `model.fit(x, y, verbose=0)` with the config's model, data, batch size,
  validation data and shuffling, no callbacks: what a person would write without weightwatch.
- `engine_run`: the weightwatch `Session` alone (training thread, probe, telemetry, run logs).
- `ui_run`: the same session driven by the dashboard, as `weightwatch run --headless` does
  (`WeightwatchApp` in Textual's headless driver, a 120x40 screen, charts redrawing).

Each trains `warm` epochs first (tracing, first-epoch costs), then `measured` epochs, and returns
the steps/s and CPU seconds per step of the measured part only.
"""

from __future__ import annotations

import math
import time
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace

from .common import run_dir, stamp

SIZE = (120, 40)


@dataclass
class Timing:
    steps: int
    wall: float
    cpu: float
    redraws: int | None = None  # charts drawn during the measured part (UI runs)
    ui_cpu: float | None = None  # CPU seconds of the UI thread (Textual's loop) in that part

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.wall

    @property
    def cpu_per_step(self) -> float:
        return self.cpu / self.steps


def plain_fit(cfg, warm: int, measured: int, same_feed: bool = False) -> Timing:
    """Plain `fit`; with `same_feed`, on the engine's own tf.data feed instead of the arrays (the
    same input pipeline as weightwatch, so that only the monitoring differs)."""
    import keras
    from weightwatch.engine.check import load_data, resolve_import

    x, y, xv, yv = load_data(cfg)
    keras.utils.set_random_seed(cfg.run.seed)
    model = resolve_import(cfg.model.builder, "[model].builder", cfg.path)(**cfg.model.params)
    optimizer = keras.optimizers.get(cfg.compile.optimizer)
    if cfg.compile.learning_rate is not None:
        optimizer.learning_rate = cfg.compile.learning_rate
    model.compile(
        optimizer=optimizer, loss=cfg.compile.loss, metrics=list(cfg.compile.metrics) or None
    )
    kw = {
        "batch_size": cfg.data.batch_size,
        "shuffle": cfg.data.shuffle,
        "verbose": 0,
        "validation_data": (xv, yv) if xv is not None else None,
    }
    steps = math.ceil(len(x) / cfg.data.batch_size)
    data: tuple = (x, y)
    if same_feed:
        from weightwatch.engine.data import BatchFeed

        feed = BatchFeed(
            x,
            y,
            batch_size=cfg.data.batch_size,
            seed=cfg.run.seed,
            shuffle=cfg.data.shuffle,
            steps_per_epoch=cfg.train.steps_per_epoch,
        )
        steps = feed.steps_per_epoch
        data = (feed.dataset(0, 0, warm + measured),)
        kw = {**kw, "steps_per_epoch": steps, "shuffle": False}
        del kw["batch_size"]
    model.fit(*data, epochs=warm, **kw)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(*data, epochs=warm + measured, initial_epoch=warm, **kw)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Timing(measured * steps, wall, cpu)


def _session(cfg, warm: int, measured: int):
    from weightwatch.engine.session import Session

    cfg = replace(cfg, train=replace(cfg.train, epochs=warm + measured))
    session = Session(cfg, run_dir=run_dir("session"))
    return session, session.hold_at_epoch(warm), session.hold_when_finished()


def engine_run(cfg, warm: int, measured: int) -> Timing:
    session, start, finished = _session(cfg, warm, measured)
    end = stamp(finished)
    session.start()
    first = start.result(600)
    wall, cpu = time.perf_counter(), time.process_time()
    session.release()
    last = finished.result(600)
    session.stop().result(120)
    session.stopped.wait(120)
    return Timing(last - first, end["wall"] - wall, end["cpu"] - cpu)


@contextmanager
def counting_redraws():
    """Count the charts drawn (`build_lines` calls of the loss and norm charts) while the block
    runs: proof that the UI was really drawing during a measurement."""
    from weightwatch.tui.widgets.charts import TimelineChart

    count = [0]
    original = TimelineChart.build_lines

    def build_lines(self, *args, **kwargs):
        count[0] += 1
        return original(self, *args, **kwargs)

    TimelineChart.build_lines = build_lines
    try:
        yield count
    finally:
        TimelineChart.build_lines = original


@asynccontextmanager
async def live_ui(session):
    """The dashboard around `session` in Textual's headless driver, as `--headless` runs it."""
    from weightwatch.tui.app import WeightwatchApp

    app = WeightwatchApp(session, handle_signals=False)
    async with app.run_test(headless=True, size=SIZE, notifications=True) as pilot:
        yield app, pilot
        if not app.finished.is_set():
            await pilot.press("q")
            await app.finished.wait()


async def ui_run(cfg, warm: int, measured: int) -> Timing:
    import asyncio

    session, start, finished = _session(cfg, warm, measured)
    end = stamp(finished)
    with counting_redraws() as redraws:
        async with live_ui(session):
            first = await asyncio.wrap_future(start)
            before, ui = redraws[0], time.thread_time()  # this thread runs the whole UI
            wall, cpu = time.perf_counter(), time.process_time()
            session.release()
            last = await asyncio.wrap_future(finished)
            drawn, ui = redraws[0] - before, time.thread_time() - ui
    return Timing(last - first, end["wall"] - wall, end["cpu"] - cpu, drawn, ui)
