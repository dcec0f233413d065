"""Tests for the shipped demo data, configs and model builders (`weightwatch.demo_data`)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from weightwatch.engine import specs

DEMO = Path(importlib.import_module("weightwatch.demo_data").__file__).resolve().parent
DATA_FILES = ("reference.npz", "sensors.npz")
CONFIGS = ("reference.toml", "sensors.toml")
# Config sections and the spec dataclass whose fields are the section's allowed keys.
SECTIONS = {
    "run": specs.RunSpec,
    "model": specs.ModelSpec,
    "compile": specs.CompileSpec,
    "data": specs.DataSpec,
    "train": specs.TrainSpec,
    "ui": specs.UISpec,
}


def _config(name: str) -> dict:
    """Reads one shipped config as a plain dict."""
    with (DEMO / name).open("rb") as fh:
        return tomllib.load(fh)


def _builder(config: dict):
    """Resolves a config's `"module:function"` builder."""
    module, _, func = config["model"]["builder"].partition(":")
    return getattr(importlib.import_module(module), func)


def _data(config: dict) -> np.lib.npyio.NpzFile:
    """Loads the `.npz` a config points at (relative to the config's folder)."""
    return np.load(DEMO / config["data"]["path"])


def test_generator_reproduces_shipped_files_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "weightwatch.demo_data.generate", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in DATA_FILES:
        fresh, shipped = tmp_path / name, DEMO / name
        with np.load(fresh) as a, np.load(shipped) as b:
            assert a.files == b.files == ["x", "y", "x_val", "y_val"]
            for key in a.files:
                assert a[key].dtype == np.float32
                np.testing.assert_array_equal(a[key], b[key])
        assert fresh.read_bytes() == shipped.read_bytes(), f"{name} differs from a fresh run"


def test_shipped_data_is_small() -> None:
    total = sum(path.stat().st_size for path in DEMO.iterdir() if path.suffix == ".npz")
    assert total < 2_000_000


@pytest.mark.parametrize("name", CONFIGS)
def test_config_uses_only_documented_keys(name: str) -> None:
    config = _config(name)
    assert set(config) <= set(SECTIONS) | {"callbacks"}
    for section, spec in SECTIONS.items():
        allowed = {f.name for f in dataclasses.fields(spec)}
        assert set(config.get(section, {})) <= allowed, section
    for entry in config.get("callbacks", []):
        assert isinstance(entry["type"], str)
    # The builder must accept every param; the data must exist beside the config.
    signature = inspect.signature(_builder(config))
    signature.bind(**config["model"].get("params", {}))
    assert (DEMO / config["data"]["path"]).is_file()


def test_sensor_classes_are_balanced_and_one_hot() -> None:
    with _data(_config("sensors.toml")) as data:
        for key in ("y", "y_val"):
            y = data[key]
            assert set(np.unique(y)) == {0.0, 1.0}
            np.testing.assert_array_equal(y.sum(axis=1), 1.0)
            counts = y.sum(axis=0)
            assert counts.min() > 0.9 * counts.max()


def _compiled_model(config: dict):
    """Builds and compiles a config's model the way the engine does (from `[compile]`)."""
    import keras

    keras.utils.set_random_seed(config["run"]["seed"])
    model = _builder(config)(**config["model"].get("params", {}))
    spec = config["compile"]
    optimizer = keras.optimizers.get(spec["optimizer"])
    if "learning_rate" in spec:
        optimizer.learning_rate = spec["learning_rate"]
    model.compile(optimizer=optimizer, loss=spec["loss"], metrics=spec.get("metrics", []))
    return model


@pytest.mark.parametrize("name", CONFIGS)
def test_model_matches_data_and_trains(name: str) -> None:
    config = _config(name)
    batch = config["data"]["batch_size"]
    model = _compiled_model(config)
    with _data(config) as data:
        x, y = data["x"], data["y"]
        assert tuple(model.input_shape[1:]) == x.shape[1:]
        assert tuple(model.output_shape[1:]) == y.shape[1:]
        assert data["x_val"].shape[1:] == x.shape[1:]
        history = model.fit(x[: 3 * batch], y[: 3 * batch], batch_size=batch, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 3
    assert np.isfinite(history.history["loss"][0])


def test_reference_loss_falls_over_two_epochs() -> None:
    config = _config("reference.toml")
    batch = config["data"]["batch_size"]
    model = _compiled_model(config)
    with _data(config) as data:
        x, y = data["x"], data["y"]
        before = model.evaluate(x, y, batch_size=256, verbose=0)[0]
        model.fit(x, y, batch_size=batch, epochs=2, verbose=0)
        after = model.evaluate(x, y, batch_size=256, verbose=0)[0]
    assert after < before - 0.2
