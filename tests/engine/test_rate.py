"""steps/s over a sliding window of training time (fake clock), ETAs, epochs counted from 1."""

from __future__ import annotations

import math
import time

import pytest
from weightwatch.engine import events as ev
from weightwatch.engine.progress import (
    RateWindow,
    duration,
    epoch_shown,
    eta_seconds,
    learning_rate,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def flushes(window: RateWindow, clock: Clock, step: int, rate: float, seconds: float) -> int:
    """Train at `rate` steps/s for `seconds`, marking every 0.2 s as the trainer's flushes do."""
    for _ in range(round(seconds / 0.2)):
        clock.now += 0.2
        step += round(rate * 0.2)
        window.mark(step)
    return step


def test_rate_follows_a_change_of_speed_within_the_window():
    clock = Clock()
    window = RateWindow(span=2.0, clock=clock)
    window.start(0)
    step = flushes(window, clock, 0, 50.0, 10.0)
    assert window.rate() == pytest.approx(50.0)
    step = flushes(window, clock, step, 430.0, 2.4)  # faster: the window forgets the old speed
    assert window.rate() == pytest.approx(430.0, rel=0.02)


def test_many_short_epochs_keep_the_rate_fresh():
    """The bug: every epoch boundary reset the mark, and epochs shorter than 0.5 s never
    updated the rate (`--plain` printed the first value on every line)."""
    clock = Clock()
    window = RateWindow(clock=clock)
    step = 0
    for speed in (250.0, 640.0):
        for _ in range(10):  # ten 0.25 s epochs; a boundary (start) after each
            window.start(step)
            clock.now += 0.25
            step += round(speed * 0.25)
            window.mark(step)
        assert window.rate() == pytest.approx(speed, rel=0.01)


def test_parked_time_and_commands_are_not_training_time():
    clock = Clock()
    window = RateWindow(clock=clock)
    window.start(0)
    step = flushes(window, clock, 0, 100.0, 1.0)
    window.park(step)
    clock.now += 30.0  # paused half a minute
    window.mark(step)  # a flush while parked counts nothing
    window.start(step)
    step = flushes(window, clock, step, 100.0, 1.0)
    assert window.rate() == pytest.approx(100.0)
    assert window.trained == pytest.approx(2.0)


def test_fit_start_up_is_not_speed():
    clock = Clock()
    window = RateWindow(clock=clock)
    window.start(0, warm_up=True)
    clock.now += 1.5  # tracing the train step, then 20 batches
    window.mark(20)
    assert window.rate() is None and window.trained == 0.0
    flushes(window, clock, 20, 300.0, 1.0)
    assert window.rate() == pytest.approx(300.0)


def test_no_rate_before_two_marks():
    window = RateWindow(clock=Clock())
    assert window.rate() is None
    window.start(0)
    window.mark(0)
    assert window.rate() is None


def status(**kw) -> ev.Status:
    base = dict(
        state=ev.SessionState.RUNNING,
        epoch=2,
        epochs=20,
        step_in_epoch=60,
        steps_per_epoch=160,
        session_step=380,
        model_step=380,
        instance=1,
        learning_rate=1e-3,
        steps_per_s=400.0,
        loss=1.0,
        global_norm=9.0,
    )
    return ev.Status(**(base | kw))


def test_eta_for_the_epoch_and_the_run():
    epoch, run = eta_seconds(status())
    assert epoch == pytest.approx(100 / 400)
    assert run == pytest.approx((100 + 17 * 160) / 400)
    assert eta_seconds(status(steps_per_s=None)) == (None, None)
    assert eta_seconds(status(steps_per_s=math.nan)) == (None, None)
    assert eta_seconds(status(epoch=20, step_in_epoch=0)) == (None, None)


def test_epochs_count_from_one_and_stop_at_the_total():
    assert [epoch_shown(e, 20) for e in (0, 1, 19, 20)] == [1, 2, 20, 20]


def test_durations_and_learning_rates_as_people_write_them():
    seconds = (0.04, 7.44, 42.4, 750, 3723)
    assert [duration(s) for s in seconds] == ["0.0s", "7.4s", "42s", "12:30", "1:02:03"]
    assert duration(None) == duration(math.inf) == "-"
    rates = (1e-3, 3e-4, 2.5e-4, 0.01, 0.5, math.nan)
    assert [learning_rate(x) for x in rates] == ["1e-3", "3e-4", "2.5e-4", "0.01", "0.5", "nan"]


def test_a_real_run_of_short_epochs_measures_its_speed(make_config):
    """Epochs of ~20 ms: the rate keeps moving, and the report's throughput is the speed the run
    really had (before: one value for the whole run; the report said 31 steps/s for ~860)."""
    from .kit import finish, held_at, started

    session = started(make_config(epochs=60, n=320, batch=16), hold=100)  # 20 steps an epoch
    held_at(session, 100)  # TensorFlow's start-up and the first trace are behind us
    assert session.status().optimizer == "Adam"  # the class, not Keras' name "adam" / "adam_1"
    finished = session.hold_when_finished()
    session.release()
    rates, seen = set(), []  # (time, session step) while it trains
    while not finished.done():
        status = session.status()
        if status.state is ev.SessionState.RUNNING and status.session_step > 100:
            seen.append((time.perf_counter(), status.session_step))
        if status.steps_per_s is not None:
            rates.add(status.steps_per_s)
        time.sleep(0.05)
    report = finish(session)
    # the last samples can be after the last batch (fit ending, the finish): not training
    (t0, n0), (t1, n1) = seen[0], next(x for x in reversed(seen) if x[1] < seen[-1][1])
    real = (n1 - n0) / (t1 - t0)
    assert len(rates) >= 3
    # A wide band on purpose: this checks that the rate is the run's (the defect was 28x off),
    # not how fast the machine is; samples taken from outside on busy cores are rough.
    assert 0.4 * real <= report["throughput"]["steps_per_s"] <= 2.5 * real
