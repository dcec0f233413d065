"""The status line and the epoch progress bar: one widget, fed from `session.status()`.

It is a single widget that draws its own progress bar on purpose. While training, the status is
the one thing the UI repaints twice a second, and Textual's cost is per widget: the earlier
Static + Label + ProgressBar (a Bar, a percentage label) took ~6 ms of the UI thread per update,
compositor included, and the UI thread shares the GIL with training (docs/performance.md).
"""

from __future__ import annotations

import time

from textual.content import Content
from textual.widget import Widget
from weightwatch.engine.devices import SPREAD
from weightwatch.engine.events import SessionState, Status
from weightwatch.engine.progress import duration, epoch_shown, eta_seconds, learning_rate

STATE_STYLES = {
    SessionState.STARTING: "$text-muted",
    SessionState.RUNNING: "$success",
    SessionState.PAUSED: "$warning",
    SessionState.HOLDING: "$warning",
    SessionState.FINISHED: "$accent",
    SessionState.STOPPED: "$text-muted",
    SessionState.FAILED: "$error",
}
STARTING_WORK = "importing TensorFlow and building the model…"
STARTING_TEXT = f"● STARTING   {STARTING_WORK}"  # the first frame, before any status exists
EPOCH_BOX = 40  # columns on the right for the ETAs over the bar
BAR_WIDTH = 28
BAR, HALF_LEFT, HALF_RIGHT = "━", "╺", "╸"


def describe(status: Status) -> Content:
    """Two lines: state, epoch, steps and speed; then optimizer, learning rate and callbacks."""
    active = [spec.label for spec in status.callbacks if spec.enabled]
    off = len(status.callbacks) - len(active)
    speed = f"{status.steps_per_s:,.0f} steps/s" if status.steps_per_s else "- steps/s"
    if status.state.parked or status.state is SessionState.FAILED:
        # Why it is parked says more than a speed: "diverged at step 812 - press l to load ...".
        reason = status.message if status.message not in ("", "paused", "running") else ""
        speed = reason[:70] or speed
    state = Content.from_markup(
        f"[b {STATE_STYLES[status.state]}]● $state[/]", state=status.state.value.upper()
    )
    counters = [
        Content(f"epoch {epoch_shown(status.epoch, status.epochs)}/{status.epochs}"),
        Content(f"step {status.session_step:,}"),
        Content(f"model step {status.model_step:,}"),
        Content(speed),
    ]
    if status.state is SessionState.STARTING:  # nothing to count yet: say what takes the time
        counters = [Content(status.message or STARTING_WORK)]
    first = Content("   ").join([state, *counters])
    callbacks = ", ".join(active) or "none"
    k = status.steps_per_execution  # commands and holds land only between two calls
    every = f"   boundary every {k} batches" if k > 1 else ""
    if status.strategy in SPREAD:  # several devices train in step: say how many
        every += f"   {status.strategy} x{status.replicas}"
    if status.backend == "jax":  # TensorFlow is the default: only the other one is named
        every += "   on JAX"
    second = Content(
        f"  {status.optimizer or '?'} lr {learning_rate(status.learning_rate)}{every}"
        f"   callbacks: {callbacks}" + (f" (+{off} off)" if off else "")
    )
    return Content("\n").join([first, second])


def eta_text(status: Status) -> str:
    """ "ETA epoch 0:03 · run 1:12" while training at a known speed, else ""."""
    if status.state is not SessionState.RUNNING:
        return ""
    epoch, run = eta_seconds(status)
    if epoch is None or run is None:
        return ""
    return f"ETA epoch {duration(epoch)} · run {duration(run)}"


def progress_of(status: Status) -> tuple[str, float | None]:
    """The label over the bar (the ETAs; the epoch itself is counted once, on the left) and the
    fraction of the epoch done (None: not known yet)."""
    label = eta_text(status) or "epoch progress"
    total = status.steps_per_epoch
    if not status.epochs or not total:
        return label, None
    if status.epoch >= status.epochs and not status.step_in_epoch:
        return label, 1.0  # the last epoch is done: a full bar
    return label, min(1.0, status.step_in_epoch / total)


def bar(fraction: float | None, width: int = BAR_WIDTH, phase: float | None = None) -> Content:
    """A progress bar in half cells, drawn as Textual's ProgressBar draws one. Without a
    fraction: a short moving segment at `phase` (0-1) of the width, or an empty bar."""
    if fraction is None:
        if phase is None:
            return Content.styled(BAR * width, "$surface")
        start = round(phase * (width - 6))
        return Content.assemble(
            (BAR * start, "$surface"), (BAR * 6, "$error"), (BAR * (width - start - 6), "$surface")
        )
    full, half = divmod(round(fraction * width * 2), 2)
    colour = "$success" if fraction >= 1.0 else "$primary"
    if half:
        done, rest = BAR * full + HALF_RIGHT, BAR * (width - full - 1)
    else:
        done, rest = BAR * full, (HALF_LEFT + BAR * (width - full - 1)) if full < width else ""
    return Content.assemble((done, colour), (rest, "$surface"))


class StatusBar(Widget):
    """State, epoch x/y, session and model step, steps/s, optimizer, learning rate, active
    callbacks; the ETAs and the progress through the current epoch on the right."""

    DEFAULT_CSS = """
    StatusBar { height: 2; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown: Status | None = None
        self.text = Content(STARTING_TEXT)
        self.label = "epoch progress"
        self.fraction: float | None = None

    def show(self, status: Status) -> None:
        """Update from a status snapshot (nothing to do, and no repaint, if it is the same)."""
        if status == self.shown and status.state is not SessionState.STARTING:
            return  # (while starting, every call moves the indeterminate bar on)
        self.shown = status
        self.text = describe(status)
        self.label, self.fraction = progress_of(status)
        self.refresh()  # a fixed size: a repaint, never a layout pass

    def render(self) -> Content:
        width = self.size.width
        left = max(10, width - EPOCH_BOX - 2)
        lines = (self.text.split("\n") + [Content()])[:2]
        starting = self.shown is None or self.shown.state is SessionState.STARTING
        phase = (time.monotonic() % 2.0) / 2.0 if starting else None
        right = [
            Content.styled(self.label, "$text-muted"),
            bar(self.fraction, phase=phase)
            + (Content(f" {self.fraction:>4.0%}") if self.fraction is not None else ""),
        ]
        return Content("\n").join(
            Content(" ") + line.truncate(left, ellipsis=True, pad=True) + Content(" ") + extra
            for line, extra in zip(lines, right, strict=True)
        )
