"""Training under `tf.distribute.MirroredStrategy` on logical CPU devices (issue 15).

TensorFlow splits the CPU into logical devices only before it initialises them, so every run
here is its own `weightwatch run --headless` process (as a user runs it). The default run has
every command and exact resume on 2 devices; every command and exact resume on 4 and
checkpoints crossing between one device and the strategy are `slow`.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SAMPLES, VAL, BATCH = 640, 128, 32  # 20 steps an epoch


def write_job(folder: Path, devices: int, epochs: int, strategy: str = "mirrored") -> Path:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(SAMPLES + VAL, 10)).astype("float32")
    y = np.eye(10, dtype="float32")[np.argmax(x @ rng.normal(size=(10, 10)), axis=1)]
    np.savez(folder / "job.npz", x=x[:SAMPLES], y=y[:SAMPLES], x_val=x[SAMPLES:], y_val=y[SAMPLES:])
    run = f'strategy = "mirrored"\ncpu_devices = {devices}\n' if strategy == "mirrored" else ""
    cfg = folder / f"job-{strategy}-{devices}-{epochs}.toml"
    cfg.write_text(
        f"""[run]
name = "mirrored"
seed = 5
deterministic = true
{run}
[model]
builder = "weightwatch.demo_data.models:reference_mlp"
params = {{ inputs = 10, hidden = 32, classes = 10 }}

[compile]
optimizer = "adam"
loss = "categorical_crossentropy"
metrics = ["accuracy"]

[data]
path = "job.npz"
batch_size = {BATCH}

[train]
epochs = {epochs}
"""
    )
    return cfg


def run(cfg: Path, run_dir: Path, script: str | None = None, *extra: str) -> dict:
    """`weightwatch run --headless` in its own process; the report."""
    report = run_dir.with_suffix(".report.json")
    argv = [sys.executable, "-m", "weightwatch.tui.cli", "run", str(cfg), "--headless"]
    argv += ["--run-dir", str(run_dir), "--report", str(report), *extra]
    if script is not None:
        path = run_dir.with_suffix(".script.toml")
        path.write_text(script)
        argv += ["--script", str(path)]
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        argv, cwd=cfg.parent, capture_output=True, text=True, timeout=300, env=_env(env)
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(report.read_text())


def _env(extra: dict) -> dict:
    import os

    return {**os.environ, **extra}


def verdicts(report: dict) -> list[tuple[str, str]]:
    return [(e["kind"], e["verdict"]) for e in report["events"] if e["verdict"]]


def metrics_at(run_dir: Path, step: int) -> dict:
    with (run_dir / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if int(r["session_step"]) == step]
    assert rows, f"no metrics row at step {step}"
    return rows[-1]


def plain_keras_view(h5: Path) -> tuple[str, float]:
    """The checkpoint loaded by plain Keras without any strategy: fingerprint and norm."""
    code = (
        "import sys, json, keras\n"
        "from weightwatch.demo_data.models import reference_mlp\n"
        "from weightwatch.engine.weights import fingerprint, global_norm\n"
        "m = reference_mlp(inputs=10, hidden=32, classes=10)\n"
        "m.compile(optimizer='adam', loss='categorical_crossentropy')\n"
        "m.load_weights(sys.argv[1])\n"
        "print(json.dumps([fingerprint(m), global_norm(m)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(h5)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env({"TF_CPP_MIN_LOG_LEVEL": "3"}),
    )
    assert out.returncode == 0, out.stderr[-1500:]
    fp, norm = json.loads(out.stdout.strip().splitlines()[-1])
    return fp, norm


EVERY_COMMAND = """
[[action]]
do = "pause"
at_step = 25

[[action]]
do = "save"

[[action]]
do = "callbacks"
set = [{ type = "EarlyStopping", monitor = "loss", patience = 50 }]

[[action]]
do = "resume"

[[action]]
do = "set_lr"
value = 0.0005
at_step = 45

[[action]]
do = "recompile"
at_step = 50

[[action]]
do = "load"
checkpoint = "step-000025"
at_step = 60

[[action]]
do = "rebuild"
at_step = 70
"""

EVERY_VERDICTS = [  # what EVERY_COMMAND's transitions are judged
    ("started", "fresh"),
    ("callbacks_changed", "continued"),
    ("resume", "continued"),
    ("recompiled", "optimizer_reset"),
    ("checkpoint_loaded", "restored"),
    ("rebuilt", "reset"),
]

PAUSE_AND_SAVE = """
[[action]]
do = "pause"
at_step = 13

[[action]]
do = "save"

