"""One JAX `data_parallel` run over two local processes (`[run] processes = 2`, issue 16).

Process 0 is the `weightwatch run --headless` the test starts; it starts process 1 itself
(engine/peers.py). Each process has one JAX CPU device, so the run is DataParallel over 2
devices in 2 processes; the reference is the same config in one process over 2 devices.
The default run has every command; the rest (exactness, a process that dies) is `slow`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_jax import _run_jax
from .test_mirrored import (
    EVERY_COMMAND,
    EVERY_VERDICTS,
    PAUSE_AND_SAVE,
    plain_keras_view,
    verdicts,
    write_job,
)

DYING = '''
import os

import keras


class DieAt(keras.callbacks.Callback):
    """Ends one process of the run (os._exit) at a batch: a crash, as `kill -9` is."""

    def __init__(self, process: int, step: int) -> None:
        super().__init__()
        self.process, self.step = process, step

    def on_train_batch_end(self, batch, logs=None):
        import jax

        if jax.process_index() == self.process and batch == self.step:
            os._exit(3)
'''


def processes_job(folder: Path, epochs: int, processes: int = 2, extra: str = "") -> Path:
    """The mirrored tests' job (20 steps an epoch), as data_parallel over `processes`."""
    cfg = write_job(folder, 1, epochs, strategy="default")
    run = f'backend = "jax"\nstrategy = "data_parallel"\nprocesses = {processes}\ncpu_devices = 1\n'
    text = cfg.read_text().replace("[run]\n", f"[run]\n{run}", 1) + extra
    out = folder / f"processes-{processes}-{epochs}.toml"
    out.write_text(text)
    return out


def one_process_job(folder: Path, epochs: int, devices: int = 2) -> Path:
    cfg = processes_job(folder, epochs)
    text = cfg.read_text().replace("processes = 2\ncpu_devices = 1", f"cpu_devices = {devices}")
    out = folder / f"one-process-{devices}-{epochs}.toml"
    out.write_text(text)
    return out


def follower_line(run_dir: Path) -> str:
    lines = (run_dir / "process-1.log").read_text(errors="replace").splitlines()
    return next(line for line in reversed(lines) if line.startswith("process 1: "))


def test_every_command_lands_on_both_processes_with_the_same_weights(tmp_path):
    cfg = processes_job(tmp_path, epochs=5)
    rd = tmp_path / "every"
    report = _run_jax(cfg, rd, EVERY_COMMAND)
    assert verdicts(report) == EVERY_VERDICTS
    assert "error" not in [e["kind"] for e in report["events"]]
    devices = ["CPU:0@p0", "CPU:2048@p1"]
    assert report["strategy"] == {"name": "data_parallel", "replicas": 2, "devices": devices}
    started = report["events"][0]["detail"]["strategy"]
    assert started == f"data_parallel x2 over 2 processes ({', '.join(devices)})"
    # process 1 applied every command process 0 applied, at the same steps: it ends with the
    # same weights (after the rebuild at 70), and left when process 0 stopped it
    final = report["final"]["fingerprint"]
    assert follower_line(rd) == f"process 1: stopped at step 0, weights {final}"
    (leader, follower) = report["processes"]
    assert leader["index"] == 0 and follower["index"] == 1
    assert follower["exit"] == 0 and not follower["killed"]
    # the checkpoint process 0 wrote loads in plain Keras (TensorFlow, one device) to its print
    saved = next(c for c in report["checkpoints"] if c["name"] == "step-000025")
    h5 = next((rd / "checkpoints").glob("step-000025*.weights.h5"))
    assert plain_keras_view(h5)[0] == saved["fingerprint"]
    # nothing of process 1 is left in the run directory but its log; gloo's line on stdout
    # went into process 0's log, not across the screen
    assert sorted(p.name for p in rd.glob("process-*")) == ["process-0.log", "process-1.log"]
    assert "[Gloo] Rank 0 is connected" in (rd / "process-0.log").read_text()


@pytest.mark.slow
def test_two_processes_train_the_bits_of_one_process_on_two_devices_paused_or_not(tmp_path):
    """Pause + resume = never pausing = one process on two devices; 2 epochs + --from + 2."""
    cfg = processes_job(tmp_path, epochs=4)
    straight = _run_jax(cfg, tmp_path / "straight")
    paused = _run_jax(cfg, tmp_path / "paused", PAUSE_AND_SAVE)
    one = _run_jax(one_process_job(tmp_path, epochs=4), tmp_path / "one")
    assert straight["session_steps"] == paused["session_steps"] == one["session_steps"] == 80
    fingerprints = {r["final"]["fingerprint"] for r in (straight, paused, one)}
    assert len(fingerprints) == 1  # 2 x 1 device == 1 x 2 devices, pause or not
    assert follower_line(tmp_path / "paused").endswith(paused["final"]["fingerprint"])
    # --from the checkpoint at epoch 2, on both processes: the run goes on to the same bits
    at_two = next((tmp_path / "paused" / "checkpoints").glob("step-000040*.weights.h5"))
    resumed = _run_jax(cfg, tmp_path / "resumed", None, "--from", str(at_two))
    assert verdicts(resumed)[0] == ("started", "restored")
    assert resumed["final"]["fingerprint"] == straight["final"]["fingerprint"]
    assert follower_line(tmp_path / "resumed").endswith(straight["final"]["fingerprint"])


