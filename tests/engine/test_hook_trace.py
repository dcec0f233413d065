"""Callbacks see one uninterrupted `fit` (issue 12, item 1): every hook call a recording callback
gets from the engine's loop (`engine/runtime/loop.py`) - name, epoch or batch number, logs and
params - equals, number for number, what it gets from plain `model.fit` on the same data order,
whatever was paused, saved or edited in the middle; and the final weights are the same bits.

The data order is the engine's deterministic feed: plain `fit` runs on `feed.dataset(...)` (or,
with `shuffle = false`, on the arrays themselves, as a user writes it).
"""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest
from weightwatch.engine.runtime import TrainLoop
from weightwatch.engine.weights import fingerprint

from .hook_trace_kit import (
    BATCH,
    EPOCHS,
    SPE,
    EpochOnly,
    N,
    Park,
    Recorder,
    Script,
    assert_same,
    build,
    data,
    feed,
    looped,
    plain,
    run_with_pauses,
)


# ----- (a) no interruption -------------------------------------------------------------------
def test_uninterrupted_loop_gives_fits_hooks_logs_history_and_weights():
    trace, fp, history = plain()
    loop, rec, driver = looped()
    returned = loop.run()
    assert_same(rec.trace, trace)
    assert trace[0] == ("train_begin", None, {}, {"verbose": 0, "epochs": EPOCHS, "steps": SPE})
    assert [t[1] for t in trace if t[0] == "batch_end"] == list(range(SPE)) * EPOCHS
    assert fingerprint(loop.model) == fp
    assert returned is loop.model.history and returned.history == history
    assert returned.epoch == list(range(EPOCHS))
    assert driver.batches == SPE * EPOCHS and [e[2] for e in driver.epochs] == [0] * EPOCHS


def test_arrays_as_a_user_writes_them_unshuffled():
    trace, fp, history = plain(arrays=True)
    loop, rec, _ = looped(shuffle=False)
    loop.run()
    assert_same(rec.trace, trace)
    assert fingerprint(loop.model) == fp and loop.model.history.history == history


# ----- (b) pause + resume, mid-epoch and at an epoch boundary, with a save while parked -----
def test_pauses_mid_epoch_and_at_epoch_end_change_nothing_a_callback_sees(tmp_path):
    trace, fp, history = plain()
    mid, edge = Park(), Park()
    saved = tmp_path / "paused.weights.h5"
    loop, rec, driver = looped(
        {
            ("batch", 0, 4): mid,
            ("batch", 1, 2): lambda loop: loop.model.save_weights(saved),
            ("epoch", 1): edge,
        }
    )
    run_with_pauses(loop, [mid, edge])
    assert mid.seen[:2] == (0, 4) and edge.seen[:2] == (2, 0)
    assert saved.is_file()
    assert_same(rec.trace, trace)  # the epoch-0 logs too: the metrics were not reset
    assert fingerprint(loop.model) == fp and loop.model.history.history == history


# ----- (c) a callback edit mid-epoch: the recording callback stayed active --------------------
def test_callbacks_added_and_removed_mid_epoch_leave_the_others_trace_alone():
    trace, fp, _ = plain()
    other = Recorder()
    loop, rec, _ = looped(
        {
            ("batch", 0, 3): lambda loop: loop.set_callbacks([rec, other]),
            ("batch", 1, 5): lambda loop: loop.set_callbacks([rec]),
        }
    )
    loop.run()
    assert_same(rec.trace, trace)
    assert fingerprint(loop.model) == fp
    names = [(t[0], t[1]) for t in other.trace]
    # it joins inside epoch 0 (begin hooks at once), sees batches 3.. and leaves before batch 5
    assert names[:3] == [("train_begin", None), ("epoch_begin", 0), ("batch_begin", 3)]
    assert other.trace[0][3] == {"verbose": 0, "epochs": EPOCHS, "steps": SPE}
    assert names[-3:] == [("batch_begin", 4), ("batch_end", 4), ("train_end", None)]
    ends = [t for t in trace if t[:2] == ("epoch_end", 0)]
    assert [t for t in other.trace if t[0] == "epoch_end"] == ends


def test_a_joining_callback_with_a_batch_end_hook_is_called_on_the_training_thread():
    rec, quiet = Recorder(), EpochOnly()
    flags: list[bool] = []

    def note(loop):
        flags.append(loop.callbacks.async_train)

    driver = Script(
        {
            ("batch", 0, 2): lambda loop: loop.set_callbacks([quiet, rec]),
            ("batch", 1, 2): lambda loop: loop.set_callbacks([quiet]),
            **{("epoch", e): note for e in range(EPOCHS)},
        }
    )
    loop = TrainLoop(build(), feed(), epochs=EPOCHS, callbacks=[quiet], driver=driver)
    driver.loop = loop
    loop.run()
    assert rec.threads == {threading.get_ident()}  # never on Keras's worker thread
    # sync while it is in the list; after it left, async where the backend allows it (Keras
    # never dispatches asynchronously on TensorFlow: IS_THREAD_SAFE is False there)
    free = bool(keras.src.backend.IS_THREAD_SAFE)
    assert flags == [False, free, free]
    assert [t[1] for t in rec.trace if t[0] == "batch_end"] == [*range(2, SPE), 0, 1]


