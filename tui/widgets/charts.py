"""The loss and weight-norm charts: plotext plots over session steps, a marker at every event.

Marker labels sit in a lane above the plot, the legend beside the title, so that neither ever
covers a trace; non-finite values are left out of the scale and marked ("nan") where they begin
(chart_layout.py has the arithmetic).

plotext (through textual-plotext's `Plot`) is imported when a chart first has points to draw, not
when the dashboard is built: until then a chart shows its title and what it is waiting for, and
the first frame comes ~30 ms sooner (docs/performance.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any, ClassVar

from rich.style import Style
from textual.app import RenderResult
from textual.content import Content
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget
from weightwatch.engine import events as ev
from weightwatch.engine.telemetry import TelemetryStore
from weightwatch.tui.widgets.chart_layout import (
    X_AXIS_ROWS,
    Y_AXIS_COLUMNS,
    Label,
    column_of,
    finite_runs,
    lane_cells,
    lane_rows,
    nice_ticks,
    place_labels,
    title_cells,
    y_axis,
)
from weightwatch.tui.widgets.chart_view import ChartView, log_axis, log_runs, smoothed, windowed
from weightwatch.tui.widgets.plot_text import cells_strip, plot_strips
from weightwatch.tui.widgets.theme import NEUTRAL, theme_color, theme_rgb, verdict_variable

KIND_LABELS = {
    "pause": "⏸",
    "callbacks_changed": "cb",
    "checkpoint_saved": "save",
    "checkpoint_loaded": "load",
    "rebuilt": "RESET",
    "recompiled": "opt",
    "lr_changed": "lr",
    "weights_changed": "alt",  # a user's callback changed the weights (verdict altered)
    "error": "err",
    "diverged": "NaN",
}
# A resume only gets a marker when it did something to the weights (the lineage says so).
RESUME_LABELS = {ev.RESTORED: "load", ev.RESET: "RESET", ev.OPTIMIZER_RESET: "opt"}
HOLE_COLOUR = "error"  # where a trace turns nan or inf
SMOOTH_COLOUR = "warning"
MAX_HOLES = 3  # marked per trace: a loss that keeps flipping to nan must not fill the lane


@dataclass(frozen=True)
class Marker:
    """A vertical line with a short label at an event's session step."""

    x: float
    label: str
    verdict: str | None = None


def markers_for(events: Iterable[ev.Event]) -> list[Marker]:
    """The chart markers for a list of events; events at the same step share one marker."""
    markers: list[Marker] = []
    for event in events:
        if event.kind == "resume":
            label = RESUME_LABELS.get(event.verdict or "")
        else:
            label = KIND_LABELS.get(event.kind)
        if not label:
            continue
        if markers and markers[-1].x == event.session_step:
            last = markers.pop()
            if label not in last.label.split(" "):
                label = f"{last.label} {label}"
            else:
                label = last.label
            verdict = event.verdict or last.verdict
        else:
            verdict = event.verdict
        markers.append(Marker(event.session_step, label, verdict))
    return markers


def marker_colour(marker: Marker) -> str:
    return verdict_variable(marker.verdict) if marker.verdict else NEUTRAL


@dataclass(frozen=True)
class Trace:
    """One line to draw: its legend label, points and theme colour variable."""

    label: str
    xs: list
    ys: list
    colour: str