def _run_dying(tmp_path: Path, process: int) -> tuple[subprocess.CompletedProcess, Path]:
    (tmp_path / "dying.py").write_text(DYING)
    extra = f'\n[[callbacks]]\ntype = "dying:DieAt"\nprocess = {process}\nstep = 5\n'
    cfg = processes_job(tmp_path, epochs=5, extra=extra)
    rd = tmp_path / "run"
    argv = [sys.executable, "-m", "weightwatch.tui.cli", "run", str(cfg), "--headless"]
    argv += ["--run-dir", str(rd), "--report", str(tmp_path / "report.json")]
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=240)
    return done, rd


@pytest.mark.slow
def test_a_follower_that_dies_stops_process_0_cleanly_with_its_report(tmp_path):
    done, rd = _run_dying(tmp_path, process=1)
    report = json.loads((rd / "report.json").read_text())
    errors = [e for e in report["events"] if e["kind"] == "error"]
    assert errors, done.stdout
    message = errors[-1]["detail"]["message"]
    assert re.fullmatch(r"process 1 of 2 exited with code 3 at step \d+", message), message
    assert report["events"][-1]["kind"] == "quit"
    assert report["processes"][1]["exit"] == 3
    assert (rd / "session.lock").read_text() == ""  # released cleanly: the directory is free
    assert done.returncode != 0  # the training ended in an error (docs/script.md's code)


@pytest.mark.slow
def test_a_follower_whose_process_0_dies_leaves_at_once(tmp_path):
    started = time.monotonic()
    done, rd = _run_dying(tmp_path, process=0)
    assert done.returncode == 3  # process 0 ended itself (os._exit(3))
    # process 1 is gone too, soon after: JAX's coordination service went with process 0
    deadline = started + 120
    while time.monotonic() < deadline:
        ps = subprocess.run(["pgrep", "-f", f"weightwatch.engine.follower {tmp_path}"], text=True)
        if ps.returncode != 0:
            break
        time.sleep(0.5)
    else:
        pytest.fail("process 1 still runs 120 s after process 0 died")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('strategy = "data_parallel"', 'strategy = "default"'),
            '[run].processes: only with strategy = "data_parallel" (JAX across processes) '
            '(received strategy = "default")',
        ),
        (("processes = 2", "processes = 9"), "[run].processes: expected an integer in [1, 8]"),
        (
            ("cpu_devices = 1", 'devices = ["CPU:0"]'),
            "[run].devices: not with processes = 2 (every process trains on all its local "
            "devices; cpu_devices = N gives each N)",
        ),
    ],
)
def test_a_config_of_several_processes_is_checked_in_one_line(tmp_path, change, message):
    from weightwatch.engine.config import load_config
    from weightwatch.engine.errors import ConfigError

    cfg = processes_job(tmp_path, epochs=1)
    cfg.write_text(cfg.read_text().replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_config(cfg)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_batch_that_does_not_split_over_the_processes_is_refused_before_training(tmp_path):
    import numpy as np
    from weightwatch.engine.data import BatchFeed
    from weightwatch.engine.errors import ConfigError

    x = np.arange(70.0)[:, None]
    whole = BatchFeed(x, x, batch_size=32, seed=0)  # batches of 32, 32 and 6
    parts = [BatchFeed(x, x, batch_size=32, seed=0) for _ in range(2)]
    for i, part in enumerate(parts):
        part.share(i, 2)  # 32 and 6 split in two: each process its own rows
    for batch, *halves in zip(
        whole.numpy_batches(0, 0, 2), *(p.numpy_batches(0, 0, 2) for p in parts), strict=True
    ):
        assert [len(h[0]) for h in halves] == [len(batch[0]) // 2] * 2
        assert np.array_equal(np.concatenate([h[0] for h in halves]), batch[0])
    feed = parts[0]
    with pytest.raises(ConfigError, match=r"the last batch \(6 samples\) .* processes = 4"):
        feed.share(1, 4)
    with pytest.raises(ConfigError, match=r"\[data\].batch_size \(32 samples\) .* processes = 3"):
        feed.share(0, 3)
