"""Telemetry values, the run directory's files, `inspect`, and orphan clean-up."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
from weightwatch.engine.checkpoints import CheckpointStore
from weightwatch.engine.inspect import inspect_run
from weightwatch.engine.telemetry import Series, TelemetryStore
from weightwatch.engine.weights import global_norm

from .kit import T, finish, held_at, model, started


def test_probe_norms_and_loss_match_eager_values_at_a_boundary(make_config):
    s = started(make_config(epochs=2), hold=6)
    held_at(s, 6)
    m = model(s)
    xs, norms = s.telemetry.window("global_norm")
    assert xs[-1] == 6.0 and xs[:2] == [0.0, 1.0] and len(xs) == 7  # step 0: the initial norm
    assert abs(norms[-1] - global_norm(m)) < 1e-6
    per_layer = [
        np.sqrt(sum(float(np.sum(np.square(w.numpy()))) for w in layer.trainable_weights))
        for layer in m.layers
    ]
    got = [s.telemetry.latest(f"layer/{i}") for i in range(len(per_layer))]
    np.testing.assert_allclose(got, per_layer, rtol=1e-6)
    assert s.telemetry.layer_names == ["hidden", "out"]
    _, lr = s.telemetry.window("lr")
    assert abs(lr[-1] - 0.001) < 1e-9
    st = s.status()
    assert st.session_step == 6 and st.model_step == 6 and st.epoch == 1
    s.release()
    r = finish(s)
    assert len(s.telemetry.window("loss", width=10_000)[0]) == r["session_steps"] == 8


def test_run_directory_files_and_inspect(make_config):
    s = started(make_config(epochs=2, validation=True), hold=3)
    held_at(s, 3)
    s.save("three").result(T)
    s.release()
    r = finish(s)
    run = s.run_dir
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(x["session_step"]) for x in rows] == list(range(1, 9))
    assert {"loss", "lr", "global_norm", "norm/hidden", "norm/out"} <= set(rows[0])
    lines = [json.loads(x) for x in open(run / "events.jsonl")]
    kinds = [x["kind"] for x in lines if x["type"] == "event"]
    assert kinds == ["started", "checkpoint_saved", "finished", "quit"]
    epochs = [json.loads(x) for x in open(run / "epochs.jsonl")]
    assert [e["epoch"] for e in epochs] == [1, 2] and "val_loss" in epochs[0]
    assert s.telemetry.window("val_loss")[0] == [4.0, 8.0]
    got = inspect_run(run)
    assert set(got) == {"checkpoints", "segments", "events", "callback_files"}  # the last: issue 10
    (ck,) = got["checkpoints"]
    assert ck["name"] == "three" and ck["loadable"] is True and ck["model_step"] == 3
    assert ck["fingerprint"] == r["checkpoints"][0]["fingerprint"]
    assert got["segments"] == r["segments"]
    assert [e["kind"] for e in got["events"]] == kinds
    out = subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", "inspect", str(run), "--json"],
        capture_output=True,
        text=True,
        timeout=T,
    )
    assert out.returncode == 0 and json.loads(out.stdout)["checkpoints"][0]["name"] == "three"


def test_plain_keras_loads_a_checkpoint_to_its_recorded_fingerprint(make_config):
    s = started(make_config(epochs=1), hold=2)
    held_at(s, 2)
    info = s.save("k").result(T)
    finish(s)
    import ww_test_models
    from weightwatch.engine.weights import fingerprint

    fresh = ww_test_models.mlp()
    fresh.compile("adam", "mse")
    fresh.load_weights(info.path)
    assert fingerprint(fresh) == info.fingerprint


def test_orphans_are_removed_when_a_store_opens(tmp_path):
    ck = tmp_path / "checkpoints"
    ck.mkdir()
    (ck / ".tmp-x.1234.weights.h5").write_bytes(b"half")
    (ck / "lost.0123456789ab.ww.weights.h5").write_bytes(b"no manifest")
    (ck / "users_own.weights.h5").write_bytes(b"kept")
    store = CheckpointStore(tmp_path)
    assert sorted(store.removed_orphans) == [
        ".tmp-x.1234.weights.h5",
        "lost.0123456789ab.ww.weights.h5",
    ]
    assert [p.name for p in ck.iterdir()] == ["users_own.weights.h5"]
    listed = store.list(verify=True)
    assert listed[0].source == "file" and listed[0].loadable is False


def test_series_memory_is_fixed_and_spikes_survive_decimation():
    s = Series(capacity=256)
    base = s.nbytes()
    for i in range(100_000):
        s.append(i, 1.0 if i != 77_777 else 50.0)
    assert s.nbytes() == base and s.n <= 256 and s.count == 100_000
    xs, ys = s.window(None, None, 40)
    assert max(ys) == 50.0 and min(ys) == 1.0 and len(xs) <= 80
    assert xs[0] == 0 and xs[-1] == 99_999
    xs, ys = s.window(70_000, 80_000, 20)
    assert 50.0 in ys and xs[0] >= 69_000


def test_store_window_and_version():
    t = TelemetryStore(capacity=64)
    v0 = t.version
    t.append_rows([(1.0, {"loss": 2.0}), (2.0, {"loss": 1.0})])
    assert t.version == v0 + 1 and t.window("loss") == ([1.0, 2.0], [2.0, 1.0])
    assert t.window("nothing") == ([], []) and t.last_x() == 2.0


def test_engine_imports_no_textual_and_session_imports_no_tensorflow():
    code = (
        "import pkgutil, importlib, sys, weightwatch.engine as e\n"
        "import weightwatch.engine.session, weightwatch.engine.config\n"
        "assert 'tensorflow' not in sys.modules, 'session/config imported tensorflow'\n"
        "for m in pkgutil.iter_modules(e.__path__):\n"
        "    importlib.import_module('weightwatch.engine.' + m.name)\n"
        "assert 'textual' not in sys.modules, [k for k in sys.modules if 'textual' in k]\n"
        "print('ok', len(list(pkgutil.iter_modules(e.__path__))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=T)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok ") and int(out.stdout.split()[1]) >= 15
