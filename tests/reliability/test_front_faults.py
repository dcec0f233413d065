"""Front-end faults (issue 10): the process never dies without its report.

NaN and inf reach the screen without crashing it (a diverging run, a crafted checkpoint), a
screenshot that cannot be written is an `error` event, every headless wait gives way to SIGTERM
and SIGINT, and a run whose training failed counts only the batches that trained and exits 3.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from textual.widgets import Static
from weightwatch.engine import events as ev
from weightwatch.engine.report import training_error
from weightwatch.engine.script import load_script
from weightwatch.tui.headless import run_headless
from weightwatch.tui.screens.picker import preview
from weightwatch.tui.widgets.banner import banner_text
from weightwatch.tui.widgets.event_log import detail_text
from weightwatch.tui.widgets.layers import sparkline
from weightwatch.tui.widgets.status import describe

from tests.conftest import write_config
from tests.tui.conftest import make_app, make_fake, running

from .conftest import SIZE, check_report, faulty_config, real_app, text_of, until
from .test_quit_paths import check_complete, metrics_rows

NAN, INF = float("nan"), float("inf")
LONG = 100_000  # epochs: still training when the test stops it
QUIT_WITHIN_S = 10.0


def cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def script_file(folder: Path, text: str) -> Path:
    path = folder / "script.toml"
    path.write_text(textwrap.dedent(text))
    return path


# --- NaN and inf on the screen -----------------------------------------------------------------


def test_sparkline_draws_nan_and_inf_as_a_mark_and_scales_the_rest():
    assert sparkline([1.0, NAN, 2.0, INF, 3.0, -INF]) == "▁×▅×█×"
    assert sparkline([NAN, NAN]) == "××"
    assert sparkline([]) == ""


def test_banner_log_status_and_picker_write_nan_and_inf():
    event = ev.Event("diverged", 7, 7, None, {"loss": NAN, "norm": INF}, 2.5, NAN)
    assert banner_text(event).endswith("norm 2.5 → nan")
    assert detail_text(event) == "loss=nan norm=inf"
    status = ev.Status(ev.SessionState.RUNNING, 0, 3, 5, 60, 5, 5, 1, NAN, INF, NAN, INF)
    assert "lr nan" in str(describe(status)) and "inf steps/s" in str(describe(status))
    info = ev.CheckpointInfo("bad", "/r/bad.weights.h5", "weightwatch", loss=NAN, global_norm=INF)
    text = preview(info, now=0.0)
    assert "loss           nan" in text and "weight norm    inf" in text


async def test_layer_table_shows_nan_and_inf_rows(tmp_path):
    fake = make_fake(tmp_path / "run")
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(20)
        step = fake.telemetry.last_x()
        for i in range(1, 41):  # enough rows that the newest columns of the trend hold only these
            fake.telemetry.append(step + i, **{"layer/0": NAN, "layer/1": INF, "layer/2": NAN})
        app.dashboard.tick(force=True)
        await pilot.pause()
        lines = str(app.dashboard.query_one("#layer-rows", Static).render()).splitlines()
        assert [line.split()[1] for line in lines[1:]] == ["nan", "inf", "nan"]
        trends = [line.split()[2] for line in lines[1:]]
        assert all(t.endswith("××") and set(t) - {"×"} <= set("▁▂▃▄▅▆▇█") for t in trends)
        assert app._exception is None


NAN_MODELS = """
import keras


def mlp(units=8, inputs=4):
    inf, nan = (keras.initializers.Constant(float(v)) for v in ("inf", "nan"))
    return keras.Sequential([keras.Input((inputs,)),
                             keras.layers.Dense(units, name="hidden", kernel_initializer=inf),
                             keras.layers.Dense(1, name="out", kernel_initializer=nan)])
