"""One set of behaviour tests, run against the engine's `Session` and the test double alike,
through `SessionAPI` only: commands land, holds are exact, pause/resume, save/load/rebuild/
recompile verdicts, refusals that change nothing, the report's keys, events and the listener.
If the fake drifts from the engine (or the engine from its contract), one side fails here."""

from __future__ import annotations

import inspect
import json
import threading
import time

import numpy as np
import pytest
from weightwatch.engine.api import MEMBERS, SessionAPI, TelemetryView, plain
from weightwatch.engine.checkpoints import check_name
from weightwatch.engine.errors import BadInput, CheckpointError, CommandRejected
from weightwatch.engine.events import Event, StateChanged
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.remote.client import RemoteSession
from weightwatch.engine.report import EVENT_KEYS
from weightwatch.engine.session import Session
from weightwatch.engine.specs import CallbackSpec

from tests.contracts import REPORT_KEYS
from tests.fakes.fake_session import FakeSession

from .conftest import EPOCHS, STEPS, T, done, start

LAST = EPOCHS * STEPS  # the session step at which all epochs are done


def until(predicate, timeout: float = T) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        time.sleep(0.005)


def kinds(api: SessionAPI) -> list[str]:
    return [e.kind for e in api.events()]


def origins(api: SessionAPI) -> list[str]:
    return [s.origin for s in api.segments()]


# -- the protocol itself --------------------------------------------------------------------


def test_both_are_session_apis_with_plain_telemetry(api):
    assert isinstance(api, SessionAPI)
    assert isinstance(api.telemetry, TelemetryView)


def _shape(function) -> tuple:
    """Parameters (name, kind, default, type) and the return type, annotations resolved (so
    `ev.Status` and `Status` are the same type)."""
    sig = inspect.signature(function, eval_str=True)
    params = [(p.name, p.kind, p.default, p.annotation) for p in sig.parameters.values()]
    return params, sig.return_annotation


def test_every_protocol_method_has_the_same_signature_on_both():
    methods = [n for n in MEMBERS if inspect.isfunction(getattr(SessionAPI, n, None))]
    assert len(methods) >= 22  # commands, holds, reads, lifecycle
    for name in methods:
        protocol = _shape(getattr(SessionAPI, name))
        fake = _shape(getattr(FakeSession, name))
        engine = _shape(getattr(Session, name))
        assert fake == protocol, name
        assert _shape(getattr(RemoteSession, name)) == protocol, name
        if name == "start":  # the engine gives local callers its Thread (a kind of object)
            assert engine == (protocol[0], threading.Thread)
        else:
            assert engine == protocol, name
    properties = [n for n in MEMBERS if isinstance(getattr(SessionAPI, n, None), property)]
    assert sorted(properties) == ["config", "run_dir", "state", "telemetry"]
    assert isinstance(FakeSession.state, property) and isinstance(Session.state, property)
    assert isinstance(RemoteSession.state, property)


def test_plain_refuses_what_cannot_cross_a_socket():
    assert plain({"a": (1, 2.5, None, S.RUNNING)}) == {"a": [1, 2.5, None, "running"]}
    for value in (np.zeros(2), object(), {1: "x"}, {"a": {1, 2}}):
        with pytest.raises(TypeError, match="not plain data"):
            plain(value)


# -- behaviour, the same on both -----------------------------------------------------------


def test_holds_are_exact_and_release_goes_on(api):
    first = api.hold_at_step(5)
    start(api)
    assert done(first) == 5
    st = api.status()
    assert (st.state, st.session_step, st.epoch, st.step_in_epoch) == (S.HOLDING, 5, 1, 1)
    at_epoch = api.hold_at_epoch(2)
    api.release()
    assert done(at_epoch) == 2 * STEPS
    st = api.status()
    assert (st.state, st.session_step, st.epoch, st.step_in_epoch) == (S.HOLDING, 8, 2, 0)
    with pytest.raises(CommandRejected, match="already passed"):
        done(api.hold_at_step(3))
    with pytest.raises(CommandRejected, match="already passed"):
        done(api.hold_at_epoch(1))
    finished = api.hold_when_finished()
    api.release()
    assert done(finished) == LAST
    assert api.status().state is S.HOLDING and api.status().epoch == EPOCHS
    api.release()
    until(lambda: api.state is S.FINISHED)
    assert kinds(api) == ["started", "finished"]  # holds leave no events


def test_commands_sent_while_starting_are_queued_not_refused(api):
    st = api.status()
    assert (st.state, st.session_step, st.instance) == (S.STARTING, 0, 0)
    paused = api.pause()
    start(api)
    assert done(paused) is None
    st = api.status()
    assert (st.state, st.session_step) == (S.PAUSED, 0)
    assert kinds(api) == ["started", "pause"]
    finished = api.hold_when_finished()
    assert done(api.resume()) == "continued"
    assert done(finished) == LAST
    assert origins(api) == ["fresh", "continued"]


