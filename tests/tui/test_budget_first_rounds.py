"""The redraw budget's first rounds: until three rounds are measured, the missing ones count as
what a round of plotext is known to cost, so that a job's cheap first rounds (a placeholder, a
handful of points) do not schedule rounds at the base interval (docs/performance.md)."""

from __future__ import annotations

import pytest
from weightwatch.tui.widgets.budget import FIRST_COST, RedrawBudget


def test_the_first_cost_is_what_a_plotext_round_is_known_to_cost():
    assert 0.030 <= FIRST_COST <= 0.045
    budget = RedrawBudget(base_interval=0.25, share=0.02)
    assert budget.round_cost == FIRST_COST
    assert budget.interval == pytest.approx(FIRST_COST / 0.02)  # ~1.75 s, not 0.25 s
    assert budget.due(now=0.0)  # the first round is never held back


def test_cheap_first_rounds_do_not_bring_the_rounds_closer():
    budget = RedrawBudget(base_interval=0.25, share=0.02, first_cost=0.035)
    budget.start_round(now=0.0)
    budget.record(0.004)  # the placeholder: no plotext at all
    budget.start_round(now=1.75)
    assert budget.round_cost == pytest.approx(0.035)
    assert not budget.due(now=1.75 + 0.25) and not budget.due(now=1.75 + 1.7)
    budget.record(0.006)  # a few points
    budget.start_round(now=3.5)
    assert budget.round_cost == pytest.approx(0.006)  # median of 4, 6 and 35 ms
    budget.record(0.012)  # three measured: the prior no longer counts
    budget.start_round(now=4.0)
    assert budget.round_cost == pytest.approx(0.006)  # median of 4, 6, 12 ms
    for _ in range(3):
        budget.record(0.020)
        budget.start_round()
    assert budget.round_cost == pytest.approx(0.020)  # the last five: 6, 12, 20, 20, 20
    assert budget.interval == pytest.approx(0.020 / 0.02)


def test_one_expensive_first_round_does_not_space_out_the_next():
    budget = RedrawBudget(base_interval=0.25, share=0.02, first_cost=0.035)
    budget.start_round(now=0.0)
    budget.record(0.150)  # the first render and layout of everything
    budget.start_round(now=1.0)
    assert budget.round_cost == pytest.approx(0.035)
    assert budget.interval == pytest.approx(0.035 / 0.02)