"""


def nan_config(folder: Path) -> Path:
    """A real run whose model starts with inf and NaN weights (as a diverged checkpoint can):
    the first loss is NaN, so training pauses at once with those weights on the screen."""
    path = write_config(folder, epochs=3)
    module = f"ww_nan_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(NAN_MODELS)
    path.write_text(path.read_text().replace("ww_test_models:mlp", f"{module}:mlp"))
    return path


async def test_a_real_run_with_nan_weights_draws_them_and_quits_with_its_report(tmp_path):
    from weightwatch.engine.config import load_config
    from weightwatch.engine.session import Session

    session = Session(load_config(nan_config(tmp_path / "nan")))
    held = session.hold_at_step(0)  # before the first batch: the weights as they were built
    app = real_app(session)
    async with app.run_test(size=SIZE) as pilot:
        await until(held.done, pilot)
        app.dashboard.tick(force=True)
        await pilot.pause()
        rows = str(app.dashboard.query_one("#layer-rows", Static).render()).splitlines()
        # (two columns before each name: where `▸` marks the layer the norm chart shows)
        assert rows[1:] == [f"  hidden  {'inf':<9}  ×", f"  out     {'nan':<9}  ×"]
        session.release()
        await until(lambda: any(e.kind == "diverged" for e in session.events()), pilot)
        app.dashboard.tick(force=True)
        await pilot.pause()
        assert " diverged " in text_of(app)  # the event log, drawn (the app is still up)
        await pilot.press("escape", "q")  # the divergence dialog, then quit
        await until(app.finished.is_set, pilot)
    check_report(app.report)  # NaN written as null
    assert json.loads((session.run_dir / "report.json").read_text()) == app.report


# --- a screenshot that cannot be written --------------------------------------------------------


async def test_a_screenshot_that_cannot_be_written_is_an_error_and_the_session_goes_on(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    script = script_file(
        tmp_path,
        """
        [[action]]
        do = "screenshot"
        at_step = 10
        path = "a-file/shot.svg"

        [[action]]
        do = "save"
        name = "after"

        [[action]]
        do = "screenshot"
        path = "shots/ok.svg"
        """,
    )
    fake = make_fake(tmp_path / "run", rate=2000)
    report = await run_headless(fake, load_script(script), report_path=tmp_path / "r.json")
    errors = [e["detail"]["message"] for e in report["events"] if e["kind"] == "error"]
    assert len(errors) == 1
    assert errors[0].startswith("[[action]][1] screenshot: cannot write ")
    assert "a-file/shot.svg" in errors[0] and errors[0].endswith(
        "(a file stands where a folder should be)"
    )
    assert [c["name"] for c in report["checkpoints"]] == ["after"]
    assert (tmp_path / "shots" / "ok.svg").read_text().startswith("<svg")
    assert report["events"][-1]["kind"] == "quit"
    assert json.loads((tmp_path / "r.json").read_text()) == report


async def test_an_app_that_crashes_mid_script_still_writes_the_report(tmp_path, monkeypatch):
    from weightwatch.tui.widgets.layers import LayerNorms

    def broken(self, telemetry, x_range):
        raise RuntimeError("a bug in a widget")

    monkeypatch.setattr(LayerNorms, "pull", broken)
    script = script_file(tmp_path, '[[action]]\ndo = "wait"\nseconds = 1e12\n')
    fake = make_fake(tmp_path / "run", rate=2000)
    started = time.monotonic()
    report = await run_headless(fake, load_script(script), report_path=tmp_path / "r.json")
    assert time.monotonic() - started < QUIT_WITHIN_S
    assert json.loads((tmp_path / "r.json").read_text()) == report
    assert json.loads((fake.run_dir / "report.json").read_text()) == report


# --- SIGTERM and SIGINT during a script's wait ----------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_signal_ends_a_headless_wait_within_seconds_with_the_report(tmp_path, sig):
    folder = tmp_path / "w"
    config = write_config(folder, epochs=LONG)
    script = script_file(folder, '[[action]]\ndo = "wait"\nseconds = 1e12\n')
    run, report = folder / "run", folder / "r.json"
    args = ["run", str(config), "--headless", "--script", str(script), "--report", str(report)]
    child = subprocess.Popen(
        [sys.executable, "-m", "weightwatch.tui.cli", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while metrics_rows(run) == 0 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.poll() is None, child.communicate()
        sent = time.monotonic()
        child.send_signal(sig)
        out, err = child.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
    assert took < QUIT_WITHIN_S, f"{took:.1f} s after the signal"
    assert child.returncode == 0, err
    assert "Traceback" not in out + err
    written = check_complete(run)
    assert json.loads(report.read_text()) == written


# --- a run whose training failed: counted batches and exit code 3 -------------------------------


def early_failing_config(folder: Path) -> Path:
    """The model takes 5 features, the data has 4: the first batch fails while tracing."""
    path = write_config(folder, epochs=3)
    path.write_text(
        path.read_text().replace(
            'builder = "ww_test_models:mlp"',
            'builder = "ww_test_models:mlp"\nparams = {inputs = 5}',
        )
    )
    return path


@pytest.mark.parametrize("mode", ["--headless", "--plain"])
def test_training_that_fails_before_one_batch_counts_no_step_and_exits_3(tmp_path, mode):
    config = early_failing_config(tmp_path / "e")
    done = cli("run", str(config), mode, "--report", "r.json", cwd=tmp_path / "e")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "weightwatch: training ended in an error: ValueError: Input 0 with name 'None' of layer "
        "'hidden' is incompatible with the layer: expected axis -1 of input shape to have "
        "value 5, but received input with shape (None, 4)"
    ]
    report = json.loads((tmp_path / "e" / "r.json").read_text())
    check_report(report)
    assert report["session_steps"] == 0 and report["final"]["model_step"] == 0
    (failed,) = [e for e in report["events"] if e["detail"].get("action") == "training"]
    assert (failed["session_step"], failed["model_step"]) == (0, 0)


def test_training_that_fails_later_exits_3_with_the_batches_that_trained(tmp_path):
    config, _ = faulty_config(tmp_path / "f", callbacks=True, fail="on_epoch_end")
    done = cli("run", str(config), "--headless", "--report", "r.json", cwd=tmp_path / "f")
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "weightwatch: training ended in an error: RuntimeError: boom in on_epoch_end"
    ]
    report = json.loads((tmp_path / "f" / "r.json").read_text())
    assert report["session_steps"] == 4 and report["final"]["model_step"] == 4  # 64 rows / 16


def test_a_failed_script_action_does_not_change_the_exit_code(tmp_path):
    config = write_config(tmp_path / "a", epochs=2)
    script = script_file(
        tmp_path / "a",
        """
        [[action]]
        do = "load"
        at_step = 2
        checkpoint = "nope"

        [[action]]
        do = "quit"
        when = "finished"
        """,
    )
    done = cli(
        "run", str(config), "--script", str(script), "--report", "r.json", cwd=tmp_path / "a"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "a" / "r.json").read_text())
    kinds = [e["kind"] for e in report["events"]]
    assert kinds == ["started", "error", "finished", "quit"] and report["session_steps"] == 8


def event(kind: str, **detail) -> ev.Event:
    return ev.Event(kind, 0, 0, None, dict(detail))


def test_training_error_is_the_failure_that_ended_training():
    failed = event("error", action="training", message="RuntimeError: boom")
    diverged = event("diverged", message="loss not finite")
    refused = event("error", action=5, message="[[action]][5] load: nope: no such file")
    started, resumed, finished = event("started"), event("resume"), event("finished")
    assert training_error([started, failed]) == "RuntimeError: boom"
    assert training_error([started, diverged, refused]) == "loss not finite"
    assert training_error([started, failed, resumed]) is None  # resumed: it went on
    assert training_error([started, failed, resumed, finished]) is None
    assert training_error([started, refused, finished]) is None
    assert training_error([]) is None


STUCK = """
import time

