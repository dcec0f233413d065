"""The weightwatch Textual app: drives a training session and shows what happens to the weights.

The session trains on a thread worker started after the first frame (TensorFlow is imported
there, never here). The session's listener runs on the training thread and only posts messages;
everything else is pulled on a timer by the dashboard. Commands return futures that resolve at
the next batch boundary; they are awaited in small async workers and their failures become
notifications, handled once in `worker_changed`. The key actions and the dialogs' callbacks are
`CommandsMixin` (tui/commands.py); here: lifecycle, the training worker, the listener's
messages, worker failures and quitting.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState
from weightwatch.engine import events as ev
from weightwatch.engine.errors import BadInput, CommandRejected
from weightwatch.engine.events import SessionState as S
from weightwatch.tui.commands import CommandsMixin
from weightwatch.tui.screens.dashboard import DashboardScreen
from weightwatch.tui.widgets.chart_view import CHART_BINDINGS
from weightwatch.tui.widgets.log_pane import BINDING as USER_LOG_BINDING
from weightwatch.tui.widgets.log_pane import UserLogPane

# The modal screens are imported where they open, not here: ~45 ms less before the first frame
# (docs/performance.md). The first dialog of a session opens that much later, once.
if TYPE_CHECKING:
    from weightwatch.engine.api import SessionAPI
    from weightwatch.engine.script import Script

QUIT_TIMEOUT_S = 15.0


def warm_imports() -> None:
    """Import plotext and the alert dialogs on a spare thread while TensorFlow loads, so that
    the first chart round and the first event (`alert`) on the UI thread do not pay for them
    (~30 ms and ~15 ms)."""
    threading.Thread(
        target=lambda: [importlib.import_module(name) for name in WARM_IMPORTS],
        name="weightwatch-warm-imports",
        daemon=True,
    ).start()


WARM_IMPORTS = ("textual_plotext.plot", "weightwatch.tui.screens.alerts")


class WeightwatchApp(CommandsMixin, App[dict | None]):
    """The dashboard around one session (the engine's `Session`, or a `FakeSession` in tests)."""

    DASHBOARD: type[DashboardScreen] = DashboardScreen  # the attached viewer's has q detach

    CSS_PATH = "app.tcss"
    TITLE = "weightwatch"
    dashboard: DashboardScreen  # the default screen, made by `get_default_screen`
    BINDINGS = [
        Binding(
            "ctrl+c",
            "quit",
            "Quit",
            show=False,
            priority=True,
            tooltip="Stop training, write the report and exit",
            id="quit.ctrl_c",
        ),
        Binding(  # Textual's ctrl+q, in the app's words (? lists it)
            "ctrl+q",
            "quit",
            "Quit",
            show=False,
            priority=True,
            tooltip="Stop training, write the report and exit",
            id="quit.ctrl_q",
        ),
        *CHART_BINDINGS,
        USER_LOG_BINDING,
    ]

    class EventRecorded(Message):
        """The session recorded an event (posted from the training thread)."""

        def __init__(self, event: ev.Event) -> None:
            super().__init__()
            self.event = event

    class TrainingStateChanged(Message):
        """The session's state changed (posted from the training thread)."""

        def __init__(self, change: ev.StateChanged) -> None:
            super().__init__()
            self.change = change

    def __init__(
        self,
        session: SessionAPI,
        run_dir: Path | None = None,
        *,
        clock: Callable[[], float] = time.time,
        refresh_hz: float | None = None,
        script: Script | None = None,
        report_path: Path | None = None,
        cursor_blink: bool = True,
        handle_signals: bool = True,
    ) -> None:
        super().__init__()
        self.session = session
        self.run_dir = Path(run_dir or session.run_dir)
        self.clock = clock
        self.refresh_hz = refresh_hz or session.config.ui.refresh_hz or 4.0
        self.script = script
        self.report_path = Path(report_path) if report_path else None
        self.cursor_blink = cursor_blink
        self.handle_signals = handle_signals
        self.sent: list[tuple[str, Future]] = []  # every command sent, for the script runner
        self.warnings: list[str] = []  # every wrong-moment warning shown
        self.report: dict | None = None
        self.report_error: OSError | None = None
        self.internal_error: BaseException | None = None
        self.script_hold: Future | None = None
        self.finished = asyncio.Event()
        self._quitting = False
        self._signals: list[signal.Signals] = []  # the quit handlers installed
        session.listener = self.session_listener

    # -- lifecycle ----------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        self.dashboard = self.DASHBOARD(
            self.session,
            refresh_hz=self.refresh_hz,
            chart_window=self.session.config.ui.chart_window,
        )
        return self.dashboard

    def on_mount(self) -> None:
        self.sub_title = f"{self.session.config.run.name} · {self.run_dir}"
        if self.script is not None and self.script.actions:
            from weightwatch.tui.triggers import hold_for  # the script runner's, not the UI's

            self.script_hold = hold_for(self.session, self.script.actions[0].trigger)
        self._install_quit_signals()
        self.call_after_refresh(self.train)  # after the first frame: TensorFlow loads there
        self.call_after_refresh(warm_imports)

    def on_unmount(self) -> None:
        for sig in self._signals:
            asyncio.get_running_loop().remove_signal_handler(sig)
        if self._quitting:
            return
        if getattr(self.session, "attached", False):
            self.session.close()  # a viewer that ends detaches: the training goes on
        else:
            self.session.stop()  # never leave the training thread parked behind us

    async def on_event(self, event: events.Event) -> None:
        # A key typed before the dialog on top was up (the one that opened it, or one in the
        # same instant) is not typed into the dialog's fields.
        if isinstance(event, events.Key) and self.screen_stack:
            too_early = getattr(self.screen_stack[-1], "typed_too_early", None)
            if too_early is not None and too_early(event):
                return
        await super().on_event(event)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="training",
        description="training session (imports TensorFlow, then trains)",
    )
    def train(self) -> None:
        self.session.run()

    def session_listener(self, item: object) -> None:
        """The session's listener: runs on the training thread, so it only posts messages."""
        if isinstance(item, ev.Event):
            self.post_message(self.EventRecorded(item))
        elif isinstance(item, ev.StateChanged):
            self.post_message(self.TrainingStateChanged(item))

    @on(EventRecorded)
    def show_event(self, message: EventRecorded) -> None:
        self.dashboard.add_event(message.event)
        self.alert(message.event)

    def alert(self, event: ev.Event) -> None:
        """User code that raised, or a diverged loss: a notification, and a dialog when nothing
        else is open (never during a script: the dialog would take the script's keys)."""
        from weightwatch.tui.screens.alerts import alert_for

        dialog = alert_for(event, self.run_dir)
        if dialog is None:
            return
        self.notify(dialog.summary, severity="error", timeout=10)
        if self.script is None and not self._quitting and self.screen is self.dashboard:
            self.push_screen(dialog, self._load)

    @on(TrainingStateChanged)
    def show_state(self, message: TrainingStateChanged) -> None:
        self.dashboard.show_status()
        if message.change.state is S.FAILED:
            self.notify(f"Training could not start: {message.change.reason}", severity="error")

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        """The one place where worker failures are handled."""
        from weightwatch.tui.screens.error import ErrorScreen

        worker = event.worker
        if worker.group == "training":
            if event.state is WorkerState.ERROR:
                self.internal_error = worker.error
                self.push_screen(ErrorScreen("Training stopped: internal error", worker.error))
            if worker.is_finished and self._quitting:
                self._finish()
        elif worker.group == "commands" and event.state is WorkerState.ERROR:
            if isinstance(worker.error, CommandRejected | BadInput):
                self.notify(str(worker.error), title=worker.name, severity="error")
            else:
                self.push_screen(ErrorScreen(f"{worker.name}: internal error", worker.error))

    def action_toggle_user_log(self) -> None:
        """`u`: show or hide what the user's code printed (RUN_DIR/user.log), below the events."""
        for pane in self.dashboard.query(UserLogPane):
            pane.toggle()

    # -- quitting -----------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Stop the session, wait for the training thread, write the report, exit."""
        if self._quitting:
            return
        self._quitting = True
        self.notify("Stopping training and writing the report…")
        self.session.stop()
        training = [w for w in self.workers if w.group == "training" and not w.is_finished]
        if not training:
            self._finish()
        else:
            self.set_timer(QUIT_TIMEOUT_S, self._finish)

    def _finish(self) -> None:
        if self.finished.is_set():
            return
        self.write_final_report()
        self.exit(self.report, return_code=1 if self.internal_error else 0)

    def write_final_report(self) -> None:
        """Take the session's report and write it (run directory and `--report`), once."""
        if self.finished.is_set():
            return
        self.report = self.session.report()
        self._write_report(self.report)
        self.finished.set()

    def _write_report(self, report: dict) -> None:
        self._save_report(report, [self.run_dir / "report.json", self.report_path])

    def _save_report(self, report: dict, paths: list) -> None:
        """`report` to each of `paths` (None skipped, each once), atomically; a failure is kept
        in `report_error` (the CLI names it)."""
        text = json.dumps(report, indent=2, default=str)
        for path in dict.fromkeys(paths):
            if path is None:
                continue
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_text(text)
                os.replace(tmp, path)
            except OSError as exc:
                self.report_error = exc

    def _install_quit_signals(self) -> None:
        """SIGTERM and SIGINT quit like `q` does (the report is written). In the interactive app
        Ctrl+C arrives as a key; SIGINT comes from `kill -INT`, or from Ctrl+C in a terminal
        that runs a headless script."""
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, lambda: self.call_later(self.action_quit))
                self._signals.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