# ----- (d) Dropout, (e) validation data -------------------------------------------------------
@pytest.mark.parametrize(("dropout", "val"), [(True, False), (False, True), (True, True)])
def test_pauses_with_dropout_and_validation_data(dropout, val):
    trace, fp, history = plain(dropout=dropout, val=val)
    mid, edge = Park(), Park()
    loop, rec, _ = looped(
        {("batch", 1, 3): mid, ("epoch", 0): edge, ("batch", 2, 6): lambda loop: None},
        dropout=dropout,
        val=val,
    )
    run_with_pauses(loop, [edge, mid])
    assert_same(rec.trace, trace)
    assert fingerprint(loop.model) == fp and loop.model.history.history == history
    if val:
        assert "val_loss" in trace[-1][2] and any(t[0] == "test_batch_end" for t in trace)


# ----- re-entry: an error at a boundary (a failing command, a Quit) then run() again ----------
def test_run_goes_on_after_an_error_without_a_second_begin():
    trace, fp, _ = plain(val=True)

    def fail(loop):
        raise RuntimeError("a hook failed")

    loop, rec, _ = looped({("batch", 1, 2): fail, ("epoch", 1): fail}, val=True)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            loop.run()
    loop.run()
    assert_same(rec.trace, trace)
    assert fingerprint(loop.model) == fp


# ----- a load mid-epoch: the epoch goes on, its logs cover the batches after the load -------
def test_model_changed_mid_epoch_resets_the_metrics_and_says_what_the_logs_cover():
    trace, fp, _ = plain()

    def reload(loop):  # a load of the weights it already has: the trajectory is plain fit's
        loop.model.set_weights(loop.model.get_weights())
        loop.model_changed()

    loop, rec, driver = looped({("batch", 1, 3): reload})
    loop.run()
    assert fingerprint(loop.model) == fp
    assert [e[2] for e in driver.epochs] == [0, 3, 0]
    epoch_end = {t[1]: t[2] for t in rec.trace if t[0] == "epoch_end"}
    expected = {t[1]: t[2] for t in trace if t[0] == "epoch_end"}
    assert epoch_end[0] == expected[0] and epoch_end[2] == expected[2]
    # epoch 1's loss is the mean over batches 3..6 alone, recovered from plain fit's running
    # means (Keras weights each batch's loss by its sample count)
    means = [t[2]["loss"] for t in trace if t[0] == "batch_end"][SPE : 2 * SPE]
    counts = np.cumsum([BATCH] * (SPE - 1) + [N - BATCH * (SPE - 1)])
    sums = np.array(means) * counts
    after = (sums[-1] - sums[2]) / (counts[-1] - counts[2])
    assert epoch_end[1]["loss"] == pytest.approx(after, rel=1e-5)
    assert epoch_end[1]["loss"] != pytest.approx(expected[1]["loss"], rel=1e-4)


# ----- a load that moves the position, a rebuild, a recompile with the telemetry probe --------
def test_loading_an_earlier_checkpoint_replays_from_it_bit_for_bit():
    trace, fp, _ = plain()
    saved = {}

    def save(loop):
        m = loop.model
        saved["w"] = [np.array(v.numpy()) for v in m.weights + m.optimizer.variables]

    def load(loop):  # back to epoch 0, step 4, weights and optimizer state
        m = loop.model
        for v, value in zip(m.weights + m.optimizer.variables, saved["w"], strict=True):
            v.assign(value)
        loop.model_changed(epoch=0, step=4)

    loop, rec, driver = looped({("batch", 0, 4): save, ("batch", 1, 3): load})
    loop.run()
    assert fingerprint(loop.model) == fp  # the replay is the uninterrupted run's
    cut = trace.index(("batch_begin", 3, {}), SPE * 2 + 2)  # batch 3 of epoch 1
    got = rec.trace
    assert got[:cut] == trace[:cut]
    last = trace[cut - 1]  # epoch 1 ends at the load with its batches' running means
    assert last[:2] == ("batch_end", 2) and got[cut] == ("epoch_end", 1, last[2])
    assert got[cut + 1 : cut + 3] == [("epoch_begin", 0, {}), ("batch_begin", 4, {})]
    tail = trace.index(("epoch_begin", 1, {}))
    assert got[-(len(trace) - tail) :] == trace[tail:]  # epochs 1 and 2 again, all as in fit
    assert [(e[0], e[2]) for e in driver.epochs] == [(0, 0), (0, 4), (1, 0), (2, 0)]


