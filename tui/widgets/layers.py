"""Per-layer weight norms: the current value and a small trend, one row per layer.

Drawn as one block of text in a scrolling box rather than a DataTable: the table repaints at every
chart round, and a DataTable's update cost ~10 ms of the UI thread (the text block ~1 ms), time
the training thread waits for (the GIL; docs/performance.md).
"""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static
from weightwatch.engine.telemetry import TelemetryStore

SPARKS = "▁▂▃▄▅▆▇█"
NOT_FINITE = "×"  # a NaN or infinite norm (a diverged run, a crafted checkpoint): one cell
TREND_WIDTH = 14
NORM_WIDTH = 9


def sparkline(values: list[float]) -> str:
    """A text sparkline (`▁▃▅█`); flat series draw at the bottom. NaN and infinities draw as
    `×` and the finite values scale among themselves (a NaN would poison min and max)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return NOT_FINITE * len(values)
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    return "".join(
        SPARKS[min(7, int((v - lo) / span * 8))] if math.isfinite(v) else NOT_FINITE for v in values
    )


def trend(ys: list[float], width: int) -> list[float]:
    """Up to `width` values from a min/max envelope (its pairs collapse to their mean)."""
    if len(ys) > width:
        ys = [(a + b) / 2 for a, b in zip(ys[0::2], ys[1::2], strict=False)]
    return ys[-width:]


def name_width(names: list[str]) -> int:
    return max([5, *(len(name) for name in names)])


def table(rows: list[tuple[str, str, str]], selected: int | None = None) -> Content:
    """A header and one line per (layer, norm, trend), in aligned columns; the `selected` row
    (the layer the norm chart shows) is marked with `▸` and bold."""
    width = name_width([name for name, _, _ in rows])
    header = Content.styled(f"  {'layer':<{width}}  {'norm':<{NORM_WIDTH}}  trend", "bold")
    lines = [header]
    for i, (name, norm, spark) in enumerate(rows):
        mark, style = ("▸ ", "bold $accent") if i == selected else ("  ", "")
        text = Content.styled(f"{mark}{name:<{width}}  {norm:<{NORM_WIDTH}}  ", style)
        lines.append(text + Content.styled(spark, "$primary"))
    return Content("\n").join(lines)


class LayerNorms(VerticalScroll, can_focus=False):
    """A row per layer: its name, its current L2 norm and its recent trend."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[tuple[str, str, str]] = []
        self.selected: int | None = None
        """The row whose layer the norm chart shows (set by the view, chart_view.py)."""
        self.drawn: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(table([]), id="layer-rows")

    def pull(self, telemetry: TelemetryStore, x_range: tuple[float, float]) -> None:
        """Refresh from the telemetry's `layer/<i>` series. The trend gets what the name and
        the norm leave of the width (up to TREND_WIDTH), so that a row never wraps."""
        names = telemetry.layer_names
        room = self.scrollable_content_region.width - 4 - name_width(names) - NORM_WIDTH - 4
        columns = max(4, min(TREND_WIDTH, room))
        rows = []
        for i, name in enumerate(names):
            latest = telemetry.latest(f"layer/{i}")
            _, ys = telemetry.window(f"layer/{i}", *x_range, width=columns)
            rows.append(
                (name, "-" if latest is None else f"{latest:.4g}", sparkline(trend(ys, columns)))
            )
        if rows == self.rows and self.selected == self.drawn:
            return
        resized = len(rows) != len(self.rows)
        self.rows, self.drawn = rows, self.selected
        # Same number of rows: a repaint; a new model with other layers: a layout pass too.
        self.query_one("#layer-rows", Static).update(table(rows, self.selected), layout=resized)

    def on_click(self, event) -> None:
        """A click on a row shows that layer's norm in the norm chart (again: the global)."""
        # From the screen position (the click lands on the text block inside): line 0 is the
        # header, line 1 the first layer.
        line = event.screen_y - self.content_region.y + round(self.scroll_offset.y)
        row = line - 1
        if 0 <= row < len(self.rows):
            self.call_later(self.app.run_action, f"chart_view('layer:{row}')")
