"""Where a chart puts things, as plain arithmetic (no Textual, no plotext): the y axis, the label
lane above the plot, the columns plotext gives each session step, and the non-finite points.

A chart is a title row (with the legend), a lane of one or two rows for the marker labels, then
plotext's frame. Labels never go inside the frame, so they never cover a trace or the legend.
Both charts use the same y-label width, so the same step lands in the same column on both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len

Y_LABEL_WIDTH = 6  # every chart's y labels take exactly this many columns (aligned x axes)
Y_AXIS_COLUMNS = Y_LABEL_WIDTH + 2  # the labels and the frame's left and right sides
X_AXIS_ROWS = 3  # plotext's frame top and bottom and the x tick labels
NICE = (1.0, 2.0, 5.0)


def lane_rows(height: int) -> int:
    """Rows of the label lane for a chart `height` rows high: two when the plot keeps room."""
    return 2 if height >= 16 else 1 if height >= 7 else 0


def nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least `raw` (> 0)."""
    exponent = math.floor(math.log10(raw))
    for mantissa in (*NICE, 10.0):
        step = mantissa * 10.0**exponent
        if step >= raw * (1 - 1e-9):
            return step
    return 10.0 ** (exponent + 1)


def next_nice(step: float) -> float:
    return nice_step(step * 1.5)  # 1 -> 2 -> 5 -> 10: each at least 1.5 times the last


@dataclass(frozen=True)
class YAxis:
    """Limits and ticks for a plot `rows` rows high: every tick falls exactly on a row."""

    lo: float
    hi: float
    ticks: list[float]
    labels: list[str]


def y_axis(lo: float, hi: float, rows: int) -> YAxis:
    """Round ticks (a 1-2-5 step) every k rows, k in 2..5, for finite data in [lo, hi].

    plotext puts value v on row floor(0.5 + (rows - 1) * (v - lo) / (hi - lo)), so when one row is
    worth step / k and `lo` is a multiple of that, every multiple of the step sits on a row of its
    own, k rows from the next. Of the choices, the one whose rows are worth least (the data fill
    the most height) wins; on a tie the one with more ticks.
    """
    if hi - lo <= 0:
        half = abs(hi) * 0.05 or 0.5
        lo, hi = lo - half, hi + half
    if rows < 3:  # no room for two ticks: one, at a round value inside the range
        step = nice_step(hi - lo)
        tick = round_to(math.ceil(lo / step) * step, step)
        tick = tick if tick <= hi else lo
        return YAxis(lo, hi, [tick], labels_for([tick], step))
    choices = [_choice(lo, hi, rows, k) for k in range(2, min(5, rows - 1) + 1)]
    _, _, axis = min(choices, key=lambda choice: choice[:2])  # on a tie, the first: more ticks
    return axis


def _choice(lo: float, hi: float, rows: int, k: int) -> tuple[bool, float, YAxis]:
    """The finest 1-2-5 step with a tick every `k` rows that covers [lo, hi], coarser if its
    labels cannot say the ticks exactly in `Y_LABEL_WIDTH` columns: (inexact, row value, axis)."""
    step = nice_step(k * (hi - lo) / (rows - 1))
    for _ in range(12):  # a few coarser steps at most: each is at least 1.5 times the last
        row = step / k
        base = math.floor(lo / row + 1e-9) * row
        top = base + (rows - 1) * row
        if top >= hi - 1e-9 * row:
            first, last = math.ceil(base / step - 1e-9), math.floor(top / step + 1e-9)
            ticks = [round_to(i * step, step) for i in range(first, last + 1)]
            labels = labels_for(ticks, step)
            exact = all(
                abs(float(t) - v) <= 1e-6 * step for t, v in zip(labels, ticks, strict=True)
            )
            if exact:
                break
        step = next_nice(step)
    return not exact, float(f"{row:.9g}"), YAxis(base, top, ticks, labels)


def round_to(value: float, step: float) -> float:
    """`value` without the binary noise of a multiple of `step` (0.30000000000000004 -> 0.3)."""
    return round(value, decimals(step) + 2)


def decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9))


def labels_for(ticks: Sequence[float], step: float, width: int = Y_LABEL_WIDTH) -> list[str]:
    """Compact tick labels, right-aligned to exactly `width` columns."""
    return [compact(t, step, width).rjust(width) for t in ticks]


def compact(value: float, step: float, width: int = Y_LABEL_WIDTH) -> str:
    """`value` with the decimals its step needs, or in a short e-notation when that is too wide."""
    text = f"{value:.{decimals(step)}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    if len(text) <= width:
        return text
    for digits in range(3, -1, -1):
        mantissa, exponent = f"{value:.{digits}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        short = f"{mantissa}e{int(exponent)}"
        if len(short) <= width:
            return short
    return text[:width]


def column_of(x: float, x_range: tuple[float, float], width: int) -> int:
    """The chart column (from its left edge) where plotext draws session step `x`."""
    lo, hi = x_range
    canvas = width - Y_AXIS_COLUMNS
    cell = math.floor(round(0.5 + (canvas - 1) * (x - lo) / max(1e-12, hi - lo), 8))
    return Y_LABEL_WIDTH + 1 + cell


