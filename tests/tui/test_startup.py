"""Start-up hygiene: no TensorFlow before the first frame, and fd 2 kept off the screen."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from weightwatch.engine.events import SessionState

from .conftest import make_app, until


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_importing_the_app_leaves_tensorflow_and_keras_unimported():
    result = run_python("""
        import sys
        import weightwatch.tui.app, weightwatch.tui.headless, weightwatch.tui.stderr_redirect
        print(sorted(m for m in sys.modules
                     if m.split(".")[0] in ("tensorflow", "keras", "plotext", "numpy")))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


async def test_charts_wait_for_the_first_step_without_plotext(fake):
    """Before any point is recorded the charts show their title and what they wait for; the
    first points bring the plot."""
    from weightwatch.tui.widgets.charts import LossChart, NormChart

    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: fake.status().state is SessionState.RUNNING, pilot)
        await pilot.pause()
        for chart in (app.dashboard.query_one(LossChart), app.dashboard.query_one(NormChart)):
            text = "\n".join(line.text for line in chart.build_lines())
            assert "waiting for the first training step" in text and chart.TITLE in text
            assert chart._plot is None
        fake.step(30)
        app.dashboard.tick(force=True)
        await pilot.pause()
        loss = app.dashboard.query_one(LossChart)
        text = "\n".join(line.text for line in loss.build_lines())
        assert "waiting" not in text and "train" in text and "┤" in text


async def test_training_starts_only_after_the_dashboard_is_laid_out(fake):
    seen = {}
    real_run = fake.run

    def run() -> None:  # on the worker thread: ask the UI thread, never touch widgets here
        height = app.call_from_thread(lambda: app.dashboard.query_one("#status-bar").region.height)
        seen["status line height when run() started"] = height
        real_run()

    fake.run = run
    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: fake.status().state is SessionState.RUNNING, pilot)
    assert seen["status line height when run() started"] >= 1


def test_fd2_goes_to_the_log_while_textual_keeps_the_terminal(tmp_path):
    log = tmp_path / "run" / "tensorflow.log"
    result = run_python(
        """
        import asyncio, os, sys
        from textual.app import App
        from textual.drivers.linux_driver import LinuxDriver
        from weightwatch.tui.stderr_redirect import redirect_stderr_to

        with redirect_stderr_to(sys.argv[1]) as terminal:
            os.write(2, b"C++ noise\\n")  # what TensorFlow's C++ logging does

            async def make_driver():  # as App.run() does, inside the context
                return LinuxDriver(App(), debug=False, mouse=False, size=(80, 24))

            assert asyncio.run(make_driver())._file is terminal  # it draws on the terminal
            sys.__stderr__.write("frame\\n")
            sys.__stderr__.flush()
        os.write(2, b"after\\n")
        try:
            with redirect_stderr_to(sys.argv[1]):
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        os.write(2, b"restored\\n")
        print(sys.__stderr__ is sys.stderr)
    """,
        str(log),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "frame\nafter\nrestored\n"
    assert log.read_text() == "C++ noise\n"
    assert result.stdout.strip() == "True"
