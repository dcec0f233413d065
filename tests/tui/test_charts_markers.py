"""Charts that never draw over the data: marker labels in their own lane above the plot, the
legend beside the title, the same columns on both charts, round evenly spaced y ticks, and
nan/inf left out of the scale and marked."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
from weightwatch.tui.widgets.chart_layout import (
    GAP,
    Y_LABEL_WIDTH,
    Label,
    column_of,
    compact,
    lane_cells,
    place_labels,
    title_cells,
    y_axis,
)
from weightwatch.tui.widgets.charts import LossChart, Marker, NormChart
from weightwatch.tui.widgets.theme import theme_color

from .conftest import make_app, make_fake, running

SIZE = (120, 40)
LIGHT = "catppuccin-latte"
BRAILLE = range(0x2800, 0x2900)


def four_markers(fake) -> None:
    """Four markers within six steps: a save, a reset, a pause and another save."""
    fake.step(100)
    fake.pause()
    fake.boundary()
    fake.save("a")  # step 100: "⏸ save"
    fake.resume()
    fake.step(2)
    fake.pause()
    fake.boundary()
    fake.rebuild(3)  # step 102: "⏸ RESET"
    fake.resume()
    fake.step(3)
    fake.pause()  # step 105: "⏸"
    fake.boundary()
    fake.resume()
    fake.step(1)
    fake.save("b")  # step 106: "save"
    fake.step(30)


async def drawn(pilot) -> None:
    await pilot.pause()
    pilot.app.dashboard.tick(force=True)
    await pilot.pause()


def charts(app) -> list:
    return [app.dashboard.query_one(LossChart), app.dashboard.query_one(NormChart)]


def rows_of(chart) -> list[str]:
    return [line.text for line in chart.build_lines()]


def frame_rows(rows: list[str]) -> tuple[int, int]:
    """The rows of the plot frame's top (┌) and bottom (└) edges."""
    top = next(i for i, row in enumerate(rows) if "┌" in row)
    bottom = next(i for i, row in enumerate(rows) if "└" in row)
    return top, bottom


def test_four_markers_snapshot(snap_compare):
    fake = make_fake(Path("runs/snapshot"))

    async def run_before(pilot) -> None:
        await running(pilot, fake)
        four_markers(fake)
        await drawn(pilot)

    assert snap_compare(make_app(fake), terminal_size=SIZE, run_before=run_before)


def test_four_markers_light_theme_snapshot(snap_compare):
    fake = make_fake(Path("runs/snapshot"))

    async def run_before(pilot) -> None:
        pilot.app.theme = LIGHT
        await running(pilot, fake)
        four_markers(fake)
        await drawn(pilot)

    assert snap_compare(make_app(fake), terminal_size=SIZE, run_before=run_before)


async def test_marker_labels_take_the_light_themes_colours(fake):
    """No dark boxes behind the labels on a light theme: each label cell is on the theme's
    surface, in a colour of the theme that is not the surface."""
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = LIGHT
        await running(pilot, fake)
        four_markers(fake)
        await drawn(pilot)
        surface = theme_color(app, "surface").rich_color
        chart = app.dashboard.query_one(LossChart)
        lane = chart.build_lines()[1 : chart.head_rows()]
        cells = [(seg.style, ch) for line in lane for seg in line for ch in seg.text]
        marks = [style for style, ch in cells if ch.strip()]
        assert len(marks) == len("⏸save⏸RESET⏸save")
        assert all(style.bgcolor == surface and style.color != surface for style in marks)
        assert {style.color for style in marks} >= {theme_color(app, "error").rich_color}


async def test_four_close_markers_label_only_the_lane_and_line_up_on_both_charts(fake):
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        four_markers(fake)
        await drawn(pilot)
        columns = []
        for chart in charts(app):
            rows = rows_of(chart)
            width = chart.size.width
            top, bottom = frame_rows(rows)
            assert top == chart.head_rows() >= 2  # the title row, the lane, then the frame
            lane = "\n".join(rows[1:top])
            for text in ("⏸ save", "⏸ RESET", "save"):
                assert text in lane
            assert [m.label for m in chart.markers] == ["⏸ save", "⏸ RESET", "⏸", "save"]
            # Inside the frame: only the traces (braille), blanks and the marker lines.
            for row in rows[top + 1 : bottom]:
                inside = row[Y_LABEL_WIDTH + 1 : width - 1]
                assert all(ch in " │" or ord(ch) in BRAILLE for ch in inside), row
            # The legend is on the title row, not in the plot.
            legend = [t.label for t in chart.traces if t.xs]
            assert all(f"━━ {label}" in rows[0] for label in legend) and chart.TITLE in rows[0]
            # The y axis is in the same column on both charts, and so is each marker's line.
            assert {row[Y_LABEL_WIDTH] for row in rows[top + 1 : bottom]} <= {"│", "┤"}
            ticks = [i for i, ch in enumerate(rows[top]) if ch == "┬"]
            assert ticks == sorted({column_of(m.x, chart.x_range, width) for m in chart.markers})
            columns.append(ticks)
        assert columns[0] == columns[1] and len(columns[0]) >= 3
        assert charts(app)[0].x_range == charts(app)[1].x_range