def test_pause_and_resume_continue_the_same_weights_in_a_new_segment(api):
    held = api.hold_at_step(3)
    start(api)
    done(held)
    assert done(api.pause()) is None
    assert (api.status().state, api.status().session_step) == (S.PAUSED, 3)
    with pytest.raises(CommandRejected, match="nothing to pause"):
        done(api.pause())
    finished = api.hold_when_finished()
    assert done(api.resume()) == "continued"
    assert done(finished) == LAST
    first, second = api.segments()
    assert (first.origin, first.end_session_step, second.origin) == ("fresh", 3, "continued")
    assert second.start_session_step == 3 and second.start_fingerprint == first.end_fingerprint
    pause = next(e for e in api.events() if e.kind == "pause")
    assert (pause.session_step, pause.detail) == (3, {"epoch": 0, "step_in_epoch": 3})
    assert [e.verdict for e in api.events() if e.kind == "resume"] == ["continued"]


def test_save_load_rebuild_recompile_verdicts(api):
    held = api.hold_at_step(STEPS)
    start(api)
    done(held)
    saved = done(api.save("four"))
    assert (saved.name, saved.model_step, saved.epoch) == ("four", 4, 1)
    assert [c.name for c in api.list_checkpoints() if c.source == "weightwatch"] == ["four"]
    held = api.hold_at_step(6)
    api.release()
    done(held)
    loaded = done(api.load("four"))
    assert loaded.name == "four" and loaded.fingerprint == saved.fingerprint
    st = api.status()
    assert (st.session_step, st.model_step, st.epoch, st.step_in_epoch) == (6, 4, 1, 0)
    event = api.events()[-1]
    assert (event.kind, event.verdict) == ("checkpoint_loaded", "restored")
    assert event.detail["fingerprint"] == saved.fingerprint
    assert done(api.rebuild()) == "reset"
    st = api.status()
    assert (st.model_step, st.epoch, st.instance) == (0, 0, 2)
    assert api.events()[-1].detail["seed"] == api.config.run.seed  # the config's, not seed+1
    assert done(api.recompile("sgd", 0.01)) == "optimizer_reset"
    st = api.status()
    assert (st.optimizer, st.model_step) == ("SGD", 0)
    assert st.learning_rate == pytest.approx(0.01)
    assert origins(api) == ["fresh", "restored", "reset", "optimizer_reset"]
    assert api.status().last_verdict == "optimizer_reset"


def test_set_lr_and_callbacks_land_and_say_so(api):
    held = api.hold_at_step(2)
    start(api)
    done(held)
    assert done(api.set_lr(2e-4)) == pytest.approx(2e-4)
    assert api.status().learning_rate == pytest.approx(2e-4)
    lr = api.events()[-1]
    assert lr.kind == "lr_changed" and lr.detail["new"] == pytest.approx(2e-4)
    specs = [CallbackSpec("TerminateOnNaN"), CallbackSpec("CSVLogger", False, {"filename": "l"})]
    assert done(api.set_callbacks(specs)) == "continued"
    assert [s.type for s in api.status().callbacks] == ["TerminateOnNaN", "CSVLogger"]
    changed = api.events()[-1]
    assert (changed.kind, changed.verdict) == ("callbacks_changed", "continued")
    assert (changed.detail["callbacks"], changed.detail["disabled"]) == (
        ["TerminateOnNaN"],
        ["CSVLogger"],
    )
    assert api.segments()[-1].callbacks == ["TerminateOnNaN"]
    assert done(api.note_error("a script action failed", {"action": "load"})) is None
    noted = api.events()[-1]
    assert (noted.kind, noted.detail) == (
        "error",
        {"message": "a script action failed", "action": "load"},
    )


def test_refused_commands_change_nothing_and_are_error_events(api):
    held = api.hold_at_step(2)
    start(api)
    done(held)
    before, segments = api.status(), api.segments()
    with pytest.raises(CheckpointError) as refused:
        done(api.save("no spaces"))
    with pytest.raises(CheckpointError) as expected:
        check_name("no spaces")
    assert str(refused.value) == str(expected.value)  # the engine's rule, word for word
    with pytest.raises(CheckpointError):
        done(api.load("missing"))
    with pytest.raises(BadInput, match="positive"):
        done(api.set_lr(-1.0))
    with pytest.raises(BadInput, match="unknown optimizer"):
        done(api.recompile("no-such-optimizer"))
    outside = CallbackSpec("CSVLogger", True, {"filename": "../../outside.csv"})
    with pytest.raises(BadInput, match="leaves the run directory"):
        done(api.set_callbacks([outside]))
    errors = [e.detail["action"] for e in api.events() if e.kind == "error"]
    assert errors == ["save", "load", "set_lr", "recompile", "callbacks"]
    after = api.status()
    for key in ("session_step", "model_step", "epoch", "instance", "learning_rate", "callbacks"):
        assert getattr(after, key) == getattr(before, key), key
    assert [s.origin for s in api.segments()] == [s.origin for s in segments]
    assert api.segments()[-1].end_session_step is None  # training in the same segment


