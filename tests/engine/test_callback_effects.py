"""What the user's callbacks do is shown: weights they change (`weights_changed`, verdict
`altered`), rates they change (`lr_changed` naming them), what they print (RUN_DIR/user.log)."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from weightwatch.engine.config import load_config
from weightwatch.engine.events import ALTERED

from ..conftest import write_config
from .kit import T, events_of, finish, held_at, started

EFFECTS = """
import logging

import keras


def loud(units=8, inputs=4):
    print("builder says hello")
    logging.getLogger("ww_effects").warning("builder warns")  # no handler: Python's last resort
    inner = logging.getLogger("ww_inner")  # a handler made here prints to this sys.stderr
    inner.handlers = [logging.StreamHandler()]  # (this session's: one made by an earlier
    inner.propagate = False  # test would hold a stream pytest has closed since)
    inner.warning("inner handler warns")
    logging.getLogger("ww_before").warning("early handler warns")  # its handler: the test's
    return keras.Sequential([keras.Input((inputs,)),
                             keras.layers.Dense(units, activation="relu", name="hidden"),
                             keras.layers.Dense(1, name="out")])


class Doubler(keras.callbacks.Callback):
    '''Doubles every weight once, in on_train_batch_end of batch 2 of the first epoch.'''

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 0 and batch == 2:
            print("doubling the weights")
            self.model.set_weights([w * 2 for w in self.model.get_weights()])


class LambdaHalver(keras.callbacks.LambdaCallback):
    '''A LambdaCallback: its hook is a lambda, with no `self` to name it by.'''

    def __init__(self):
        super().__init__(on_epoch_end=lambda epoch, logs: epoch == 1 and self.halve())

    def halve(self):
        self.model.set_weights([w * 0.5 for w in self.model.get_weights()])


class SameWeights(keras.callbacks.Callback):
    '''Assigns the weights the model already has: nothing changes.'''

    def on_epoch_end(self, epoch, logs=None):
        self.model.set_weights(self.model.get_weights())
