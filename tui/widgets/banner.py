"""The verdict banner: says in words what the last transition did to the weights."""

from __future__ import annotations

from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static
from weightwatch.engine import events as ev

ICONS = {ev.CONTINUED: "→", ev.RESTORED: "↺", ev.RESET: "⚠", ev.OPTIMIZER_RESET: "⚠", ev.FRESH: "★"}
LINGER_S = 8.0


def banner_text(event: ev.Event) -> str:
    """E.g. "⚠ reset: new model instance, fresh weights - model step 0 · rebuilt at session
    step 340 · norm 13.6 → 8.0"."""
    verdict = event.verdict or ""
    text = (
        f"{ICONS.get(verdict, '•')} {ev.VERDICT_WORDS.get(verdict, verdict)}  ·  "
        f"{event.kind} at session step {event.session_step}"
    )
    before, after = event.norm_before, event.norm_after
    if before is not None and after is not None and f"{before:.3g}" != f"{after:.3g}":
        text += f"  ·  norm {before:.3g} → {after:.3g}"
    return text


class VerdictBanner(Static):
    """Shown on every verdict, coloured by it; stays until the next verdict or `LINGER_S`."""

    verdict: reactive[str | None] = reactive(None)
    """The verdict on show, or None while hidden (drives the `-<verdict>` CSS class)."""

    def __init__(self, *, linger: float = LINGER_S, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.linger = linger
        self._timer: Timer | None = None

    def show_event(self, event: ev.Event) -> None:
        """Show the verdict of `event` (which has one)."""
        self.update(banner_text(event))
        self.verdict = event.verdict
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.linger, self.hide)

    def hide(self) -> None:
        self.verdict = None

    def watch_verdict(self, old: str | None, new: str | None) -> None:
        if old:
            self.remove_class(f"-{old}")
        if new:
            self.add_class(f"-{new}")
        self.set_class(new is not None, "-shown")
