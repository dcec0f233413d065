"""What the charts show, as people set it with keys (btop/nvitop style): the whole run or a window
of the last N steps (zoomed in and out), a log scale for the loss, a smoothed train loss beside
the raw one. Plain arithmetic here; `change_view` applies a key to the dashboard's charts.

Every cost here is per drawn point (the traces are already decimated to the chart's width), never
per stored step: the redraw budget (budget.py) stays what it was.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from textual.binding import Binding
from weightwatch.tui.widgets.chart_layout import Y_LABEL_WIDTH, YAxis, compact, y_axis

# The app's keys for the view: in the help (`?`), not in the footer (it has no room left at 120
# columns; an overflowing footer garbles its last entries).
CHART_BINDINGS = [
    Binding(
        "w",
        "chart_view('window')",
        "Window",
        show=False,
        tooltip="Charts: the whole run, or the last steps only",
        id="chart.window",
    ),
    Binding(
        "plus,equals_sign",
        "chart_view('in')",
        "Zoom in",
        show=False,
        key_display="+",
        tooltip="Charts: half as many steps",
        id="chart.zoom_in",
    ),
    Binding(
        "minus",
        "chart_view('out')",
        "Zoom out",
        show=False,
        key_display="-",
        tooltip="Charts: twice as many steps (up to the whole run)",
        id="chart.zoom_out",
    ),
    Binding(
        "g",
        "chart_view('log')",
        "Log scale",
        show=False,
        tooltip="Loss chart: log scale on/off",
        id="chart.log",
    ),
    Binding(
        "y",
        "chart_view('layer')",
        "Layer norm",
        show=False,
        tooltip="Norm chart: the global norm, or one layer's (each press the next layer; "
        "a click on a row of the layer table picks it)",
        id="chart.layer",
    ),
    Binding(
        "m",
        "chart_view('smooth')",
        "Smooth",
        show=False,
        tooltip="Loss chart: a smoothed train loss beside the raw one, on/off",
        id="chart.smooth",
    ),
]
CHART_HELP = [replace(binding, show=True) for binding in CHART_BINDINGS]  # what `?` lists
MIN_SPAN = 10  # the narrowest window, in steps
WINDOW = 500  # the window `w` opens first, in steps (or half the run when that is less)


@dataclass(frozen=True)
class ChartView:
    span: int | None = None  # steps shown, counted back from the newest; None: all of them
    log_loss: bool = False
    smooth: bool = False
    layer: int | None = None  # the norm chart shows this layer's norm; None: the global norm

    def describe(self, log: bool = True, smooth: bool = True) -> str:
        """What is not the default, for a chart's title ("last 500 steps · log"); `log` and
        `smooth` say whether that chart has a log scale and a smoothed trace to show."""
        parts = [f"last {self.span:,} steps" if self.span else ""]
        parts += [
            "log" if log and self.log_loss else "",
            "smoothed" if smooth and self.smooth else "",
        ]
        return " · ".join(part for part in parts if part)


def changed(view: ChartView, change: str, full: float, layers: int = 0) -> ChartView:
    """The view after a key: "window" (all / last N), "in" / "out" (halve / double the window),
    "log" and "smooth" (toggles), "layer" (global norm, then each of the `layers` in turn) or
    "layer:I" (that layer; again: back to the global norm). `full` is how many steps the whole
    range holds."""
    if change == "layer":
        nxt = 0 if view.layer is None else view.layer + 1
        return replace(view, layer=nxt if nxt < layers else None)
    if change.startswith("layer:"):
        picked = int(change.split(":", 1)[1])
        return replace(view, layer=None if picked == view.layer or picked >= layers else picked)
    if change == "window":
        span = None if view.span else round_span(min(WINDOW, full / 2))
    elif change == "in":
        span = next_span(view.span, down=True) if view.span else round_span(full / 2)
    elif change == "out":
        span = next_span(view.span, down=False) if view.span else None
        span = None if span is None or span >= full else span
    elif change == "log":
        return replace(view, log_loss=not view.log_loss)
    elif change == "smooth":
        return replace(view, smooth=not view.smooth)
    else:
        raise ValueError(f"unknown chart view change {change!r}")
    return replace(view, span=span)


def round_span(steps: float) -> int:
    """`steps` rounded down to 1, 2 or 5 times a power of ten, at least MIN_SPAN."""
    steps = max(MIN_SPAN, steps)
    power = 10 ** math.floor(math.log10(steps))
    return int(max(m * power for m in (1, 2, 5) if m * power <= steps))


def next_span(span: int, down: bool) -> int:
    """The next 1-2-5 window below (down) or above `span`: 500 -> 200 or 1000."""
    power = 10 ** math.floor(math.log10(span))
    spans = [m * p for p in (power // 10 or 1, power, power * 10) for m in (1, 2, 5)]
    if down:
        return max(MIN_SPAN, max((s for s in spans if s < span), default=MIN_SPAN))
    return min(s for s in spans if s > span)


def windowed(x_range: tuple[float, float], view: ChartView, last: float | None) -> tuple:
    """The steps a chart shows: `x_range` (the dashboard's), or its last `view.span` steps up to
    the newest (`last`) with the same 6% of room after it for a marker at the newest step."""
    lo, hi = x_range
    if not view.span or last is None:
        return lo, hi
    return max(lo, last - view.span), min(hi, last + max(1.0, 0.06 * view.span))


def log_runs(runs: Sequence[tuple[list, list]]) -> list[tuple[list, list]]:
    """Finite stretches in log10, split where a value is zero or below (no log): those are left
    out of a log plot, not marked as nan or inf (they are not a divergence)."""
    out: list[tuple[list, list]] = []
    for xs, ys in runs:
        gap = True
        for x, y in zip(xs, ys, strict=True):
            if y > 0:
                if gap:
                    out.append(([], []))
                out[-1][0].append(x)
                out[-1][1].append(math.log10(y))
            gap = y <= 0
    return out


def log_axis(lo: float, hi: float, rows: int) -> YAxis:
    """A y axis over log10 values: ticks at 1, 2 and 5 times powers of ten (or only the powers,
    or every other one, when rows are few), each on a row of its own; the limits widen to the
    round values just outside the data."""
    if rows < 3:
        return y_axis(lo, hi, rows)
    lo, hi = _round_down(lo), _round_up(hi if hi > lo else lo + 0.3)
    values = [
        m * 10.0**e
        for e in range(math.floor(lo) - 1, math.ceil(hi) + 1)
        for m in (1, 2, 5)
        if lo - 1e-9 <= math.log10(m * 10.0**e) <= hi + 1e-9
    ]
    for keep in (lambda v: True, _is_decade, lambda v: _is_decade(v) and _exponent(v) % 2 == 0):
        ticks = [v for v in values if keep(v)]
        at = [math.floor(0.5 + (rows - 1) * (math.log10(v) - lo) / (hi - lo)) for v in ticks]
        if len(ticks) <= 2 or min(b - a for a, b in zip(at, at[1:], strict=False)) >= 2:
            break
    labels = [compact(v, v).rjust(Y_LABEL_WIDTH) for v in ticks]
    return YAxis(lo, hi, [math.log10(v) for v in ticks], labels)


def _round_down(log_value: float) -> float:
    """log10 of the largest 1, 2 or 5 times a power of ten at or below 10**log_value."""
    e = math.floor(log_value + 1e-9)
    return max(math.log10(m) + e for m in (1, 2, 5) if math.log10(m) + e <= log_value + 1e-9)


def _round_up(log_value: float) -> float:
    e = math.floor(log_value - 1e-9)
    return min(math.log10(m) + e for m in (1, 2, 5, 10) if math.log10(m) + e >= log_value - 1e-9)


def _exponent(value: float) -> int:
    return math.floor(math.log10(value) + 1e-9)


def _is_decade(value: float) -> bool:
    return abs(value / 10.0 ** _exponent(value) - 1) < 1e-9


def smoothed(xs: Sequence[float], ys: Sequence[float]) -> tuple[list, list]:
    """A centred moving average over the drawn points (about a fifteenth of them), the ends
    averaged over what they have: the trend through the noise, at the raw trace's steps."""
    n = len(ys)
    if n < 3:
        return list(xs), list(ys)
    half = max(1, n // 30)
    sums = [0.0]
    for y in ys:
        sums.append(sums[-1] + y)
    out = []
    for i in range(n):
        a, b = max(0, i - half), min(n, i + half + 1)
        out.append((sums[b] - sums[a]) / (b - a))
    return list(xs), out


def change_view(screen: Any, change: str) -> ChartView | None:
    """Apply a view key to every chart on the dashboard `screen` (all show the same steps, so
    that their markers line up), then redraw them."""
    from weightwatch.tui.widgets.charts import TimelineChart

    charts = list(screen.query(TimelineChart))
    if not charts:
        return None
    lo, hi = screen.x_range()
    layers = len(screen.session.telemetry.layer_names)
    view = changed(charts[0].view, change, hi - lo, layers)
    for chart in charts:
        chart.view = view
    from weightwatch.tui.widgets.layers import LayerNorms

    for rows in screen.query(LayerNorms):
        rows.selected = view.layer
    screen.redraw_charts()
    return view
