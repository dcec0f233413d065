"""A checkpoint carries what a resume needs in its own file (issue 13): `--from` any path, an
unbuilt subclassed model, a script `load` of a relative path, and a tampered resume record."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from weightwatch.engine.checkpoints import CheckpointStore
from weightwatch.engine.config import load_config
from weightwatch.engine.errors import BadInput, CheckpointError
from weightwatch.engine.h5files import problem
from weightwatch.engine.inspect import inspect_run
from weightwatch.engine.resume import read_resume
from weightwatch.engine.session import Session
from weightwatch.engine.weights import fingerprint

from ..conftest import write_config
from .kit import T, events_of, finish, held_at, model, started, stop

EMPTY_SHA = hashlib.sha256(b"").hexdigest()

USER = '''
import keras
import numpy as np
import tensorflow as tf


class Sub(keras.Model):
    """Subclassed, returned unbuilt: no variables until it is called."""

    def __init__(self, units=8):
        super().__init__()
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.drop = keras.layers.Dropout(0.25)
        self.head = keras.layers.Dense(1)

    def call(self, x, training=False):
        return self.head(self.drop(self.hidden(x), training=training))


def sub(units=8):
    return Sub(units)


def _arrays():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5], [1.0]])).astype("float32")


def shuffled():
    """A shuffling tf.data pipeline: TensorFlow can checkpoint its iterator."""
    x, y = _arrays()
    tf.random.set_seed(11)  # the op seed pairs with the global one: fixed here, in any process
    return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64, seed=3).batch(16)


def generated():
    """A generator: TensorFlow cannot checkpoint where it is."""
    x, y = _arrays()

    def rows():
        yield from zip(x, y)

    spec = (tf.TensorSpec((4,), tf.float32), tf.TensorSpec((1,), tf.float32))
    return tf.data.Dataset.from_generator(rows, output_signature=spec).batch(16)
'''


@pytest.fixture
def make(tmp_path):
    """make(sub, builder=..., loader=..., epochs=...) -> Config, with the module above beside it."""

    def build(sub, *, builder="ww_test_models:mlp", loader=None, **kw):
        path = write_config(tmp_path / sub, **kw)
        (tmp_path / sub / "ww_p3_user.py").write_text(USER)
        text = path.read_text().replace('"ww_test_models:mlp"', f'"{builder}"')
        if loader:
            text = text.replace('path = "data.npz"\nbatch_size = 16\n', f'loader = "{loader}"\n')
        path.write_text(text)
        return load_config(path)

    return build


def _cut_session(config, cut: str, name: str = "cut"):
    """Train to the cut (end of epoch 2, or step 2 of epoch 1), save, stop: the checkpoint."""
    first = Session(config)
    hold = first.hold_at_epoch(2) if cut == "epoch" else first.hold_at_step(6)
    first.start()
    hold.result(T)
    info = first.save(name).result(T)
    stop(first)
    return info


# ----- --from a checkpoint of another run directory --------------------------------------------
@pytest.mark.parametrize("builder", ["mlp", "dropout"])
@pytest.mark.parametrize("cut", ["epoch", "mid-epoch"])
def test_from_another_run_directory_equals_never_stopping(make, tmp_path, builder, cut):
    b = f"ww_test_models:{builder}"
    straight = finish(started(make("straight", builder=b, epochs=4)))
    info = _cut_session(make("a", builder=b, epochs=4), cut)
    # the file alone, in a folder no manifest describes, and another run directory
    moved = tmp_path / "elsewhere" / "mine.weights.h5"
    moved.parent.mkdir()
    shutil.copy(info.path, moved)
    second = started(make("b", builder=b, epochs=4), from_checkpoint=str(moved))
    r = finish(second)
    assert second.run_dir != tmp_path / "a" / "run"
    assert r["events"][0]["verdict"] == "restored"
    assert "data_position" not in r["events"][0]["detail"]  # numpy data: exact
    assert r["final"]["fingerprint"] == straight["final"]["fingerprint"]
    assert r["final"]["model_step"] == straight["final"]["model_step"] == 16
    assert r["session_steps"] == 16 - (8 if cut == "epoch" else 6)


def test_the_file_carries_the_resume_record_and_plain_keras_loads_it(make, tmp_path):
    info = _cut_session(make("a", builder="ww_test_models:dropout", epochs=4), "mid-epoch")
    record = read_resume(Path(info.path))
    assert record is not None
    assert (record["epoch"], record["step_in_epoch"], record["model_step"]) == (1, 2, 6)
    assert record["seed"] == 5 and record["data_exact"] is True and record["deterministic"]
    assert record["fingerprint"] == info.fingerprint
    if keras.backend.backend() == "jax":  # the record says which backend wrote it
        import jax

        assert record["backend"] == "jax" and record["jax_version"] == jax.__version__
    else:
        import tensorflow as tf

        assert record["tf_version"] == tf.__version__ and record["backend"] == "tensorflow"
    assert len(record["rng"]) == 1 and record["rng"][0].shape == (2,)  # Dropout's seed state
    manifest = inspect_run(tmp_path / "a" / "run")["checkpoints"][0]
    assert manifest["data_exact"] is True and manifest["loadable"] is True
    # plain Keras, as a user would: the builder's model, load_weights, the reported SHA-256
    user = _import(tmp_path / "a" / "ww_test_models.py")
    for compiled in (False, True):
        plain = user.dropout()
        if compiled:
            plain.compile(optimizer="adam", loss="mse")
        plain.load_weights(info.path)
        assert fingerprint(plain) == info.fingerprint


def _import(path):
    spec = importlib.util.spec_from_file_location(f"p3_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# ----- a data position that is exact (tf.data) or not (a generator) ----------------------------
def test_a_shuffling_tf_data_pipeline_resumes_from_another_run_directory(make):
    kw = {"loader": "ww_p3_user:shuffled", "epochs": 4}
    straight = finish(started(make("straight", **kw)))
    info = _cut_session(make("a", **kw), "mid-epoch")
    assert read_resume(Path(info.path))["data_state"]  # the iterator
    r = finish(started(make("b", **kw), from_checkpoint=info.path))
    assert r["final"]["fingerprint"] == straight["final"]["fingerprint"]
    assert r["session_steps"] == 10


def test_a_generator_checkpoint_says_data_position_start_of_epoch(make, tmp_path):
    from weightwatch.tui.screens.event_detail import event_text
    from weightwatch.tui.screens.picker import preview

    info = _cut_session(make("a", loader="ww_p3_user:generated", epochs=4), "mid-epoch")
    path = Path(info.path)
    assert read_resume(path)["data_exact"] is False
    assert inspect_run(tmp_path / "a" / "run")["checkpoints"][0]["data_exact"] is False
    s = started(make("b", loader="ww_p3_user:generated", epochs=4), from_checkpoint=str(path))
    r = finish(s)
    begun = r["events"][0]
    assert begun["detail"]["data_position"] == "start of epoch"
    assert r["session_steps"] == 10  # epoch 1 from step 2 still, its data from its beginning
    begun_event = [e for e in s.events() if e.kind == "started"][0]
    assert "data position start of epoch" in event_text(begun_event)
    saved = [e for e in s.events() if e.kind == "checkpoint_saved"]
    assert not saved  # run b saved nothing; run a's picker lists its checkpoint:
    shown = [c for c in CheckpointStore(path.parents[1], clean=False).list() if c.name == "cut"]
    assert shown[0].data_exact is False
    assert "data position  start of epoch" in preview(shown[0], now=shown[0].created or 0)


# ----- an unbuilt subclassed model ---------------------------------------------------------------
def test_an_unbuilt_subclassed_model_trains_saves_resumes_and_rebuilds(make, tmp_path):
    kw = {"builder": "ww_p3_user:sub", "epochs": 3}
    straight = finish(started(make("straight", **kw)))
    s = started(make("a", **kw), hold=2)
    held_at(s, 2)
    start = s.report()["segments"][0]["start_fingerprint"]
    assert start != EMPTY_SHA and start == straight["segments"][0]["start_fingerprint"]
    early = s.save("early").result(T)
    assert early.fingerprint != EMPTY_SHA
    s.rebuild().result(T)
    after = s.save("after-rebuild").result(T)
    assert after.fingerprint == start  # same seed, same fresh weights: built, not empty
    s.load("after-rebuild").result(T)
    assert fingerprint(model(s)) == after.fingerprint
    r = finish(s)
    assert not events_of(r, "error") and r["session_steps"] == 2 + 12
    assert r["final"]["fingerprint"] == straight["final"]["fingerprint"]  # rebuilt = fresh start
    resumed = finish(started(make("b", **kw), from_checkpoint=early.path))
    assert not events_of(resumed, "error") and resumed["session_steps"] == 10
    assert resumed["final"]["fingerprint"] == straight["final"]["fingerprint"]


# ----- a script `load` of a relative path ----------------------------------------------------
async def test_a_script_loads_a_relative_path_from_the_config_folder(make, tmp_path, monkeypatch):
    from weightwatch.engine.script import load_script
    from weightwatch.tui.app import WeightwatchApp
    from weightwatch.tui.headless import run_app_headless

    config = make("a", epochs=2)
    user = _import(tmp_path / "a" / "ww_test_models.py")
    mine = user.mlp()
    mine.save_weights(str(tmp_path / "a" / "my.weights.h5"))  # the user's own file
    (tmp_path / "script.toml").write_text(
        '[[action]]\ndo = "load"\nat_step = 3\ncheckpoint = "my.weights.h5"\n'
        '[[action]]\ndo = "quit"\nwhen = "finished"\n'
    )
    monkeypatch.chdir(tmp_path)  # neither the run directory nor the config's folder
    script = load_script(tmp_path / "script.toml")
    session = Session(config)
    app = WeightwatchApp(session, script=script, report_path=tmp_path / "report.json")
    await run_app_headless(app, script)
    report = app.report
    assert not events_of(report, "error"), events_of(report, "error")
    loaded = events_of(report, "checkpoint_loaded")
    assert [e["detail"]["path"] for e in loaded] == [str(tmp_path / "a" / "my.weights.h5")]
    assert loaded[0]["detail"]["fingerprint"] == fingerprint(mine)


def test_find_load_file_looks_in_the_run_directory_first(tmp_path):
    from weightwatch.engine.script import find_load_file

    run, folder = tmp_path / "run", tmp_path / "cfg"
    for d in (run, folder):
        d.mkdir()
        (d / "m.weights.h5").write_bytes(b"x")
    assert find_load_file("m.weights.h5", run, folder) == str(run / "m.weights.h5")
    (run / "m.weights.h5").unlink()
    assert find_load_file("m.weights.h5", run, folder) == str(folder / "m.weights.h5")
    assert find_load_file("gone.weights.h5", run, folder) == "gone.weights.h5"
    assert find_load_file("/abs/x.weights.h5", run, folder) == "/abs/x.weights.h5"


# ----- a tampered resume record ----------------------------------------------------------------
def _tamper(path, kind: str) -> str:
    """Edit the record as someone with the file could; returns words the refusal must say."""
    with h5py.File(path, "r+") as f:
        g = f["weightwatch/resume"]
        if kind == "wrong type":
            g.attrs["epoch"] = "three"
            return "epoch: expected a whole number"
        if kind == "huge number":
            g.attrs["step_in_epoch"] = np.int64(2**40)
            return "step_in_epoch: expected a whole number from 0 to 2147483647"
        if kind == "negative":
            g.attrs["epoch"] = np.int64(-1)
            return "epoch: expected a whole number"
        if kind == "a path attribute":
            g.attrs["data_file"] = "/etc/passwd"
            return "unexpected attribute 'data_file'"
        if kind == "a path as a version":
            g.attrs["tf_version"] = "../../etc/passwd"
            return "tf_version: expected a version"
        if kind == "an external link":
            del g["rng/0"]
            g["rng/0"] = h5py.ExternalLink("/etc/other.h5", "/x")
            return "rng/0: a link to elsewhere"
        if kind == "external data":
            g.create_dataset("data_position", shape=(8,), dtype="u1", external=[("/etc/x", 0, 8)])
            return "data_position: its data lives in another file"
        if kind == "compressed data":
            g.create_dataset("data_position", data=np.zeros(64, "u1"), compression="gzip")
            return "data_position: chunked or compressed"
        if kind == "a size the file cannot hold":
            g.create_dataset("data_position", shape=(10**9,), dtype="u1")  # never written
            return "data_position: 1000000000 bytes, more than the file holds"
        if kind == "rng of floats":
            del g["rng/0"]
            g["rng/0"] = np.zeros(2, "float32")
            return "rng/0: expected at most 64 whole numbers"
    raise AssertionError(kind)


KINDS = [
    "wrong type",
    "huge number",
    "negative",
    "a path attribute",
    "a path as a version",
    "an external link",
    "external data",
    "rng of floats",
    "compressed data",
    "a size the file cannot hold",
]


@pytest.fixture
def dropout_checkpoint(make, tmp_path):
    info = _cut_session(make("a", builder="ww_test_models:dropout", epochs=4), "mid-epoch")
    return info


def test_a_tampered_resume_record_is_refused_in_one_line(make, tmp_path, dropout_checkpoint):
    from weightwatch.tui.launch import check_from

    s = started(make("live", builder="ww_test_models:dropout", epochs=4), hold=1)
    held_at(s, 1)
    before = fingerprint(model(s))
    for i, kind in enumerate(KINDS):
        bad = tmp_path / f"bad{i}.weights.h5"
        shutil.copy(dropout_checkpoint.path, bad)
        words = _tamper(bad, kind)
        why = problem(bad, None)
        assert why is not None and words in why and "\n" not in why, (kind, why)
        with pytest.raises(BadInput) as refused:  # `--from`, before TensorFlow loads
            check_from(str(bad), s.run_dir)
        assert words in str(refused.value) and "\n" not in str(refused.value)
        with pytest.raises(CheckpointError) as e:  # a load in a live session
            s.load(str(bad)).result(T)
        message = str(e.value)
        assert words in message and "resume record damaged" in message and "\n" not in message
        assert fingerprint(model(s)) == before, kind
    assert s.status().epoch == 0 and s.status().step_in_epoch == 1
    r = finish(s)
    assert len(events_of(r, "error")) == len(KINDS)


def test_a_tampered_record_from_the_command_line_exits_2_in_one_line(tmp_path, dropout_checkpoint):
    import subprocess

    bad = tmp_path / "bad.weights.h5"
    shutil.copy(dropout_checkpoint.path, bad)
    words = _tamper(bad, "a path attribute")
    config = write_config(tmp_path / "cli", builder="dropout", epochs=4)
    out = subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", "run", str(config), "--headless"]
        + ["--from", str(bad)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=T,
    )
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert bad.name in lines[0] and "resume record damaged" in lines[0] and words in lines[0]
