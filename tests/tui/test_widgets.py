"""The pieces behind the charts, banner, layer panel, dialogs and redraw budget."""

from __future__ import annotations

import pytest
from textual.widgets import Static
from weightwatch.engine import events as ev
from weightwatch.engine.errors import BadInput
from weightwatch.engine.specs import CallbackSpec
from weightwatch.tui.screens.callbacks import args_text, parse_args, parse_entry
from weightwatch.tui.screens.dialogs import parse_positive_float
from weightwatch.tui.screens.picker import age, preview
from weightwatch.tui.widgets.banner import banner_text
from weightwatch.tui.widgets.budget import RedrawBudget
from weightwatch.tui.widgets.charts import Marker, markers_for, nice_ticks
from weightwatch.tui.widgets.layers import sparkline, trend

from .conftest import make_app, running


def event(kind, step, verdict=None, **detail):
    return ev.Event(kind, step, step, verdict, detail, 12.0, 8.0)


def test_markers_label_every_event_kind_and_merge_at_one_step():
    events = [
        event("started", 0, "fresh"),
        event("pause", 10),
        event("callbacks_changed", 10, "continued"),
        event("resume", 10, "continued"),
        event("checkpoint_saved", 20),
        event("checkpoint_loaded", 30, "restored"),
        event("rebuilt", 40, "reset"),
        event("resume", 40, "reset"),
        event("recompiled", 50, "optimizer_reset"),
        event("lr_changed", 60),
    ]
    assert markers_for(events) == [
        Marker(10, "⏸ cb", "continued"),
        Marker(20, "save"),
        Marker(30, "load", "restored"),
        Marker(40, "RESET", "reset"),
        Marker(50, "opt", "optimizer_reset"),
        Marker(60, "lr"),
    ]


def test_ticks_are_round_session_steps():
    assert nice_ticks(0, 190) == [0, 50, 100, 150]
    assert nice_ticks(0, 7) == [0, 2, 4, 6]
    assert nice_ticks(1200, 2600) == [1500, 2000, 2500]


def test_sparkline_shows_a_reset_as_a_drop():
    assert sparkline([1, 2, 3, 4, 1]) == "▁▃▆█▁"
    assert sparkline([]) == "" and sparkline([2.0, 2.0]) == "▁▁"
    assert trend(list(range(40)), 5) == [30.5, 32.5, 34.5, 36.5, 38.5]


def test_redraw_budget_stretches_the_interval_to_stay_under_its_share():
    budget = RedrawBudget(base_interval=0.25, share=0.03, first_cost=0.032)
    assert budget.interval == pytest.approx(0.032 / 0.03) and budget.due(now=0.0)
    budget.start_round(now=0.0)
    budget.record(0.016)
    budget.record(0.016)  # two charts, plotext's fixed cost each
    budget.start_round(now=1.0)
    assert budget.interval == pytest.approx(0.032 / 0.03)
    assert not budget.due(now=1.5) and budget.due(now=2.1)
    budget.record(0.004)  # a cheaper round: under three measured, the first cost fills in
    budget.start_round(now=2.1)
    assert budget.round_cost == pytest.approx(0.032)  # median of 32, 4 and the first cost
    for cost in (0.020, 0.030):  # from three rounds on, the median
        budget.record(cost)
        budget.start_round()
    assert budget.round_cost == pytest.approx(0.025)  # median of 32, 4, 20, 30 ms
    assert budget.interval == pytest.approx(0.025 / 0.03)


def test_banner_names_the_verdict_in_words_and_the_norm_jump():
    assert banner_text(event("rebuilt", 340, "reset")) == (
        "⚠ reset: new model instance, fresh weights - model step 0  ·  rebuilt at session "
        "step 340  ·  norm 12 → 8"
    )


def test_callback_arguments_round_trip_and_errors_are_one_line():
    spec = CallbackSpec(
        "ModelCheckpoint",
        True,
        {"filepath": "m.keras", "save_best_only": True, "verbose": 1, "ratio": 0.5, "keys": ["a"]},
    )
    assert parse_entry(spec.type, args_text(spec)) == spec
    assert parse_args('monitor = "loss", patience = 3') == {"monitor": "loss", "patience": 3}
    with pytest.raises(BadInput, match="^callback editor: arguments: ") as info:
        parse_args("patience = ")
    assert "\n" not in str(info.value)
    with pytest.raises(BadInput, match="'enabled' is not an argument"):
        parse_entry("EarlyStopping", "enabled = false")
    assert parse_entry("mymod:MyCallback", "").type == "mymod:MyCallback"


def test_positive_float_and_ages():
    assert parse_positive_float(" 1e-3 ", "lr") == 1e-3
    for bad in ("0", "-1", "x", "inf"):
        with pytest.raises(ValueError, match="^lr: expected a number > 0"):
            parse_positive_float(bad, "lr")
    assert [age(s) for s in (5, 150, 7300, 90000)] == ["5 s ago", "2 min ago", "2 h ago", "1 d ago"]


def test_preview_says_what_a_file_checkpoint_lacks():
    info = ev.CheckpointInfo(
        name="best",
        path="/r/best.weights.h5",
        source="file",
        loadable=False,
        problem="truncated file",
    )
    text = preview(info, now=0.0)
    assert "source         other file" in text and "optimizer in?  unknown" in text
    assert "NOT LOADABLE   truncated file" in text


async def test_layer_rows_fit_a_narrow_terminal(fake):
    """On an 80x24 terminal every layer row keeps its name, norm and a (shorter) trend on one
    line instead of wrapping."""
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, fake)
        fake.step(120)
        app.dashboard.tick(force=True)
        await pilot.pause()
        rows = app.dashboard.query_one("#layer-rows", Static)
        lines = str(rows.render()).splitlines()
        assert [line.split()[0] for line in lines] == ["layer", "dense", "dense_1", "dense_2"]
        for line in lines[1:]:
            name, norm, trend_text = line.split()
            assert float(norm) > 0 and set(trend_text) <= set("▁▂▃▄▅▆▇█")
            assert 4 <= len(trend_text) < 14
        assert max(len(line) for line in lines) <= rows.content_region.width
