"""One event in full: what the log line leaves out (the whole message, paths, fingerprints)."""

from __future__ import annotations

import json

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static
from weightwatch.engine import events as ev

KEY_WIDTH = 14


def event_text(event: ev.Event) -> str:
    """Every field of the event, and every key of its detail, as aligned plain text."""
    rows = [
        ("kind", event.kind),
        ("verdict", event.verdict or "-"),
        ("session step", f"{event.session_step:,}"),
        ("model step", f"{event.model_step:,}"),
        ("norm before", number(event.norm_before)),
        ("norm after", number(event.norm_after)),
    ]
    lines = [f"{key:<{KEY_WIDTH}}{value}" for key, value in rows]
    if event.detail:
        lines.append("")
        lines.append("detail")
    for key, value in event.detail.items():
        text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
        first, *rest = str(text).splitlines() or [""]
        lines.append(f"  {key:<{KEY_WIDTH - 2}}{first}")
        lines.extend(" " * KEY_WIDTH + line for line in rest)
    return "\n".join(lines)


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


class EventDetail(ModalScreen[None]):
    """The event's whole detail as text; Escape, Enter or q closes it."""

    DEFAULT_CSS = """
    EventDetail { align: center middle; }
    EventDetail #event-detail-text { margin-bottom: 0; }
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
            yield Static(event_text(self.event), id="event-detail-text", markup=False)
            yield Static("Escape or Enter closes.", classes="dialog-hint", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
