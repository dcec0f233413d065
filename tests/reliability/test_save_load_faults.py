"""Saves and loads that cannot crash (issue 10, "Faults"): a disk that fills up during a save, a
load that must not write a copy of the model to $TMPDIR, and weights that hold NaN or inf.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from weightwatch.engine.checkpoints import CheckpointStore, h5_layout
from weightwatch.engine.config import load_config
from weightwatch.engine.errors import BadInput
from weightwatch.engine.inspect import inspect_run
from weightwatch.engine.session import Session
from weightwatch.engine.weights import fingerprint

from tests.conftest import write_config

from .conftest import T
from .test_bad_checkpoints import run_cli
from .test_kill_during_save import leftovers
from .test_write_failures import small_tmpfs

BIG = """
import keras


def big():
    return keras.Sequential([keras.Input((4,)),
                             keras.layers.Dense(1024, activation="relu"),
                             keras.layers.Dense(1024, activation="relu"),
                             keras.layers.Dense(1)])
"""

# The child: save once (fits), save again (the disk fills up half-way through the file), train on.
CHILD = """
import json, sys
from weightwatch.engine.config import load_config
from weightwatch.engine.errors import CheckpointError
from weightwatch.engine.session import Session

s = Session(load_config(sys.argv[1]), run_dir=sys.argv[2])
held = s.hold_at_step(2)
s.start()
held.result(120)
good = s.save("good").result(120)
try:
    s.save("second").result(120)
    outcome = "saved"
except CheckpointError as e:
    outcome = str(e)
held = s.hold_at_step(7)
s.release()
steps = held.result(120)
s.stop().result(120)
print(json.dumps({"save": outcome, "steps": steps, "good": good.fingerprint,
                  "report": s.report()}))
