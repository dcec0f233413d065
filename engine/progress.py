"""Numbers the status line and `--plain` show: steps/s over a sliding window of training time,
the ETAs it gives, the epoch counted from 1, the learning rate and durations.

The trainer marks (time, session step) at its flushes (a few times a second, never per batch).
Only the time between two marks while training counts: parked time (pause, holds, a finished
run) and the time commands take at a boundary are left out, and so is the first stretch after
`fit` starts (tracing the step function is not training speed). The rate is the steps over the
last `span` seconds of that training time, so it follows the run within about `span` seconds:
the earlier measure was refreshed only after 0.5 s without a boundary, and epochs shorter than
that (the reference MLP's, ~0.25 s) left it at its first value for the whole run.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

SPAN_SECONDS = 2.0


class RateWindow:
    """Marks of (training seconds, steps counted) and the rate over the newest `span`."""

    def __init__(self, span: float = SPAN_SECONDS, clock: Callable[[], float] = time.perf_counter):
        self.span, self.clock = span, clock
        self.trained = 0.0  # training seconds counted so far
        self.counted = 0  # steps trained in those seconds
        self.since: tuple[float, int] | None = None  # (wall, step) of the last mark; None: parked
        self.skip_next = False  # the next stretch is fit's start-up: a base, not a measure
        self.marks: deque[tuple[float, int]] = deque([(0.0, 0)])

    def start(self, step: int, *, warm_up: bool = False) -> None:
        """Training goes on from `step` now, after a park; with `warm_up` (a new `fit`), the
        stretch up to the next mark is not counted. Without a park it goes on counting: an
        epoch's end (logs, the boundary) is part of training's wall time."""
        if warm_up or self.since is None:
            self.since = (self.clock(), step)
            self.skip_next = warm_up

    def mark(self, step: int) -> None:
        """A flush while training: the time since the last mark was training."""
        now = self.clock()
        if self.since is None:
            self.since = (now, step)
            return
        t0, n0 = self.since
        self.since = (now, step)
        if self.skip_next or step <= n0:
            self.skip_next = self.skip_next and step <= n0
            return
        self.trained += now - t0
        self.counted += step - n0
        self.marks.append((self.trained, self.counted))
        while len(self.marks) > 2 and self.marks[1][0] <= self.trained - self.span:
            self.marks.popleft()

    def park(self, step: int) -> None:
        """Training stops for now (parked, a command, the end of `fit`): count up to here."""
        self.mark(step)
        self.since = None

    def rate(self) -> float | None:
        """Steps per second over the window, or None before two marks exist."""
        (t0, n0), (t1, n1) = self.marks[0], self.marks[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 and n1 > n0 else None


def eta_seconds(status) -> tuple[float | None, float | None]:
    """Seconds to the end of the epoch and of the run at the status's rate (None: unknown,
    not training, or nothing left)."""
    rate, spe = status.steps_per_s, status.steps_per_epoch
    if rate is None or not math.isfinite(rate) or rate <= 0:
        return None, None
    if not spe or not status.epochs or status.epoch >= status.epochs:
        return None, None
    in_epoch = max(0, spe - status.step_in_epoch)
    left = in_epoch + (status.epochs - status.epoch - 1) * spe
    return in_epoch / rate, left / rate


def epoch_shown(epoch: int, epochs: int) -> int:
    """The epoch as Keras' progress bar counts it: the one in progress, from 1 (completed + 1),
    and the last one once all are done ("epoch 20/20", never "21/20" or "0/20")."""
    return min(epoch + 1, epochs) if epochs else epoch + 1


def duration(seconds: float | None) -> str:
    """`0.4s`, `7.4s`, `42s`, `12:30`, `1:02:03` (tenths under 10 s: a short epoch's ETA is not
    "0:00"); `-` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f}s"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def learning_rate(lr: float | None) -> str:
    """`1e-3`, `3e-4`, `2.5e-4`, `0.01`, `0.5`: powers of ten as people write them."""
    if lr is None:
        return "-"
    if not math.isfinite(lr) or lr == 0 or 0.01 <= abs(lr) < 1000:
        return f"{lr:.3g}"
    mantissa, exponent = f"{lr:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"
