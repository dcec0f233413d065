"""The reference article's three scenarios, plus recompile: verdicts and fingerprints."""

from __future__ import annotations

import keras
from weightwatch.engine.specs import CallbackSpec
from weightwatch.engine.weights import fingerprint

from .kit import T, events_of, finish, held_at, model, started


def test_continued_callbacks_edit_keeps_instance_weights_and_optimizer(make_config):
    s = started(make_config(epochs=3), hold=6)
    held_at(s, 6)
    before = fingerprint(model(s))
    steps_before = int(model(s).optimizer.iterations.numpy())
    s.set_callbacks(
        [CallbackSpec("EarlyStopping", kwargs={"monitor": "loss", "patience": 50})]
    ).result(T)
    s.release()
    r = finish(s)
    ev = events_of(r, "callbacks_changed")[0]
    assert ev["verdict"] == "continued"
    assert ev["session_step"] == 6 and ev["model_step"] == 6
    seg0, seg1 = r["segments"][0], r["segments"][1]
    assert seg1["origin"] == "continued"
    assert seg1["start_fingerprint"] == seg0["end_fingerprint"] == before
    assert seg1["instance"] == seg0["instance"] == 1
    assert seg1["start_model_step"] == steps_before == 6
    assert seg1["callbacks"] == ["EarlyStopping"] and seg0["callbacks"] == []
    assert abs(ev["norm_before"] - ev["norm_after"]) < 1e-12


def test_restored_load_brings_back_checkpoint_weights_and_step(make_config):
    s = started(make_config(epochs=3), hold=4)
    held_at(s, 4)
    info = s.save("early").result(T)
    hold = s.hold_at_step(9)  # registered while held: no race
    s.release()
    hold.result(T)
    s.load("early").result(T)
    assert fingerprint(model(s)) == info.fingerprint
    assert int(model(s).optimizer.iterations.numpy()) == 4
    s.release()
    r = finish(s)
    ev = events_of(r, "checkpoint_loaded")[0]
    assert ev["verdict"] == "restored" and ev["model_step"] == 4
    assert ev["detail"]["optimizer_restored"] is True
    seg = r["segments"][1]
    assert seg["origin"] == "restored" and seg["start_fingerprint"] == info.fingerprint
    assert seg["start_session_step"] == 9 and seg["start_model_step"] == 4
    assert r["checkpoints"][0]["fingerprint"] == info.fingerprint
    assert r["session_steps"] == 9 + (12 - 4)  # session steps never go back


def test_reset_rebuild_is_a_new_instance_with_fresh_weights(make_config):
    s = started(make_config(epochs=2), hold=5)
    held_at(s, 5)
    before = s.telemetry.latest("global_norm")
    s.rebuild().result(T)  # same seed as the first instance: the very same initial weights
    rebuilt_norms = [before, s.telemetry.latest("global_norm")]
    assert int(model(s).optimizer.iterations.numpy()) == 0
    hold = s.hold_at_step(7)  # registered while still held at 5: no race
    s.release()
    hold.result(T)
    s.rebuild(seed=123).result(T)
    s.release()
    r = finish(s)
    segs = r["segments"]
    assert [g["origin"] for g in segs] == ["fresh", "reset", "reset"]
    assert [g["instance"] for g in segs] == [1, 2, 3]
    assert segs[1]["start_fingerprint"] == segs[0]["start_fingerprint"]
    assert segs[1]["start_fingerprint"] != segs[0]["end_fingerprint"]
    assert segs[2]["start_fingerprint"] not in (
        segs[0]["start_fingerprint"],
        segs[1]["end_fingerprint"],
    )
    assert segs[1]["start_model_step"] == 0 and segs[2]["start_model_step"] == 0
    xs, norms = s.telemetry.window("global_norm", width=10_000)
    at5 = [n for x, n in zip(xs, norms, strict=True) if x == 5.0]
    assert at5 == [rebuilt_norms[0], rebuilt_norms[1]]  # the jump is drawn at the rebuild's step
    rebuilt = events_of(r, "rebuilt")
    assert [e["verdict"] for e in rebuilt] == ["reset", "reset"]
    assert rebuilt[0]["model_step"] == 0 and rebuilt[0]["norm_after"] != rebuilt[0]["norm_before"]
    assert r["session_steps"] == 7 + 8  # a rebuild starts the epochs over