def test_a_finished_run_resumes_for_more_epochs(api):
    finished = api.hold_when_finished()
    start(api)
    assert done(finished) == LAST
    api.release()
    until(lambda: api.state is S.FINISHED)
    with pytest.raises(CommandRejected, match="nothing to pause"):
        done(api.pause())
    assert done(api.resume(1)) == "continued"
    more = api.hold_when_finished()
    assert done(more) == LAST + STEPS
    assert (api.status().epoch, api.status().epochs) == (EPOCHS + 1, EPOCHS + 1)
    assert next(e for e in api.events() if e.kind == "resume").detail["epochs"] == EPOCHS + 1
    assert kinds(api) == ["started", "finished", "resume", "finished"]


def test_stop_resolves_with_the_report_then_everything_is_refused(api):
    held = api.hold_at_step(3)
    start(api)
    done(held)
    done(api.save("s3"))
    report = done(api.stop())
    assert api.state is S.STOPPED and api.report() == report
    assert set(report) == REPORT_KEYS and report["session_steps"] == 3
    assert set(report["final"]) == {"model_step", "epoch", "loss", "global_norm", "fingerprint"}
    assert len(report["final"]["fingerprint"]) == 64 and report["final"]["model_step"] == 3
    (checkpoint,) = report["checkpoints"]
    assert set(checkpoint) == {"name", "path", "model_step", "epoch", "fingerprint"}
    assert (checkpoint["name"], checkpoint["model_step"], checkpoint["epoch"]) == ("s3", 3, 0)
    assert [e["kind"] for e in report["events"]] == ["started", "checkpoint_saved", "quit"]
    assert all(set(e) == set(EVENT_KEYS) for e in report["events"])
    (segment,) = report["segments"]
    assert (segment["origin"], segment["end_session_step"]) == ("fresh", 3)
    json.dumps(report)
    with pytest.raises(CommandRejected, match="stopped"):
        done(api.pause())
    with pytest.raises(CommandRejected, match="stopped"):
        done(api.hold_at_step(10))
    assert done(api.stop()) is None


def test_every_read_and_result_is_plain_data(api):
    held = api.hold_at_step(4)
    start(api)
    done(held)
    assert api.default_checkpoint_name() == "step-000004"
    info = done(api.save())
    assert info.name == "step-000004"
    tele = api.telemetry
    assert tele.latest("loss") is not None and tele.last_x() == 4.0
    reads = [api.status(), api.events(), api.segments(), api.list_checkpoints(), api.report()]
    reads += [api.config, info, tele.window("loss"), tele.layer_names, tele.version, tele.names()]
    for value in reads:
        json.dumps(plain(value))
    assert plain(api.status())["state"] == "holding"


def test_the_listener_hears_every_event_and_state_change(api):
    heard: list[object] = []
    api.listener = heard.append
    finished = api.hold_when_finished()
    start(api)
    done(finished)
    assert [m.kind for m in heard if isinstance(m, Event)] == kinds(api)
    states = [m.state for m in heard if isinstance(m, StateChanged)]
    assert states == [S.RUNNING, S.FINISHED, S.HOLDING]


def test_what_a_callback_does_to_the_weights_and_the_rate_is_an_event_naming_it(api):
    held = api.hold_at_step(STEPS + 1)
    specs = [
        CallbackSpec("tests.fakes.effect_callbacks:HalveWeightsAtFirstEpochEnd"),
        CallbackSpec("tests.fakes.effect_callbacks:HalveRateAtFirstEpochEnd"),
    ]
    api.set_callbacks(specs)  # queued while starting: lands before the first batch
    start(api)
    done(held)
    (altered,) = [e for e in api.events() if e.kind == "weights_changed"]
    assert (altered.verdict, altered.session_step) == ("altered", STEPS)  # the first epoch's end
    assert altered.detail["callback"] == "HalveWeightsAtFirstEpochEnd"
    assert (altered.detail["hook"], altered.detail["epoch"]) == ("on_epoch_end", 1)
    assert altered.detail["message"] == (
        "HalveWeightsAtFirstEpochEnd changed the weights in on_epoch_end at epoch 1"
    )
    assert altered.norm_before != altered.norm_after
    (rate,) = [e for e in api.events() if e.kind == "lr_changed"]
    assert rate.session_step == STEPS and rate.detail["callback"] == "HalveRateAtFirstEpochEnd"
    assert rate.detail["new"] == pytest.approx(rate.detail["old"] / 2)
    assert api.status().learning_rate == pytest.approx(rate.detail["new"])
    assert "altered" not in [s.origin for s in api.segments()]  # training never stopped
