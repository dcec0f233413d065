"""Shared helpers for the reliability tests: configs with user code that fails on demand, the
report contract, and a real session driven through the app's pilot."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings

from tests.conftest import write_config
from tests.contracts import REPORT_KEYS

T = 120  # seconds: generous, the machines are shared
SAVER = Path(__file__).with_name("saver_child.py")


@contextmanager
def saving_child(config: Path, run: Path) -> Iterator[subprocess.Popen]:
    """`saver_child.py` saving into `run` after every batch: yielded once its first save is
    done, killed with SIGKILL on the way out."""
    child = subprocess.Popen(
        [sys.executable, str(SAVER), str(config), str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line == "ready\n", child.stderr.read() if child.poll() is not None else line
        yield child
    finally:
        child.kill()
        child.wait(T)
        child.stdout.close()
        child.stderr.close()


SIZE = (120, 40)

# Hypothesis, for the random-keys tests: no example database (nothing is written into the
# checkout; a failure prints its example and a `@reproduce_failure` blob instead), no deadline
# (the machines are shared), derandomized in the default run.
KEYS_SETTINGS = settings(
    max_examples=6, deadline=None, derandomize=True, database=None, print_blob=True
)

# A user module: every hook raises while a flag file beside it names that hook, so a test turns
# the fault on and off by writing and removing the file (no reload needed).
FAULTY = """
from pathlib import Path

import keras
import numpy as np

HERE = Path(__file__).parent


def _armed(what):
    flag = HERE / "FAIL"
    return flag.exists() and what in flag.read_text().split()


def build(units=8, inputs=4):
    if _armed("builder"):
        raise RuntimeError("boom in the builder")
    return keras.Sequential([keras.Input((inputs,)),
                             keras.layers.Dense(units, activation="relu", name="hidden"),
                             keras.layers.Dense(1, name="out")])


def load(n=64):
    if _armed("loader"):
        raise RuntimeError("boom in the loader")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5], [1.0]])).astype("float32")


class Raiser(keras.callbacks.Callback):
    begun = 0  # on_train_begin calls that returned

    def on_train_begin(self, logs=None):
        if _armed("on_train_begin"):
            raise RuntimeError("boom in on_train_begin")
        Raiser.begun += 1

    def on_train_batch_end(self, batch, logs=None):
        if _armed("on_train_batch_end"):
            raise RuntimeError("boom in on_train_batch_end")

    def on_epoch_end(self, epoch, logs=None):
        if _armed("on_epoch_end"):
            raise RuntimeError("boom in on_epoch_end")
"""


def faulty_config(
    folder: Path,
    *,
    epochs: int = 3,
    callbacks: bool = False,
    loader: bool = False,
    fail: str = "",
    extra: str = "",
) -> tuple[Path, str]:
    """A config whose builder (and loader, callbacks) come from a fresh user module.

    The module gets a unique name so that no other test's import of it is reused. Returns the
    config path and the module name.
    """
    folder.mkdir(parents=True, exist_ok=True)
    module = f"ww_faulty_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(FAULTY)
    arm(folder, fail)
    data = f'[data]\nloader = "{module}:load"\nbatch_size = 16\n' if loader else None
    path = write_config(folder, epochs=epochs, extra=extra)
    text = path.read_text().replace('builder = "ww_test_models:mlp"', f'builder = "{module}:build"')
    if data:
        text = text.replace('[data]\npath = "data.npz"\nbatch_size = 16\n', data)
    if callbacks:
        text += f'\n[[callbacks]]\ntype = "{module}:Raiser"\n'
    path.write_text(text)
    return path, module


def arm(folder: Path, fail: str) -> None:
    """Make the faulty module's hooks named in `fail` (space-separated) raise; "" disarms."""
    flag = folder / "FAIL"
    if fail:
        flag.write_text(fail)
    else:
        flag.unlink(missing_ok=True)


# --- the report contract (DESIGN.md, "Report (JSON)") --------------------------------------------

SEGMENT_KEYS = {
    "index",
    "origin",
    "instance",
    "start_session_step",
    "end_session_step",
    "start_model_step",
    "start_fingerprint",
    "end_fingerprint",
    "callbacks",
}
EVENT_KEYS = {
    "session_step",
    "model_step",
    "kind",
    "verdict",
    "detail",
    "norm_before",
    "norm_after",
}
CHECKPOINT_KEYS = {"name", "path", "model_step", "epoch", "fingerprint"}
FINAL_KEYS = {"model_step", "epoch", "loss", "global_norm", "fingerprint"}
ORIGINS = {"fresh", "continued", "restored", "reset", "optimizer_reset"}


def check_report(report: dict) -> None:
    """Keys exactly as DESIGN.md writes them, sane values, and strict JSON (no NaN)."""
    assert set(report) == REPORT_KEYS, sorted(report)
    bad = non_finite(report)
    assert not bad, f"not valid JSON: non-finite numbers at {bad}"
    assert isinstance(report["session_steps"], int) and report["session_steps"] >= 0
    for i, seg in enumerate(report["segments"]):
        assert set(seg) == SEGMENT_KEYS, sorted(seg)
        assert seg["index"] == i and seg["origin"] in ORIGINS
        assert seg["end_session_step"] is None or (
            seg["start_session_step"] <= seg["end_session_step"] <= report["session_steps"]
        )
    steps = [ev["session_step"] for ev in report["events"]]
    assert steps == sorted(steps), "events out of order"
    for ev in report["events"]:
        assert set(ev) == EVENT_KEYS, sorted(ev)
        assert isinstance(ev["kind"], str) and isinstance(ev["detail"], dict)
        assert ev["verdict"] is None or ev["verdict"] in ORIGINS
    for ck in report["checkpoints"]:
        assert set(ck) == CHECKPOINT_KEYS, sorted(ck)
    assert set(report["final"]) == FINAL_KEYS, sorted(report["final"])
    assert set(report["throughput"]) == {"steps_per_s"}
    rate = report["throughput"]["steps_per_s"]
    assert rate is None or (math.isfinite(rate) and rate > 0)


def non_finite(value, where: str = "") -> list[str]:
    """Where a JSON document holds NaN or infinity (which strict JSON does not allow)."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [f"{where} = {value}"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite(v, f"{where}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in non_finite(v, f"{where}[{i}]")]
    return []


# --- a real session behind the app -------------------------------------------------------------


@pytest.fixture
def notes():
    from tests.tui.conftest import Notes

    return Notes()


def real_app(session, **kw):
    from weightwatch.tui.app import WeightwatchApp

    kw = {"cursor_blink": False, "handle_signals": False, **kw}
    return WeightwatchApp(session, **kw)


async def until(predicate, pilot, timeout: float = T) -> None:
    """Let the app run until `predicate()` holds; fail at once if the app crashed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if pilot.app._exception is not None:
            raise AssertionError("the app crashed") from pilot.app._exception
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        # a plain sleep, not pilot.pause(): that first waits for every widget to drain its
        # queue and raises after 30 s, a limit a loaded CI machine met (this has its own)
        await asyncio.sleep(0.01)
        pilot.app.screen._on_timer_update()


def text_of(app) -> str:
    from tests.tui.svgtext import svg_text

    return svg_text(app.export_screenshot())


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()