def test_optimizer_reset_recompile_keeps_weights_drops_optimizer_state(make_config):
    s = started(make_config(epochs=2), hold=5)
    held_at(s, 5)
    before = fingerprint(model(s))
    s.recompile("adam").result(T)
    m = model(s)
    assert fingerprint(m) == before
    assert int(m.optimizer.iterations.numpy()) == 0
    s.release()
    r = finish(s)
    ev = events_of(r, "recompiled")[0]
    assert ev["verdict"] == "optimizer_reset" and ev["model_step"] == 0
    seg = r["segments"][1]
    assert seg["origin"] == "optimizer_reset" and seg["instance"] == 1
    assert seg["start_fingerprint"] == r["segments"][0]["end_fingerprint"] == before
    assert r["final"]["model_step"] == 8 - 5


def test_transitions_while_paused_fold_into_one_verdict_on_resume(make_config):
    s = started(make_config(epochs=2), hold=3)
    held_at(s, 3)
    s.save("c3").result(T)
    s.pause().result(T)
    s.rebuild().result(T)
    s.load("c3").result(T)  # rebuild then load: the article's scenario 2 (model_b.load_weights)
    s.resume().result(T)
    r = finish(s)
    resume = events_of(r, "resume")[0]
    assert resume["verdict"] == "restored"
    seg = r["segments"][1]
    assert seg["origin"] == "restored" and seg["instance"] == 2
    assert seg["start_fingerprint"] == r["checkpoints"][0]["fingerprint"]


def test_user_callback_sees_one_continuous_run(make_config):
    cfg = make_config(epochs=3)
    import ww_test_models

    ww_test_models.Recorder.calls.clear()
    s = started(cfg, hold=2)
    held_at(s, 2)
    s.set_callbacks([CallbackSpec("ww_test_models:Recorder")]).result(T)
    s.release()
    finish(s)
    assert ww_test_models.Recorder.calls == [
        "train_begin",
        "epoch_end:0",
        "epoch_end:1",
        "epoch_end:2",
    ]


def test_keras_callback_stopping_training_finishes_the_session(make_config):
    cfg = make_config(
        epochs=30,
        extra="""
        [[callbacks]]
        type = "EarlyStopping"
        monitor = "loss"
        patience = 0
        min_delta = 1000.0
    """,
    )
    s = started(cfg)
    r = finish(s)
    fin = events_of(r, "finished")[0]
    assert fin["detail"]["reason"] == "a callback stopped training"
    assert r["final"]["epoch"] < 30
    assert isinstance(keras.callbacks.EarlyStopping, type)


def test_users_model_checkpoint_writes_into_the_run_dir_and_its_files_load(make_config):
    cfg = make_config(
        epochs=2,
        extra="""
        [[callbacks]]
        type = "ModelCheckpoint"
        filepath = "mc/epoch-{epoch}.weights.h5"
        save_weights_only = true
    """,
    )
    s = started(cfg)
    r = finish(s)
    files = sorted(p.name for p in (s.run_dir / "mc").iterdir())
    assert files == ["epoch-1.weights.h5", "epoch-2.weights.h5"]
    listed = [c for c in s.list_checkpoints() if c.source == "file"]
    assert [c.name for c in listed] == ["mc/epoch-1.weights.h5", "mc/epoch-2.weights.h5"]
    assert r["segments"][0]["callbacks"] == ["ModelCheckpoint"]
    s2 = started(
        make_config("again", epochs=2), run_dir=s.run_dir, from_checkpoint="mc/epoch-2.weights.h5"
    )
    r2 = finish(s2)
    assert r2["segments"][0]["origin"] == "restored"
    assert r2["segments"][0]["start_fingerprint"] == r["final"]["fingerprint"]


def test_status_is_current_right_after_a_transition(make_config):
    s = started(make_config(epochs=2), hold=5)
    held_at(s, 5)
    s.rebuild().result(T)
    st = s.status()
    assert (st.model_step, st.instance, st.epoch, st.session_step) == (0, 2, 0, 5)
    s.recompile("sgd", learning_rate=0.25).result(T)
    st = s.status()
    assert st.learning_rate == 0.25 and st.optimizer == "SGD"  # the class, not "sgd_1"
    finish(s)
