"""Callbacks see one uninterrupted `fit` through a real Session (issue 12, item 1, end to end).

A recording callback named in the config (a user class in a module beside it) writes every hook
call it got - name, epoch or batch number, logs, params - to a JSON file in the run directory.
The session is paused and resumed mid-epoch and at an epoch boundary, and has a callback edit,
a save and a set_lr mid-epoch, with Dropout and validation data. Plain `model.fit` on the same
model, data order and validation batch size must give the same trace, number for number, the
same epoch logs and the same final weights.
"""

from __future__ import annotations

import json
import sys

import keras
import numpy as np
from weightwatch.engine.compilenames import make_optimizer
from weightwatch.engine.config import load_config
from weightwatch.engine.data import BatchFeed
from weightwatch.engine.specs import CallbackSpec
from weightwatch.engine.weights import fingerprint

from tests.conftest import write_config

from .kit import T, finish, held_at, started

N, BATCH, EPOCHS, SEED = 96, 16, 3, 5
SPE = N // BATCH  # 6 batches an epoch

TRACE_MODULE = '''
import json

import keras


class TraceRecorder(keras.callbacks.Callback):
    """Every hook call, as JSON, written at on_train_end."""

    def __init__(self, filename="trace.json"):
        super().__init__()
        self.filename = filename
        self.trace = []

    def _add(self, name, index=None, logs=None):
        self.trace.append([name, index, {k: float(v) for k, v in (logs or {}).items()}])

    def on_train_begin(self, logs=None):
        self._add("train_begin", None, logs)
        self.trace[-1].append(dict(self.params))

    def on_train_end(self, logs=None):
        self._add("train_end", None, logs)
        with open(self.filename, "w") as f:
            json.dump(self.trace, f)

    def on_epoch_begin(self, epoch, logs=None):
        self._add("epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._add("epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._add("batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._add("batch_end", batch, logs)

    def on_test_begin(self, logs=None):
        self._add("test_begin", None, logs)

    def on_test_end(self, logs=None):
        self._add("test_end", None, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._add("test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._add("test_batch_end", batch, logs)
'''

RECORDER = CallbackSpec("ww_trace:TraceRecorder", kwargs={"filename": "trace.json"})


def _config(folder):
    extra = """
        [[callbacks]]
        type = "ww_trace:TraceRecorder"
        filename = "trace.json"
    """
    path = write_config(
        folder, builder="dropout", epochs=EPOCHS, n=N, batch=BATCH, seed=SEED, validation=True
    )
    path.write_text(
        path.read_text().replace('loss = "mse"', 'loss = "mse"\nmetrics = ["mae"]')
        + extra.replace("\n        ", "\n")
    )
    (folder / "ww_trace.py").write_text(TRACE_MODULE)
    return load_config(path)


def _plain_fit(folder, cfg):
    """What the user's callback sees from plain `fit` on the same model and data order."""
    import ww_test_models
    import ww_trace

    arrays = np.load(folder / "data.npz")
    feed = BatchFeed(arrays["x"], arrays["y"], batch_size=BATCH, seed=SEED, shuffle=True)
    keras.utils.set_random_seed(SEED)
    model = ww_test_models.dropout()
    model.compile(optimizer=make_optimizer("adam", None), loss="mse", metrics=["mae"])
    rec = ww_trace.TraceRecorder(str(folder / "plain_trace.json"))
    model.fit(
        feed.dataset(0, 0, EPOCHS),
        epochs=EPOCHS,
        steps_per_epoch=SPE,
        validation_data=(arrays["x_val"], arrays["y_val"]),
        validation_batch_size=BATCH,
        callbacks=[rec],
        verbose=0,
        shuffle=False,
    )
    return json.loads(json.dumps(rec.trace)), model.history.history, fingerprint(model)


