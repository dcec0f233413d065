"""A deterministic stand-in for `weightwatch.engine.session.Session`, for tests and snapshots.

Same interface as the real session (commands return futures, reads are cheap and thread-safe, the
listener gets `Event` and `StateChanged` objects), but nothing is trained: a synthetic feed derives
the loss and the weight norms from a counter of "batches these weights have seen". Rebuild sets it
back to zero (the norm trace jumps back to its initial level), load puts back the checkpoint's
value, recompile keeps it but zeroes the model step. A test double: the real engine replaces it.

Without `rate`, nothing moves until a test calls `step(n)`; commands sent while running land at
the next boundary (the start of the next `step()` or `boundary()` call), and at once while parked.
With `rate`, `run()` trains `rate` batches per second by itself.

It stays one module, a little over the usual size, because it mirrors one class of the engine
and tests read it side by side with `engine/session.py`.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from weightwatch.engine import events as ev
from weightwatch.engine.errors import BadInput, CheckpointError, CommandRejected
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.report import EVENT_KEYS
from weightwatch.engine.specs import (
    CallbackSpec,
    CompileSpec,
    Config,
    DataSpec,
    ModelSpec,
    RunSpec,
    TrainSpec,
)
from weightwatch.engine.telemetry import TelemetryStore

OPTIMIZERS = (
    "adam",
    "adamw",
    "sgd",
    "rmsprop",
    "adagrad",
    "adadelta",
    "adamax",
    "nadam",
    "ftrl",
    "lion",
)
# The optimizer's class name, as the engine's status carries it ("Adam", not Keras' "adam_1").
CLASS_NAMES = {name: name.capitalize() for name in OPTIMIZERS} | {
    "adamw": "AdamW",
    "sgd": "SGD",
    "rmsprop": "RMSprop",
}
LAYERS = ("dense", "dense_1", "dense_2")
LAYER_SHARE = (0.62, 0.71, 0.33)  # each layer's share of the global norm (squares sum to ~1)
STEPS_PER_S = 480.0  # fixed, so that snapshots are deterministic
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def fake_config(
    run_dir: Path,
    *,
    epochs: int = 4,
    steps_per_epoch: int = 60,
    callbacks: tuple[CallbackSpec, ...] = (),
) -> Config:
    """A config the fake can run (nothing in it is ever imported)."""
    return Config(
        path=run_dir / "fake.toml",
        run=RunSpec(name="fake", run_dir=run_dir, seed=0),
        model=ModelSpec(builder="fake:model"),
        compile=CompileSpec(optimizer="adam", learning_rate=1e-3),
        data=DataSpec(),
        train=TrainSpec(epochs=epochs, steps_per_epoch=steps_per_epoch),
        callbacks=callbacks,
    )


@dataclass
class _Weights:
    """What a real model's weights boil down to here."""

    instance: int = 1
    seed: int = 0
    trained: int = 0  # batches these weights have seen
    bump_at: int = -(10**9)  # `trained` when the optimizer state was last dropped

    def norm(self) -> float:
        start = 8.0 + 0.4 * (self.seed % 5)
        return start + 6.0 * (1.0 - math.exp(-self.trained / 120.0))

    def loss(self, session_step: int) -> float:
        base = 0.08 + 1.2 * math.exp(-self.trained / 60.0)
        bump = 0.35 * math.exp(-(self.trained - self.bump_at) / 12.0)  # Adam moments lost
        return base * (1.0 + 0.12 * math.sin(session_step * 0.7)) + bump

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.instance}:{self.seed}:{self.trained}".encode()).hexdigest()