class TimelineChart(Widget):
    """A chart over session steps; subclasses name the series it draws.

    Top to bottom: the title and legend, the label lane (one or two rows: chart_layout.py), then
    a plotext figure (textual-plotext's `Plot`, made on first use, in a plotext theme made from
    the app's theme) with exactly `Y_LABEL_WIDTH` columns of y labels on every chart. The marker
    lines are drawn in the figure, under the traces; their labels only in the lane."""

    DEFAULT_CSS = """
    TimelineChart { width: 1fr; height: 1fr; }
    """
    TITLE: ClassVar[str] = ""
    SERIES: ClassVar[tuple[tuple[str, str, str], ...]] = ()  # (series, legend, colour variable)
    WAITING: ClassVar[str] = "waiting for the first training step…"
    LOG_SCALE: ClassVar[bool] = False  # whether the view's log scale applies to this chart
    SMOOTHED: ClassVar[str | None] = None  # the legend label of the trace a smoothed one follows

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._plot: Any = None
        self.traces: list[Trace] = []
        self.markers: list[Marker] = []
        self.holes: list[tuple[float, str]] = []
        """Where a trace's values stop being finite, and what they were ("nan", "inf")."""
        self.y_data: tuple[float, float] | None = None
        """The finite values' range (what the y axis covers), None when there are none."""
        self.x_range: tuple[float, float] = (0.0, 1.0)
        self.view = ChartView()
        """Window, log scale, smoothing: set by the app's keys (chart_view.change_view)."""
        self.last_cost = 0.0
        """Seconds the last build of the lines (plotext's build included) took."""
        self._runs: list[tuple[Trace, list]] = []  # each trace's finite stretches
        self._version = 0  # bumped by every replot
        self._lines: list[Strip] = []
        self._lines_key: tuple | None = None

    def on_mount(self) -> None:
        # A replot, not just a refresh: the traces' and markers' colours come from the theme.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.replot())

    @property
    def plt(self) -> Any:
        """This chart's plotext figure (textual-plotext's `Plot`), made on first use."""
        if self._plot is None:
            from textual_plotext.plot import Plot  # imports plotext: ~30 ms, once

            self._plot = Plot()
        return self._plot

    @property
    def has_points(self) -> bool:
        return any(trace.xs for trace in self.traces)

    def pull(
        self, telemetry: TelemetryStore, x_range: tuple[float, float], markers: list[Marker]
    ) -> None:
        """Read this chart's series, decimated to its width, and redraw."""
        width = max(8, self.size.width - Y_AXIS_COLUMNS)
        lo, hi = windowed(x_range, self.view, telemetry.last_x())
        self.traces = []
        for name, label, colour in self.series(telemetry.layer_names):
            xs, ys = telemetry.window(name, lo, hi, width)
            self.traces.append(Trace(label, xs, ys, colour))
        self.markers = [m for m in markers if lo <= m.x <= hi]
        self.x_range = (lo, max(hi, lo + 1))
        self.replot()

    def replot(self) -> None:
        """Draw the stored traces (their finite stretches) and marker lines through `plt`."""
        self._version += 1
        self._split()
        if not self.has_points:  # the placeholder, no plotext
            self.refresh()
            return
        plt = self.plt
        plt.clear_data()
        self._prepare(max(1, self.size.height - self.head_rows()))
        for x, variable in self._lines_at():  # first, so that the traces are drawn over them
            plt.vline(x, color=theme_rgb(self.app, variable))
        for trace, runs in self._runs:
            for xs, ys in runs:
                plt.plot(xs, ys, marker="braille", color=theme_rgb(self.app, trace.colour))
        if not any(runs for _, runs in self._runs):
            # Nothing finite to draw: one point below the frame, so that plotext still draws
            # the axes (and the y labels that keep this chart aligned with the other).
            plt.plot([self.x_range[0]], [-1.0], marker="braille")
        self.refresh()

    def _split(self) -> None:
        """Each trace's finite stretches, the range they cover, and where the rest were."""
        values: list[float] = []
        self._runs, self.holes = [], []
        for trace in self.traces:
            runs, holes = finite_runs(trace.xs, trace.ys)
            runs = log_runs(runs) if self.log_scale else runs
            self._runs.append((trace, runs))
            self.holes.extend(holes[:MAX_HOLES])
            if self.view.smooth and trace.label == self.SMOOTHED:
                follow = Trace("smoothed", [], [], SMOOTH_COLOUR)
                self._runs.append((follow, [smoothed(xs, ys) for xs, ys in runs]))
            values.extend(y for _, ys in runs for y in (min(ys), max(ys)))
        self.y_data = (min(values), max(values)) if values else None

    def _lines_at(self) -> list[tuple[float, str]]:
        """(step, colour variable) of every vertical line: the markers, then the holes."""
        lines = [(m.x, marker_colour(m)) for m in self.markers]
        return lines + [(x, HOLE_COLOUR) for x, _ in self.holes]

    def lane_labels(self, width: int) -> list[Label]:
        """The labels for the lane at this width: every marker's, and "nan"/"inf" where a trace
        stops being finite (unless a NaN marker already says so in that column)."""
        labels = [
            Label(column_of(m.x, self.x_range, width), m.label, marker_colour(m))
            for m in self.markers
        ]
        said = {label.column for label in labels if "NaN" in label.text}
        for x, text in self.holes:
            column = column_of(x, self.x_range, width)
            if column not in said:
                labels.append(Label(column, text, HOLE_COLOUR))
        return labels

    def head_rows(self) -> int:
        """The rows above the figure: the title row and the label lane."""
        height = self.size.height
        return 1 + lane_rows(height) if height >= 2 else 0

    def render_line(self, y: int) -> Strip:
        """Textual's Line API: the lines come straight from plotext's cells, built once per
        replot, size and theme (never through `Text` and Textual's conversion of it)."""
        key = (self.size, self._version, self.app.theme)
        if key != self._lines_key:
            self._lines, self._lines_key = self.build_lines(), key
        if y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)

    def build_lines(self) -> list[Strip]:
        """Build the figure at the widget's size and theme and return its screen lines."""
        start = time.perf_counter()
        width, height = self.size
        if not self.has_points:  # nothing to plot yet: no plotext either
            lines = Visual.to_strips(
                self, visualize(self, self.waiting()), width, height, self.visual_style, pad=True
            )
        else:
            head = self.head_rows()
            self._prepare(height - head)
            base = self.visual_style.rich_style
            try:
                plot = plot_strips(self.plt, base, width, height - head, head)
            except AttributeError:  # a plotext without these internals: the ANSI way
                text = visualize(self, self._ansi_text())
                plot = Visual.to_strips(self, text, width, height - head, self.visual_style)
            lines = self._head_strips(width, head) + plot
        self.last_cost = time.perf_counter() - start
        return lines

    def _head_strips(self, width: int, head: int) -> list[Strip]:
        """The title row (title and legend) and the lane rows, in the figure's colours."""
        if not head:
            return []
        rows = head - 1
        lane = lane_cells(place_labels(self.lane_labels(width), width, rows), width, rows)
        styles: dict[str, Style] = {}
        base = self.visual_style.rich_style
        return [
            cells_strip(self._runs_of(cells, styles), base, width, y)
            for y, cells in enumerate([title_cells(self.title(), self._legend(), width), *lane])
        ]

    def _legend(self) -> list[tuple[str, str]]:
        return [(trace.label, trace.colour) for trace, runs in self._runs if runs or trace.xs]

    @property
    def log_scale(self) -> bool:
        """Not `log`: that name is Textual's logger on every widget."""
        return self.LOG_SCALE and self.view.log_loss

    def series(self, layer_names: list[str]) -> tuple[tuple[str, str, str], ...]:
        """(telemetry series, legend, colour variable) of what this chart draws now."""
        return self.SERIES

    def heading(self) -> str:
        return self.TITLE

    def title(self) -> str:
        """The title, and what the view changes ("loss · last 500 steps · log")."""
        changes = self.view.describe(log=self.LOG_SCALE, smooth=self.SMOOTHED is not None)
        return f"{self.heading()} · {changes}" if changes else self.heading()

    def _runs_of(self, cells: list[tuple[str, str]], styles: dict) -> list[tuple[str, Style]]:
        """Cells grouped into runs of one colour, each styled on the figure's own surface."""
        runs = []
        for variable, group in groupby(cells, key=itemgetter(1)):
            style = styles.get(variable)
            if style is None:
                colour = theme_color(self.app, variable or "foreground").rich_color
                surface = theme_color(self.app, "surface").rich_color
                style = styles[variable] = Style(color=colour, bgcolor=surface)
            runs.append(("".join(char for char, _ in group), style))
        return runs

    def waiting(self) -> Content:
        """The title and, a few lines down, what the chart is waiting for."""
        width = self.size.width
        return Content("\n").join(
            [
                Content(self.TITLE).center(width),
                Content(),
                Content(),
                Content.styled(self.WAITING, "$text-muted").center(width),
            ]
        )

    def _ansi_text(self) -> RenderResult:
        from rich.text import Text

        return Text.from_ansi(self.plt.build())

    def _prepare(self, height: int) -> None:
        """Size, theme and axes of the figure, `height` rows of the widget's width: the y axis
        on round rows over the finite values, the x axis over the shared session-step range."""
        plt = self.plt
        width = self.size.width
        plt.plotsize(width, height)
        plt._set_size(width, height)  # as PlotextPlot.render does
        plt.theme(self._plotext_theme())
        axis = (log_axis if self.log_scale else y_axis)(
            *(self.y_data or (0.0, 1.0)), max(1, height - X_AXIS_ROWS)
        )
        plt.ylim(axis.lo, axis.hi)
        plt.yticks(axis.ticks, axis.labels)
        plt.xlim(*self.x_range)
        plt.xticks(nice_ticks(*self.x_range))

    def _plotext_theme(self) -> str:
        """A plotext theme in the app theme's surface and foreground colours, registered with
        plotext the first time (what PlotextPlot's "auto" theme does)."""
        from plotext._dict import themes
        from textual.color import Color
        from textual_plotext.plot import _rgbify_theme, _sequence

        name = f"textual-auto-{self.app.theme}"
        if name not in themes:
            variables = self.app.theme_variables
            surface = Color.parse(variables.get("surface")).rgb
            foreground = Color.parse(variables.get("foreground")).rgb
            palette: list = list(_sequence)  # plotext's colour sequence, as its own type says
            themes[name] = _rgbify_theme(surface, surface, foreground, "default", palette)
        return name


class LossChart(TimelineChart):
    """Training loss per batch and validation loss at epoch ends."""

    TITLE = "loss"
    SERIES = (("loss", "train", "primary"), ("val_loss", "validation", "accent"))
    LOG_SCALE = True
    SMOOTHED = "train"


class NormChart(TimelineChart):
    """The global L2 norm of the trainable weights: continuous, or a jump where they changed."""

    TITLE = "global weight norm (L2)"
    SERIES = (("global_norm", "norm", "primary"),)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.layer_name: str | None = None  # the layer shown (the view's `layer`), by name

    def series(self, layer_names: list[str]) -> tuple[tuple[str, str, str], ...]:
        i = self.view.layer
        if i is None or i >= len(layer_names):
            self.layer_name = None
            return self.SERIES
        self.layer_name = layer_names[i]
        return ((f"layer/{i}", layer_names[i], "primary"),)

    def heading(self) -> str:
        return f"weight norm (L2) of {self.layer_name}" if self.layer_name else self.TITLE