def test_labels_that_share_columns_take_the_next_row_then_shift_right():
    labels = [Label(10, "⏸ save", "a"), Label(11, "RESET", "b"), Label(12, "⏸", "c")]
    placed = place_labels(labels, width=40, rows=2)
    assert [(p.row, p.start) for p in placed] == [(0, 10), (1, 11), (0, 18)]
    grid = lane_cells(placed, 40, 2)
    top, bottom = ("".join(ch for ch, _ in row).rstrip() for row in grid)  # top row first
    assert top == " " * 11 + "RESET" and bottom == " " * 10 + "⏸ save  ⏸"
    spans = sorted((p.row, p.start, p.start + len(p.label.text)) for p in placed)
    for (r1, _, end), (r2, start, _) in zip(spans, spans[1:], strict=False):
        assert r1 != r2 or start - end >= GAP  # never touching
    # No room: left out in step order, and "…" says so.
    crowded = [Label(30, "⏸ save", ""), Label(31, "RESET", ""), Label(32, "load", "")]
    placed = place_labels(crowded, width=40, rows=1)
    assert [p.label.text for p in placed] == ["⏸ save", "…"]


@pytest.mark.parametrize(
    ("lo", "hi", "rows"),
    [(0.07, 1.57, 12), (7.73, 12.92, 14), (0.0011, 0.0013, 10), (-3.0, 4.0, 8), (2.37, 2.62, 5)],
)
def test_y_ticks_are_round_evenly_spaced_and_on_rows_of_their_own(lo, hi, rows):
    axis = y_axis(lo, hi, rows)
    assert axis.lo <= lo and axis.hi >= hi and len(axis.ticks) >= 2
    steps = {round(b - a, 12) for a, b in zip(axis.ticks, axis.ticks[1:], strict=False)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 9) in (1.0, 2.0, 5.0)
    assert all(abs(t / step - round(t / step)) < 1e-6 for t in axis.ticks)
    # plotext's row for a value: every tick on its own row, the same number of rows apart.
    at = [math.floor(0.5 + (rows - 1) * (t - axis.lo) / (axis.hi - axis.lo)) for t in axis.ticks]
    assert len({b - a for a, b in zip(at, at[1:], strict=False)}) == 1 and at[1] - at[0] >= 2
    assert all(len(label) == Y_LABEL_WIDTH for label in axis.labels)
    assert [float(label) for label in axis.labels] == pytest.approx(axis.ticks)


def test_tick_labels_are_compact():
    assert compact(0.5, 0.5) == "0.5" and compact(12.0, 1.0) == "12"
    assert compact(-0.0, 0.1) == "0.0" and compact(0.0012, 0.0001) == "0.0012"
    assert compact(2_500_000.0, 500_000.0) == "2.5e6" and compact(-1.25e-7, 5e-8) == "-1e-7"


async def test_rendered_y_ticks_are_evenly_spaced_and_equally_wide(fake):
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(150)
        await drawn(pilot)
        for chart in charts(app):
            rows = rows_of(chart)
            top, bottom = frame_rows(rows)
            ticked = [i for i in range(top + 1, bottom) if rows[i][Y_LABEL_WIDTH] == "┤"]
            values = [float(rows[i][:Y_LABEL_WIDTH]) for i in ticked]
            assert len(ticked) >= 3
            assert len({b - a for a, b in zip(ticked, ticked[1:], strict=False)}) == 1
            gaps = {round(a - b, 9) for a, b in zip(values, values[1:], strict=False)}
            assert len(gaps) == 1 and gaps.pop() > 0


