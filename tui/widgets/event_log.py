"""The event log: one entry per event (session step, kind, verdict, detail); Enter on an entry
shows the whole event.

An OptionList, not a RichLog: entries can be highlighted and chosen. Each entry is drawn from
theme variables when it is painted (not colours fixed when it was written: on a light theme
those were the dark theme's, colour 253 on 188), and wraps under its kind, not to column 0.
"""

from __future__ import annotations

from textual import on
from textual.content import Content
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual
from textual.widgets import OptionList
from textual.widgets.option_list import Option
from weightwatch.engine import events as ev

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
    "callback_paths",  # the engine's started/callbacks_changed carry it: a list of dicts
)  # in the report and in the entry's detail (Enter); too long or repeated for a log line
MAX_VALUE = 40
MAX_MESSAGE = 200  # a message says what went wrong: a few lines here, all of it behind Enter
# Verdict words in the theme's text colours (made to be read on its panels, light or dark); the
# banner's fill colours (theme.VERDICT_COLOURS) are too pale as text on a light theme.
VERDICT_TEXT = {
    ev.CONTINUED: "$text-success",
    ev.RESTORED: "$text-primary",
    ev.RESET: "$text-error",
    ev.OPTIMIZER_RESET: "$text-warning",
    ev.FRESH: "$text-secondary",
}
STEP_WIDTH = 7  # "  1,234 " fits up to 999,999 steps; wider steps push the text on


def epoch_words(detail: dict) -> str | None:
    """A detail's `epoch` (the model's count of completed epochs) as the status line counts:
    "epoch 2 batch 40" where the event says how far into the epoch it was, else
    "epochs_done=1" (never a bare "epoch=1" beside the status line's "epoch 2/4")."""
    epoch, into = detail.get("epoch"), detail.get("step_in_epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        return None
    if isinstance(into, int) and not isinstance(into, bool):
        return f"epoch {epoch + 1} batch {into}"
    return f"epochs_done={epoch}"


def detail_text(event: ev.Event) -> str:
    """The event's detail as short `key=value` pairs (the report has all of it)."""
    parts = []
    epoch = epoch_words(event.detail)
    for key, value in event.detail.items():
        if key in HIDDEN_DETAIL or value is None:
            continue
        if epoch is not None and key in ("epoch", "step_in_epoch"):
            if key == "epoch":
                parts.append(epoch)
            continue
        if isinstance(value, float):
            value = f"{value:.3g}"
        elif isinstance(value, list | tuple):
            if not value and key != "callbacks":
                continue
            value = ",".join(map(str, value)) or "none"
        value = str(value)
        limit = MAX_MESSAGE if key == "message" else MAX_VALUE
        if len(value) > limit:
            value = value[: limit - 1] + "…"
        parts.append(value if key == "message" else f"{key}={value}")
    return " ".join(parts)


def entry_content(event: ev.Event) -> tuple[Content, Content]:
    """(the step column, the rest) in theme variables, resolved when painted."""
    head = Content.styled(f"{event.session_step:>{STEP_WIDTH - 1}} ", "$foreground-darken-2")
    parts = [Content.styled(event.kind, "$foreground")]
    if event.verdict:
        colour = VERDICT_TEXT.get(event.verdict, "$text-accent")
        parts.append(Content.styled(event.verdict, f"bold {colour}"))
    detail = detail_text(event)
    if detail:
        parts.append(Content.styled(detail, "$foreground-darken-1"))
    return head, Content(" ").join(parts)


class Hanging(Visual):
    """A head and a body whose wrapped lines start under the body, not under the head."""

    def __init__(self, head: Content, body: Content) -> None:
        self.head, self.body = head, body

    def lines(self, width: int) -> list[Content]:
        indent = self.head.cell_length
        wrapped = self.body.wrap(max(1, width - indent)) or [Content()]
        pad = Content(" " * indent)
        return [self.head + wrapped[0], *(pad + line for line in wrapped[1:])]

    def render_strips(
        self, width: int, height: int | None, style: Style, options: RenderOptions
    ) -> list[Strip]:
        strips = [
            strip
            for line in self.lines(width)
            for strip in line.render_strips(width, None, style, options)
        ]
        return strips if height is None else strips[:height]

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.head.cell_length + self.body.cell_length

    def get_minimal_width(self, rules: RulesMap) -> int:
        return self.head.cell_length + 1

    def get_height(self, rules: RulesMap, width: int) -> int:
        return len(self.lines(width))

    @property
    def plain(self) -> str:
        return self.head.plain + self.body.plain


class EventLog(OptionList):
    """Every event the session reported, newest at the bottom; Enter shows one in full."""

    def __init__(self, *, id: str | None = None, max_lines: int = 2000, **_: object) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self.logged: list[ev.Event] = []

    def add_event(self, event: ev.Event) -> None:
        following = self.highlighted is None or self.highlighted == len(self.logged) - 1
        at_end = self.scroll_y >= self.max_scroll_y
        self.logged.append(event)
        self.add_option(Option(Hanging(*entry_content(event))))
        if len(self.logged) > self.max_lines:  # the report keeps every event
            self.logged.pop(0)
            self.remove_option_at_index(0)
        if self.highlighted is not None and following:
            self.highlighted = len(self.logged) - 1  # the cursor stays on the newest
        elif at_end or self.highlighted is None:
            self.call_after_refresh(self.scroll_end, animate=False)

    def _cursor_to_newest(self) -> bool:
        """The first key on a log without a cursor puts it on the newest entry (at the bottom,
        where the eye is), not on the oldest."""
        if self.highlighted is None and self.logged:
            self.highlighted = len(self.logged) - 1
            return True
        return False

    def action_cursor_up(self) -> None:
        if not self._cursor_to_newest():
            super().action_cursor_up()

    def action_cursor_down(self) -> None:
        if not self._cursor_to_newest():
            super().action_cursor_down()

    def action_select(self) -> None:
        self._cursor_to_newest()  # Enter with no cursor: the newest event
        super().action_select()

    @on(OptionList.OptionSelected)
    def show_event(self, message: OptionList.OptionSelected) -> None:
        from weightwatch.tui.screens.event_detail import EventDetail

        message.stop()
        self.app.push_screen(EventDetail(self.logged[message.option_index]))
