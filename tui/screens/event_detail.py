"""One event in full: what the log line leaves out (the whole message, paths, fingerprints)."""

from __future__ import annotations

import json

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static
from weightwatch.engine import events as ev
from weightwatch.tui.widgets.event_log import Hanging

KEY_WIDTH = 14


def event_rows(event: ev.Event) -> list[tuple[str, str]]:
    """(key column, value) for every field of the event and every key of its detail; a value
    may hold several lines (JSON for lists and tables)."""
    rows = [
        ("kind", event.kind),
        ("verdict", event.verdict or "-"),
        ("session step", f"{event.session_step:,}"),
        ("model step", f"{event.model_step:,}"),
        ("norm before", number(event.norm_before)),
        ("norm after", number(event.norm_after)),
    ]
    detail = {k: v for k, v in event.detail.items() if k != "data_position"}
    if event.detail.get("data_position"):  # a feed that could not save its place says so
        rows.append(("data position", str(event.detail["data_position"])))
    rows = [(f"{key:<{KEY_WIDTH}}", value) for key, value in rows]
    if detail:
        rows += [("", ""), ("detail", "")]
    width = max([KEY_WIDTH - 2, *(len(str(key)) + 2 for key in detail)])
    for key, value in detail.items():
        text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
        rows.append((f"  {key:<{width}}", str(text)))
    return rows


def event_text(event: ev.Event) -> str:
    """The rows as plain text, continuation lines under the value (for tests and copying)."""
    lines = []
    for key, value in event_rows(event):
        first, *rest = value.splitlines() or [""]
        lines.append(key + first)
        lines.extend(" " * len(key) + line for line in rest)
    return "\n".join(lines)


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


class EventDetail(ModalScreen[None]):
    """The event's whole detail as text; Escape, Enter or q closes it."""

    DEFAULT_CSS = """
    EventDetail { align: center middle; }
    """

    BINDINGS = [
        Binding(
            "escape,enter,q", "close", "Close", tooltip="Close the event", id="event_detail.close"
        )
    ]

    def __init__(self, event: ev.Event) -> None:
        super().__init__()
        self.event = event

    def compose(self) -> ComposeResult:
        title = f"{self.event.kind} at session step {self.event.session_step:,}"
        with VerticalScroll(classes="dialog -wide", id="event-detail"):
            yield Label(title, classes="dialog-title")
            for key, value in event_rows(self.event):
                # each value wraps under itself, not under its key (a long message stays legible)
                row = Static(Hanging(Content(key), Content(value)), classes="event-row")
                row.styles.margin = 0  # inline: app.tcss gives every dialog Static a margin
                yield row
            yield Static("Escape or Enter closes.", classes="dialog-hint", markup=False)

    @property
    def text(self) -> str:
        return event_text(self.event)

    def action_close(self) -> None:
        self.dismiss(None)
