"""The dashboard's commands: the key actions, the dialogs they open and what their answers send.

A mixin of `WeightwatchApp` (tui/app.py), which holds the lifecycle, the training worker and
quitting; the demo reuses these same dialog callbacks, so that a tour step takes the code path a
person's keys take. Commands return futures that resolve at the next batch boundary; `send`
awaits each in a small async worker whose failure `WeightwatchApp.worker_changed` shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.screen import Screen
from weightwatch.engine.errors import BadInput, CommandRejected
from weightwatch.engine.events import SessionState as S
from weightwatch.tui.bindings import palette_entries
from weightwatch.tui.palette import help_bindings, save_screenshot, system_commands
from weightwatch.tui.screens.dashboard import BINDINGS as DASHBOARD_BINDINGS
from weightwatch.tui.widgets.chart_view import CHART_HELP, change_view

# The modal screens are imported where they open, not here: ~45 ms less before the first frame
# (docs/performance.md). The first dialog of a session opens that much later, once.
if TYPE_CHECKING:
    from weightwatch.engine.api import SessionAPI
    from weightwatch.engine.script import Script
    from weightwatch.tui.screens.dashboard import DashboardScreen
    from weightwatch.tui.screens.dialogs import RebuildChoice, RecompileChoice

    _AppBase = App[dict | None]  # what the mixin is mixed into, for the type checker only
else:
    _AppBase = object


class CommandsMixin(_AppBase):
    """Actions and dialog callbacks on the app's session; `WeightwatchApp` sets the state."""

    session: SessionAPI
    dashboard: DashboardScreen
    script: Script | None
    clock: Callable[[], float]
    sent: list[tuple[str, Future]]  # every command sent, for the script runner
    warnings: list[str]  # every wrong-moment warning shown
    _quitting: bool

    def send(
        self,
        label: str,
        call: Callable[[], Future],
        done: Callable[[Any], None] | None = None,
        refused: Callable[[Exception], None] | None = None,
    ) -> None:
        """Send one command; its result (or its one-line error) arrives as a notification,
        or goes to `refused` when the caller shows it itself."""
        future = call()
        self.sent.append((label, future))
        self.run_worker(
            self._await(future, done, refused),
            name=label,
            group="commands",
            exit_on_error=False,
            description=f"waiting for {label}",
        )

    @staticmethod
    async def _await(
        future: Future,
        done: Callable[[Any], None] | None,
        refused: Callable[[Exception], None] | None = None,
    ) -> Any:
        try:
            result = await asyncio.wrap_future(future)
        except (CommandRejected, BadInput) as exc:
            if refused is None:
                raise
            refused(exc)
            return None
        if done is not None:
            done(result)
        return result

    def ready(self, doing: str, after_failed_start: bool = False) -> bool:
        """Whether a command makes sense now; if not, say why in a warning. After a failed
        start, rebuild (which retries the start) and callback edits still make sense."""
        state = self.session.status().state
        problem = None
        if self._quitting:
            problem = "quitting"
        elif self.screen is not self.dashboard:
            problem = "close the dialog first"
        elif state is S.STARTING:
            problem = "still starting (importing TensorFlow, building the model)"
        elif state is S.STOPPED or (state is S.FAILED and not after_failed_start):
            problem = f"the session has {state.value}"
        if problem:
            self.warn(f"Cannot {doing} now: {problem}.")
        return problem is None

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.notify(message, severity="warning")

    def action_toggle_pause(self) -> None:
        if not self.ready("pause or resume"):
            return
        status = self.session.status()
        if status.state in (S.RUNNING, S.HOLDING):
            self.send("pause", self.session.pause)
        elif status.state is S.FINISHED:  # ask how many more epochs; never add them silently
            from weightwatch.tui.screens.dialogs import MoreEpochsDialog

            dialog = MoreEpochsDialog(self.session.config.train.epochs, status.epoch)
            self.push_screen(dialog, self._train_more)
        else:
            self.send("resume", self.session.resume)

    def _train_more(self, epochs: int | None) -> None:
        if epochs is not None:
            self.send("resume", partial(self.session.resume, epochs))

    def action_callbacks(self) -> None:
        if self.ready("edit callbacks", after_failed_start=True):
            specs = list(self.session.status().callbacks)
            from weightwatch.tui.screens.callbacks import CallbackEditor

            self.push_screen(CallbackEditor(specs), partial(self._callbacks_chosen, specs))

    def _callbacks_chosen(self, before: list, specs: list | None) -> None:
        if specs is not None and specs != before:
            self.send(
                "callbacks",
                partial(self.session.set_callbacks, specs),
                lambda _: self.notify("Callbacks changed: the weights are untouched."),
                partial(self._callbacks_refused, before, specs),
            )

    def _callbacks_refused(self, before: list, specs: list, exc: Exception) -> None:
        """The session refused the edited list: open the editor again on it (the edits are
        kept), with the reason inside. A script, or another dialog on top, gets the toast."""
        from weightwatch.tui.screens.callbacks import CallbackEditor, editor_words

        if self.script is not None or self._quitting or self.screen is not self.dashboard:
            self.notify(editor_words(str(exc)), title="callbacks", severity="error")
            return
        editor = CallbackEditor(specs, refused=str(exc))
        self.push_screen(editor, partial(self._callbacks_chosen, before))

    def action_save(self) -> None:
        if self.ready("save a checkpoint"):
            from weightwatch.tui.screens.dialogs import SaveDialog

            self.push_screen(SaveDialog(self.session.default_checkpoint_name()), self._save)

    def _save(self, name: str | None) -> None:
        if name is not None:
            self.send(
                "save",
                partial(self.session.save, name),
                lambda info: self.notify(f"Saved checkpoint {info.name}."),
            )

    def action_load(self) -> None:
        if not self.ready("load a checkpoint"):
            return
        checkpoints = self.session.list_checkpoints()
        if not checkpoints:
            self.warn("No checkpoints in this run yet: type the path of a .weights.h5 file.")
        from weightwatch.tui.screens.picker import CheckpointPicker

        self.push_screen(CheckpointPicker(checkpoints, self.clock()), self._load)

    def _load(self, ref: str | None) -> None:
        if ref is not None:
            self.send(
                "load",
                partial(self.session.load, ref),
                lambda info: self.notify(f"Loaded {info.name}: weights restored."),
            )

    def action_rebuild(self) -> None:
        if self.ready("rebuild the model", after_failed_start=True):
            from weightwatch.tui.screens.dialogs import RebuildDialog

            self.push_screen(RebuildDialog(), self._rebuild)

    def _rebuild(self, choice: RebuildChoice | None) -> None:
        if choice is not None:
            self.send("rebuild", partial(self.session.rebuild, choice.seed))

    def action_recompile(self) -> None:
        if self.ready("recompile"):
            from weightwatch.tui.screens.dialogs import RecompileDialog

            self.push_screen(
                RecompileDialog(self.session.status().optimizer.lower()), self._recompile
            )

    def _recompile(self, choice: RecompileChoice | None) -> None:
        if choice is not None:
            self.send(
                "recompile", partial(self.session.recompile, choice.optimizer, choice.learning_rate)
            )

    def action_set_lr(self) -> None:
        if self.ready("set the learning rate"):
            from weightwatch.tui.screens.dialogs import LearningRateDialog

            self.push_screen(LearningRateDialog(self.session.status().learning_rate), self._set_lr)

    def _set_lr(self, value: float | None) -> None:
        if value is not None:
            self.send("set_lr", partial(self.session.set_lr, value))

    def action_chart_view(self, change: str) -> None:
        """Window, zoom, log scale or smoothing of the charts (keys: CHART_BINDINGS)."""
        change_view(self.dashboard, change)

    def action_help(self) -> None:
        from weightwatch.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            keys = getattr(self, "HELP_KEYS", DASHBOARD_BINDINGS)  # an attached viewer's q and X
            self.push_screen(HelpScreen(help_bindings(self, keys, CHART_HELP)))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every dashboard action is in the command palette too; Quit, Keys and Screenshot
        are the app's (tui/palette.py)."""
        yield from system_commands(self, super().get_system_commands(screen), self.action_help)
        for action, title, tooltip in palette_entries():  # tui/bindings.py: the registry's
            yield SystemCommand(title, tooltip, partial(self.run_action, action))

    def screenshot(self) -> Path | None:
        """The palette's Screenshot: an SVG in the run directory."""
        return save_screenshot(self, self.clock())