import keras


class Stuck(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 2:
            time.sleep(1e6)  # user code that never returns
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["--headless", "--plain"])
def test_a_quit_ends_even_when_user_code_never_returns(tmp_path, mode):
    """The training thread is stuck in a callback: SIGTERM still ends the process once the quit
    timeout (15 s) has passed, with the report written (exit 3: training did not stop)."""
    folder = tmp_path / "s"
    config = write_config(folder, epochs=LONG)
    module = f"ww_stuck_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(STUCK)
    config.write_text(config.read_text() + f'\n[[callbacks]]\ntype = "{module}:Stuck"\n')
    report = folder / "r.json"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "weightwatch.tui.cli",
            "run",
            str(config),
            mode,
            "--report",
            "r.json",
        ],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        events, deadline = folder / "run" / "events.jsonl", time.monotonic() + 120
        while '"started"' not in (events.read_text() if events.exists() else ""):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        time.sleep(2.0)  # three batches, and the callback is stuck
        sent = time.monotonic()
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
    assert took < 30, f"{took:.1f} s after SIGTERM"
    assert child.returncode == 3, out + err
    assert "training did not stop when asked" in err and "Traceback" not in out + err
    written = json.loads(report.read_text())
    check_report(written)
    # The third batch trained (the optimizer stepped); only its callback never returned: it
    # counts, since the engine runs its own loop and counts a batch once its step is done.
    assert written["session_steps"] == 3
