"""Alerts that ask for a careful read or a decision: the user's own code raised (its traceback),
or the loss diverged (with the offer to reload the last good checkpoint).

`alert_for(event)` picks the dialog for an event, or None. The app also shows `summary` as a
notification, which stays useful when the dialog cannot be shown (another dialog is open, or a
headless script owns the keys).
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Button, Label, Static
from weightwatch.engine import events as ev
from weightwatch.tui.screens.base import Dialog
from weightwatch.tui.screens.dialogs import buttons

WHERE = {
    "start": "while starting (builder, data loader or callbacks)",
    "training": "while training (a callback or the model)",
    "rebuild": "in the builder",
    "callbacks": "while making a callback",
}
AFTER = {
    "start": "Training could not start. Fix it in your file, then press r to retry.",
    "training": "Training is paused at this batch; nothing saved is lost. Edit the callbacks "
    "(c) or rebuild (r), then resume (p).",
}


def alert_for(event: ev.Event, run_dir: Path) -> UserCodeFailed | Diverged | None:
    """The dialog an event calls for, if any."""
    if event.kind == "diverged":
        return Diverged(event)
    if event.kind == "error" and event.detail.get("traceback"):
        return UserCodeFailed(event, run_dir / "errors.log")
    return None


class UserCodeFailed(Dialog[None]):
    """The user's own code raised: what, where, the traceback, and what still works."""

    DEFAULT_CSS = """
    #user-code-trace {
        height: 12;
        border: round $error;
    }
    """

    def __init__(self, event: ev.Event, log: Path) -> None:
        super().__init__()
        self.event = event
        self.log_path = log
        action = event.detail.get("action", "")
        self.summary = (
            f"Your code raised {WHERE.get(action, 'during ' + action)}: "
            f"{event.detail.get('message', '')}"
        )

    def compose(self) -> ComposeResult:
        detail = self.event.detail
        action = detail.get("action", "")
        with Vertical(classes="dialog -wide -danger", id="user-code-failed"):
            yield Label(
                f"Your code raised {WHERE.get(action, 'during ' + action)}", classes="dialog-title"
            )
            yield Static(detail.get("message", ""), id="user-code-message", markup=False)
            yield Static(AFTER.get(action, "The session goes on unchanged."), markup=False)
            with VerticalScroll(id="user-code-trace"):
                yield Static(detail["traceback"].rstrip(), markup=False)
            yield Static(f"The traceback is also in {self.log_path}", markup=False)
            yield Button("Close", variant="error", id="cancel")

    @on(Button.Pressed)
    def closed(self) -> None:
        self.dismiss(None)


class Diverged(Dialog[str]):
    """Training paused at a non-finite loss; returns the checkpoint to load, or None."""

    BINDINGS = [
        Binding(
            "l",
            "load",
            "Load last good",
            id="diverged.load",
            tooltip="Load the last checkpoint saved before it diverged",
        )
    ]

    def __init__(self, event: ev.Event) -> None:
        super().__init__()
        self.checkpoint: str | None = event.detail.get("last_good_checkpoint")
        self.message = event.detail.get("message", "the loss is not finite")
        hint = f" - press l to load {self.checkpoint}" if self.checkpoint else ""
        self.summary = f"Training diverged: {self.message}{hint}"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -danger", id="diverged"):
            yield Label("Training diverged", classes="dialog-title")
            yield Static(self.message, markup=False)
            if self.checkpoint:
                yield Static(
                    f"Load {self.checkpoint!r}, the last checkpoint saved before it, "
                    "to go back to good weights? Training stays paused either way: "
                    "lower the learning rate (e) before resuming.",
                    markup=False,
                )
                yield buttons("diverged-load", f"Load {self.checkpoint}")
            else:
                yield Static(
                    "No checkpoint was saved before it. Rebuild (r) for fresh weights, "
                    "or lower the learning rate (e) before resuming.",
                    markup=False,
                )
                yield Button("Close", id="cancel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query(Button).first().focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.checkpoint if event.button.id == "diverged-load" else None)

    def action_load(self) -> None:
        if self.checkpoint:
            self.dismiss(self.checkpoint)
