"""A deterministic stand-in for the engine's `Session`: implements `engine.api.SessionAPI`.

Nothing is trained: `fake_model.Weights` derives the loss and the norms from a counter. What a
command does follows the engine's rules (fake_commands.py, fake_lifecycle.py), with the engine's
`Lineage` for segments and verdicts, `check_name` for checkpoint names and `build_report` for
the report; tests/conformance/ runs the same behaviour tests against this and the real `Session`.

Without `rate`, nothing moves until a test calls `step(n)`; commands sent while running land at
the next boundary (the start of the next `step()` or `boundary()` call), commands sent before
`run()` land at its first boundary (as the engine queues them while starting), and at once while
parked. With `rate`, `run()` trains `rate` batches per second by itself.

Test-only extras (not in the protocol): `step`, `boundary`, `calls` (every call, in order),
`inject(command, handler)` (the command raises what `handler` raises), `fail_start(message)`
(the start fails, as a builder that raised would) and `stopped` (set once stopped).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from weightwatch.engine import events as ev
from weightwatch.engine.errors import BadInput, CommandRejected
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.lineage import Lineage
from weightwatch.engine.report import build_report
from weightwatch.engine.specs import CallbackSpec, Config
from weightwatch.engine.telemetry import TelemetryStore

from . import fake_commands as commands
from . import fake_effects
from . import fake_lifecycle as lifecycle
from .fake_model import CLASS_NAMES, LAYER_SHARE, LAYERS, STEPS_PER_S, Weights, fake_config

__all__ = ["FakeSession", "fake_config", "LAYERS", "STEPS_PER_S"]


class FakeSession:
    """Implements `SessionAPI`; see the module docstring."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        run_dir: Path | None = None,
        from_checkpoint: str | None = None,
        listener: Callable[[object], None] | None = None,
        rate: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or fake_config(Path(run_dir or "runs/fake"))
        self.run_dir = Path(run_dir or self.config.run.run_dir)
        self.listener = listener
        self.telemetry = TelemetryStore()
        self.rate, self.clock = rate, clock
        self.calls: list[tuple[str, tuple]] = []
        self.stopped = threading.Event()
        self.lineage = Lineage()
        self.weights = Weights(seed=self.config.run.seed)
        self.session_step = self.model_step = self.epoch = self.step_in_epoch = 0
        self.target_epochs = self.config.train.epochs
        opt = self.config.compile.optimizer
        self.optimizer = CLASS_NAMES.get(opt.lower(), opt)
        self.learning_rate = self.config.compile.learning_rate or 1e-3
        self.callbacks: tuple[CallbackSpec, ...] = tuple(self.config.callbacks)
        self.checkpoints: dict[str, tuple[ev.CheckpointInfo, Weights]] = {}
        self.resume_state = S.RUNNING  # where a release goes back to (as the engine's)
        self.from_checkpoint = from_checkpoint
        self._lock = threading.RLock()
        self._state, self._message = S.STARTING, ""
        self._events: list[ev.Event] = []
        self._queue: list[tuple[str, tuple, Future]] = []
        self.holds: list[tuple[str, int | None, Future]] = []
        self._faults: dict[str, Callable[..., Any]] = {}
        self._report: dict | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def run(self) -> None:
        """Start, then train at `rate` (if any) until `stop()`; parks like the real one."""
        with self._lock:
            if self._state is S.STARTING:
                lifecycle.start(self)
        while not self.stopped.is_set():
            if not self.rate:
                self.stopped.wait()
            elif self._state is S.RUNNING:
                self.step(1)
                self.stopped.wait(1.0 / self.rate)
            else:
                self.stopped.wait(0.02)

    def start(self) -> object:
        thread = threading.Thread(target=self.run, name="fake-training", daemon=True)
        thread.start()
        return thread

    def stop(self) -> Future:
        self.calls.append(("stop", ()))
        future: Future = Future()
        with self._lock:
            if self._state is S.STOPPED:
                future.set_result(None)
                return future
            self._shutdown()
        future.set_result(self._report)
        return future

    def close(self) -> None:
        """Nothing to let go: the fake takes no lock on its run directory."""

    def step(self, n: int = 1) -> int:
        """Train up to `n` batches (fewer if training parks); returns how many ran."""
        done = 0
        with self._lock:
            self._boundary()
            while done < n and self._state is S.RUNNING:
                self._train_batch()
                done += 1
                self._boundary()
        return done

    def boundary(self) -> None:
        """Reach the next batch boundary without training: queued commands land."""
        self.step(0)

    def inject(self, command: str, handler: Callable[..., Any]) -> None:
        """From now on `command` (a method name: "save", "set_callbacks") calls `handler` with
        the command's arguments instead of doing its work; what it raises is the refusal."""
        self._faults["callbacks" if command == "set_callbacks" else command] = handler

    def fail_start(self, message: str) -> None:
        """The start fails with `message` now (as a builder that raised would): the session
        parks in FAILED until a rebuild retries or a stop; a later `run()` only waits."""
        with self._lock:
            lifecycle.fail(self, message)

    # -- commands -----------------------------------------------------------------------------

    def pause(self) -> Future:
        return self._submit("pause", "pause")

    def resume(self, epochs: int | None = None) -> Future:
        if epochs is None:
            return self._submit("resume", "resume")
        return self._submit("resume", "resume", epochs)

    def set_callbacks(self, specs: list[CallbackSpec]) -> Future:
        return self._submit("set_callbacks", "callbacks", list(specs))

    def save(self, name: str | None = None) -> Future:
        return self._submit("save", "save", name)

    def load(self, ref: str) -> Future:
        return self._submit("load", "load", ref)

    def rebuild(self, seed: int | None = None) -> Future:
        return self._submit("rebuild", "rebuild", seed)

    def recompile(
        self, optimizer: str | dict | None = None, learning_rate: float | dict | None = None
    ) -> Future:
        return self._submit("recompile", "recompile", optimizer, learning_rate)

    def set_lr(self, value: float) -> Future:
        return self._submit("set_lr", "set_lr", float(value))

    def note_error(self, message: str, detail: dict | None = None) -> Future:
        return self._submit("note_error", "note_error", message, dict(detail or {}))

    def hold_at_step(self, n: int) -> Future:
        return self._hold("step", int(n))

    def hold_at_epoch(self, n: int) -> Future:
        return self._hold("epoch", int(n))

    def hold_when_finished(self) -> Future:
        return self._hold("finished", None)

    def release(self) -> None:
        self._submit("release", "release")

    # -- reads --------------------------------------------------------------------------------

    @property
    def state(self) -> S:
        return self._state

    def status(self) -> ev.Status:
        with self._lock:
            return ev.Status(
                state=self._state,
                epoch=self.epoch,
                epochs=self.target_epochs,
                step_in_epoch=self.step_in_epoch,
                steps_per_epoch=self.steps_per_epoch if self._state is not S.STARTING else 0,
                session_step=self.session_step,
                model_step=self.model_step,
                instance=self.weights.instance if self._state is not S.STARTING else 0,
                learning_rate=self.learning_rate,
                steps_per_s=STEPS_PER_S if self._state is S.RUNNING else None,
                loss=self.telemetry.latest("loss"),
                global_norm=self.weights.norm(),
                callbacks=self.callbacks,
                optimizer=self.optimizer,
                last_verdict=next((e.verdict for e in reversed(self._events) if e.verdict), None),
                message=self._message,
            )

    def events(self) -> list[ev.Event]:
        with self._lock:
            return list(self._events)

    def segments(self) -> list[ev.Segment]:
        with self._lock:
            return [ev.Segment(**vars(s)) for s in self.lineage.segments]

    def list_checkpoints(self) -> list[ev.CheckpointInfo]:
        with self._lock:
            return [info for info, _ in self.checkpoints.values()]

    def default_checkpoint_name(self) -> str:
        return f"step-{self.session_step:06d}"

    def report(self) -> dict:
        """The engine's `build_report` over this session (as the engine's own report is)."""
        with self._lock:
            if self._report is not None:
                return self._report
            return build_report(self, final=None)

    @property
    def store(self) -> Any:
        """What `build_report` reads the checkpoints from (the engine's CheckpointStore)."""
        return SimpleNamespace(list=self.list_checkpoints)

    @property
    def steps_per_epoch(self) -> int:
        return self.config.train.steps_per_epoch or 60

    # -- what the engine's trainer does -------------------------------------------------------

    def open_segment(self, origin: str | None = None) -> tuple[str, dict]:
        verdict, detail = self.lineage.judge(self.weights.fingerprint(), self.weights.instance)
        self.lineage.open(
            origin=origin or verdict,
            instance=self.weights.instance,
            session_step=self.session_step,
            model_step=self.model_step,
            fingerprint=self.weights.fingerprint(),
            callbacks=[c.label for c in self.callbacks if c.enabled],
        )
        return origin or verdict, detail

    def close_segment(self) -> None:
        self.lineage.close(self.session_step, self.weights.fingerprint())

    def record(self, kind: str, *, verdict=None, detail=None, norm_before=None) -> ev.Event:
        after = self.weights.norm()
        event = ev.Event(
            kind,
            self.session_step,
            self.model_step,
            verdict,
            dict(detail or {}),
            after if norm_before is None else norm_before,
            after,
            self.clock(),
        )
        self._events.append(event)
        self._notify(event)
        return event

    def set_state(self, state: S, reason: str = "") -> None:
        changed, self._state, self._message = state is not self._state, state, reason
        if changed:
            self._notify(ev.StateChanged(state, reason, self.session_step))

    # -- the "training thread" ----------------------------------------------------------------

    def _shutdown(self) -> None:
        self.close_segment()
        self.record("quit", detail={"epoch": self.epoch})
        final = {
            "model_step": self.model_step,
            "epoch": self.epoch,
            "loss": self.telemetry.latest("loss"),
            "global_norm": self.weights.norm(),
            "fingerprint": self.weights.fingerprint(),
        }
        self.set_state(S.STOPPED, "stopped")
        seconds = self.session_step / STEPS_PER_S
        trainer = SimpleNamespace(train_seconds=seconds, train_steps=self.session_step)
        self._report = build_report(self, final=final, trainer=trainer)
        for _, _, future in self._queue:
            future.set_exception(CommandRejected("the session has stopped"))
        for _, _, future in self.holds:
            future.set_exception(CommandRejected("the session has stopped"))
        self._queue, self.holds = [], []
        self.stopped.set()

    def _train_batch(self) -> None:
        self.weights.trained += 1
        self.session_step += 1
        self.model_step += 1
        self.step_in_epoch += 1
        x, norm = self.session_step, self.weights.norm()
        values = {"loss": self.weights.loss(x), "global_norm": norm, "lr": self.learning_rate}
        values.update({f"layer/{i}": norm * share for i, share in enumerate(LAYER_SHARE)})
        if self.step_in_epoch == self.steps_per_epoch:
            self.epoch, self.step_in_epoch = self.epoch + 1, 0
            values["val_loss"] = values["loss"] * 1.1 + 0.02
        self.telemetry.append(x, **values)
        if self.step_in_epoch == 0:
            fake_effects.epoch_ended(self)  # what the callbacks do at an epoch's end

    def _boundary(self) -> None:
        """Where the engine's boundary runs: holds, then queued commands; a run whose epochs
        are all done finishes (after the last batch's boundary, as `fit` returns)."""
        lifecycle.take_holds(self)
        queue, self._queue = self._queue, []
        for kind, args, future in queue:
            self._apply(kind, args, future)
        if self._state.parked:
            lifecycle.take_holds(self)
        if self._state is S.RUNNING and self.epoch >= self.target_epochs:
            self.close_segment()
            self.record("finished", detail={"reason": "all epochs done", "epoch": self.epoch})
            self.set_state(S.FINISHED, "all epochs done")
            lifecycle.take_holds(self)

    def _submit(self, call: str, kind: str, *args: Any) -> Future:
        """Queue a command for the next boundary (apply it now if parked or failed)."""
        self.calls.append((call, args))
        future: Future = Future()
        with self._lock:
            if self._state is S.STOPPED:
                future.set_exception(CommandRejected("the session has stopped"))
            elif self._state.parked or self._state is S.FAILED:
                self._apply(kind, args, future)
                if self._state.parked:
                    lifecycle.take_holds(self)
            else:
                self._queue.append((kind, args, future))
        return future

    def _apply(self, kind: str, args: tuple, future: Future) -> None:
        if self._state is S.FAILED and kind in ("rebuild", "callbacks"):
            return lifecycle.while_failed(self, kind, args, future)
        try:
            if self._state is S.FAILED and kind != "release":
                raise CommandRejected(f"the session could not start ({self._message})")
            if kind in self._faults:
                self._faults[kind](*args)
            future.set_result(commands.HANDLERS[kind](self, *args))
        except (CommandRejected, BadInput) as exc:
            if kind in commands.RECORDED:
                self.record("error", detail={"action": kind, "message": str(exc)})
            future.set_exception(exc)

    def _hold(self, kind: str, value: int | None) -> Future:
        self.calls.append((f"hold_{kind}", (value,)))
        future: Future = Future()
        with self._lock:
            if self._state is S.STOPPED:
                future.set_exception(CommandRejected("the session has stopped"))
            elif kind == "step" and (value or 0) < self.session_step:
                future.set_exception(
                    CommandRejected(
                        f"step {value} has already passed (session step is {self.session_step})"
                    )
                )
            else:
                self.holds.append((kind, value, future))
                if self._state.parked:
                    lifecycle.take_holds(self)
        return future

    def _notify(self, item: object) -> None:
        if self.listener is not None:
            self.listener(item)
