"""What every dialog shares: Escape cancels (changing nothing), errors show inside the dialog,
an error clears once the field is fixed, and keys typed before the dialog was up are not typed
into it."""

from __future__ import annotations

import math
from typing import TypeVar

from textual import events, on
from textual._time import get_time
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TextArea

T = TypeVar("T")

# Keys that keep working while a dialog opens: closing it, and quitting.
ALWAYS_KEYS = ("escape", "ctrl+c")


class Dialog(ModalScreen[T]):
    """A modal that returns a `T` through `dismiss`, or None when cancelled."""

    # The OK button is drawn like the others, so that the focused one is the one that stands out.
    DEFAULT_CSS = """
    Dialog Button.-style-default:focus {
        background: $accent;
        color: $text;
        text-style: bold;
    }
    """

    BINDINGS = [
        Binding(
            "escape",
            "cancel",
            "Cancel",
            tooltip="Close without changing anything",
            id="dialog.cancel",
        ),
    ]

    error_text = ""
    """The error on show, or "" (the headless runner reports it when a dialog refuses)."""

    ready_at = math.inf
    """When the dialog was mounted (Textual's clock); keys made before then are dropped."""

    def on_mount(self) -> None:
        self.ready_at = get_time()
        # Frozen-clock runs (snapshots) must not catch the cursor mid-blink.
        if not getattr(self.app, "cursor_blink", True):
            for field in self.query(Input):
                field.cursor_blink = False

    def typed_too_early(self, event: events.Key) -> bool:
        """Whether `event` was typed before this dialog was up: the key that opened it, or one
        pressed in the same instant (`s s` must not name the checkpoint "s"). The app drops
        such keys before they reach a field."""
        return event.time < self.ready_at and event.key not in ALWAYS_KEYS

    def action_cancel(self) -> None:
        self.dismiss(None)

    def fail(self, message: str) -> None:
        """Show a one-line error in the dialog; the dialog stays open."""
        self.error_text = message
        error = self.query_one(".dialog-error", Static)
        error.update(message)
        error.display = True

    def clear_error(self) -> None:
        self.error_text = ""
        for line in self.query(".dialog-error"):
            line.display = False

    def problem(self) -> str | None:
        """What is wrong with the fields now, or None; dialogs that validate say it here."""
        return None

    @on(Input.Changed)
    @on(TextArea.Changed)
    def field_changed(self) -> None:
        self.recheck()

    def recheck(self) -> None:
        """Once an error shows, each edit checks again: the error clears when the field is
        fixed and follows the field while it is still wrong."""
        if not self.error_text:
            return
        message = self.problem()
        if message is None:
            self.clear_error()
        elif message != self.error_text:
            self.fail(message)


class DialogBody(VerticalScroll):
    """A dialog's frame that scrolls when the terminal is too small for it (80x24): focus
    moving to a field or button below the fold scrolls it into view. Not focusable itself, so
    that the first field gets the focus and the arrow keys."""

    can_focus = False


def error_line(line_id: str | None = None) -> Static:
    """The dialog's error line, hidden until `Dialog.fail`."""
    line = Static("", classes="dialog-error", markup=False, id=line_id)
    line.display = False
    return line
