"""Exact pause, exact resume and checkpoint round trips, bit for bit (SHA-256)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from weightwatch.engine.session import Session

from .kit import T, events_of, finish, held_at, model, optimizer_state, started, stop


def _uninterrupted(make_config, sub, **kw) -> dict:
    return finish(started(make_config(sub, **kw)))


def test_pause_then_resume_equals_never_pausing(make_config):
    straight = _uninterrupted(make_config, "a", builder="dropout", epochs=3)
    s = started(make_config("b", builder="dropout", epochs=3), hold=5)
    held_at(s, 5)
    s.pause().result(T)
    s.release()  # a release while paused must not resume
    time.sleep(0.3)
    assert s.status().session_step == 5 and s.state.value == "paused"
    s.resume().result(T)
    r = finish(s)
    assert r["final"]["fingerprint"] == straight["final"]["fingerprint"]
    assert r["session_steps"] == straight["session_steps"] == 12
    pause, resume = events_of(r, "pause")[0], events_of(r, "resume")[0]
    assert pause["session_step"] == resume["session_step"] == 5
    assert resume["verdict"] == "continued"


def test_save_then_load_round_trips_weights_iterations_and_slots(make_config):
    s = started(make_config(epochs=3), hold=6)
    held_at(s, 6)
    info = s.save("mid").result(T)
    saved_opt = optimizer_state(s)
    hold = s.hold_at_step(10)  # registered while held: no race
    s.release()
    hold.result(T)
    assert optimizer_state(s)[0] != saved_opt[0]  # iterations moved on
    s.load("mid").result(T)
    loaded_opt = optimizer_state(s)
    assert len(loaded_opt) == len(saved_opt) > 2  # iterations, lr and Adam's m and v slots
    for a, b in zip(saved_opt, loaded_opt, strict=True):
        np.testing.assert_array_equal(a, b)
    from weightwatch.engine.weights import fingerprint

    assert fingerprint(model(s)) == info.fingerprint
    stop(s)


@pytest.mark.parametrize("builder", ["mlp", "dropout"])
@pytest.mark.parametrize("cut", ["epoch", "mid-epoch"])
def test_two_epochs_restart_two_epochs_equals_four(make_config, builder, cut):
    straight = _uninterrupted(make_config, "straight", builder=builder, epochs=4)
    first = Session(make_config("first", builder=builder, epochs=4))
    # 2 epochs of 4 batches, or one batch more, into the third epoch
    hold = first.hold_at_epoch(2) if cut == "epoch" else first.hold_at_step(9)
    first.start()
    hold.result(T)
    first.save("cut").result(T)
    stop(first)
    second = started(
        make_config("second", builder=builder, epochs=4),
        run_dir=first.run_dir,
        from_checkpoint="cut",
    )
    r = finish(second)
    assert r["segments"][0]["origin"] == "restored"
    assert r["events"][0]["kind"] == "started" and r["events"][0]["verdict"] == "restored"
    assert r["final"]["fingerprint"] == straight["final"]["fingerprint"]
    assert r["final"]["model_step"] == straight["final"]["model_step"] == 16
    assert r["session_steps"] == 16 - (8 if cut == "epoch" else 9)
