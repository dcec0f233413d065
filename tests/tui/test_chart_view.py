"""Chart controls: a window of the last N steps (zoomed with + and -), a log scale for the loss,
a smoothed train loss beside the raw one; both charts always show the same steps."""

from __future__ import annotations

import math

import numpy as np
from weightwatch.tui.widgets.chart_layout import Y_LABEL_WIDTH
from weightwatch.tui.widgets.chart_view import (
    ChartView,
    changed,
    log_axis,
    round_span,
    smoothed,
)
from weightwatch.tui.widgets.charts import LossChart, NormChart

from .conftest import make_app, running


def test_window_and_zoom_steps():
    full = 3000.0
    view = changed(ChartView(), "window", full)
    assert view.span == 500
    assert changed(view, "in", full).span == 200  # 250 rounded down to 1-2-5
    assert changed(view, "out", full).span == 1000
    assert changed(changed(view, "out", full), "out", full).span == 2000
    assert changed(ChartView(span=2000), "out", full).span is None  # back to the whole run
    assert changed(view, "window", full).span is None
    assert changed(ChartView(), "in", full).span == 1000  # from the whole run: half of it
    assert changed(ChartView(span=10), "in", full).span == 10  # never under ten steps
    assert changed(ChartView(), "log", full).log_loss and changed(view, "smooth", full).smooth
    assert [round_span(s) for s in (12, 260, 999, 5)] == [10, 200, 500, 10]


def test_log_axis_ticks_are_round_values_each_on_its_own_row():
    lo, hi = math.log10(0.013), math.log10(2.4)
    for rows, first in ((30, ["0.01", "0.02", "0.05", "0.1"]), (10, ["0.01", "0.1", "1"])):
        axis = log_axis(lo, hi, rows)
        assert axis.lo <= lo and axis.hi >= hi
        assert [label.strip() for label in axis.labels][: len(first)] == first
        assert all(len(label) == Y_LABEL_WIDTH for label in axis.labels)
        at = [
            math.floor(0.5 + (rows - 1) * (t - axis.lo) / (axis.hi - axis.lo)) for t in axis.ticks
        ]
        assert all(b - a >= 2 for a, b in zip(at, at[1:], strict=False))
        for value in (10**t for t in axis.ticks):
            mantissa = value / 10 ** math.floor(math.log10(value) + 1e-9)
            assert round(mantissa, 6) in (1.0, 2.0, 5.0)


def test_smoothing_follows_the_trend_through_the_noise():
    xs = list(range(300))
    noisy = [1.0 + (0.5 if i % 2 else -0.5) for i in xs]
    sx, sy = smoothed(xs, noisy)
    assert sx == xs and len(sy) == len(noisy)
    assert max(abs(y - 1.0) for y in sy[20:-20]) < 0.1  # the zig-zag is gone
    assert smoothed([1, 2], [3.0, 4.0]) == ([1, 2], [3.0, 4.0])


async def test_keys_change_the_window_scale_and_smoothing_of_both_charts(fake):
    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, fake)
        fake.step(1)
        steps = np.arange(2, 3001, dtype=np.float64)
        fake.telemetry.append_columns(
            steps, {"loss": 2 / np.sqrt(steps) + 0.01 * np.sin(steps), "global_norm": np.log(steps)}
        )
        fake.pause()
        fake.boundary()  # a marker at step 1, outside a window of the last steps
        await pilot.pause()
        app.dashboard.tick(force=True)
        await pilot.pause()
        loss, norm = app.dashboard.query_one(LossChart), app.dashboard.query_one(NormChart)
        whole = loss.x_range
        assert whole[0] == 0 and loss.markers

        await pilot.press("w")
        lo, hi = loss.x_range
        assert (lo, hi) == (2500, 3030) and norm.x_range == loss.x_range  # 6% room after 3000
        assert loss.traces[0].xs[0] >= lo and not loss.markers  # the marker is out of view
        assert "last 500 steps" in loss.build_lines()[0].text
        await pilot.press("plus")
        assert loss.x_range == (2800, 3012) == norm.x_range
        await pilot.press("minus", "minus", "minus", "minus")
        assert loss.x_range == whole and norm.x_range == whole

        await pilot.press("g")
        rows = [line.text for line in loss.build_lines()]
        assert (
            "loss · log" in rows[0] and "log" not in [line.text for line in norm.build_lines()][0]
        )
        labels = [
            r[:Y_LABEL_WIDTH].strip() for r in rows if r[Y_LABEL_WIDTH : Y_LABEL_WIDTH + 1] == "┤"
        ]
        assert set(labels) <= {"0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5"}
        assert len(labels) >= 2

        await pilot.press("m")
        legend = loss.build_lines()[0].text
        assert "━━ train" in legend and "━━ smoothed" in legend
        assert [trace.label for trace, runs in loss._runs if runs][:2] == ["train", "smoothed"]
        await pilot.press("m", "g")
        assert loss.title() == "loss" and "smoothed" not in loss.build_lines()[0].text


async def test_help_lists_the_chart_keys(fake):
    from weightwatch.tui.screens.help import HelpScreen

    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, fake)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        for words in ("Window", "Zoom in", "Zoom out", "Log scale", "Smooth"):
            assert words in text


def test_the_layer_key_cycles_through_the_layers_and_back():
    view = ChartView()
    seen = []
    for _ in range(4):
        view = changed(view, "layer", 100.0, layers=3)
        seen.append(view.layer)
    assert seen == [0, 1, 2, None]
    assert changed(ChartView(), "layer:1", 100.0, layers=3).layer == 1
    assert changed(ChartView(layer=1), "layer:1", 100.0, layers=3).layer is None  # again: global
    assert changed(ChartView(), "layer:7", 100.0, layers=3).layer is None  # no such layer


async def test_a_layer_rows_click_or_y_shows_that_layers_norm(fake):
    """The norm chart shows one layer's norm (its telemetry series `layer/I`, titled with the
    layer's name), picked with `y` or a click on its row of the layer table, which marks it."""
    from weightwatch.tui.widgets.layers import LayerNorms

    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, fake)
        fake.step(60)
        app.dashboard.tick(force=True)
        await pilot.pause()
        norm, rows = app.dashboard.query_one(NormChart), app.dashboard.query_one(LayerNorms)
        names = fake.telemetry.layer_names
        assert norm.title() == "global weight norm (L2)"
        await pilot.press("y")
        assert norm.title() == f"weight norm (L2) of {names[0]}"
        _, expected = fake.telemetry.window("layer/0", *norm.x_range, width=10_000)
        assert norm.traces[0].ys[-1] == expected[-1] and norm.traces[0].label == names[0]
        assert "▸ " + names[0] in str(rows.query_one("#layer-rows").render())
        await pilot.click(LayerNorms, offset=(4, 3))  # the border, the header, then row 1
        await pilot.pause()
        assert norm.title() == f"weight norm (L2) of {names[1]}"
        assert "▸ " + names[1] in str(rows.query_one("#layer-rows").render())
        await pilot.click(LayerNorms, offset=(4, 3))  # the same row again: the global norm
        await pilot.pause()
        assert norm.title() == "global weight norm (L2)" and rows.selected is None
