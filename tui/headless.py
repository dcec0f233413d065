"""Headless runs: perform a script's actions through the keys and dialogs a person uses.

Each action is carried out with Textual's pilot: `s` opens the save dialog and the name is pasted
into its field, `l` opens the picker and the checkpoint is picked with the arrow keys (or its path
pasted), and so on. Text goes in as a paste (select all, paste), not key by key: each pilot key
press waits for the app to go idle, 50-100 ms.

Triggers are exact: the hold for an action's trigger is registered while training is still held
at the previous trigger (or before training starts: the app registers the first one before it
starts the training thread), and training is only released once the next hold is in place. A
failed action becomes an `error` event (`session.note_error`) and the script goes on.

Every wait gives way to a quit: when the app finishes (SIGTERM or SIGINT, or a script's own
`quit`) or crashes, whatever the script was waiting for (a `wait`, a trigger, a command) is
cancelled, so that the process ends within seconds with its report written.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, OptionList, SelectionList, TextArea
from weightwatch.engine.atomic import os_reason
from weightwatch.engine.compileforms import inline_toml
from weightwatch.engine.errors import BadInput, CommandRejected
from weightwatch.engine.events import SessionState as S
from weightwatch.tui.app import WeightwatchApp
from weightwatch.tui.screens.base import Dialog
from weightwatch.tui.screens.callbacks import CallbackEditor, args_text
from weightwatch.tui.screens.dialogs import (
    OPTIMIZERS,
    LearningRateDialog,
    MoreEpochsDialog,
    RebuildDialog,
    RecompileDialog,
    SaveDialog,
)
from weightwatch.tui.screens.picker import CheckpointPicker
from weightwatch.tui.triggers import describe, hold_for

if TYPE_CHECKING:
    from weightwatch.engine.api import SessionAPI
    from weightwatch.engine.script import Script

COMMAND_TIMEOUT_S = 120.0
QUIT_WAIT_S = 20.0  # the app's own quit timeout (15 s) and a little: then the report anyway
UNREACHABLE_AFTER_S = 1.0  # parked (not held) this long with the hold pending: never reached


class ActionFailed(Exception):
    """An action that could not be carried out; the message becomes the error event."""

    def __init__(self, message: str, recorded: bool = False) -> None:
        super().__init__(message)
        self.recorded = recorded  # the engine already recorded an error event for it


async def run_headless(
    session: SessionAPI,
    script: Script,
    *,
    report_path: Path | None = None,
    size: tuple[int, int] = (120, 40),
) -> dict | None:
    """Run `script` against `session` with no screen; returns the report (also written)."""
    app = WeightwatchApp(session, script=script, report_path=report_path)
    await run_app_headless(app, script, size=size)
    return app.report


async def run_app_headless(app: WeightwatchApp, script: Script, size=(120, 40)) -> None:
    """Run the script in `app` until it ends or the app does; the report is written whatever
    happened (an app that crashed: its error becomes `app.internal_error`)."""
    try:
        async with app.run_test(headless=True, size=size, notifications=True) as pilot:
            await until_app_ends(app, run_script(app, pilot, script))
    except Exception as exc:  # a bug in the app or the runner: keep the run's record anyway
        app.internal_error = app.internal_error or exc
    if not app.finished.is_set():
        if getattr(app.session, "attached", False):  # a viewer's failure leaves training be
            app.write_final_report()
            return app.session.close()
        stopped = asyncio.wrap_future(app.session.stop())  # resolves once the thread returned
        with contextlib.suppress(Exception):
            await asyncio.wait_for(stopped, QUIT_WAIT_S)
        app.write_final_report()


async def until_app_ends(app: WeightwatchApp, work: Any) -> None:
    """Await `work` (the script), cancelling it as soon as the app has finished or crashed."""
    task = asyncio.ensure_future(work)
    while not task.done():
        if app.finished.is_set() or app._exception is not None:
            task.cancel()
            break
        await asyncio.wait({task}, timeout=0.05)
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def run_script(app: WeightwatchApp, pilot: Pilot, script: Script) -> None:
    """Perform every action of `script`, then quit (unless the script did)."""
    await ScriptRunner(app, pilot).run(script.actions)


class ScriptRunner:
    """Carries out actions one by one; see the module docstring for the hold protocol."""

    def __init__(self, app: WeightwatchApp, pilot: Pilot) -> None:
        self.app, self.pilot, self.session = app, pilot, app.session
        self.held = False

    async def run(self, actions: list) -> None:
        if not await self.started():
            return await self.quit()
        early = self.app.script_hold  # the first action's, registered before training started
        for action, following in zip(actions, [*actions[1:], None], strict=True):
            if self.app.finished.is_set():
                return
            if action.trigger is not None:
                hold = early or hold_for(self.session, action.trigger)
                self.let_go()  # only now: the next hold is registered
                if not await self.reach(hold, action):
                    continue
                self.held = True
            # Actions that let training run register the next trigger first, or it may pass.
            lets_go = action.kind in ("resume", "wait")
            early = hold_for(self.session, following.trigger) if lets_go and following else None
            await self.perform(action)
        await self.quit()

    async def started(self) -> bool:
        """Wait for the session to leave STARTING; False if it failed to start."""
        while self.session.status().state is S.STARTING and not self.app.finished.is_set():
            await asyncio.sleep(0.02)
        return self.session.status().state not in (S.FAILED, S.STOPPED)

    def let_go(self) -> None:
        if self.held:
            self.session.release()
            self.held = False

    async def reach(self, hold: Future | None, action: Any) -> bool:
        """Wait until training is held at the trigger; False (an error event) if it never is."""
        assert hold is not None
        loop, parked_since = asyncio.get_running_loop(), None
        while not hold.done():
            if self.app.finished.is_set():  # quit meanwhile (SIGTERM, say)
                return False
            state = self.session.status().state
            if state in (S.PAUSED, S.FINISHED, S.STOPPED, S.FAILED):
                parked_since = parked_since or loop.time()
                if loop.time() - parked_since > UNREACHABLE_AFTER_S:
                    self.fail(
                        action,
                        f"{describe(action.trigger)} was never reached: training "
                        f"is {state.value} at session step "
                        f"{self.session.status().session_step}",
                    )
                    return False
            else:
                parked_since = None
            await asyncio.sleep(0.01)
        if hold.exception() is not None:
            self.fail(action, str(hold.exception()))
            return False
        return True

    def fail(self, action: Any, message: str) -> None:
        self.session.note_error(
            f"{action.where} {action.kind}: {message}",
            {"action": action.index, "kind": action.kind},
        )

    async def perform(self, action: Any) -> None:
        try:
            await getattr(self, f"do_{action.kind}")(**action.args)
        except ActionFailed as exc:
            if not exc.recorded:
                self.fail(action, str(exc))

    async def confirm(self, *keys: str) -> None:
        """Press the keys that send a command; the dialog must close and the command succeed."""
        sent, warned = len(self.app.sent), len(self.app.warnings)
        errors = self.error_count()
        await self.pilot.press(*keys)
        await self.pilot.pause()
        if isinstance(self.app.screen, Dialog):
            message = self.app.screen.error_text or "the dialog did not accept the input"
            await self.close_dialogs()
            raise ActionFailed(message)
        futures = [future for _, future in self.app.sent[sent:]]
        if not futures:
            raise ActionFailed(
                self.app.warnings[-1]
                if len(self.app.warnings) > warned
                else "nothing was sent to the session"
            )
        for future in futures:
            try:
                await asyncio.wait_for(asyncio.wrap_future(future), COMMAND_TIMEOUT_S)
            except (CommandRejected, BadInput) as exc:
                raise ActionFailed(str(exc), self.error_count() > errors) from None
            except TimeoutError:
                raise ActionFailed(f"no answer within {COMMAND_TIMEOUT_S:.0f} s") from None
        await self.pilot.pause()

    def error_count(self) -> int:
        return sum(event.kind == "error" for event in self.session.events())

    async def close_dialogs(self) -> None:
        for _ in range(5):
            if self.app.screen is self.app.dashboard:
                return
            await self.pilot.press("escape")

    async def open(self, key: str, kind: type[Screen]) -> Any:
        """Press `key` on the dashboard and return the dialog it opened."""
        await self.close_dialogs()
        await self.pilot.press(key)
        await self.pilot.pause()
        if not isinstance(self.app.screen, kind):
            raise ActionFailed(
                self.app.warnings[-1]
                if self.app.warnings
                else f"{key!r} did not open the {kind.__name__}"
            )
        return self.app.screen

    async def paste_into(self, field: Input | TextArea, text: str) -> None:
        """Select everything in the field and paste `text` over it, as a person can."""
        field.focus()
        await self.pilot.pause()  # focus moves on the next message
        await self.pilot.press("f7" if isinstance(field, TextArea) else "ctrl+shift+a")
        self.app.post_message(events.Paste(text))  # as the terminal delivers a paste
        await self.pilot.pause()

    # -- the actions --------------------------------------------------------------------------

    async def do_pause(self) -> None:
        state = self.session.status().state
        if state not in (S.RUNNING, S.HOLDING):
            raise ActionFailed(f"cannot pause: training is {state.value}")
        await self.confirm("p")
        self.held = False  # a pause is not released: it stays paused

    async def do_resume(self) -> None:
        if self.session.status().state is S.HOLDING:
            self.let_go()  # the hold goes back to where it found training: running, or parked
            await self.left_hold()
        state = self.session.status().state
        if state is S.RUNNING:
            return
        if state not in (S.PAUSED, S.FINISHED):
            raise ActionFailed(f"cannot resume: training is {state.value}")
        if state is S.FINISHED:  # p asks how many more epochs; the script takes the default
            await self.open("p", MoreEpochsDialog)
            await self.confirm("enter")
            return
        await self.confirm("p")

    async def left_hold(self, timeout: float = 10.0) -> None:
        """Wait for a release to land (the engine applies it at the boundary)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.session.status().state is S.HOLDING and loop.time() < deadline:
            await asyncio.sleep(0.01)

    async def do_save(self, name: str | None) -> None:
        dialog = await self.open("s", SaveDialog)
        if name is not None:
            await self.paste_into(dialog.query_one("#save-name", Input), name)
        await self.confirm("enter")

    async def do_load(self, checkpoint: str) -> None:
        picker = await self.open("l", CheckpointPicker)
        names = [c.name if c.source == "weightwatch" else c.path for c in picker.checkpoints]
        paths = [c.path for c in picker.checkpoints]
        index = (
            names.index(checkpoint)
            if checkpoint in names
            else (paths.index(checkpoint) if checkpoint in paths else None)
        )
        if index is None:  # a relative path: the run directory, then the config's folder
            from weightwatch.engine.script import find_load_file

            where = (self.session.run_dir, self.session.config.folder)
            checkpoint = find_load_file(checkpoint, *where)
            await self.paste_into(picker.query_one("#load-path", Input), checkpoint)
        else:
            picker.query_one(OptionList).focus()
            await self.pilot.press("home", *["down"] * index)
        await self.confirm("enter")

    async def do_rebuild(self, seed: int | None) -> None:
        dialog = await self.open("r", RebuildDialog)
        if seed is not None:
            await self.paste_into(dialog.query_one("#rebuild-seed", Input), str(seed))
        await self.confirm("enter")

    async def do_recompile(self, optimizer: object, learning_rate: object) -> None:
        """Through the dialog: a listed name is chosen, any other form (a table, "lamb",
        "module:Name") typed into its table field as TOML; none: the list's "as configured"."""
        dialog = await self.open("o", RecompileDialog)
        options = dialog.query_one(OptionList)
        if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
            options.focus()
            await self.pilot.press("home", *["down"] * OPTIMIZERS.index(optimizer.lower()))
        elif optimizer is None:
            options.focus()
            await self.pilot.press("end")
        else:
            await self.paste_into(
                dialog.query_one("#recompile-table", Input), inline_toml(optimizer)
            )
        if learning_rate is not None:
            text = (
                inline_toml(learning_rate)
                if isinstance(learning_rate, dict)
                else repr(learning_rate)
            )
            await self.paste_into(dialog.query_one("#recompile-lr", Input), text)
        await self.confirm("enter")

    async def do_callbacks(self, **args: list) -> None:
        editor = await self.open("c", CallbackEditor)
        editor.query_one(SelectionList).focus()
        await self.pilot.press(*["delete"] * len(editor.specs))
        for spec in args["set"]:
            await self.paste_into(editor.query_one("#cb-type", Input), spec.type)
            await self.paste_into(editor.query_one(TextArea), args_text(spec))
            add = editor.query_one("#cb-add")
            while add.has_class("-active"):  # a button ignores presses for 0.2 s after one
                await self.pilot.pause(0.05)
            add.focus()
            await self.pilot.press("enter")
            if editor.error_text:
                await self.close_dialogs()
                raise ActionFailed(editor.error_text)
            if not spec.enabled:
                editor.query_one(SelectionList).focus()
                await self.pilot.press("end", "space")
        await self.confirm("ctrl+s")

    async def do_set_lr(self, value: float) -> None:
        dialog = await self.open("e", LearningRateDialog)
        await self.paste_into(dialog.query_one("#lr-value", Input), repr(value))
        await self.confirm("enter")

    async def do_press(self, keys: list[str]) -> None:
        await self.pilot.press(*keys)

    async def do_screenshot(self, path: Path) -> None:
        self.app.dashboard.tick(force=True)
        await self.pilot.pause()
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.app.export_screenshot())
        except OSError as exc:  # an unwritable folder, a full disk: the session goes on
            in_the_way = isinstance(exc, FileExistsError | NotADirectoryError)
            reason = "a file stands where a folder should be" if in_the_way else os_reason(exc)
            raise ActionFailed(f"cannot write {path} ({reason})") from None

    async def do_wait(self, seconds: float) -> None:
        self.let_go()
        await asyncio.sleep(seconds)

    async def do_quit(self) -> None:
        await self.quit(stop=True)

    async def quit(self, stop: bool = False) -> None:
        """`q`; a script's own `quit` stops the training, which in an attached viewer is its
        own keys (`q` there detaches: the script's end leaves the session running)."""
        if self.app.finished.is_set():
            return
        if not stop and getattr(self.session, "attached", False):
            self.let_go()  # a viewer that detaches leaves no hold behind: training goes on
        await self.close_dialogs()
        for key in getattr(self.app, "STOP_KEYS", ("q",)) if stop else ("q",):
            await self.pilot.press(key)
            await self.pilot.pause()
        await asyncio.wait_for(self.app.finished.wait(), COMMAND_TIMEOUT_S)
