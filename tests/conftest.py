"""Shared fixtures: tiny configs written to a temp folder, and a session runner."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MODELS = """
import keras


def mlp(units=8, inputs=4):
    return keras.Sequential([keras.Input((inputs,)),
                             keras.layers.Dense(units, activation="relu", name="hidden"),
                             keras.layers.Dense(1, name="out")])


def dropout(units=16, inputs=4, rate=0.3):
    return keras.Sequential([keras.Input((inputs,)),
                             keras.layers.Dense(units, activation="relu", name="hidden"),
                             keras.layers.Dropout(rate),
                             keras.layers.Dense(1, name="out")])


def wide(units=12, inputs=4):
    return mlp(units=units, inputs=inputs)


class Recorder(keras.callbacks.Callback):
    calls = []

    def on_train_begin(self, logs=None):
        Recorder.calls.append("train_begin")

    def on_epoch_end(self, epoch, logs=None):
        Recorder.calls.append(f"epoch_end:{epoch}")


class Exploder(keras.callbacks.Callback):
    def __init__(self, hook="on_epoch_end"):
        super().__init__()
        self.hook = hook

    def on_epoch_end(self, epoch, logs=None):
        if self.hook == "on_epoch_end":
            raise RuntimeError("boom in on_epoch_end")

    def on_train_batch_end(self, batch, logs=None):
        if self.hook == "on_train_batch_end":
            raise RuntimeError("boom in on_train_batch_end")
"""


def write_config(
    folder: Path,
    *,
    builder="mlp",
    epochs=3,
    n=64,
    batch=16,
    seed=5,
    deterministic=True,
    extra="",
    validation=False,
    name="t",
) -> Path:
    """A tiny regression problem, its model module and config; returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ww_test_models.py").write_text(MODELS)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [1.0]])).astype("float32")
    arrays = {"x": x, "y": y}
    if validation:
        arrays |= {"x_val": x[:16], "y_val": y[:16]}
    np.savez(folder / "data.npz", **arrays)
    text = f"""
        [run]
        name = "{name}"
        run_dir = "run"
        seed = {seed}
        deterministic = {str(deterministic).lower()}
        [model]
        builder = "ww_test_models:{builder}"
        [compile]
        optimizer = "adam"
        loss = "mse"
        [data]
        path = "data.npz"
        batch_size = {batch}
        [train]
        epochs = {epochs}
    """
    path = folder / "config.toml"
    path.write_text(textwrap.dedent(text) + textwrap.dedent(extra))
    return path


@pytest.fixture
def make_config(tmp_path):
    from weightwatch.engine.config import load_config

    def make(sub="a", **kw):
        return load_config(write_config(tmp_path / sub, **kw))

    return make


@pytest.fixture(autouse=True)
def _keras_backend_env():
    """A CLI call made in this process writes KERAS_BACKEND (engine/backend_env.py); put it back
    after each test, so that the next test's config defaults and checks see the environment the
    suite was started with."""
    saved = os.environ.get("KERAS_BACKEND")
    yield
    if saved is None:
        os.environ.pop("KERAS_BACKEND", None)
    else:
        os.environ["KERAS_BACKEND"] = saved


def pytest_sessionstart(session):
    """A suite run again on another backend (tests/engine/test_jax.py) checks that it is."""
    want = os.environ.get("WEIGHTWATCH_TEST_BACKEND")
    if want:
        import keras

        got = keras.backend.backend()
        assert got == want, f"this suite was to run on {want}, but Keras runs on {got}"