"""


def big_config(folder: Path) -> Path:
    """A config whose model's checkpoint is ~12.6 MB (1M weights and Adam's two slots)."""
    path = write_config(folder, epochs=50)
    (folder / "ww_big.py").write_text(BIG)
    path.write_text(path.read_text().replace("ww_test_models:mlp", "ww_big:big"))
    return path


def test_a_disk_that_fills_up_during_a_save(tmp_path):
    """Before: HDF5 failing mid-file held the space (the logs were refused too) and the process
    ended with SIGSEGV (on a 14 or 16 MiB disk). Now the file is built in memory and written with
    plain I/O: one error line, nothing left behind, training goes on, a clean exit."""
    config = big_config(tmp_path / "cfg")
    with small_tmpfs(tmp_path / "small", size="16m") as disk:
        run = disk / "run"
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(config), str(run)],
            capture_output=True,
            text=True,
            timeout=3 * T,
        )
        assert out.returncode == 0, out.stderr[-2000:]  # the process did not die
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert "No space left on device" in result["save"] and "\n" not in result["save"]
        assert result["save"].startswith("checkpoint 'second': cannot write")
        errors = [e for e in result["report"]["events"] if e["kind"] == "error"]
        assert len(errors) == 1 and errors[0]["detail"]["action"] == "save"
        assert result["steps"] == 7 and result["report"]["session_steps"] == 7  # went on
        assert leftovers(run) == []  # no temp file, no orphan
        (good,) = CheckpointStore(run, clean=False).list(verify=True)
        assert good.name == "good" and good.loadable
        sys.path.insert(0, str(config.parent))
        try:
            import ww_big

            model = ww_big.big()
            model.load_weights(good.path)  # plain Keras
        finally:
            sys.path.remove(str(config.parent))
        assert fingerprint(model) == result["good"] == good.fingerprint


@pytest.fixture
def held(tmp_path):
    session = Session(load_config(write_config(tmp_path / "c", epochs=50)))
    hold = session.hold_at_step(2)
    session.start()
    hold.result(T)
    session.save("good").result(T)
    yield session
    if not session.stopped.is_set():
        session.stop().result(T)


def test_a_load_writes_nothing_to_tmpdir(held, tmp_path, monkeypatch):
    """Before: every load wrote a full copy of the model to $TMPDIR (for the shape check)."""
    empty = tmp_path / "tmpdir"
    empty.mkdir()

    def refused(*args, **kwargs):
        raise OSError(28, "No space left on device (the test's $TMPDIR)")

    monkeypatch.setattr(tempfile, "tempdir", str(empty))
    for name in ("mkdtemp", "mkstemp", "NamedTemporaryFile", "TemporaryFile"):
        monkeypatch.setattr(tempfile, name, refused)
    held.load("good").result(T)
    assert held.events()[-1].kind == "checkpoint_loaded"
    assert list(empty.iterdir()) == []


def test_the_layout_from_the_variables_is_what_save_weights_writes(tmp_path):
    import keras
    from weightwatch.engine.weights import ensure_optimizer_built, weights_layout

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(1),
        ]
    )
    model.compile("adam", "mse")
    ensure_optimizer_built(model)
    model.save_weights(str(tmp_path / "m.weights.h5"))
    assert weights_layout(model) == h5_layout(tmp_path / "m.weights.h5")


def nan_copy(source: str, target: Path, value: float = np.nan) -> Path:
    """A copy of a checkpoint with one weight set to `value`."""
    target.write_bytes(Path(source).read_bytes())
    with h5py.File(target, "r+") as f:
        first = sorted(k for k in h5_layout(target) if k.startswith("layers/"))[0]
        data = f[first][()]
        data.flat[0] = value
        f[first][...] = data
    return target


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_load_of_non_finite_weights_is_refused_before_anything_is_assigned(held, tmp_path, value):
    good = next(c for c in held.list_checkpoints() if c.name == "good")
    bad = nan_copy(good.path, tmp_path / "diverged.weights.h5", value)
    before = fingerprint(held.model)
    with pytest.raises(BadInput) as err:
        held.load(str(bad)).result(T)
    message = str(err.value)
    assert "weights hold NaN/inf" in message and bad.name in message and "\n" not in message
    assert fingerprint(held.model) == before
    error = held.events()[-1]
    assert error.kind == "error" and error.detail["action"] == "load"
    assert "NaN/inf" in error.detail["message"]


def test_a_save_of_non_finite_weights_warns_and_that_checkpoint_never_loads(held):
    model = held.model  # parked: safe to touch
    kept = model.get_weights()
    model.set_weights([np.full_like(w, np.nan) for w in kept])
    info = held.save("diverged").result(T)
    model.set_weights(kept)
    saved = held.events()[-1]
    assert saved.kind == "checkpoint_saved" and saved.detail["warning"] == "weights hold NaN/inf"
    manifest = json.loads((held.store.dir / "diverged.json").read_text())
    assert manifest["weights_finite"] is False
    good = json.loads((held.store.dir / "good.json").read_text())
    assert good["weights_finite"] is True
    (first,) = [e for e in held.events() if e.detail.get("name") == "good"]
    assert first.kind == "checkpoint_saved" and "warning" not in first.detail
    (listed,) = [c for c in inspect_run(held.run_dir)["checkpoints"] if c["name"] == "diverged"]
    assert listed["loadable"] is False and "NaN/inf" in listed["problem"]
    with pytest.raises(BadInput, match="NaN/inf"):
        held.load(info.name).result(T)
    assert fingerprint(model) == fingerprint_of(kept)


def fingerprint_of(arrays) -> str:
    from weightwatch.engine.weights import fingerprint_arrays

    return fingerprint_arrays(arrays)


def test_run_from_a_non_finite_checkpoint_exits_2_in_one_line(held, tmp_path):
    """Checked with h5py before training starts (no TensorFlow): exit 2, one line."""
    good = next(c for c in held.list_checkpoints() if c.name == "good")
    bad = nan_copy(good.path, tmp_path / "diverged.weights.h5")
    config = write_config(tmp_path / "cli", epochs=2)
    out = run_cli("run", str(config), "--headless", "--from", str(bad), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stdout + out.stderr, out.stderr
    assert "weights hold NaN/inf" in lines[0] and bad.name in lines[0]
    assert not (tmp_path / "cli" / "run" / "events.jsonl").exists()  # refused before the run


def test_the_save_builds_the_file_in_memory(held, monkeypatch):
    """HDF5 never writes to the run directory itself (that is what crashed on a full disk)."""
    import keras

    def no_direct_writes(self, *args, **kwargs):
        raise AssertionError("model.save_weights wrote the file itself")

    monkeypatch.setattr(keras.Model, "save_weights", no_direct_writes)
    info = held.save("in-memory").result(T)
    listed = CheckpointStore(held.run_dir, clean=False).list(verify=True)
    (saved,) = [c for c in listed if c.name == "in-memory"]
    assert saved.loadable and saved.path == info.path
    held.load("in-memory").result(T)
    assert fingerprint(held.model) == info.fingerprint
