"""What the engine tells the outside world: states, verdicts, events and segments.

Everything here is plain data (no TensorFlow, no Textual). Names are past-tense facts.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

# Verdicts: what a transition did to the weights (DESIGN.md, "what really happens").
CONTINUED = "continued"
RESTORED = "restored"
RESET = "reset"
OPTIMIZER_RESET = "optimizer_reset"
ALTERED = "altered"  # a user's callback changed the weights between two batches
FRESH = "fresh"  # origin of the first segment only
VERDICTS = (CONTINUED, RESTORED, RESET, OPTIMIZER_RESET)  # the four things a person does
ALL_VERDICTS = (*VERDICTS, ALTERED)  # and what a user's callback may do on its own

VERDICT_WORDS = {
    CONTINUED: "continued: same model instance, same optimizer - training goes on",
    RESTORED: "restored: weights loaded from a checkpoint",
    RESET: "reset: new model instance, fresh weights - model step 0",
    OPTIMIZER_RESET: "optimizer_reset: weights kept, optimizer state dropped - model step 0",
    ALTERED: "altered: a callback changed the weights between two batches",
    FRESH: "fresh: first model instance, random initial weights",
}


class SessionState(StrEnum):
    """Where the training thread is."""

    STARTING = "starting"  # importing TensorFlow, building the model
    RUNNING = "running"
    PAUSED = "paused"  # parked between batches by a person
    HOLDING = "holding"  # parked at a script trigger, waiting for release()
    FINISHED = "finished"  # all epochs done (or a callback stopped training); still usable
    STOPPED = "stopped"  # quit; the thread has returned
    FAILED = "failed"  # could not start (builder or data raised); see the error event

    @property
    def parked(self) -> bool:
        return self in (SessionState.PAUSED, SessionState.HOLDING, SessionState.FINISHED)


@dataclass
class Event:
    """One line of events.jsonl and of the report's `events`."""

    kind: str
    session_step: int
    model_step: int
    verdict: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    norm_before: float | None = None
    norm_after: float | None = None
    time: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Segment:
    """A stretch of training between two transitions (the report's `segments`)."""

    index: int
    origin: str
    instance: int
    start_session_step: int
    start_model_step: int
    start_fingerprint: str
    callbacks: list[str]
    end_session_step: int | None = None
    end_fingerprint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "origin": self.origin,
            "instance": self.instance,
            "start_session_step": self.start_session_step,
            "end_session_step": self.end_session_step,
            "start_model_step": self.start_model_step,
            "start_fingerprint": self.start_fingerprint,
            "end_fingerprint": self.end_fingerprint,
            "callbacks": list(self.callbacks),
        }


@dataclass(frozen=True)
class StateChanged:
    """Posted to the listener whenever the session's state changes."""

    state: SessionState
    reason: str = ""
    session_step: int = 0


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint as the picker and `inspect` show it."""

    name: str
    path: str
    source: str  # "weightwatch" (with manifest) or "file" (any other .weights.h5)
    model_step: int | None = None
    epoch: int | None = None
    step_in_epoch: int | None = None
    loss: float | None = None
    global_norm: float | None = None
    fingerprint: str | None = None
    has_optimizer: bool | None = None
    data_exact: bool | None = None  # False: a resume starts the epoch's data from its start
    created: float | None = None  # unix time
    size: int | None = None
    loadable: bool | None = None
    problem: str | None = None  # why it is not loadable

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Status:
    """A consistent snapshot of the session for the status line (cheap; read at UI rate)."""

    state: SessionState
    epoch: int  # the model's epoch counter: completed epochs
    epochs: int  # target
    step_in_epoch: int
    steps_per_epoch: int
    session_step: int
    model_step: int
    instance: int
    learning_rate: float | None
    steps_per_s: float | None
    loss: float | None
    global_norm: float | None
    callbacks: tuple = ()  # CallbackSpec, enabled and disabled
    optimizer: str = ""
    last_verdict: str | None = None
    message: str = ""  # why parked / finished, or the last error
    steps_per_execution: int = 1  # batches per train-function call: a boundary every this many
    strategy: str = "default"  # `[run] strategy`: "default" (one device) or "mirrored"
    replicas: int = 1  # model replicas training in step (the strategy's devices)
    devices: tuple = ()  # under "mirrored": "CPU:0", "GPU:1", ...
    backend: str = "tensorflow"  # Keras's backend: "tensorflow" or "jax" (`[run] backend`)
