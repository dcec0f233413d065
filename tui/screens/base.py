"""What every dialog shares: Escape cancels (changing nothing), errors show inside the dialog."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input, Static

T = TypeVar("T")


class Dialog(ModalScreen[T]):
    """A modal that returns a `T` through `dismiss`, or None when cancelled."""

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

    def on_mount(self) -> None:
        # Frozen-clock runs (snapshots) must not catch the cursor mid-blink.
        if not getattr(self.app, "cursor_blink", True):
            for field in self.query(Input):
                field.cursor_blink = False

    def action_cancel(self) -> None:
        self.dismiss(None)

    def fail(self, message: str) -> None:
        """Show a one-line error in the dialog; the dialog stays open."""
        self.error_text = message
        error = self.query_one(".dialog-error", Static)
        error.update(message)
        error.display = True


def error_line() -> Static:
    """The dialog's error line, hidden until `Dialog.fail`."""
    line = Static("", classes="dialog-error", markup=False)
    line.display = False
    return line
