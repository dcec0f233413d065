"""The loss and weight-norm charts: plotext plots over session steps, a marker at every event.

plotext (through textual-plotext's `Plot`) is imported when a chart first has points to draw, not
when the dashboard is built: until then a chart shows its title and what it is waiting for, and
the first frame comes ~30 ms sooner (docs/performance.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from textual.app import RenderResult
from textual.content import Content
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget
from weightwatch.engine import events as ev
from weightwatch.engine.telemetry import TelemetryStore
from weightwatch.tui.widgets.plot_text import plot_strips
from weightwatch.tui.widgets.theme import NEUTRAL, theme_rgb, verdict_variable

KIND_LABELS = {
    "pause": "⏸",
    "callbacks_changed": "cb",
    "checkpoint_saved": "save",
    "checkpoint_loaded": "load",
    "rebuilt": "RESET",
    "recompiled": "opt",
    "lr_changed": "lr",
    "error": "err",
    "diverged": "NaN",
}
# A resume only gets a marker when it did something to the weights (the lineage says so).
RESUME_LABELS = {ev.RESTORED: "load", ev.RESET: "RESET", ev.OPTIMIZER_RESET: "opt"}
Y_AXIS_COLUMNS = 10  # what plotext's y labels and frame take from the width


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


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[int]:
    """About `count` round integer ticks (session steps) between lo and hi."""
    span = max(1.0, hi - lo)
    raw = span / count
    magnitude = 10 ** max(0, len(str(int(raw))) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = int(-(-lo // step) * step)
    return list(range(first, int(hi) + 1, int(step)))


def label_rows(
    markers: list[Marker], x_range: tuple[float, float], columns: int, rows: int = 3
) -> list[tuple[int, str]]:
    """(row, alignment) for each marker's label so that neighbouring labels do not overlap.

    Labels sit right of their line (left of it near the right edge), on the top row when there
    is room, else one row down, up to `rows` rows.
    """
    x_lo, x_hi = x_range
    ends = [-2] * rows  # the last column used on each row
    placed = []
    for marker in markers:
        column = round((marker.x - x_lo) / max(1e-9, x_hi - x_lo) * (columns - 1))
        align = "right" if column > 0.8 * columns else "left"
        start = column - len(marker.label) + 1 if align == "right" else column
        row = next(
            (r for r in range(rows) if ends[r] < start - 1), min(range(rows), key=ends.__getitem__)
        )
        ends[row] = max(ends[row], start + len(marker.label) - 1)
        placed.append((row, align))
    return placed


@dataclass(frozen=True)
class Trace:
    """One line to draw: its legend label, points and theme colour variable."""

    label: str
    xs: list
    ys: list
    colour: str


class TimelineChart(Widget):
    """A chart over session steps; subclasses name the series it draws.

    What textual-plotext's `PlotextPlot` does (a `Plot` per widget, drawn in a plotext theme made
    from the app's theme), with the plot made on first use."""

    DEFAULT_CSS = """
    TimelineChart { width: 1fr; height: 1fr; }
    """
    TITLE: ClassVar[str] = ""
    SERIES: ClassVar[tuple[tuple[str, str, str], ...]] = ()  # (series, legend, colour variable)
    WAITING: ClassVar[str] = "waiting for the first training step…"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._plot: Any = None
        self.traces: list[Trace] = []
        self.markers: list[Marker] = []
        self.x_range: tuple[float, float] = (0.0, 1.0)
        self.last_cost = 0.0
        """Seconds the last build of the lines (plotext's build included) took."""
        self._version = 0  # bumped by every replot
        self._lines: list[Strip] = []
        self._lines_key: tuple | None = None

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

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
        lo, hi = x_range
        self.traces = [
            Trace(label, *telemetry.window(name, lo, hi, width), colour)
            for name, label, colour in self.SERIES
        ]
        self.markers = [m for m in markers if lo <= m.x <= hi]
        self.x_range = (lo, max(hi, lo + 1))
        self.replot()

    def replot(self) -> None:
        """Draw the stored traces and markers through this widget's own `plt`."""
        self._version += 1
        if not self.has_points:  # the placeholder, no plotext
            self.refresh()
            return
        plt = self.plt
        plt.clear_data()
        self._prepare()  # the theme first: plotext takes a text's background from it
        plt.title(self.TITLE)
        for trace in self.traces:
            if trace.xs:
                plt.plot(
                    trace.xs,
                    trace.ys,
                    label=trace.label,
                    marker="braille",
                    color=theme_rgb(self.app, trace.colour),
                )
        y_lo, y_hi = self._y_range()
        x_lo, x_hi = self.x_range
        plt.xlim(x_lo, x_hi)
        plt.xticks(nice_ticks(*self.x_range))
        plt.ylim(y_lo, y_hi)
        columns = max(8, self.size.width - Y_AXIS_COLUMNS)
        row_height = (y_hi - y_lo) / max(4, self.size.height - 4)
        for marker, (row, align) in zip(
            self.markers, label_rows(self.markers, self.x_range, columns), strict=True
        ):
            colour = theme_rgb(
                self.app, verdict_variable(marker.verdict) if marker.verdict else NEUTRAL
            )
            plt.vline(marker.x, color=colour)
            plt.text(marker.label, marker.x, y_hi - row * row_height, color=colour, alignment=align)
        self.refresh()

    def _y_range(self) -> tuple[float, float]:
        ys = [y for trace in self.traces for y in trace.ys]
        if not ys:
            return 0.0, 1.0
        lo, hi = min(ys), max(ys)
        pad = (hi - lo) * 0.15 or abs(hi) * 0.1 or 1.0
        return lo - pad * 0.5, hi + pad

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
            self._prepare()
            try:
                lines = plot_strips(self.plt, self.visual_style.rich_style, width, height)
            except AttributeError:  # a plotext without these internals: the ANSI way
                lines = Visual.to_strips(
                    self, visualize(self, self._ansi_text()), width, height, self.visual_style
                )
        self.last_cost = time.perf_counter() - start
        return lines

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

    def _prepare(self) -> None:
        plt = self.plt
        plt.plotsize(self.size.width, self.size.height)
        plt._set_size(self.size.width, self.size.height)  # as PlotextPlot.render does
        plt.theme(self._plotext_theme())

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
            themes[name] = _rgbify_theme(surface, surface, foreground, "default", _sequence)
        return name


class LossChart(TimelineChart):
    """Training loss per batch and validation loss at epoch ends."""

    TITLE = "loss"
    SERIES = (("loss", "train", "primary"), ("val_loss", "validation", "accent"))


class NormChart(TimelineChart):
    """The global L2 norm of the trainable weights: continuous, or a jump where they changed."""

    TITLE = "global weight norm (L2)"
    SERIES = (("global_norm", "norm", "primary"),)