def test_pauses_edit_and_save_through_a_session_change_nothing_a_callback_sees(tmp_path):
    folder = tmp_path / "job"
    cfg = _config(folder)
    s = started(cfg, hold=3)
    held_at(s, 3)  # epoch 0, after batch 3 of 6: pause and resume mid-epoch
    s.pause().result(T)
    at_edge = s.hold_at_step(SPE)  # epoch 0's last batch: lands after its on_epoch_end
    s.resume().result(T)
    assert at_edge.result(T) == SPE
    assert (s.status().epoch, s.status().step_in_epoch) == (1, 0)
    s.pause().result(T)
    mid = s.hold_at_step(SPE + 2)
    s.resume().result(T)
    assert mid.result(T) == SPE + 2  # epoch 1, batch 2: an edit and a save mid-epoch
    s.set_callbacks([RECORDER, CallbackSpec("TerminateOnNaN")]).result(T)
    s.save("mid").result(T)
    assert s.set_lr(0.001).result(T) == 0.001  # Adam's own rate: a set_lr, same numbers
    report = finish(s)
    sys.path.insert(0, str(folder))  # the session put it there too; keep it for the imports
    trace, history, fp = _plain_fit(folder, cfg)

    got = json.loads((s.run_dir / "trace.json").read_text())
    assert len(got) == len(trace)
    for i, (a, b) in enumerate(zip(got, trace, strict=True)):
        assert a == b, f"hook call {i}: {a} != {b}"
    assert trace[0] == ["train_begin", None, {}, {"verbose": 0, "epochs": EPOCHS, "steps": SPE}]
    assert [t[1] for t in trace if t[0] == "batch_end"] == list(range(SPE)) * EPOCHS
    epochs = [json.loads(x) for x in open(s.run_dir / "epochs.jsonl")]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert [e["covers_from"] for e in epochs] == [0, 0, 0]
    for key, values in history.items():  # loss, mae, val_loss, val_mae: the same numbers
        assert [e[key] for e in epochs] == values, key
    assert report["final"]["fingerprint"] == fp
    assert [e["kind"] for e in report["events"]].count("pause") == 2
    assert report["checkpoints"][0]["name"] == "mid"


def _batches(trace: list, epoch: int) -> list:
    """The batch numbers a callback saw, per on_epoch_begin of `epoch` (one list each)."""
    runs, current = [], None
    for name, index, *_ in trace:
        if name == "epoch_begin":
            current = [] if index == epoch else None
            if current is not None:
                runs.append(current)
        elif name == "batch_end" and current is not None:
            current.append(index)
        elif name == "epoch_end":
            current = None
    return runs


def test_load_recompile_and_rebuild_go_on_in_the_epoch_and_say_what_it_covers(tmp_path):
    folder = tmp_path / "job"
    s = started(_config(folder), hold=3)
    held_at(s, 3)
    s.save("c3").result(T)  # epoch 0, batch 3
    nxt = s.hold_at_step(SPE + 2)
    s.release()
    assert nxt.result(T) == SPE + 2  # epoch 1, batch 2: back to epoch 0, batch 3
    s.load("c3").result(T)
    assert (s.status().epoch, s.status().step_in_epoch) == (0, 3)
    nxt = s.hold_at_step(SPE + 2 + (SPE - 3) + 4)  # epoch 1 again, batch 4
    s.release()
    assert nxt.result(T) == 2 * SPE + 3
    s.recompile("sgd", 0.01).result(T)
    nxt = s.hold_at_step(2 * SPE + 3 + (SPE - 4) + 1)  # epoch 2, batch 1
    s.release()
    assert nxt.result(T) == 2 * SPE + 3 + SPE - 4 + 1
    s.rebuild().result(T)  # a new model: epoch 0, batch 0, the config's epochs
    report = finish(s)

    epochs = [json.loads(x) for x in open(s.run_dir / "epochs.jsonl")]
    # epoch 0 whole; epoch 0 again from batch 3 (the load); epoch 1 from batch 4 (the
    # recompile); then the rebuilt model's three whole epochs
    assert [(e["epoch"], e["covers_from"]) for e in epochs] == [
        (1, 0),
        (1, 3),
        (2, 4),
        (1, 0),
        (2, 0),
        (3, 0),
    ]
    assert [e["instance"] for e in epochs] == [1, 1, 1, 2, 2, 2]
    trace = json.loads((s.run_dir / "trace.json").read_text())
    assert [t[0] for t in trace].count("train_begin") == 1  # one fit, whatever happened
    assert _batches(trace, 0) == [list(range(SPE)), [3, 4, 5], list(range(SPE))]
    assert _batches(trace, 1) == [[0, 1], [0, 1, 2, 3, 4, 5], list(range(SPE))]
    assert report["session_steps"] == 2 * SPE + 3 + (SPE - 4) + 1 + EPOCHS * SPE