async def test_nan_and_inf_stay_out_of_the_scale_and_are_marked(fake):
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(1)
        steps = np.arange(2, 301, dtype=np.float64)
        loss = 1.0 / np.sqrt(steps)
        loss[steps >= 200] = np.inf  # a diverged loss
        loss[steps >= 250] = np.nan
        norm = np.log(steps)
        norm[steps >= 200] = np.nan
        fake.telemetry.append_columns(steps, {"loss": loss, "global_norm": norm})
        await drawn(pilot)
        for chart, marks in zip(charts(app), (["inf"], ["nan"]), strict=True):
            rows = rows_of(chart)
            top, bottom = frame_rows(rows)
            lane = " ".join(rows[1:top]).split()
            assert [word for word in lane if word in ("nan", "inf")] == marks
            assert chart.holes and chart.holes[0][0] == pytest.approx(200, abs=6)
            ticked = [r for r in rows[top:bottom] if r[Y_LABEL_WIDTH] == "┤"]
            labels = [float(r[:Y_LABEL_WIDTH]) for r in ticked]
            assert len(labels) >= 3 and max(labels) < 20  # the scale is the finite values'
            column = column_of(chart.holes[0][0], chart.x_range, chart.size.width)
            assert rows[top][column] == "┬"  # its line in the plot


async def test_a_chart_with_no_finite_value_still_draws_its_axes(fake):
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(1)
        steps = np.arange(2, 50, dtype=np.float64)
        nan = np.full_like(steps, np.nan)
        fake.telemetry.append_columns(steps, {"global_norm": nan})
        chart = app.dashboard.query_one(NormChart)
        chart.pull(fake.telemetry, (2.0, 50.0), [])
        rows = rows_of(chart)
        top, bottom = frame_rows(rows)
        assert "nan" in " ".join(rows[1:top]).split()
        assert any(r[Y_LABEL_WIDTH] == "┤" for r in rows[top:bottom])
        assert not any(ord(ch) in BRAILLE for r in rows[top + 1 : bottom] for ch in r)


def test_layout_holds_for_random_sizes_ranges_and_labels():
    """1,000 random widths, heights, value ranges (1e-8 to 1e8, flat ones too) and label sets:
    the title row fills the width exactly, the y axis covers the data with evenly spaced ticks
    on rows of their own and 6-column labels, labels stay inside the lane and never touch."""
    rng = random.Random(11)
    for _ in range(1000):
        width, rows = rng.randint(1, 200), rng.randint(1, 60)
        assert (
            len(title_cells("loss · last 500 steps", [("train", "p"), ("validation", "a")], width))
            == width
        )
        e = rng.uniform(-8, 8)
        lo = rng.uniform(-1, 1) * 10**e
        hi = lo + abs(rng.gauss(0, 1)) * 10 ** (e + rng.uniform(-6, 1)) * rng.choice([0, 1, 1])
        axis = y_axis(lo, hi, rows)
        assert axis.lo <= lo + 1e-9 * abs(lo) and axis.hi >= hi - 1e-9 * abs(hi)
        assert axis.ticks and all(len(label) == Y_LABEL_WIDTH for label in axis.labels)
        if rows >= 3:
            span = axis.hi - axis.lo
            at = [math.floor(round(0.5 + (rows - 1) * (t - axis.lo) / span, 8)) for t in axis.ticks]
            gaps = {b - a for a, b in zip(at, at[1:], strict=False)}
            assert len(gaps) <= 1 and min(gaps, default=2) >= 2 and 0 <= at[0] and at[-1] < rows
        texts = ["⏸", "save", "⏸ RESET", "nan", "opt"]
        labels = [
            Label(rng.randrange(width), rng.choice(texts), "") for _ in range(rng.randint(0, 8))
        ]
        lanes = rng.randint(0, 2)
        placed = place_labels(labels, width, lanes)
        assert len(lane_cells(placed, width, lanes)) == lanes
        spans: dict[int, list] = {}
        for item in placed:
            assert 0 <= item.start and item.start + len(item.label.text) <= width
            spans.setdefault(item.row, []).append((item.start, item.start + len(item.label.text)))
        for row in spans.values():
            row.sort()
            assert all(c - b >= 1 for (_, b), (c, _) in zip(row, row[1:], strict=False))


async def test_a_step_zero_marker_leaves_the_legend_whole(fake):
    """The SVGs had "train cb": a marker at step 0 wrote over the legend. Now the legend is on
    the title row and the label in the lane, at the plot's first column."""
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(60)
        await drawn(pilot)
        chart = app.dashboard.query_one(LossChart)
        chart.pull(fake.telemetry, (0.0, 70.0), [Marker(0, "⏸ cb", "continued")])
        rows = rows_of(chart)
        top, _ = frame_rows(rows)
        assert "━━ train" in rows[0] and "━━ validation" in rows[0]
        assert rows[top - 1][Y_LABEL_WIDTH + 1 :].startswith("⏸ cb")
        assert rows[top][Y_LABEL_WIDTH + 1] == "┬" and "cb" not in "".join(rows[top:])
