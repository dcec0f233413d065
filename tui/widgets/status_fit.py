"""The status line, laid out for the terminal's width (the dashboard's; status.py says what).

StatusBar keeps a 40-column box on the right of both lines for the epoch's label and bar, which
cuts the counters at 80 columns ("step 150   mo…") and a parked reason at 120 ("ready: press
resume to tr…"). When a line would be cut, the first line gets the whole width and the label and
bar move to the right of the second line, the bar as short as it must be (the label goes before
the bar does). Only the layout changes here: the words are StatusBar's.
"""

from __future__ import annotations

import time

from textual.content import Content
from weightwatch.engine.events import SessionState
from weightwatch.tui.widgets import status
from weightwatch.tui.widgets.status import StatusBar

MIN_BAR = 10  # a shorter bar says too little: the label goes first, then the bar shrinks to this


class FittedStatusBar(StatusBar):
    """StatusBar that never cuts its first line when moving the bar would avoid it."""

    def render(self) -> Content:
        width = self.size.width
        lines = (self.text.split("\n") + [Content()])[:2]
        left = max(10, width - status.EPOCH_BOX - 2)
        if all(line.cell_length <= left for line in lines):
            return super().render()
        return Content("\n").join([self._first(lines[0], width), self._second(lines[1], width)])

    @staticmethod
    def _first(line: Content, width: int) -> Content:
        return Content(" ") + line.truncate(max(1, width - 2), ellipsis=True, pad=True)

    def _second(self, line: Content, width: int) -> Content:
        starting = self.shown is None or self.shown.state is SessionState.STARTING
        phase = (time.monotonic() % 2.0) / 2.0 if starting else None
        percent = Content(f" {self.fraction:>4.0%}") if self.fraction is not None else Content()
        room = width - 3 - line.cell_length  # " " text " " ... right part
        label = Content.styled(self.label, "$text-muted") + Content(" ")
        bar_width = min(status.BAR_WIDTH, room - label.cell_length - percent.cell_length)
        if bar_width < MIN_BAR:
            label = Content()
            bar_width = max(MIN_BAR, min(status.BAR_WIDTH, room - percent.cell_length))
        right = label + status.bar(self.fraction, width=bar_width, phase=phase) + percent
        text_width = max(1, width - 3 - right.cell_length)
        return (
            Content(" ") + line.truncate(text_width, ellipsis=True, pad=True) + Content(" ") + right
        )
