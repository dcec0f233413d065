"""The session: the live model instance and its training thread, steered by thread-safe commands.

`Session` is what the UI (or a test) talks to. It imports no TensorFlow itself: `run()` does, on
the thread that calls it, so a UI can draw its first frame before TensorFlow has loaded. Commands
return `concurrent.futures.Future`s and land at the next batch boundary (at once if the thread is
parked). Reads (`status`, `telemetry`, `events`, ...) are cheap snapshots for a UI timer.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

from .checkpoints import CheckpointStore
from .commands import command
from .compileforms import constant_rate, optimizer_label
from .events import CheckpointInfo, Event, Segment, SessionState, Status
from .lineage import Lineage
from .mailbox import Hold, Mailbox
from .runlock import RunLock
from .specs import CallbackSpec, Config
from .telemetry import TelemetryStore


class Session:
    """A training session on one background thread (see module docstring); implements
    `engine.api.SessionAPI`."""

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
        self.lineage = Lineage()
        status = Status(
            state=SessionState.STARTING,
            epoch=0,
            epochs=config.train.epochs,
            step_in_epoch=0,
            steps_per_epoch=0,
            session_step=0,
            model_step=0,
            instance=0,
            learning_rate=constant_rate(config.compile),  # None: a default or a schedule
            steps_per_s=None,
            loss=None,
            global_norm=None,
            callbacks=tuple(config.callbacks),
            optimizer=optimizer_label(config.compile),  # "SGD", not the table
        )
        self.mailbox = Mailbox(status, listener)  # the thread boundary (engine/mailbox.py)
        self._lock = self.mailbox.lock
        self.stopped = threading.Event()
        # The live model and counters (runtime.model_state.ModelState), set by the training
        # thread; status() reads its counters, tests its model while parked.
        self._trainer: Any = None

    # ----- lifecycle ---------------------------------------------------------------------
    def run(self) -> None:
        """Train on the calling thread until `stop()`; imports TensorFlow here."""
        from .trainer import Trainer

        trainer = Trainer(self)
        self._trainer = trainer.state  # before it starts: status() reads its counters
        trainer.run()

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

    def recompile(
        self, optimizer: str | dict | None = None, learning_rate: float | dict | None = None
    ) -> Future:
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
        return self.mailbox.state

    @property
    def model(self) -> Any:
        """The live Keras model (None before it is built). Local callers only, not part of
        `SessionAPI` (a model cannot cross a socket): read it only while the thread is parked."""
        trainer = self._trainer
        return None if trainer is None else trainer.model

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
            return list(self.mailbox.events)

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
            report = self.mailbox.report
            return report if report is not None else build_report(self, final=None)

    # ----- the thread boundary (engine/mailbox.py) -------------------------------------------
    @property
    def listener(self) -> Callable[[object], None] | None:
        return self.mailbox.listener

    @listener.setter
    def listener(self, listener: Callable[[object], None] | None) -> None:
        self.mailbox.listener = listener

    @property
    def _status(self) -> Status:
        return self.mailbox.status

    def _submit(self, kind: str, **args) -> Future:
        command(kind)  # a name the registry (engine/commands.py) does not know is a bug
        return self.mailbox.submit(kind, args)

    def _hold(self, hold: Hold) -> Future:
        return self.mailbox.hold(hold)