def test_a_rebuild_with_the_same_seed_starts_over_without_a_second_train_begin():
    trace, fp, history = plain()

    def rebuild(loop):
        loop.model_changed(build(), epoch=0, step=0)

    loop, rec, _ = looped({("batch", 1, 2): rebuild})
    old = loop.model
    loop.run()
    assert loop.model is not old and rec.model is loop.model
    assert fingerprint(loop.model) == fp
    assert loop.model.history.history["loss"][-EPOCHS:] == history["loss"]
    assert [t[0] for t in rec.trace].count("train_begin") == 1
    assert rec.trace[-len(trace) + 1 :] == trace[1:]  # after the rebuild: all of plain fit


def test_a_recompile_mid_epoch_goes_on_with_the_new_step_and_the_probe():
    from weightwatch.engine.backend import make_probe as TelemetryProbe  # either backend's

    probes = []

    def recompile(loop):
        probes[-1].uninstall()  # as Trainer.compile does
        loop.model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
        probes.append(TelemetryProbe(loop.model))
        loop.model_changed()

    loop, rec, driver = looped({("batch", 1, 2): recompile})
    probes.append(TelemetryProbe(loop.model))
    loop.run()
    after = SPE * EPOCHS - (SPE + 2)
    assert probes[0].written == SPE + 2 and probes[1].written == after
    assert int(loop.model.optimizer.iterations.numpy()) == after
    assert type(loop.model.optimizer).__name__ == "SGD"
    assert [e[2] for e in driver.epochs] == [0, 2, 0]
    assert [t[1] for t in rec.trace if t[0] == "batch_end"] == list(range(SPE)) * EPOCHS


@pytest.mark.skipif(
    keras.backend.backend() == "jax", reason="steps_per_execution > 1: not built on JAX yet"
)
def test_steps_per_execution_gives_fits_batch_numbers():
    def build3():
        model = build()
        loss, metrics = "categorical_crossentropy", ["accuracy"]
        model.compile("adam", loss, metrics=metrics, steps_per_execution=3)
        return model

    x, y = data()
    ref, rec = build3(), Recorder()
    ref.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0, callbacks=[rec])
    mine, rec2 = build3(), Recorder()
    driver = Script({("batch", 1, 3): lambda loop: None})
    loop = TrainLoop(mine, feed(False), epochs=EPOCHS, callbacks=[rec2], driver=driver)
    driver.loop = loop
    loop.run()
    assert_same(rec2.trace, rec.trace)
    assert [t[1] for t in rec.trace if t[0] == "batch_end"][:3] == [2, 5, 8]
    assert fingerprint(mine) == fingerprint(ref) and driver.batches == SPE * EPOCHS


def test_a_failed_train_step_is_fed_again_and_a_stop_ends_the_run_once():
    trace, fp, _ = plain()
    broken = {}

    def break_next_step(loop):  # the step eats its batch, then fails (as a NaN sentinel does)
        real = loop.model.train_function

        def fail(*args):  # (iterator) on TensorFlow, (state, iterator) on JAX
            next(args[-1])
            loop.model.train_function = real
            raise RuntimeError("the step failed")

        broken["real"] = real
        loop.model.train_function = fail

    loop, rec, _ = looped({("batch", 1, 4): break_next_step})
    with pytest.raises(RuntimeError, match="the step failed"):
        loop.run()
    assert (loop.epoch, loop.step) == (1, 4)  # the batch was not counted
    loop.run()
    assert_same(rec.trace, trace)
    assert fingerprint(loop.model) == fp

    class Quit(Exception):
        pass

    def stop(loop):
        raise Quit

    loop, rec, _ = looped({("batch", 1, 3): stop})
    with pytest.raises(Quit):
        loop.run()
    loop.end()  # the session stops: on_train_end once, with the last whole epoch's logs
    loop.end()
    epoch0 = [t for t in trace if t[:2] == ("epoch_end", 0)][0]
    assert rec.trace[-1] == ("train_end", None, epoch0[2])
    assert [t[0] for t in rec.trace].count("train_end") == 1


def test_training_on_after_the_end_is_a_second_fit():
    more = EPOCHS + 1
    model, rec = build(), Recorder()
    kw = {"steps_per_epoch": SPE, "shuffle": False, "verbose": 0, "callbacks": [rec]}
    model.fit(feed().dataset(0, 0, EPOCHS), epochs=EPOCHS, **kw)
    model.fit(feed().dataset(EPOCHS, 0, more), epochs=more, initial_epoch=EPOCHS, **kw)
    loop, mine, _ = looped()
    first = loop.run()
    loop.set_epochs(more)
    second = loop.run()
    assert_same(mine.trace, rec.trace)
    assert mine.trace[-(SPE * 2 + 4)][3]["epochs"] == more  # the second on_train_begin's params
    assert fingerprint(loop.model) == fingerprint(model)
    assert second is not first and second.history == model.history.history
    assert second.epoch == [EPOCHS]
