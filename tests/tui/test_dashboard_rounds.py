"""How often the dashboard redraws while a short job trains (docs/performance.md): the UI thread
shares the GIL with training, so chart rounds are rationed, the status line refreshes once a
second, and only a new marker (a reset, a load, a pause) forces a round, at the very next tick.

The dashboard's clock is simulated: its timer is paused and the test ticks it every 0.25 s of
simulated time (the default 4 Hz), a chart round costing the UI thread what plotext costs beside
TensorFlow (30 ms; 4 ms for the placeholder before any point), the rest of the UI 0.4 % of wall.
So the counts are exact, whatever the machine's load."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
from weightwatch.engine.events import SessionState
from weightwatch.tui.screens import dashboard as dashboard_module
from weightwatch.tui.screens.dashboard import DashboardScreen
from weightwatch.tui.widgets.charts import NormChart
from weightwatch.tui.widgets.status import StatusBar

from tests.fakes.fake_session import FakeSession, fake_config

from .conftest import NOW, make_app, running

SIZE = (120, 40)
TICK = 0.25  # seconds: the dashboard's default refresh (4 Hz)
STEPS_PER_TICK = 10
EPOCHS, STEPS_PER_EPOCH = 12, 40  # 480 steps: a 12-second job at 40 steps/s
ROUND_COST, PLACEHOLDER_COST, BACKGROUND = 0.030, 0.004, 0.004


class Clock:
    """The dashboard's `time`: wall and UI-thread CPU seconds that the test moves on."""

    def __init__(self) -> None:
        self.wall, self.cpu = 1000.0, 10.0

    def perf_counter(self) -> float:
        return self.wall

    def thread_time(self) -> float:
        return self.cpu


@pytest.fixture
def simulated(monkeypatch, tmp_path):
    """A fake session, the app around it, the dashboard's simulated clock and its counts."""
    clock = Clock()
    monkeypatch.setattr(dashboard_module, "time", clock)
    counts = SimpleNamespace(rounds=[], states=[], statuses=[])
    set_interval, redraw, show = (
        DashboardScreen.set_interval,
        DashboardScreen.redraw_charts,
        StatusBar.show,
    )

    def paused_tick(self, interval, callback=None, **kw):
        timer = set_interval(self, interval, callback, **kw)
        if callback == self.tick:  # the test ticks instead
            timer.pause()
        return timer

    def counted_redraw(self) -> None:
        redraw(self)
        counts.rounds.append(clock.wall)
        counts.states.append(self.session.status().state)
        points = self.session.telemetry.last_x() is not None
        clock.cpu += ROUND_COST if points else PLACEHOLDER_COST

    def counted_show(self, status) -> None:
        before = self.shown
        show(self, status)
        if self.shown is not before:
            counts.statuses.append((clock.wall, status.session_step))

    monkeypatch.setattr(DashboardScreen, "set_interval", paused_tick)
    monkeypatch.setattr(DashboardScreen, "redraw_charts", counted_redraw)
    monkeypatch.setattr(StatusBar, "show", counted_show)
    config = fake_config(tmp_path / "run", epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)
    fake = FakeSession(config, clock=lambda: NOW)
    return SimpleNamespace(clock=clock, counts=counts, fake=fake, app=make_app(fake))


async def tick(pilot, sim, steps: int = STEPS_PER_TICK) -> None:
    """One refresh period: training moves on, then the dashboard's timer fires."""
    sim.clock.wall += TICK
    sim.clock.cpu += BACKGROUND * TICK
    sim.fake.step(steps)
    await pilot.pause()  # the session's messages (events, state changes) arrive first
    sim.app.dashboard.tick()
    await pilot.pause()


async def test_a_job_without_transitions_draws_a_round_per_two_seconds_and_one_at_the_end(
    simulated,
):
    sim = simulated
    async with sim.app.run_test(size=SIZE) as pilot:
        await running(pilot, sim.fake)
        start = sim.clock.wall
        while sim.fake.status().state is SessionState.RUNNING:
            await tick(pilot, sim)
        job = sim.clock.wall - start
        finished_at = sim.clock.wall
        await tick(pilot, sim, steps=0)
        await tick(pilot, sim, steps=0)
        rounds = list(zip(sim.counts.rounds, sim.counts.states, strict=True))
        during = [t for t, state in rounds if state is SessionState.RUNNING]
        after = [t for t, state in rounds if state is SessionState.FINISHED]
        assert job == pytest.approx(EPOCHS * STEPS_PER_EPOCH / STEPS_PER_TICK * TICK)
        assert 3 <= len(during) <= job / 2 + 1, during  # charts still move, rarely
        assert after == [finished_at]  # the last points, at once: the training no longer pays
        norm = sim.app.dashboard.query_one(NormChart)
        assert norm.traces[0].xs[-1] == EPOCHS * STEPS_PER_EPOCH
        # The counters keep moving at least once a second, and no more often than that.
        shown = [(t, step) for t, step in sim.counts.statuses if start < t <= start + job]
        assert job - 1 <= len(shown) <= job + 1, shown
        times = [start] + [t for t, _ in shown]
        assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= 1.0
        assert shown[0] == (start + TICK, STEPS_PER_TICK)  # the first trained step at once


async def test_a_reset_is_on_the_norm_chart_at_the_next_tick_even_right_after_a_round(simulated):
    sim = simulated
    async with sim.app.run_test(size=SIZE) as pilot:
        await running(pilot, sim.fake)
        while len(sim.counts.rounds) < 3:  # the budget's rounds are under way
            await tick(pilot, sim)
        sim.fake.rebuild(7)  # lands at the next batch boundary
        await tick(pilot, sim, steps=STEPS_PER_TICK)
        assert sim.counts.rounds[-1] == sim.clock.wall  # drawn at this very tick
        norm = sim.app.dashboard.query_one(NormChart)
        assert [m.label for m in norm.markers] == ["RESET"]
        assert any("RESET" in line.text for line in norm.build_lines())
        drawn = len(sim.counts.rounds)
        await tick(pilot, sim)  # a new point alone does not force the next round
        assert len(sim.counts.rounds) == drawn


async def test_events_that_draw_nothing_on_the_charts_force_no_round(simulated):
    """`started`, `finished` and a resume that continued draw no marker: none of them is a
    round of its own (a save is: its marker must show at the next tick)."""
    sim = simulated
    async with sim.app.run_test(size=SIZE) as pilot:
        await running(pilot, sim.fake)
        while len(sim.counts.rounds) < 3:
            await tick(pilot, sim)
        dashboard = sim.app.dashboard
        started = dashboard.events[0]
        assert started.kind == "started"
        step = sim.fake.status().session_step
        drawn = len(sim.counts.rounds)
        for kind, verdict in (("started", "fresh"), ("finished", None), ("resume", "continued")):
            dashboard.add_event(replace(started, kind=kind, verdict=verdict, session_step=step))
            await tick(pilot, sim, steps=0)
        assert len(sim.counts.rounds) == drawn and dashboard.markers == []
        dashboard.add_event(replace(started, kind="checkpoint_saved", session_step=step))
        await tick(pilot, sim, steps=0)
        assert len(sim.counts.rounds) == drawn + 1
        assert [m.label for m in dashboard.query_one(NormChart).markers] == ["save"]
