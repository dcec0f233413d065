"""The gallery under examples/: each keras.io port runs its script of the four scenarios headless,
and plain Keras loads its checkpoints to the SHA-256 fingerprints the report names.

Every example runs in its own `weightwatch` process: each has a `model.py`, and one process
would import the first example's `model` for all of them. The checks in plain Keras import each
example's `model.py` under a name of its own. One example (FAST) runs in the default suite; the
rest are `slow` (`pytest -m slow tests/examples`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "config.toml").is_file())
FAST = "timeseries_fcn"  # among the quickest (12-16 s on 2 shared cores): in the default run
# The scenarios of every script.toml, in the order the report's segments must show them.
ORIGINS = ["fresh", "continued", "reset", "restored", "optimizer_reset"]
VERDICTS = {
    "callbacks_changed": "continued",
    "rebuilt": "reset",
    "checkpoint_loaded": "restored",
    "recompiled": "optimizer_reset",
}

# A rate the example's own callback sets is an lr_changed event naming it: (callback, new rate).
LR_SET_BY = {"mnist_convnet": ("LearningRateScheduler", 0.0005)}

# Python code makes these batches: a checkpoint and a load say so instead of pretending.
INEXACT = {"mnist_pydataset"}


def each_example():
    return [pytest.param(n, marks=() if n == FAST else pytest.mark.slow, id=n) for n in NAMES]


def weightwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def example_module(name: str) -> ModuleType:
    """The example's model.py, imported as `gallery_<name>` (never as `model`)."""
    spec = importlib.util.spec_from_file_location(f"gallery_{name}", EXAMPLES / name / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # tf.data and autograph look functions up by module
    spec.loader.exec_module(module)
    return module


def plain_keras_model(name: str):
    """`builder(**params)` as the config names it, built the way plain `fit` would build it."""
    config = tomllib.loads((EXAMPLES / name / "config.toml").read_text())
    module = example_module(name)
    builder = getattr(module, config["model"]["builder"].split(":")[1])
    model = builder(**config["model"].get("params", {}))
    if not model.built:  # a subclassed model: fit builds it on its first batch
        loader = getattr(module, config["data"]["loader"].split(":")[1])
        data = loader(**config["data"].get("params", {}))
        x = data["x"] if isinstance(data, dict) else data[0]
        model(x[:1])
    return model


def enabled_types(tables: list[dict]) -> list[str]:
    return [t["type"] for t in tables if t.get("enabled", True)]


def test_the_gallery_has_eight_examples_each_with_its_files_and_a_readme_line():
    assert len(NAMES) >= 8
    readme = (EXAMPLES / "README.md").read_text()
    for name in NAMES:
        for file in ("config.toml", "model.py", "script.toml"):
            assert (EXAMPLES / name / file).is_file(), f"{name}/{file}"
        lines = [line for line in readme.splitlines() if f"`{name}/`" in line]
        assert len(lines) == 1 and " uses " in lines[0], name


@pytest.mark.parametrize("name", each_example())
def test_weightwatch_check_accepts_the_example_and_its_script(name, tmp_path):
    folder = EXAMPLES / name
    done = weightwatch(
        "check", str(folder / "config.toml"), "--script", str(folder / "script.toml"), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("config.toml: OK")


def run_script(name: str, tmp_path: Path) -> dict:
    """The example headless with its own script.toml; the report it wrote."""
    folder, report = EXAMPLES / name, tmp_path / "report.json"
    config, script = str(folder / "config.toml"), str(folder / "script.toml")
    done = weightwatch(
        "run", config, "--headless", "--script", script, "--report", str(report),
        "--run-dir", str(tmp_path / "run"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(report.read_text())


def check_lineage(name: str, report: dict) -> None:
    """Verdicts, segments and checkpoints as the script's four scenarios make them."""
    assert [e["detail"] for e in report["events"] if e["kind"] == "error"] == []
    verdicts = {e["kind"]: e["verdict"] for e in report["events"] if e["kind"] in VERDICTS}
    assert verdicts == VERDICTS
    segs = report["segments"]
    assert [s["origin"] for s in segs] == ORIGINS
    assert [s["instance"] for s in segs] == [1, 1, 2, 2, 2]
    fresh, continued, reset, restored, recompiled = segs
    config = tomllib.loads((EXAMPLES / name / "config.toml").read_text())
    script = tomllib.loads((EXAMPLES / name / "script.toml").read_text())
    edit = next(a for a in script["action"] if a["do"] == "callbacks")
    assert fresh["callbacks"] == enabled_types(config.get("callbacks", []))
    assert continued["callbacks"] == enabled_types(edit["set"]) == recompiled["callbacks"]
    assert continued["start_fingerprint"] == fresh["end_fingerprint"]  # the same weights go on
    assert reset["start_fingerprint"] == fresh["start_fingerprint"] != continued["end_fingerprint"]
    assert reset["start_model_step"] == 0 and recompiled["start_model_step"] == 0
    assert recompiled["start_fingerprint"] == restored["end_fingerprint"]  # weights kept
    saved = {c["name"]: c for c in report["checkpoints"]}
    assert sorted(saved) == ["final", "mid"]
    assert restored["start_fingerprint"] == saved["mid"]["fingerprint"]
    assert restored["start_model_step"] == saved["mid"]["model_step"] > 0
    assert saved["final"]["fingerprint"] == report["final"]["fingerprint"]


def check_effects(name: str, report: dict) -> None:
    """What the example's own callbacks and data did, as the events say it."""
    if name in LR_SET_BY:
        changed = [e["detail"] for e in report["events"] if e["kind"] == "lr_changed"]
        assert [(d["callback"], round(d["new"], 7)) for d in changed] == [LR_SET_BY[name]]
    load = next(e["detail"] for e in report["events"] if e["kind"] == "checkpoint_loaded")
    assert (load.get("data_position") == "start of epoch") == (name in INEXACT)


def check_in_plain_keras(name: str, report: dict) -> None:
    """No weightwatch in between: the config's seed builds the weights the run started from
    (and the rebuild went back to), and each checkpoint file holds its reported weights."""
    import keras
    from weightwatch.engine.weights import fingerprint

    config = tomllib.loads((EXAMPLES / name / "config.toml").read_text())
    keras.utils.set_random_seed(config["run"]["seed"])
    assert fingerprint(plain_keras_model(name)) == report["segments"][0]["start_fingerprint"]
    for checkpoint in report["checkpoints"]:
        model = plain_keras_model(name)
        model.load_weights(checkpoint["path"])
        assert fingerprint(model) == checkpoint["fingerprint"], checkpoint["name"]


@pytest.mark.parametrize("name", each_example())
def test_the_four_scenarios_hold_and_plain_keras_loads_the_checkpoints(name, tmp_path):
    report = run_script(name, tmp_path)
    check_lineage(name, report)
    check_effects(name, report)
    check_in_plain_keras(name, report)


RESUMES = [("weather_tfdata", 20), ("mnist_convnet", 16)]  # mid-epoch: epoch 1, a few steps in


@pytest.mark.slow
@pytest.mark.parametrize(("name", "step"), RESUMES, ids=[n for n, _ in RESUMES])
def test_a_resume_from_another_run_directory_repeats_the_uninterrupted_run(name, step, tmp_path):
    """N steps, a checkpoint, `--from` it in a NEW run directory, the rest: the same SHA-256 as
    never stopping (a shuffling tf.data pipeline; Dropout's RNG on arrays)."""
    config = str(EXAMPLES / name / "config.toml")
    (tmp_path / "save.toml").write_text(
        f'[[action]]\ndo = "save"\nat_step = {step}\nname = "cut"\n\n[[action]]\ndo = "quit"\n'
    )
    (tmp_path / "end.toml").write_text('[[action]]\ndo = "quit"\nwhen = "finished"\n')

    def run(run_dir: str, script: str, *extra: str) -> dict:
        args = ["run", config, "--headless", "--script", script, "--run-dir", run_dir]
        done = weightwatch(*args, "--report", f"{run_dir}.json", *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads((tmp_path / f"{run_dir}.json").read_text())

    whole = run("whole", "end.toml")
    cut = run("first", "save.toml")
    assert cut["final"]["model_step"] == step
    rest = run("second", "end.toml", "--from", cut["checkpoints"][0]["path"])
    assert rest["segments"][0]["origin"] == "restored"
    assert rest["final"]["model_step"] == whole["final"]["model_step"]
    assert rest["final"]["fingerprint"] == whole["final"]["fingerprint"]