"""


def _config(tmp_path, *, builder="mlp", epochs=3, callbacks=""):
    path = write_config(tmp_path / "cfg", epochs=epochs, extra=callbacks)
    (path.parent / "ww_effects.py").write_text(EFFECTS)
    if builder != "mlp":
        text = path.read_text().replace("ww_test_models:mlp", f"ww_effects:{builder}")
        path.write_text(text)
    return load_config(path)


EARLY_STOPPING = """
[[callbacks]]
type = "EarlyStopping"
monitor = "loss"
mode = "max"            # the loss falls, so for this monitor every epoch after the first is worse
patience = 1
restore_best_weights = true
"""


def test_early_stopping_restoring_the_best_weights_is_an_altered_event(tmp_path):
    report = finish(started(_config(tmp_path, epochs=6, callbacks=EARLY_STOPPING)))
    (changed,) = events_of(report, "weights_changed")
    assert changed["verdict"] == ALTERED
    detail = changed["detail"]
    assert (detail["callback"], detail["hook"]) == ("EarlyStopping", "on_train_end")
    # stopped after epoch 2 (patience 1 after the best, the first); put epoch 1's back
    assert (detail["epoch"], detail["best_epoch"]) == (2, 1)  # epochs done; 1-based
    assert detail["message"] == "EarlyStopping restored the best weights at epoch 2 (best: epoch 1)"
    assert changed["norm_before"] != changed["norm_after"]
    assert changed["session_step"] == 8  # 2 epochs of 4 batches
    # the weights it left are the ones training ended with
    assert detail["fingerprint"] == report["final"]["fingerprint"]
    assert changed["norm_after"] == pytest.approx(report["final"]["global_norm"])
    (finished,) = events_of(report, "finished")
    assert finished["detail"]["callback"] == "EarlyStopping"
    assert finished["session_step"] == changed["session_step"]


def test_set_weights_in_a_batch_hook_is_marked_at_that_batch(tmp_path):
    cfg = _config(tmp_path, callbacks='[[callbacks]]\ntype = "ww_effects:Doubler"\n')
    report = finish(started(cfg))
    (changed,) = events_of(report, "weights_changed")
    assert changed["verdict"] == ALTERED
    assert changed["session_step"] == 3  # after batch 2 (the third), before the fourth
    assert changed["detail"]["callback"] == "Doubler"
    assert changed["detail"]["hook"] == "on_train_batch_end"
    assert (changed["detail"]["epoch"], changed["detail"]["step_in_epoch"]) == (0, 3)
    assert (
        changed["detail"]["message"]
        == "Doubler changed the weights in on_train_batch_end at epoch 1"
    )
    assert changed["norm_after"] == pytest.approx(2 * changed["norm_before"], rel=1e-6)


def test_a_callback_that_assigns_the_same_weights_alters_nothing(tmp_path):
    cfg = _config(tmp_path, callbacks='[[callbacks]]\ntype = "ww_effects:SameWeights"\n')
    report = finish(started(cfg))
    assert events_of(report, "weights_changed") == []


def test_reduce_lr_on_plateau_is_an_lr_changed_event_naming_it(tmp_path):
    plateau = """
    [[callbacks]]
    type = "ReduceLROnPlateau"
    monitor = "loss"
    patience = 0
    min_delta = 1000.0      # no epoch ever improves enough: the rate halves at each epoch end
    factor = 0.5
    """
    report = finish(started(_config(tmp_path, callbacks=plateau.replace("\n    ", "\n"))))
    changes = events_of(report, "lr_changed")
    assert [e["session_step"] for e in changes] == [8, 12]  # epochs 2 and 3 did not improve
    first, second = (e["detail"] for e in changes)
    assert (first["callback"], first["hook"]) == ("ReduceLROnPlateau", "on_epoch_end")
    assert first["old"] == pytest.approx(1e-3) and first["new"] == pytest.approx(5e-4)
    assert second["old"] == pytest.approx(5e-4) and second["new"] == pytest.approx(2.5e-4)


def test_user_prints_and_logs_go_to_user_log_and_nothing_else_does(tmp_path, capsys):
    cfg = _config(
        tmp_path, builder="loud", callbacks='[[callbacks]]\ntype = "ww_effects:Doubler"\n'
    )
    early = logging.StreamHandler(sys.stderr)  # made before training: not a wrapped stream
    logging.getLogger("ww_before").addHandler(early)
    # a listener runs on the training thread too (`--plain` prints its progress lines there)
    s = started(cfg, listener=lambda msg: print("listener heard", type(msg).__name__))
    seen = threading.Event()

    def elsewhere():
        print("not the training thread")
        seen.set()

    threading.Thread(target=elsewhere).start()
    assert seen.wait(10)
    finish(s)
    logging.getLogger("ww_before").removeHandler(early)
    text = (s.run_dir / "user.log").read_text()
    lines = text.splitlines()
    assert "builder says hello" in lines
    assert "doubling the weights" in lines  # a callback's print
    # logging: each record once, whichever handler printed it
    for words in ("builder warns", "inner handler warns", "early handler warns"):
        assert len([line for line in lines if words in line]) == 1, words
    assert "not the training thread" not in text
    assert "listener heard" not in text  # weightwatch's own output is not the user's
    out = capsys.readouterr()
    assert "builder says hello" in out.out  # still printed where it went before


def test_inspect_prints_whole_checkpoint_names_and_what_a_callback_altered(tmp_path, capsys):
    from weightwatch.tui.inspect_view import inspect_command

    name = "after-the-warm-up-of-the-first-epoch-with-adam-lr-1e-3-seed5"
    assert len(name) == 60
    s = started(_config(tmp_path, epochs=6, callbacks=EARLY_STOPPING), hold=2)
    held_at(s, 2)
    s.save(name).result(T)
    finish(s)
    capsys.readouterr()
    assert inspect_command(s.run_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    (row,) = [line for line in lines if line.strip().startswith(name)]
    assert row.split()[:3] == [name, "2", "0"]  # name, model step, epoch: columns kept apart
    (altered,) = [line for line in lines if "weights_changed" in line]
    assert "-> altered" in altered
    assert "EarlyStopping restored the best weights at epoch 2 (best: epoch 1)" in altered


def test_a_lambda_callback_is_named(tmp_path):
    callbacks = '[[callbacks]]\ntype = "ww_effects:LambdaHalver"\n'
    report = finish(started(_config(tmp_path, callbacks=callbacks)))
    (changed,) = events_of(report, "weights_changed")
    assert (changed["detail"]["callback"], changed["detail"]["hook"]) == (
        "LambdaHalver",
        "on_epoch_end",
    )
    assert changed["session_step"] == 8  # the second epoch's end
    assert changed["norm_after"] == pytest.approx(0.5 * changed["norm_before"], rel=1e-6)
