"""The redraw budget keeps the whole UI thread (status line and events included) within its share:
chart rounds get what the background leaves, never less than the floor (docs/performance.md)."""

from __future__ import annotations

import pytest
from weightwatch.tui.widgets.budget import RedrawBudget


def test_chart_rounds_get_what_the_background_leaves_of_the_share():
    budget = RedrawBudget(base_interval=0.25, share=0.03, floor=0.01, first_cost=0.05)
    budget.start_round(now=0.0)
    budget.record(0.05)  # a round of two charts, repaint included
    budget.start_round(now=1.0)
    assert budget.interval == pytest.approx(0.05 / 0.03)
    for _ in range(60):  # the status line and the loop: 1% of wall time between rounds
        budget.record_background(0.0025, 0.25)
    assert budget.interval == pytest.approx(0.05 / 0.02, rel=0.01)
    for _ in range(60):  # a background over the share: charts still get the floor
        budget.record_background(0.025, 0.25)
    assert budget.interval == pytest.approx(0.05 / 0.01, rel=0.01)


def test_a_cheap_round_never_redraws_faster_than_the_base_interval():
    budget = RedrawBudget(base_interval=0.25, first_cost=0.001)
    budget.start_round(now=0.0)
    budget.record(0.001)
    budget.start_round(now=0.25)
    budget.record_background(0.0, 0.25)
    assert budget.interval == 0.25


def test_one_expensive_round_does_not_space_out_the_next_ones():
    """A first render or a layout pass costs several rounds' worth once; the interval follows the
    typical round (the median of the last few), not the outlier."""
    budget = RedrawBudget(base_interval=0.25, share=0.02)
    budget.start_round(now=0.0)
    budget.record(0.140)  # the first round: layout and first render of everything
    for i in range(1, 4):
        budget.start_round(now=float(i))
        budget.record(0.020)
    budget.start_round(now=4.0)
    assert budget.round_cost == pytest.approx(0.020)
    assert budget.interval == pytest.approx(0.020 / 0.02)