@dataclass(frozen=True)
class Label:
    """Text for the lane, meant for `column` (where its marker line is)."""

    column: int
    text: str
    colour: str  # a theme variable


@dataclass(frozen=True)
class Placed:
    row: int  # 0 is the lane row next to the plot
    start: int
    label: Label


MORE = "…"  # where labels were left out for want of room
GAP = 2  # blanks between two labels: more than the one inside a label ("⏸ save")


def place_labels(labels: Sequence[Label], width: int, rows: int) -> list[Placed]:
    """Put each label in the lane: at its column if that row is free there, else on the next
    row, else shifted right just past the last label on the emptiest row (in step order, in its
    line's colour); two labels never closer than `GAP` blanks. A label that no longer fits in
    the width is left out (its line still shows in the plot)."""
    if rows <= 0:
        return []
    ends = [-GAP - 1] * rows  # the last column used on each row
    placed, full = [], False
    for label in sorted(labels, key=lambda item: item.column):
        size = cell_len(label.text)
        start = min(label.column, width - size)  # near the right edge: ends at the edge
        row = next((r for r in range(rows) if ends[r] + GAP < start), None)
        if row is None:
            row = min(range(rows), key=ends.__getitem__)
            start = ends[row] + GAP + 1
        if start < 0 or start + size > width:
            full = True  # left out, and any label after it on this row would be out of order
            continue
        if full and start != min(label.column, width - size):
            continue  # shifted past one already left out: it would read as that one's label
        ends[row] = start + size - 1
        placed.append(Placed(row, start, label))
    if full:  # say that some are missing, where there is room
        row = min(range(rows), key=ends.__getitem__)
        start = max(0, ends[row] + GAP)
        if start < width:
            placed.append(Placed(row, start, Label(start, MORE, "")))
    return placed


def lane_cells(placed: Sequence[Placed], width: int, rows: int) -> list[list[tuple[str, str]]]:
    """The lane as rows (top first) of (character, colour variable or "") cells. A label on an
    upper row that starts at its own column gets a "│" below it, down to the plot, through
    cells no label uses."""
    grid = [[(" ", "")] * width for _ in range(rows)]
    used = set()
    for item in placed:
        y = rows - 1 - item.row
        for offset, char in enumerate(item.label.text):
            grid[y][item.start + offset] = (char, item.label.colour)
            used.add((y, item.start + offset))
    for item in placed:
        if item.row and item.start == item.label.column:
            for y in range(rows - item.row, rows):
                if (y, item.start) not in used:
                    grid[y][item.start] = ("│", item.label.colour)
    return grid


LEGEND_MARK = "━━"


def title_cells(title: str, legend: Sequence[tuple[str, str]], width: int) -> list[tuple[str, str]]:
    """The title row as (character, colour variable) cells: the title centred over the plot, the
    legend ("━━ train") at the right end; the title moves left, then legend entries go, when
    they do not fit side by side."""
    cells = [(" ", "")] * width
    entries = [[(LEGEND_MARK, colour), (f" {label}", "")] for label, colour in legend]
    canvas_start = Y_LABEL_WIDTH + 1
    start = canvas_start + (width - Y_AXIS_COLUMNS) // 2 - len(title) // 2
    while True:
        size = sum(len(text) for entry in entries for text, _ in entry) + 2 * max(
            0, len(entries) - 1
        )
        legend_start = width - 1 - size
        if not entries or legend_start >= start + len(title) + 2:
            break
        if start > canvas_start:
            start = max(canvas_start, legend_start - len(title) - 2)
        else:
            entries.pop()
    start = max(0, min(start, width - len(title)))
    for offset, char in enumerate(title[: width - start]):
        cells[start + offset] = (char, "")
    column = width - 1 - size
    for entry in entries:
        for text, colour in entry:
            for char in text:
                cells[column] = (char, colour)
                column += 1
        column += 2
    return cells


def finite_runs(xs: Sequence[float], ys: Sequence[float]) -> tuple[list, list[tuple[float, str]]]:
    """The finite stretches of a trace as (xs, ys) pairs, and where each non-finite stretch
    starts with what it was ("nan", "inf", "-inf"), to be marked rather than drawn."""
    runs: list[tuple[list, list]] = []
    holes: list[tuple[float, str]] = []
    in_hole = True
    for x, y in zip(xs, ys, strict=True):
        if math.isfinite(y):
            if in_hole:
                runs.append(([], []))
                in_hole = False
            runs[-1][0].append(x)
            runs[-1][1].append(y)
        else:
            if not in_hole or not runs and not holes:
                holes.append((x, "nan" if math.isnan(y) else "inf" if y > 0 else "-inf"))
            in_hole = True
    return runs, holes


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[int]:
    """About `count` round integer ticks (session steps) between lo and hi."""
    span = max(1.0, hi - lo)
    raw = span / count
    magnitude = 10 ** max(0, len(str(int(raw))) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = int(-(-lo // step) * step)
    return list(range(first, int(hi) + 1, int(step)))
