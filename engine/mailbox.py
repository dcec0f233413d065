"""The thread boundary between a front end and the training thread.

Front ends put commands and holds in; the training thread takes them out at a batch boundary,
parks on the condition while there is nothing to do, and publishes the state, the status
snapshot and the events back. Everything here is guarded by one lock; the two plain fields the
per-batch path reads (`attention`, `hold_step`) are written under it and read without it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import CommandRejected
from .events import Event, SessionState, StateChanged, Status
from .userlog import not_user

STOPPED_MESSAGE = "the session has stopped"


@dataclass
class Command:
    kind: str
    args: dict[str, Any] = field(default_factory=dict)
    future: Future = field(default_factory=Future)


@dataclass
class Hold:
    kind: str  # "step", "epoch", "finished"
    value: int | None
    future: Future = field(default_factory=Future)


class Mailbox:
    """Commands and holds in; state, status snapshot and events out (see module docstring)."""

    def __init__(self, status: Status, listener: Callable[[object], None] | None = None) -> None:
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.commands: deque[Command] = deque()
        self.holds: list[Hold] = []
        self.events: list[Event] = []
        self.state = status.state
        self.status = status
        self.report: dict | None = None
        self.listener = listener
        self.attention = False  # read per batch by the control callback: anything to do?
        self.hold_step = -1  # the nearest pending `hold_at_step`, -1 if none

    # ----- the front end's side ----------------------------------------------------------
    def submit(self, kind: str, args: dict[str, Any]) -> Future:
        cmd = Command(kind, args)
        with self.cond:
            if self.state is SessionState.STOPPED:
                if kind == "stop":
                    cmd.future.set_result(None)
                else:
                    cmd.future.set_exception(CommandRejected(STOPPED_MESSAGE))
                return cmd.future
            self.commands.append(cmd)
            self.attention = True
            self.cond.notify_all()
        return cmd.future

    def hold(self, hold: Hold) -> Future:
        with self.cond:
            step = self.status.session_step
            if self.state is SessionState.STOPPED:
                hold.future.set_exception(CommandRejected(STOPPED_MESSAGE))
            elif hold.kind == "step" and (hold.value or 0) < step:
                hold.future.set_exception(
                    CommandRejected(
                        f"step {hold.value} has already passed (session step is {step})"
                    )
                )
            else:
                self.holds.append(hold)
                self._refresh_hold_step()
                self.attention = True
                self.cond.notify_all()
        return hold.future

    # ----- the training thread's side -----------------------------------------------------
    def pop(self) -> Command | None:
        with self.lock:
            if self.commands:
                return self.commands.popleft()
            self.attention = False
            return None

    def take_holds(self, kind: str, value: int | None, at_start: bool = True) -> list[Hold]:
        """Holds due now (value reached); holds already passed fail here, on the training
        thread, which knows the true step (the status snapshot may lag behind). An epoch hold is
        due only at the boundary where that epoch starts (`at_start`)."""
        with self.lock:
            hit, keep = [], []
            for h in self.holds:
                if h.future.cancelled():
                    continue  # its viewer went away (engine/remote/server.py): never park on it
                if h.kind != kind:
                    keep.append(h)
                elif kind == "finished" or (h.value == value and (kind == "step" or at_start)):
                    hit.append(h)
                elif value is not None and h.value is not None and h.value <= value:
                    h.future.set_exception(
                        CommandRejected(f"{kind} {h.value} has already passed ({kind} is {value})")
                    )
                else:
                    keep.append(h)
            self.holds = keep
            self._refresh_hold_step()
            return hit

    def wait(self, timeout: float) -> None:
        with self.cond:
            if not self.commands:
                self.cond.wait(timeout)

    def set_state(self, state: SessionState, reason: str = "") -> None:
        with self.lock:
            changed = state is not self.state
            self.state = state
        self.update_status(state=state, message=reason)
        if changed:
            self.tell(StateChanged(state, reason, self.status.session_step))

    def update_status(self, **changes) -> None:
        with self.lock:
            self.status = replace(self.status, **changes)

    def record_event(self, ev: Event) -> None:
        with self.lock:
            self.events.append(ev)
        self.tell(ev)

    def set_report(self, report: dict) -> None:
        with self.lock:
            self.report = report

    def fail_pending(self) -> None:
        """After the stop: every command and hold still waiting is refused (a stop resolves)."""
        while (cmd := self.pop()) is not None:
            if cmd.kind == "stop":
                cmd.future.set_result(None)
            elif not cmd.future.done():
                cmd.future.set_exception(CommandRejected(STOPPED_MESSAGE))
        with self.lock:
            holds, self.holds = self.holds, []
        for hold in holds:
            if not hold.future.done():
                hold.future.set_exception(CommandRejected(STOPPED_MESSAGE))

    def tell(self, message: object) -> None:
        if self.listener is not None:
            try:
                with not_user():  # what a listener prints (`--plain` lines) is not user output
                    self.listener(message)
            except Exception:  # a broken listener must never stop training
                pass

    def _refresh_hold_step(self) -> None:
        steps = [h.value for h in self.holds if h.kind == "step" and h.value is not None]
        self.hold_step = min(steps) if steps else -1
