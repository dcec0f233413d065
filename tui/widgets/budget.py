"""A time budget for the UI thread: stretch the chart refresh so drawing stays cheap for training.

The UI shares the GIL with the training thread. plotext has a fixed cost per build (about 16 ms on
the reference machine, whatever the number of points), so two charts redrawn at 4 Hz took ~10% of
the training's steps/s. The dashboard measures what a round of redraws really costs the UI thread
(CPU time from the replot through the compositor's repaint, up to its next tick), and what the UI
costs between rounds (status line, events, the event loop: the `background`). Chart rounds get what
is left of `share` once the background is paid for (never less than `floor`): the interval between
rounds becomes `cost / (share - background)`, never less than the base interval. The cost of a
round is the median of the last few: a one-off (the first render, a layout pass after a resize or
a banner) must not space the next rounds out. Until three rounds are measured, the missing ones
count as `first_cost` (what a round of plotext is known to cost beside TensorFlow): the first
rounds of a job are often its cheapest (a placeholder, a handful of points), and taking them at
their word scheduled rounds at the base interval through the first seconds of every job.

The default share, 2% of wall time for the whole UI, is what a ~1 ms training step can afford
(docs/performance.md); with a round at 30-45 ms beside TensorFlow on two cores, charts redraw
every ~3 s in steady training, and at once for a new marker (the dashboard's tick decides).
"""

from __future__ import annotations

import statistics
import time
from collections import deque

ROUNDS_KEPT = 5
FIRST_COST = 0.035  # seconds: a round of two plotext charts and the repaint, before it is measured


class RedrawBudget:
    """Tracks what a round of chart redraws costs and when the next round may run."""

    def __init__(
        self,
        base_interval: float,
        share: float = 0.02,
        ceiling: float = 10.0,
        floor: float = 0.01,
        first_cost: float = FIRST_COST,
    ) -> None:
        self.base_interval = base_interval
        self.share = share
        self.ceiling = ceiling
        self.floor = floor
        self.background = 0.0  # smoothed share of wall time the UI spends outside chart rounds
        self.first_cost = first_cost
        self.round_cost = first_cost  # seconds per round: the median of the last few
        self._costs: deque[float] = deque(maxlen=ROUNDS_KEPT)
        self.rounds = 0
        self._pending = 0.0
        self._last_round = -float("inf")

    def record(self, seconds: float) -> None:
        """Add what the current round cost (UI-thread CPU seconds)."""
        self._pending += seconds

    def record_background(self, cpu: float, wall: float) -> None:
        """What the UI thread spent (CPU seconds) over `wall` seconds without a chart round."""
        if wall > 0:
            self.background += 0.25 * (cpu / wall - self.background)

    @property
    def interval(self) -> float:
        """Seconds between rounds so that the whole UI takes at most `share` of wall time."""
        room = max(self.floor, self.share - self.background) if self.share > 0 else 0.0
        wanted = self.round_cost / room if room > 0 else 0.0
        return min(self.ceiling, max(self.base_interval, wanted))

    def due(self, now: float | None = None) -> bool:
        now = time.perf_counter() if now is None else now
        return now - self._last_round >= self.interval

    def start_round(self, now: float | None = None) -> None:
        """Fold the costs rendered since the last round into the average; start a new one."""
        if self._pending:
            self._costs.append(self._pending)
            costs = list(self._costs)
            self.round_cost = statistics.median(costs + [self.first_cost] * (3 - len(costs)))
        self._pending = 0.0
        self.rounds += 1
        self._last_round = time.perf_counter() if now is None else now
