"""The status line and the epoch progress bar, both fed from `session.status()`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Label, ProgressBar, Static
from weightwatch.engine.events import SessionState, Status

STATE_STYLES = {
    SessionState.STARTING: "$text-muted",
    SessionState.RUNNING: "$success",
    SessionState.PAUSED: "$warning",
    SessionState.HOLDING: "$warning",
    SessionState.FINISHED: "$accent",
    SessionState.STOPPED: "$text-muted",
    SessionState.FAILED: "$error",
}


def describe(status: Status) -> Content:
    """Two lines: state, epoch, steps and speed; then optimizer, learning rate and callbacks."""
    active = [spec.label for spec in status.callbacks if spec.enabled]
    off = len(status.callbacks) - len(active)
    lr = f"{status.learning_rate:.3g}" if status.learning_rate is not None else "-"
    speed = f"{status.steps_per_s:,.0f} steps/s" if status.steps_per_s else "- steps/s"
    if status.state.parked or status.state is SessionState.FAILED:
        # Why it is parked says more than a speed: "diverged at step 812 - press l to load ...".
        reason = status.message if status.message not in ("", "paused", "running") else ""
        speed = reason[:70] or speed
    state = Content.from_markup(f"[b {STATE_STYLES[status.state]}]● $state[/]",
                                state=status.state.value.upper())
    first = Content("   ").join([
        state, Content(f"epoch {status.epoch}/{status.epochs}"),
        Content(f"step {status.session_step:,}"), Content(f"model step {status.model_step:,}"),
        Content(speed),
    ])
    callbacks = ", ".join(active) or "none"
    second = Content(f"  {status.optimizer or '?'}  lr {lr}   callbacks: {callbacks}"
                     + (f" (+{off} off)" if off else ""))
    return Content("\n").join([first, second])


class StatusLine(Static):
    """State, epoch x/y, session and model step, learning rate, steps/s, active callbacks."""

    def show(self, status: Status) -> None:
        # The status bar has a fixed size: a repaint is enough, no layout pass (4 Hz matters).
        self.update(describe(status), layout=False)


class StatusBar(Horizontal):
    """The status line beside the progress through the current epoch."""

    def compose(self) -> ComposeResult:
        yield StatusLine("● STARTING   importing TensorFlow and building the model…",
                         id="status-line")
        with Vertical(id="epoch-box"):
            yield Label("epoch progress", id="epoch-label")
            yield ProgressBar(total=None, show_eta=False, id="epoch-progress")

    shown: Status | None = None
    shown_label = ""

    def show(self, status: Status) -> None:
        """Update from a status snapshot (nothing to do, and no repaint, if it is the same)."""
        if status == self.shown:
            return
        self.shown = status
        self.query_one(StatusLine).show(status)
        total = status.steps_per_epoch or None
        done = status.epochs and status.epoch >= status.epochs and not status.step_in_epoch
        progress = total if done and total else status.step_in_epoch  # the last epoch: 100%
        self.query_one(ProgressBar).update(total=total, progress=progress)
        label = f"epoch {min(status.epoch + 1, status.epochs)} of {status.epochs}"
        if status.epochs and (self.shown_label != label):
            self.shown_label = label
            self.query_one("#epoch-label", Label).update(label, layout=False)