[[action]]
do = "resume"

[[action]]
do = "save"
at_epoch = 2

[[action]]
do = "quit"
when = "finished"
"""


def check_every_command(tmp_path: Path, devices: int) -> None:
    cfg = write_job(tmp_path, devices, epochs=5)
    rd = tmp_path / "every"
    report = run(cfg, rd, EVERY_COMMAND)
    names = [f"CPU:{i}" for i in range(devices)]
    assert report["strategy"] == {"name": "mirrored", "replicas": devices, "devices": names}
    started = report["events"][0]
    assert started["detail"]["strategy"] == f"mirrored x{devices} ({', '.join(names)})"
    assert verdicts(report) == EVERY_VERDICTS
    kinds = [e["kind"] for e in report["events"]]
    assert "error" not in kinds and "lr_changed" in kinds and "callbacks_changed" in kinds
    saved = next(c for c in report["checkpoints"] if c["name"] == "step-000025")
    # The fused probe measured the mirrored variables: its norm at step 25 is plain Keras's
    # norm of the file saved there, read without any strategy (and the fingerprint is equal).
    h5 = next((rd / "checkpoints").glob("step-000025*.weights.h5"))
    fp, norm = plain_keras_view(h5)
    assert fp == saved["fingerprint"]
    assert float(metrics_at(rd, 25)["global_norm"]) == pytest.approx(norm, rel=1e-9)
    load = next(e for e in report["events"] if e["kind"] == "checkpoint_loaded")
    assert load["norm_after"] == pytest.approx(norm, rel=1e-9)


def check_exact_resume(tmp_path: Path, devices: int) -> None:
    """Pause + resume = never pausing; 2 epochs + --from + 2 epochs = 4 epochs."""
    cfg = write_job(tmp_path, devices, epochs=4)
    straight = run(cfg, tmp_path / "straight")
    paused = run(cfg, tmp_path / "paused", PAUSE_AND_SAVE)
    assert paused["final"]["fingerprint"] == straight["final"]["fingerprint"]
    at_two = next((tmp_path / "paused" / "checkpoints").glob("step-000040*.weights.h5"))
    resumed = run(cfg, tmp_path / "resumed", None, "--from", str(at_two))
    assert verdicts(resumed)[0] == ("started", "restored")
    assert resumed["final"]["fingerprint"] == straight["final"]["fingerprint"]
    assert resumed["final"]["epoch"] == straight["final"]["epoch"] == 4


def test_two_devices_every_command_and_exact_resume(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    check_every_command(tmp_path / "a", 2)
    check_exact_resume(tmp_path / "b", 2)


@pytest.mark.slow  # the default run has every command on 2 devices (and on 4 JAX devices)
def test_four_devices_every_command(tmp_path):
    check_every_command(tmp_path, 4)


@pytest.mark.slow
def test_four_devices_exact_resume(tmp_path):
    check_exact_resume(tmp_path, 4)


@pytest.mark.slow
def test_checkpoints_cross_between_one_device_and_mirrored(tmp_path):
    """A checkpoint saved on one device loads under the strategy (and the other way round)."""
    one = write_job(tmp_path, 1, epochs=2, strategy="default")
    two = write_job(tmp_path, 2, epochs=2)
    saved = run(one, tmp_path / "one", '[[action]]\ndo = "save"\nat_step = 20\n')
    h5 = next((tmp_path / "one" / "checkpoints").glob("step-000020*.weights.h5"))
    under = run(two, tmp_path / "under", None, "--from", str(h5))
    assert under["events"][0]["verdict"] == "restored"
    fp = next(c["fingerprint"] for c in saved["checkpoints"] if c["name"] == "step-000020")
    assert plain_keras_view(h5)[0] == fp
    back = run(two, tmp_path / "two", '[[action]]\ndo = "save"\nat_step = 20\n')
    h5_two = next((tmp_path / "two" / "checkpoints").glob("step-000020*.weights.h5"))
    fp_two = next(c["fingerprint"] for c in back["checkpoints"] if c["name"] == "step-000020")
    plain = run(one, tmp_path / "plain", None, "--from", str(h5_two))
    assert plain["events"][0]["verdict"] == "restored"
    assert plain_keras_view(h5_two)[0] == fp_two


def test_check_says_where_a_mirrored_run_will_train(tmp_path, capsys):
    from weightwatch.tui.cli import main

    cfg = write_job(tmp_path, 4, epochs=1)
    assert main(["check", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "strategy: mirrored on 4 logical CPU devices (the trial ran on one device)" in out
    assert out.strip().endswith("OK")
