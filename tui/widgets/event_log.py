"""The event log: one line per event (session step, kind, verdict, detail)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog
from weightwatch.engine import events as ev
from weightwatch.tui.widgets.theme import theme_style, verdict_variable

HIDDEN_DETAIL = (
    "fingerprint",
    "run_dir",
    "path",
    "instance",
    "from",
    "action",
    "kind",
    "traceback",
    "type",
)  # in the report; too long or repeated for a log line
MAX_VALUE = 40


def detail_text(event: ev.Event) -> str:
    """The event's detail as short `key=value` pairs (the report has all of it)."""
    parts = []
    for key, value in event.detail.items():
        if key in HIDDEN_DETAIL or value is None:
            continue
        if isinstance(value, float):
            value = f"{value:.3g}"
        elif isinstance(value, list | tuple):
            if not value and key != "callbacks":
                continue
            value = ",".join(map(str, value)) or "none"
        value = str(value)
        if len(value) > MAX_VALUE:
            value = value[: MAX_VALUE - 1] + "…"
        parts.append(value if key == "message" else f"{key}={value}")
    return " ".join(parts)


class EventLog(RichLog):
    """Every event the session reported, newest at the bottom."""

    def add_event(self, event: ev.Event) -> None:
        line = Text(overflow="fold")
        line.append(f"{event.session_step:>6} ", theme_style(self.app, "foreground-darken-2"))
        line.append(f"{event.kind} ", theme_style(self.app, "foreground"))
        if event.verdict:
            line.append(
                f"{event.verdict} ",
                theme_style(self.app, verdict_variable(event.verdict), bold=True),
            )
        line.append(detail_text(event), theme_style(self.app, "foreground-darken-1"))
        self.write(line)
