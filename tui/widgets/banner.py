"""The verdict banner: says in words what the last transition did to the weights.

It always takes its place on the screen (a fixed height, set in app.tcss), so that nothing below
it moves when a verdict comes and goes: a verdict shows in its colour for `LINGER_S`, then stays
as a muted "last verdict" line (a person who looked away still sees what happened last).
"""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget
from weightwatch.engine import events as ev

ICONS = {
    ev.CONTINUED: "→",
    ev.RESTORED: "↺",
    ev.RESET: "⚠",
    ev.OPTIMIZER_RESET: "⚠",
    ev.ALTERED: "✎",
    ev.FRESH: "★",
}
# What each verdict means, short enough for 80 columns (the full words are VERDICT_WORDS).
SHORT_WORDS = {
    ev.CONTINUED: "same model, same optimizer",
    ev.RESTORED: "checkpoint weights",
    ev.RESET: "fresh weights",
    ev.OPTIMIZER_RESET: "optimizer state dropped",
    ev.ALTERED: "a callback changed the weights",
    ev.FRESH: "random initial weights",
}
LINGER_S = 8.0
WAITING = "Verdicts show here: continued · restored · reset · optimizer_reset"


def _norm(event: ev.Event) -> str:
    before, after = event.norm_before, event.norm_after
    if before is not None and after is not None and f"{before:.3g}" != f"{after:.3g}":
        return f"  ·  norm {before:.3g} → {after:.3g}"
    return ""


def _altered(event: ev.Event) -> str | None:
    """What a user's callback did, in the engine's words (engine/lineage.py `altered`): "altered:
    EarlyStopping restored the best weights at epoch 7 (best: epoch 4)"; None for other verdicts."""
    message = event.detail.get("message") if event.verdict == ev.ALTERED else None
    return f"{ev.ALTERED}: {message}" if message else None


def banner_text(event: ev.Event) -> str:
    """E.g. "⚠ reset: new model instance, fresh weights - model step 0 · rebuilt at session
    step 340 · norm 13.6 → 8.0"; a callback's change says which callback did what."""
    verdict = event.verdict or ""
    altered = _altered(event)
    if altered:
        return f"{ICONS[verdict]} {altered}  ·  session step {event.session_step}" + _norm(event)
    text = (
        f"{ICONS.get(verdict, '•')} {ev.VERDICT_WORDS.get(verdict, verdict)}  ·  "
        f"{event.kind} at session step {event.session_step}"
    )
    return text + _norm(event)


def short_banner_text(event: ev.Event, words: bool = True) -> str:
    """The same in fewer words, for narrow terminals: "⚠ reset: fresh weights · rebuilt at
    step 340 · norm 13.6 → 8.0" (without `words`: "⚠ reset · rebuilt at step 340 · ...")."""
    verdict = event.verdict or ""
    altered = _altered(event)
    if altered and words:
        return f"{ICONS[verdict]} {altered} · step {event.session_step}"
    if altered:  # still who did it, in fewer words
        who = f"{event.detail.get('callback')} in {event.detail.get('hook')}"
        return f"{ICONS[verdict]} {verdict}: {who} · step {event.session_step}"
    name = f"{verdict}: {SHORT_WORDS[verdict]}" if words and verdict in SHORT_WORDS else verdict
    text = f"{ICONS.get(verdict, '•')} {name} · {event.kind} at step {event.session_step}"
    return text + _norm(event).replace("  ·  ", " · ")


def past_text(event: ev.Event) -> str:
    """The muted line once the verdict has lingered: "last verdict: ⚠ reset · rebuilt at
    session step 340"."""
    verdict = event.verdict or ""
    return (
        f"last verdict: {ICONS.get(verdict, '•')} {verdict}  ·  {event.kind} at session step "
        f"{event.session_step}"
    )


class VerdictBanner(Widget):
    """Shown on every verdict, coloured by it, until the next verdict or for `LINGER_S`; then
    the muted "last verdict" line (CSS class `-past`)."""

    verdict: reactive[str | None] = reactive(None)
    """The verdict on show, or None when none is (drives the `-<verdict>` CSS class)."""

    def __init__(self, *, linger: float | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.linger = LINGER_S if linger is None else linger  # read here: tests pin it
        self.event: ev.Event | None = None  # the last verdict's event, shown or past
        self._timer: Timer | None = None

    def show_event(self, event: ev.Event) -> None:
        """Show the verdict of `event` (which has one)."""
        self.event = event
        self.verdict = event.verdict
        self.refresh()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.linger, self.hide)

    def remember(self, event: ev.Event) -> None:
        """An earlier verdict (a session joined mid-run): the muted line, no colour."""
        if self.verdict is None:
            self.event = event
            self.refresh()

    def hide(self) -> None:
        self.verdict = None

    @property
    def text(self) -> str:
        """What the banner says now, at its width."""
        if self.event is None:
            return WAITING
        if self.verdict is None:
            return past_text(self.event)
        width = self.content_size.width
        for text in (banner_text(self.event), short_banner_text(self.event)):
            if Content(text).cell_length <= width:
                return text
        return short_banner_text(self.event, words=False)  # cut with "…" if still too long

    def render(self) -> Content:
        return Content(self.text)

    def watch_verdict(self, old: str | None, new: str | None) -> None:
        if old:
            self.remove_class(f"-{old}")
        if new:
            self.add_class(f"-{new}")
        self.set_class(new is not None, "-shown")
        self.set_class(new is None, "-past")
        self.refresh()