class FakeSession:
    """Same interface as the engine's `Session`; see the module docstring."""

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
        self.rate = rate
        self.calls: list[tuple[str, tuple]] = []  # every command, in order, for tests
        self._clock, self._from = clock, from_checkpoint
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._state = S.STARTING
        self._w = _Weights(seed=self.config.run.seed)
        self._session_step = self._model_step = self._epoch = self._in_epoch = 0
        self._optimizer = self.config.compile.optimizer
        self._lr = self.config.compile.learning_rate or 1e-3
        self._callbacks = tuple(self.config.callbacks)
        self._events: list[ev.Event] = []
        self._segments: list[ev.Segment] = []
        self._checkpoints: dict[str, tuple[ev.CheckpointInfo, _Weights, int, int]] = {}
        self._queue: list[tuple[str, Callable[[], Any], Future]] = []
        self._target = self.config.train.epochs  # a resume after the end adds as many again
        self._holds: list[tuple[str, int | None, Future]] = []
        self._pending_origin: str | None = None
        self._held_from = S.RUNNING

    # -- lifecycle ----------------------------------------------------------------------------

    def run(self) -> None:
        """Start, then train at `rate` (if any) until `stop()`; parks like the real one."""
        with self._lock:
            self.telemetry.set_layer_names(list(LAYERS))
            origin = ev.RESTORED if self._from else ev.FRESH
            if self._from:
                self._load_now(self._from)
            self._new_segment(origin)
            self._emit(
                "started",
                origin,
                {
                    "instance": 1,
                    "seed": self._w.seed,
                    "epochs": self._target,
                    "from": self._from,
                    "run_dir": str(self.run_dir),
                },
            )
            self._set_state(S.RUNNING, "started")
            self._boundary()
        while not self._stopped.is_set():
            if not self.rate:
                self._stopped.wait()
            elif self._state is S.RUNNING:
                self.step(1)
                self._stopped.wait(1.0 / self.rate)
            else:
                self._stopped.wait(0.02)

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

    # -- commands -----------------------------------------------------------------------------

    def pause(self) -> Future:
        return self._command("pause")

    def resume(self, epochs: int | None = None) -> Future:
        return self._command("resume") if epochs is None else self._command("resume", epochs)

    def stop(self) -> Future:
        self.calls.append(("stop", ()))
        with self._lock:
            if self._state is not S.STOPPED:
                self._end_segment()
                self._emit("quit", detail={"epoch": self._epoch})
                self._set_state(S.STOPPED, "quit")
            self._stopped.set()
        future: Future = Future()
        future.set_result(None)
        return future

    def set_callbacks(self, specs: list[CallbackSpec]) -> Future:
        return self._command("set_callbacks", list(specs))

    def save(self, name: str | None = None) -> Future:
        return self._command("save", name)

    def load(self, ref: str) -> Future:
        return self._command("load", ref)

    def rebuild(self, seed: int | None = None) -> Future:
        return self._command("rebuild", seed)

    def recompile(self, optimizer: str, learning_rate: float | None = None) -> Future:
        return self._command("recompile", optimizer, learning_rate)

    def set_lr(self, value: float) -> Future:
        return self._command("set_lr", value)

    def hold_at_step(self, n: int) -> Future:
        return self._hold("step", n)

    def hold_at_epoch(self, n: int) -> Future:
        return self._hold("epoch", n)

    def hold_when_finished(self) -> Future:
        return self._hold("finished", None)

    def release(self) -> None:
        self.calls.append(("release", ()))
        with self._lock:
            if self._state is S.HOLDING:  # back to where the hold found it, as the engine does
                self._set_state(self._held_from, "released")

    def note_error(self, message: str, detail: dict) -> None:
        with self._lock:
            self._emit("error", detail={"message": message, **detail})

    # -- reads --------------------------------------------------------------------------------

    def status(self) -> ev.Status:
        with self._lock:
            return ev.Status(
                state=self._state,
                epoch=self._epoch,
                epochs=self._target,
                step_in_epoch=self._in_epoch,
                steps_per_epoch=self._steps_per_epoch,
                session_step=self._session_step,
                model_step=self._model_step,
                instance=self._w.instance,
                learning_rate=self._lr,
                steps_per_s=STEPS_PER_S if self._state is S.RUNNING else None,
                loss=self.telemetry.latest("loss"),
                global_norm=self._w.norm(),
                callbacks=self._callbacks,
                optimizer=CLASS_NAMES.get(self._optimizer, self._optimizer),
                last_verdict=next((e.verdict for e in reversed(self._events) if e.verdict), None),
            )

    def events(self) -> list[ev.Event]:
        with self._lock:
            return list(self._events)

    def segments(self) -> list[ev.Segment]:
        with self._lock:
            return list(self._segments)

    def list_checkpoints(self) -> list[ev.CheckpointInfo]:
        with self._lock:
            return [info for info, *_ in self._checkpoints.values()]

    def default_checkpoint_name(self) -> str:
        return f"step-{self._session_step:06d}"

    def report(self) -> dict:
        with self._lock:
            checkpoints = [
                {
                    "name": i.name,
                    "path": i.path,
                    "model_step": i.model_step,
                    "epoch": i.epoch,
                    "fingerprint": i.fingerprint,
                }
                for i, *_ in self._checkpoints.values()
            ]
            final = {
                "model_step": self._model_step,
                "epoch": self._epoch,
                "loss": self.telemetry.latest("loss"),
                "global_norm": self._w.norm(),
                "fingerprint": self._w.fingerprint(),
            }
            return {
                "session_steps": self._session_step,
                "segments": [s.to_json() for s in self._segments],
                "events": [{k: getattr(e, k) for k in EVENT_KEYS} for e in self._events],
                "checkpoints": checkpoints,
                "final": final,
                "throughput": {"steps_per_s": STEPS_PER_S},
            }

    # -- the "training thread" ----------------------------------------------------------------

    @property
    def _steps_per_epoch(self) -> int:
        return self.config.train.steps_per_epoch or 60

    def _train_batch(self) -> None:
        self._w.trained += 1
        self._session_step += 1
        self._model_step += 1
        self._in_epoch += 1
        x, norm = self._session_step, self._w.norm()
        values = {"loss": self._w.loss(x), "global_norm": norm, "lr": self._lr}
        values.update({f"layer/{i}": norm * share for i, share in enumerate(LAYER_SHARE)})
        if self._in_epoch == self._steps_per_epoch:
            self._epoch, self._in_epoch = self._epoch + 1, 0
            values["val_loss"] = values["loss"] * 1.1 + 0.02
        self.telemetry.append(x, **values)
        if self._in_epoch == 0 and self._epoch >= self._target:
            self._emit("finished", detail={"reason": "all epochs done", "epoch": self._epoch})
            self._set_state(S.FINISHED, "all epochs done")

    def _boundary(self) -> None:
        """Where the real engine's control callback runs: commands land, holds park."""
        queue, self._queue = self._queue, []
        for name, apply, future in queue:
            self._settle(name, apply, future)
        for hold in list(self._holds):
            kind, value, future = hold
            reached = {
                "step": self._session_step == value,
                "epoch": self._epoch == value,
                "finished": self._state is S.FINISHED,
            }[kind]
            if reached and self._state in (S.RUNNING, S.FINISHED, S.HOLDING):
                self._holds.remove(hold)
                if self._state is not S.HOLDING:
                    self._held_from = self._state
                    self._set_state(S.HOLDING, f"script trigger {kind} {value}")
                future.set_result(self._session_step)

    def _command(self, name: str, *args: Any) -> Future:
        """Queue `_do_<name>(*args)` for the next boundary (run it now if parked)."""
        self.calls.append((name, args))
        apply = partial(getattr(self, f"_do_{name}"), *args)
        future: Future = Future()
        with self._lock:
            if self._state in (S.STARTING, S.STOPPED, S.FAILED):
                future.set_exception(
                    CommandRejected(f"cannot {name} while the session is {self._state.value}")
                )
            elif self._state.parked:
                self._settle(name, apply, future)
            else:
                self._queue.append((name, apply, future))
        return future

    def _settle(self, name: str, apply: Callable[[], Any], future: Future) -> None:
        try:
            future.set_result(apply())
        except (CommandRejected, BadInput) as exc:
            if name not in ("pause", "resume"):  # as the engine does
                action = "callbacks" if name == "set_callbacks" else name
                self._emit("error", detail={"action": action, "message": str(exc)})
            future.set_exception(exc)

    def _hold(self, kind: str, value: int | None) -> Future:
        self.calls.append((f"hold_{kind}", (value,)))
        future: Future = Future()
        with self._lock:
            self._holds.append((kind, value, future))
            if self._state in (S.HOLDING, S.FINISHED):
                self._boundary()
        return future

    # -- what each command does, at a boundary -------------------------------------------------

    def _do_pause(self) -> None:
        if self._state in (S.PAUSED, S.FINISHED):
            raise CommandRejected(f"nothing to pause: training is {self._state.value}")
        self._emit("pause", detail={"epoch": self._epoch, "step_in_epoch": self._in_epoch})
        self._set_state(S.PAUSED, "paused by a person")

    def _do_resume(self, epochs: int | None = None) -> None:
        if self._state is S.HOLDING:
            raise CommandRejected("already running")
        detail = {}
        if self._epoch >= self._target:
            self._target = detail["epochs"] = self._epoch + (epochs or self.config.train.epochs)
        self._emit("resume", self._pending_origin or ev.CONTINUED, detail)
        self._pending_origin = None
        self._set_state(S.RUNNING, "resumed")

    def _do_set_callbacks(self, specs: list[CallbackSpec]) -> None:
        self._end_segment()
        self._callbacks = tuple(specs)
        detail = {
            "callbacks": [s.label for s in specs if s.enabled],
            "disabled": [s.label for s in specs if not s.enabled],
        }
        self._transition("callbacks_changed", ev.CONTINUED, detail, self._w.norm())

    def _do_save(self, name: str | None) -> ev.CheckpointInfo:
        name = name or self.default_checkpoint_name()
        if not _NAME.fullmatch(name):
            raise CheckpointError(
                f"checkpoint name {name!r}: expected letters, digits, '-', '_' and '.'"
            )
        path = self.run_dir / "checkpoints" / f"{name}.weights.h5"
        info = ev.CheckpointInfo(
            name=name,
            path=str(path),
            source="weightwatch",
            model_step=self._model_step,
            epoch=self._epoch,
            step_in_epoch=self._in_epoch,
            loss=self.telemetry.latest("loss"),
            global_norm=self._w.norm(),
            fingerprint=self._w.fingerprint(),
            has_optimizer=True,
            created=self._clock(),
            size=48_213,
            loadable=True,
        )
        self._checkpoints[name] = (info, replace(self._w), self._model_step, self._epoch)
        self._emit(
            "checkpoint_saved",
            detail={
                "name": name,
                "path": str(path),
                "epoch": self._epoch,
                "fingerprint": info.fingerprint,
            },
        )
        return info

    def _do_load(self, ref: str) -> ev.CheckpointInfo:
        before, found = self._w.norm(), self._find(ref)
        self._end_segment()
        info = self._load_now(ref, found)
        self._transition(
            "checkpoint_loaded",
            ev.RESTORED,
            {
                "checkpoint": info.name,
                "path": info.path,
                "optimizer_restored": True,
                "epoch": info.epoch,
                "fingerprint": info.fingerprint,
            },
            before,
        )
        return info

    def _find(self, ref: str) -> tuple[ev.CheckpointInfo, _Weights, int, int]:
        found = self._checkpoints.get(ref) or next(
            (c for c in self._checkpoints.values() if c[0].path == ref), None
        )
        if found is None:
            raise CheckpointError(
                f"{ref}: no checkpoint of that name in "
                f"{self.run_dir / 'checkpoints'} and no such file"
            )
        return found

    def _load_now(self, ref: str, found: tuple | None = None) -> ev.CheckpointInfo:
        info, weights, self._model_step, self._epoch = found or self._find(ref)
        self._w, self._in_epoch = replace(weights), info.step_in_epoch or 0
        return info

    def _do_rebuild(self, seed: int | None) -> None:
        seed, before = (self._w.seed + 1 if seed is None else seed), self._w.norm()
        self._end_segment()
        self._w = _Weights(instance=self._w.instance + 1, seed=seed)
        self._model_step = self._epoch = self._in_epoch = 0
        self._transition("rebuilt", ev.RESET, {"instance": self._w.instance, "seed": seed}, before)

    def _do_recompile(self, optimizer: str, learning_rate: float | None) -> None:
        if optimizer not in OPTIMIZERS:
            raise BadInput(f"optimizer {optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
        self._end_segment()
        self._optimizer, self._model_step = optimizer, 0
        self._lr = learning_rate or self._lr
        self._w.bump_at = self._w.trained
        self._transition(
            "recompiled",
            ev.OPTIMIZER_RESET,
            {"optimizer": optimizer, "learning_rate": self._lr},
            self._w.norm(),
        )

    def _do_set_lr(self, value: float) -> None:
        if not value > 0:
            raise BadInput(f"learning rate: expected a number > 0, received {value}")
        old, self._lr = self._lr, float(value)
        self._emit("lr_changed", detail={"old": old, "new": self._lr})

    # -- events and lineage -------------------------------------------------------------------

    def _transition(self, kind: str, verdict: str, detail: dict, before: float) -> None:
        self._new_segment(verdict)
        self._pending_origin = None if self._state is S.RUNNING else verdict
        self._emit(kind, verdict, detail, before)

    def _end_segment(self) -> None:
        if self._segments:
            self._segments[-1].end_session_step = self._session_step
            self._segments[-1].end_fingerprint = self._w.fingerprint()

    def _new_segment(self, origin: str) -> None:
        self._segments.append(
            ev.Segment(
                index=len(self._segments),
                origin=origin,
                instance=self._w.instance,
                start_session_step=self._session_step,
                start_model_step=self._model_step,
                start_fingerprint=self._w.fingerprint(),
                callbacks=[c.label for c in self._callbacks if c.enabled],
            )
        )

    def _emit(
        self,
        kind: str,
        verdict: str | None = None,
        detail: dict | None = None,
        before: float | None = None,
    ) -> None:
        after = self._w.norm()
        event = ev.Event(
            kind,
            self._session_step,
            self._model_step,
            verdict,
            detail or {},
            after if before is None else before,
            after,
            self._clock(),
        )
        self._events.append(event)
        self._notify(event)

    def _set_state(self, state: S, reason: str = "") -> None:
        self._state = state
        self._notify(ev.StateChanged(state, reason, self._session_step))

    def _notify(self, item: object) -> None:
        if self.listener is not None:
            self.listener(item)
