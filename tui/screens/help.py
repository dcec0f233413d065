"""The help screen: every key, what each verdict means, what the chart markers say.

Every key is listed, also those the footer has no room for (space, Ctrl+C, the chart keys), and
long lines wrap under their own column, never back to column 0.
"""

from __future__ import annotations

import textwrap

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static
from weightwatch.engine import events as ev

MARKERS = (
    "⏸ pause · cb callbacks edited · save / load checkpoint · RESET rebuilt · "
    "opt recompiled · lr learning rate changed · alt a callback changed the weights · "
    "err a failed action"
)
KEY_WIDTH = 8
LABEL_WIDTH = 16


def key_rows(bindings: list[Binding]) -> list[tuple[str, str]]:
    """(key and description, tooltip) for each binding that has a description, once each."""
    rows, seen = [], set()
    for binding in bindings:
        if not binding.description:
            continue
        key = binding.key_display or binding.key
        if (key, binding.description) in seen:
            continue
        seen.add((key, binding.description))
        rows.append(
            (f"  {key:<{KEY_WIDTH}} {binding.description:<{LABEL_WIDTH}} ", binding.tooltip)
        )
    return rows


def keys_text(bindings: list[Binding], width: int = 1000) -> str:
    """One line per key binding: key, description, tooltip (wrapped under itself)."""
    return hanging(key_rows(bindings), width)


def hanging(rows: list[tuple[str, str]], width: int) -> str:
    """Each row's text after its prefix, wrapped to `width` with the wrapped lines starting
    under the text's first column."""
    lines = []
    for prefix, text in rows:
        room = max(10, width - len(prefix))
        wrapped = textwrap.wrap(text, room) or [""]
        lines.append(prefix + wrapped[0])
        lines.extend(" " * len(prefix) + more for more in wrapped[1:])
    return "\n".join(line.rstrip() for line in lines)


def verdict_rows() -> list[tuple[str, str]]:
    rows = []
    for verdict in (*ev.ALL_VERDICTS, ev.FRESH):
        name, _, words = ev.VERDICT_WORDS[verdict].partition(": ")
        rows.append((f"  {name}: ", words))
    return rows


def verdicts_text(width: int = 1000) -> str:
    return hanging(verdict_rows(), width)


class HangingText(Static):
    """Rows of (prefix, text), wrapped at the widget's width with a hanging indent (again at
    each resize: Textual's own wrapping would go back to column 0)."""

    def __init__(self, rows: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(hanging(rows, 1000), markup=False, **kwargs)
        self.rows = rows
        self._wrapped_at = 1000

    def on_resize(self, event: events.Resize) -> None:
        width = event.size.width
        if width and width != self._wrapped_at:
            self._wrapped_at = width
            self.update(Content(hanging(self.rows, width)))


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
            yield HangingText(key_rows(self.bindings), id="help-keys")
            yield Label("What the verdicts mean", classes="dialog-title")
            yield HangingText(verdict_rows(), id="help-verdicts")
            yield Label("Chart markers", classes="dialog-title")
            yield HangingText([("  ", MARKERS)], id="help-markers")
            yield Static("Every action is also in the command palette (ctrl+p).", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
