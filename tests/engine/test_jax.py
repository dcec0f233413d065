"""The engine on Keras's JAX backend (issue 16).

Keras picks its backend once per process, so every JAX run here is its own process with
`KERAS_BACKEND=jax`: the real CLI (`weightwatch run --headless`) for every command, and the
engine's scenario and exactness suites run again, unchanged, by a pytest of their own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from .test_mirrored import (
    EVERY_COMMAND,
    EVERY_VERDICTS,
    metrics_at,
    plain_keras_view,
    run,
    verdicts,
    write_job,
)

JAX = {"KERAS_BACKEND": "jax", "WEIGHTWATCH_TEST_BACKEND": "jax"}  # conftest checks it
SUITES = (  # the scenarios and exact pause and resume (the pair: the default run)
    "tests/engine/test_scenarios.py",
    "tests/engine/test_exactness.py",
)
MORE_SUITES = (  # the hook traces, the resume record, what callbacks do, faults (slow)
    "tests/engine/test_session_hook_trace.py",
    "tests/engine/test_hook_trace.py",
    "tests/engine/test_resume_carry.py",
    "tests/engine/test_callback_effects.py",
    "tests/engine/test_faults.py",
)


def _run_jax(cfg: Path, run_dir: Path, script: str | None = None, *extra: str) -> dict:
    saved = os.environ.get("KERAS_BACKEND")
    os.environ["KERAS_BACKEND"] = "jax"
    try:
        return run(cfg, run_dir, script, *extra)
    finally:
        if saved is None:
            os.environ.pop("KERAS_BACKEND", None)
        else:
            os.environ["KERAS_BACKEND"] = saved


def test_every_command_on_jax_with_verdicts_norms_and_a_checkpoint_tensorflow_loads(tmp_path):
    cfg = write_job(tmp_path, 1, epochs=5, strategy="default")
    rd = tmp_path / "every"
    report = _run_jax(cfg, rd, EVERY_COMMAND)
    assert verdicts(report) == EVERY_VERDICTS
    kinds = [e["kind"] for e in report["events"]]
    assert "error" not in kinds and "lr_changed" in kinds
    assert report["events"][0]["detail"]["backend"] == "jax"  # the started event says so
    lr = next(e for e in report["events"] if e["kind"] == "lr_changed")
    assert lr["detail"]["new"] == pytest.approx(0.0005)
    assert float(metrics_at(rd, 46)["lr"]) == pytest.approx(0.0005)  # the fused row follows
    saved = next(c for c in report["checkpoints"] if c["name"] == "step-000025")
    # Written on JAX, read by plain Keras on TensorFlow (this process): the same fingerprint,
    # and the probe's float32 norm at step 25 is the file's norm in float64 to float32 precision
    h5 = next((rd / "checkpoints").glob("step-000025*.weights.h5"))
    fp, norm = plain_keras_view(h5)
    assert fp == saved["fingerprint"]
    with h5py.File(h5, "r") as f:  # the resume record says which backend wrote it
        assert f["weightwatch/resume"].attrs["backend"] == "jax"
    assert float(metrics_at(rd, 25)["global_norm"]) == pytest.approx(norm, rel=1e-6)
    load = next(e for e in report["events"] if e["kind"] == "checkpoint_loaded")
    assert load["norm_after"] == pytest.approx(norm, rel=1e-12)  # read from the variables
    # the per-step loss is the batch's own (not the running mean): it varies step to step
    losses = [float(metrics_at(rd, s)["loss"]) for s in range(2, 12)]
    assert len(set(losses)) == len(losses) and all(np.isfinite(losses))


def _data_parallel_job(folder: Path, devices: int, epochs: int) -> Path:
    cfg = write_job(folder, devices, epochs)  # mirrored's job, as data_parallel on JAX
    text = cfg.read_text().replace(
        'strategy = "mirrored"', 'backend = "jax"\nstrategy = "data_parallel"'
    )
    cfg.write_text(text)
    return cfg


PAUSE = """
[[action]]
do = "pause"
at_step = 13

[[action]]
do = "resume"

[[action]]
do = "quit"
when = "finished"
"""


def test_every_command_and_exact_pause_under_data_parallel_on_4_jax_cpu_devices(tmp_path):
    cfg = _data_parallel_job(tmp_path, 4, epochs=5)
    report = _run_jax(cfg, tmp_path / "every", EVERY_COMMAND)
    names = [f"CPU:{i}" for i in range(4)]
    assert report["strategy"] == {"name": "data_parallel", "replicas": 4, "devices": names}
    assert report["events"][0]["detail"]["strategy"] == f"data_parallel x4 ({', '.join(names)})"
    assert verdicts(report) == EVERY_VERDICTS
    assert "error" not in [e["kind"] for e in report["events"]]
    h5 = next((tmp_path / "every" / "checkpoints").glob("step-000025*.weights.h5"))
    saved = next(c for c in report["checkpoints"] if c["name"] == "step-000025")
    fp, norm = plain_keras_view(h5)  # loaded by TensorFlow's Keras on one device
    assert fp == saved["fingerprint"]
    assert float(metrics_at(tmp_path / "every", 25)["global_norm"]) == pytest.approx(norm, rel=1e-6)
    # a pause and a resume under the distribution change nothing, bit for bit
    cfg = _data_parallel_job(tmp_path, 4, epochs=2)
    straight = _run_jax(cfg, tmp_path / "straight")
    paused = _run_jax(cfg, tmp_path / "paused", PAUSE)
    assert paused["final"]["fingerprint"] == straight["final"]["fingerprint"]
    assert paused["session_steps"] == straight["session_steps"] == 40


def test_a_jax_run_on_arrays_never_imports_tensorflow(tmp_path):
    """Seeding imported TensorFlow only to seed it: ~2.5 s of every JAX run's start-up."""
    cfg = write_job(tmp_path, 1, epochs=1, strategy="default")
    argv = ["weightwatch", "run", str(cfg), "--headless", "--run-dir", str(tmp_path / "rd")]
    code = (
        "import runpy, sys\n"
        f"sys.argv = {argv!r}\n"
        "try:\n"
        "    runpy.run_module('weightwatch.tui.cli', run_name='__main__')\n"
        "finally:\n"
        "    print('tensorflow loaded:', 'tensorflow' in sys.modules)\n"
    )
    env = {**os.environ, **JAX, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "tensorflow loaded: False" in done.stdout
    final = json.loads((tmp_path / "rd" / "report.json").read_text())["final"]
    assert (final["epoch"], final["model_step"]) == (1, 20)


def test_scenario_and_exactness_suites_pass_on_jax():
    """The same tests as on TensorFlow, in a pytest whose Keras runs on JAX."""
    _suites_on_jax(SUITES)


@pytest.mark.slow
def test_the_hook_resume_effect_and_fault_suites_pass_on_jax():
    _suites_on_jax(MORE_SUITES)


def _suites_on_jax(suites: tuple[str, ...]) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *suites],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **JAX, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    tail = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    assert " passed" in done.stdout and "failed" not in done.stdout, tail
