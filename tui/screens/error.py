"""The error modal: an internal error, shown without closing the app."""

from __future__ import annotations

import traceback

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ErrorScreen(ModalScreen[None]):
    """Shows what went wrong; the app stays open (q still writes the report)."""

    BINDINGS = [
        Binding("escape,enter", "close", "Close", tooltip="Close this message", id="error.close")
    ]

    def __init__(self, title: str, error: BaseException) -> None:
        super().__init__()
        self.title_text = title
        self.error = error

    def compose(self) -> ComposeResult:
        trace = "".join(traceback.format_exception(self.error)).rstrip()
        with Vertical(classes="dialog -wide -danger", id="error-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(
                f"{type(self.error).__name__}: {self.error}", id="error-message", markup=False
            )
            with VerticalScroll(id="error-trace"):
                yield Static(trace, markup=False)
            yield Static("The app stays open: press q to stop and write the report.", markup=False)
            yield Button("Close", variant="error", id="error-close")

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
