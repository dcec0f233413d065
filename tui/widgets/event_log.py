"""The event log: one line per event (session step, kind, verdict, detail)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog
from weightwatch.engine import events as ev
from weightwatch.tui.widgets.theme import theme_style, verdict_variable


def detail_text(event: ev.Event) -> str:
    """The event's detail as short `key=value` pairs."""
    parts = []
    for key, value in event.detail.items():
        if key == "path" and "name" in event.detail:
            continue  # the name says it, the path is in the report
        if isinstance(value, float):
            value = f"{value:.3g}"
        elif isinstance(value, list):
            value = ",".join(map(str, value)) or "none"
        parts.append(f"{key}={value}")
    return " ".join(parts)


class EventLog(RichLog):
    """Every event the session reported, newest at the bottom."""

    def add_event(self, event: ev.Event) -> None:
        line = Text(overflow="fold")
        line.append(f"{event.session_step:>6} ", theme_style(self.app, "foreground-darken-2"))
        line.append(f"{event.kind} ", theme_style(self.app, "foreground"))
        if event.verdict:
            line.append(f"{event.verdict} ",
                        theme_style(self.app, verdict_variable(event.verdict), bold=True))
        line.append(detail_text(event), theme_style(self.app, "foreground-darken-1"))
        self.write(line)
