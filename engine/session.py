"""The session: the live model instance and its training thread, steered by thread-safe commands.

`Session` is what the UI (or a test) talks to. It imports no TensorFlow itself: `run()` does, on
the thread that calls it, so a UI can draw its first frame before TensorFlow has loaded. Commands
return `concurrent.futures.Future`s and land at the next batch boundary (at once if the thread is
parked). Reads (`status`, `telemetry`, `events`, ...) are cheap snapshots for a UI timer.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .checkpoints import CheckpointStore
from .errors import CommandRejected
from .events import CheckpointInfo, Event, Segment, SessionState, StateChanged, Status
from .lineage import Lineage
from .runlock import RunLock
from .specs import CallbackSpec, Config
from .telemetry import TelemetryStore


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


class Session:
    """A training session on one background thread (see module docstring)."""

    def __init__(
        self,
        config: Config,
        *,
        run_dir: Path | str | None = None,
        from_checkpoint: str | None = None,
        listener: Callable[[object], None] | None = None,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir or config.run.run_dir).resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.from_checkpoint = from_checkpoint
        self.listener = listener
        self.telemetry = TelemetryStore()
        self.session_id = uuid.uuid4().hex[:12]
        # Before anything in the run directory is touched (the store cleans orphans, the logs
        # open): a live session's directory is refused here, in one line (RunDirInUse).
        self.run_lock = RunLock.acquire(self.run_dir, self.session_id)
        try:
            self.store = CheckpointStore(self.run_dir)
        except BaseException:
            self.run_lock.release()
            raise
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._commands: deque[Command] = deque()
        self._holds: list[Hold] = []
        self._events: list[Event] = []
        self.lineage = Lineage()
        self._state = SessionState.STARTING
        self._status = Status(
            state=self._state,
            epoch=0,
            epochs=config.train.epochs,
            step_in_epoch=0,
            steps_per_epoch=0,
            session_step=0,
            model_step=0,
            instance=0,
            learning_rate=config.compile.learning_rate,
            steps_per_s=None,
            loss=None,
            global_norm=None,
            callbacks=tuple(config.callbacks),
            optimizer=config.compile.optimizer,
        )
        self._report: dict | None = None
        self.attention = False  # read per batch by the control callback: anything to do?
        self.hold_step = -1  # the nearest pending `hold_at_step`, -1 if none
        self.stopped = threading.Event()
        self._trainer: Any = None  # set by the training thread; tests may read it while parked

    # ----- lifecycle ---------------------------------------------------------------------
    def run(self) -> None:
        """Train on the calling thread until `stop()`; imports TensorFlow here."""
        from .trainer import Trainer

        Trainer(self).run()

    def start(self) -> threading.Thread:
        """Run on a new daemon thread (for scripts and tests without a UI)."""
        t = threading.Thread(target=self.run, name="weightwatch-training", daemon=True)
        t.start()
        return t

    def stop(self) -> Future:
        """Stop at the next batch boundary; resolves once the thread has returned."""
        return self._submit("stop")

    def close(self) -> None:
        """Let the run directory go (the training thread does when it stops); idempotent."""
        self.run_lock.release()

    # ----- commands ----------------------------------------------------------------------
    def pause(self) -> Future:
        return self._submit("pause")

    def resume(self, epochs: int | None = None) -> Future:
        """Go on; on a finished run, for `epochs` more epochs (default `[train] epochs`)."""
        return self._submit("resume") if epochs is None else self._submit("resume", epochs=epochs)

    def set_callbacks(self, specs: list[CallbackSpec]) -> Future:
        return self._submit("callbacks", specs=list(specs))

    def save(self, name: str | None = None) -> Future:
        return self._submit("save", name=name)

    def load(self, ref: str) -> Future:
        return self._submit("load", ref=ref)

    def rebuild(self, seed: int | None = None) -> Future:
        return self._submit("rebuild", seed=seed)

    def recompile(self, optimizer: str, learning_rate: float | None = None) -> Future:
        return self._submit("recompile", optimizer=optimizer, learning_rate=learning_rate)

    def set_lr(self, value: float) -> Future:
        return self._submit("set_lr", value=float(value))

    def note_error(self, message: str, detail: dict | None = None) -> Future:
        """Record an `error` event (a script action that failed, say)."""
        return self._submit("note_error", message=message, detail=dict(detail or {}))

    # ----- exact holds for scripts -----------------------------------------------------------
    def hold_at_step(self, n: int) -> Future:
        return self._hold(Hold("step", int(n)))

    def hold_at_epoch(self, n: int) -> Future:
        return self._hold(Hold("epoch", int(n)))

    def hold_when_finished(self) -> Future:
        return self._hold(Hold("finished", None))

    def release(self) -> None:
        """Let training go on after a hold (no-op if not holding)."""
        self._submit("release")

    # ----- reads -----------------------------------------------------------------------------
    @property
    def state(self) -> SessionState:
        return self._state

    def status(self) -> Status:
        """The latest snapshot, with the batch counters read live (plain ints: no lock, no
        work on the training thread); no steps/s while parked."""
        st, t = self._status, self._trainer
        if t is not None and st.state is SessionState.RUNNING:
            # every batch since the last snapshot moved the optimizer's step by one as well
            model_step = st.model_step + (t.done - st.session_step)
            return replace(
                st,
                session_step=t.done,
                step_in_epoch=t.step_in_epoch,
                epoch=t.epoch,
                model_step=model_step,
            )
        if st.state.parked and st.steps_per_s is not None:
            return replace(st, steps_per_s=None)
        return st

    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def segments(self) -> list[Segment]:
        with self._lock:
            return [Segment(**vars(s)) for s in self.lineage.segments]

    def list_checkpoints(self) -> list[CheckpointInfo]:
        return self.store.list()

    def default_checkpoint_name(self) -> str:
        return f"step-{self._status.session_step:06d}"

    def report(self) -> dict:
        """The report (DESIGN.md keys); complete once the thread has stopped."""
        from .report import build_report

        with self._lock:
            return self._report if self._report is not None else build_report(self, final=None)

    # ----- internals shared with the trainer -------------------------------------------------
    def _submit(self, kind: str, **args) -> Future:
        cmd = Command(kind, args)
        with self._cond:
            if self._state is SessionState.STOPPED:
                if kind == "stop":
                    cmd.future.set_result(None)
                else:
                    cmd.future.set_exception(CommandRejected("the session has stopped"))
                return cmd.future
            self._commands.append(cmd)
            self.attention = True
            self._cond.notify_all()
        return cmd.future

    def _hold(self, hold: Hold) -> Future:
        with self._cond:
            if self._state is SessionState.STOPPED:
                hold.future.set_exception(CommandRejected("the session has stopped"))
                return hold.future
            if hold.kind == "step" and (hold.value or 0) < self._status.session_step:
                hold.future.set_exception(
                    CommandRejected(
                        f"step {hold.value} has already passed (session step is "
                        f"{self._status.session_step})"
                    )
                )
                return hold.future
            self._holds.append(hold)
            self._refresh_hold_step()
            self.attention = True
            self._cond.notify_all()
        return hold.future

    def _refresh_hold_step(self) -> None:
        steps = [h.value for h in self._holds if h.kind == "step" and h.value is not None]
        self.hold_step = min(steps) if steps else -1

    def _pop_command(self) -> Command | None:
        with self._lock:
            if self._commands:
                return self._commands.popleft()
            self.attention = False
            return None

    def _take_holds(self, kind: str, value: int | None, at_start: bool = True) -> list[Hold]:
        """Holds due now (value reached); holds already passed fail here, on the training
        thread, which knows the true step (the status snapshot may lag behind). An epoch hold is
        due only at the boundary where that epoch starts (`at_start`)."""
        with self._lock:
            hit, keep = [], []
            for h in self._holds:
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
            self._holds = keep
            self._refresh_hold_step()
            return hit

    def _wait(self, timeout: float) -> None:
        with self._cond:
            if not self._commands:
                self._cond.wait(timeout)

    def _set_state(self, state: SessionState, reason: str = "") -> None:
        with self._lock:
            changed = state is not self._state
            self._state = state
        self._update_status(state=state, message=reason)
        if changed:
            self._tell(StateChanged(state, reason, self._status.session_step))

    def _update_status(self, **changes) -> None:
        from dataclasses import replace

        with self._lock:
            self._status = replace(self._status, **changes)

    def _record_event(self, ev: Event) -> None:
        with self._lock:
            self._events.append(ev)
        self._tell(ev)

    def _tell(self, message: object) -> None:
        if self.listener is not None:
            try:
                self.listener(message)
            except Exception:  # a broken listener must never stop training
                pass
