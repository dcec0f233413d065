"""The help screen: every key, what each verdict means, what the chart markers say."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static
from weightwatch.engine import events as ev

MARKERS = (
    "⏸ pause · cb callbacks edited · save / load checkpoint · RESET rebuilt · "
    "opt recompiled · lr learning rate changed · err a failed action"
)


def keys_text(bindings: list[Binding]) -> str:
    """One line per key binding: key, description, tooltip."""
    rows = []
    for binding in bindings:
        if binding.description and binding.show:
            key = binding.key_display or binding.key
            rows.append(f"  {key:<8} {binding.description:<16} {binding.tooltip}")
    return "\n".join(rows)


def verdicts_text() -> str:
    return "\n".join(f"  {ev.VERDICT_WORDS[v]}" for v in (*ev.VERDICTS, ev.FRESH))


class HelpScreen(ModalScreen[None]):
    """Keys and verdicts; any of Escape, ? or q closes it."""

    BINDINGS = [
        Binding(
            "escape,question_mark,q", "close", "Close", tooltip="Close the help", id="help.close"
        ),
    ]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog -wide", id="help"):
            yield Label("weightwatch: keys", classes="dialog-title")
            yield Static(keys_text(self.bindings), markup=False)
            yield Label("What the verdicts mean", classes="dialog-title")
            yield Static(verdicts_text(), markup=False)
            yield Label("Chart markers", classes="dialog-title")
            yield Static(MARKERS, markup=False)
            yield Static("Every action is also in the command palette (ctrl+p).", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
