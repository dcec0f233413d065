"""Bad checkpoints, wrong-moment commands and user code that raises: clear errors, nothing lost."""

from __future__ import annotations

import os

import pytest
from weightwatch.engine.errors import CheckpointError, CommandRejected
from weightwatch.engine.specs import CallbackSpec
from weightwatch.engine.weights import fingerprint

from .kit import T, events_of, finish, held_at, model, started, stop


@pytest.fixture
def held_session(make_config):
    s = started(make_config("live", epochs=3), hold=4)
    held_at(s, 4)
    s.save("good").result(T)
    yield s
    if not s.stopped.is_set():
        stop(s)


def _truncated(s, tmp_path):
    good = next(c for c in s.list_checkpoints() if c.name == "good")
    data = open(good.path, "rb").read()
    p = tmp_path / "truncated.weights.h5"
    p.write_bytes(data[: len(data) // 2])
    return p, "truncated or corrupt"


def _random_bytes(s, tmp_path):
    p = tmp_path / "random.weights.h5"
    p.write_bytes(os.urandom(4096))
    return p, "truncated or corrupt"


def _other_architecture(s, tmp_path):
    import keras

    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(12), keras.layers.Dense(1)])
    p = tmp_path / "other.weights.h5"
    m.save_weights(str(p))
    return p, "does not fit this model"


def _keras_archive(s, tmp_path):
    p = tmp_path / "model.keras"
    p.write_bytes(b"PK\x03\x04")
    return p, ".keras archive"


def _missing(s, tmp_path):
    return tmp_path / "nothing.weights.h5", "no such checkpoint or file"


@pytest.mark.parametrize(
    "make_bad", [_truncated, _random_bytes, _other_architecture, _keras_archive, _missing]
)
def test_bad_checkpoint_fails_clearly_and_changes_nothing(held_session, tmp_path, make_bad):
    s = held_session
    path, words = make_bad(s, tmp_path)
    before = fingerprint(model(s))
    with pytest.raises(CheckpointError) as err:
        s.load(str(path)).result(T)
    message = str(err.value)
    assert words in message and "\n" not in message
    assert path.name in message or "nothing" in message
    assert fingerprint(model(s)) == before
    assert events_of(s.report(), "error")[-1]["detail"]["action"] == "load"
    s.release()  # training goes on
    r = finish(s)
    assert r["session_steps"] == 12 and r["final"]["fingerprint"] != before


def test_other_architecture_message_names_the_first_mismatch(held_session, tmp_path):
    path, _ = _other_architecture(held_session, tmp_path)
    with pytest.raises(
        CheckpointError, match=r"layers/dense/vars/0 has shape \(4, 12\) in the file"
    ):
        held_session.load(str(path)).result(T)


def test_manifest_checkpoint_whose_file_changed_is_refused(held_session):
    good = next(c for c in held_session.list_checkpoints() if c.name == "good")
    with open(good.path, "r+b") as f:
        f.seek(-8, os.SEEK_END)
        f.write(b"XXXXXXXX")
    with pytest.raises(CheckpointError, match="SHA-256 mismatch"):
        held_session.load("good").result(T)


def test_wrong_moment_commands_are_rejected_with_a_reason(held_session):
    s = held_session
    with pytest.raises(CommandRejected, match="already running"):
        s.resume().result(T)
    s.pause().result(T)
    with pytest.raises(CommandRejected, match="nothing to pause"):
        s.pause().result(T)
    with pytest.raises(CommandRejected, match="already passed"):
        s.hold_at_step(1).result(T)
    with pytest.raises(CheckpointError, match="checkpoint name"):
        s.save("../evil").result(T)
    s.resume().result(T)


def test_set_lr_applies_and_schedule_is_refused(held_session):
    s = held_session
    assert s.set_lr(0.05).result(T) == 0.05
    assert abs(float(model(s).optimizer.learning_rate.numpy()) - 0.05) < 1e-9
    ev = events_of(s.report(), "lr_changed")[0]
    assert ev["detail"]["new"] == 0.05 and ev["verdict"] is None
    import keras

    model(s).optimizer._learning_rate = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    with pytest.raises(CommandRejected, match="follows a schedule"):
        s.set_lr(0.01).result(T)


def test_bad_callback_edit_is_rejected_and_keeps_the_old_list(held_session):
    s = held_session
    with pytest.raises(Exception, match=r"NoSuchCallback"):
        s.set_callbacks([CallbackSpec("NoSuchCallback")]).result(T)
    assert s.status().callbacks == ()
    assert len(s.report()["segments"]) == 1  # no transition happened


@pytest.mark.parametrize("hook", ["on_epoch_end", "on_train_batch_end"])
def test_callback_that_raises_pauses_training_and_session_stays_usable(make_config, hook):
    s = started(make_config("cb", epochs=3), hold=2)
    held_at(s, 2)
    s.save("before").result(T)
    s.set_callbacks([CallbackSpec("ww_test_models:Exploder", kwargs={"hook": hook})]).result(T)
    s.release()
    deadline = __import__("time").time() + T
    while s.state.value != "paused" and __import__("time").time() < deadline:
        __import__("time").sleep(0.05)
    assert s.state.value == "paused" and "boom" in s.status().message
    err = events_of(s.report(), "error")[-1]
    assert "boom" in err["detail"]["message"] and "Traceback" in err["detail"]["traceback"]
    assert "boom" in (s.run_dir / "errors.log").read_text()
    s.set_callbacks([]).result(T)
    s.resume().result(T)
    r = finish(s)
    assert r["final"]["epoch"] == 3
    assert any(c["name"] == "before" for c in r["checkpoints"])


def test_divergence_pauses_at_the_batch_with_finite_weights_and_names_the_checkpoint(make_config):
    cfg = make_config("div", epochs=50, extra="")
    import dataclasses

    cfg = dataclasses.replace(cfg, compile=dataclasses.replace(cfg.compile, learning_rate=1e9))
    s = started(cfg, hold=0)
    held_at(s, 0)  # before the first step: the only good weights with this learning rate
    s.save("first").result(T)
    s.release()
    deadline = __import__("time").time() + T
    while s.state.value != "paused" and __import__("time").time() < deadline:
        __import__("time").sleep(0.05)
    import numpy as np

    ev = events_of(s.report(), "diverged")[0]
    assert ev["detail"]["last_good_checkpoint"] == "first"
    assert "not finite" in ev["detail"]["message"] and "diverged" in s.status().message
    finite = all(np.isfinite(w).all() for w in model(s).get_weights())
    assert ev["detail"]["weights_finite"] is finite
    # it stopped at the first bad batch: every recorded loss and norm is finite
    assert np.isfinite(s.telemetry.window("loss", width=10_000)[1]).all()
    assert np.isfinite(s.telemetry.window("global_norm", width=10_000)[1]).all()
    # and none is a row the stopped step never wrote (loss 0, learning rate 0)
    assert set(s.telemetry.window("lr", width=10_000)[1]) == {1e9}
    assert ev["session_step"] == s.status().session_step < 50 * 4
    s.load("first").result(T)
    s.set_lr(0.001).result(T)
    s.resume().result(T)
    r = finish(s)
    assert r["final"]["epoch"] == 50 and np.isfinite(r["final"]["loss"])
