"""The main screen: status, verdict banner, charts, per-layer norms and the event log.

Data is pulled, never pushed: a timer at the refresh rate reads `session.status()` for the status
line (once a second while training), and the charts redraw only when the telemetry or the markers
changed and the redraw budget allows it; a new marker is drawn at the next tick. Events arrive as
messages from the app and go to the log, the banner and the chart markers. The UI thread shares
the GIL with training: on the 5-second benchmark job it takes ~1 % of wall time
(benchmarks/ui_cost.py, docs/performance.md).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header
from weightwatch.engine import events as ev
from weightwatch.tui import bindings
from weightwatch.tui.widgets.banner import VerdictBanner
from weightwatch.tui.widgets.budget import RedrawBudget
from weightwatch.tui.widgets.charts import LossChart, Marker, NormChart, TimelineChart, markers_for
from weightwatch.tui.widgets.event_log import EventLog
from weightwatch.tui.widgets.footer import KeysFooter
from weightwatch.tui.widgets.layers import LayerNorms
from weightwatch.tui.widgets.log_pane import UserLogPane
from weightwatch.tui.widgets.status_fit import FittedStatusBar

if TYPE_CHECKING:
    from weightwatch.engine.api import SessionAPI

BINDINGS = bindings.BINDINGS  # from the command registry (engine/commands.py)


PARKED = (ev.SessionState.PAUSED, ev.SessionState.FINISHED)
STATUS_PERIOD_RUNNING = 1.0  # seconds between status refreshes while training
SHORT_BELOW = 30  # rows: a shorter terminal gets the compact layout


class DashboardScreen(Screen[None]):
    """Everything a person watches while the model trains."""

    BINDINGS = BINDINGS
    # Below 30 rows (80x24) the header goes and the banner and tour caption take one row less
    # each, so that each chart keeps room to plot (app.tcss).
    VERTICAL_BREAKPOINTS = [(0, "-short"), (SHORT_BELOW, "-tall")]

    def __init__(self, session: SessionAPI, *, refresh_hz: float, chart_window: int) -> None:
        super().__init__(id="dashboard")
        self.session = session
        self.refresh_hz = min(4.0, max(0.2, refresh_hz))
        self.chart_window = chart_window
        self.budget = RedrawBudget(base_interval=1.0 / self.refresh_hz)
        self.events: list[ev.Event] = []
        self.markers: list[Marker] = []
        self.banner_event: ev.Event | None = None
        self._drawn_key: tuple | None = (0, 0)  # no point, no marker: compose drew that
        self._event_waiting = False  # a marker changed since the last chart round
        self._round_cpu: float | None = None  # UI-thread CPU time when the last round began
        self._last_tick: tuple[float, float] | None = None  # (CPU, wall) at the last tick
        self._status_shown = -float("inf")  # when the status line was last refreshed
        self._status_period = max(0.0, STATUS_PERIOD_RUNNING - 0.5 / self.refresh_hz)
        self._step_shown = 0  # the session step the status line shows
        self._markers_version = 0  # bumped when the markers change: they are part of a round
        # Events can arrive before the screen is mounted (a session that stops at once): until
        # `on_mount` replays the session's history, which holds them, they are left to it.
        self._replaying = True

    def compose(self) -> ComposeResult:
        yield Header()
        yield FittedStatusBar(id="status-bar")
        yield VerdictBanner(id="banner")
        with Horizontal(id="main"):
            with Vertical(id="charts"):
                yield LossChart(id="loss-chart")
                yield NormChart(id="norm-chart")
            with Vertical(id="side"):
                yield LayerNorms(id="layers")
                yield EventLog(id="event-log", wrap=True, min_width=20, max_lines=2000)
                yield UserLogPane(self.session.run_dir, id="user-log")  # hidden until `u`
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#layers").border_title = "layer norms (L2)"
        self.query_one("#event-log").border_title = "events"
        self._replaying = False
        for event in self.session.events():
            self.add_event(event, banner=False)
        self.set_interval(1.0 / self.refresh_hz, self.tick)

    def on_resize(self, event: events.Resize) -> None:
        self._drawn_key = None  # decimate again for the new width

    def tick(self, force: bool = False) -> None:
        """Status at every tick (once a second while training); charts when their data changed
        and the budget allows, at once for a new marker or while training is parked."""
        cpu, wall = time.thread_time(), time.perf_counter()
        if self._round_cpu is not None:  # the last round's replot and repaint are done by now
            self.budget.record(cpu - self._round_cpu)
            self._round_cpu = None
        elif self._last_tick is not None:  # no chart round since the last tick: background
            self.budget.record_background(cpu - self._last_tick[0], wall - self._last_tick[1])
        self._last_tick = (cpu, wall)
        self.query_one(UserLogPane).pull()  # a stat() while shown; nothing while hidden
        status = self.session.status()
        running = status.state is ev.SessionState.RUNNING
        # A status refresh costs the UI thread ~5 ms (its frame included) and the counters
        # change at every one: while training, once a second keeps them moving for a quarter
        # of what 4 Hz costs the training's steps/s. (Half a tick of slack: a timer that fires
        # a little early must not push the refresh to the tick after.)
        # The first trained step shows at once (`startup.first_step` measures it).
        first = self._step_shown == 0 < status.session_step
        shown = force or not running or first or wall - self._status_shown >= self._status_period
        if shown:
            self._status_shown = wall
            self.show_status(status)
        key = (self.session.telemetry.version, self._markers_version)
        # A new marker (a reset, a load, a pause) is drawn at the next tick whatever the budget
        # says: a reset must show within one refresh (docs/performance.md). Events that draw
        # nothing on the charts (`started`, `finished`, a resume that continued) wait like new
        # points do. While training is parked a round costs it nothing; while it runs, rounds
        # come with a status refresh, so that both repaint in one frame.
        changed = key != self._drawn_key
        if (
            force
            or self._event_waiting
            or (changed and (not running or (shown and self.budget.due(wall))))
        ):
            self._drawn_key, self._event_waiting = key, False
            self.redraw_charts()

    def show_status(self, status: ev.Status | None = None) -> None:
        """The status line and epoch progress from `status` or a fresh `session.status()`."""
        status = self.session.status() if status is None else status
        self._step_shown = status.session_step
        for bar in self.query(FittedStatusBar):  # none while the app closes
            bar.show(status)
        for footer in self.query(KeysFooter):  # p's short label says what p does now
            footer.parked = status.state in PARKED

    def redraw_charts(self) -> None:
        telemetry = self.session.telemetry
        self.budget.start_round(time.perf_counter())
        self._round_cpu = time.thread_time()  # this thread: Textual's loop, where all UI runs
        x_range = self.x_range()
        with self.app.batch_update():
            for chart in self.query("#charts > *").results(TimelineChart):
                chart.pull(telemetry, x_range, self.markers)
            self.query_one(LayerNorms).pull(telemetry, x_range)

    def x_range(self) -> tuple[float, float]:
        last = self.session.telemetry.last_x() or 0.0
        first = max(0.0, last - self.chart_window) if self.chart_window else 0.0
        room = max(1.0, 0.06 * (last - first))  # so that a marker at the newest step shows
        return first, last + room

    def add_event(self, event: ev.Event, banner: bool = True) -> None:
        """Log the event, mark it on the charts and, if it has a verdict, show the banner."""
        if self._replaying or event in self.events[-8:]:  # the replay has it, or had it
            return
        self.events.append(event)
        markers = markers_for(self.events)
        if markers != self.markers:  # only a new or relabelled marker needs a round at once
            self.markers = markers
            self._markers_version += 1
            self._event_waiting = True
        logs = self.query(EventLog)
        if not logs:  # the screen is being taken down (the app is leaving)
            return
        logs.first().add_event(event)
        if not event.verdict:
            return
        if not banner:
            self.query_one(VerdictBanner).remember(event)
        elif not self._repeats_banner(event):
            self.query_one(VerdictBanner).show_event(event)
            self.banner_event = event

    def _repeats_banner(self, event: ev.Event) -> bool:
        """A resume right after transitions made while paused keeps the banner of the last one:
        that is what the user just did. (Its own verdict folds them all: after a rebuild and a
        recompile it says `reset`, which the event log shows, but the banner then names the
        recompile's `optimizer_reset`, as the person expects.)"""
        shown = self.banner_event
        return (
            event.kind == "resume"
            and shown is not None
            and shown.kind != "resume"
            and shown.session_step == event.session_step
        )
