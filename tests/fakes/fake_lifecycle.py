"""The fake's start, failed start and retry (engine/runtime/startup.py, restart.py) and its
holds (the mailbox's `take_holds` and the trainer's check), as functions on the fake."""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING

from weightwatch.engine import events as ev
from weightwatch.engine.errors import CommandRejected
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.lineage import Lineage

from . import fake_commands as commands
from .fake_model import LAYERS, Weights

if TYPE_CHECKING:
    from .fake_session import FakeSession

RETRY_HINT = "fix it, then press r to retry"  # engine/restart.py's words


def start(f: FakeSession) -> None:
    """The first segment and the `started` event, then RUNNING and the first boundary."""
    f.telemetry.set_layer_names(list(LAYERS))
    origin = ev.FRESH
    if f.from_checkpoint:
        commands.load_checkpoint(f, f.from_checkpoint)
        origin = ev.RESTORED
    f.open_segment(origin)
    detail = {
        "instance": f.weights.instance,
        "seed": f.weights.seed,
        "epochs": f.target_epochs,
        "from": f.from_checkpoint,
        "run_dir": str(f.run_dir),
        "callback_paths": commands.recorded_paths(f.callbacks, f.run_dir),
    }
    f.record("started", verdict=origin, detail=detail)
    f.set_state(S.RUNNING)
    f.boundary()


def fail(f: FakeSession, message: str) -> None:
    f.record("error", detail={"action": "start", "message": message})
    f.set_state(S.FAILED, f"{message} - {RETRY_HINT}")


def while_failed(f: FakeSession, kind: str, args: tuple, future: Future) -> None:
    """engine/restart.py: a callback edit is kept for the retry; a rebuild retries."""
    if kind == "callbacks":
        f.callbacks = tuple(args[0])
        future.set_result(None)
        return
    f.lineage, f.weights = Lineage(), Weights(seed=f.config.run.seed)
    start(f)
    future.set_result("fresh")


def take_holds(f: FakeSession) -> None:
    """Holds due now resolve (and hold a running or finished run); holds passed fail."""
    now = {"step": f.session_step, "epoch": f.epoch, "finished": None}
    keep = []
    for kind, value, future in f.holds:
        at = now[kind]
        if future.cancelled():
            continue  # its viewer went away (engine/remote/server.py): as the mailbox drops it
        if kind == "finished":
            hit = f.state is S.FINISHED
        else:
            hit = value == at and (kind == "step" or f.step_in_epoch == 0)
        if hit:
            if f.state in (S.RUNNING, S.FINISHED):
                f.resume_state = f.state
                where = f"{kind} {value}" if f.state is S.RUNNING else "finish"
                f.set_state(S.HOLDING, f"held at {where}")
            future.set_result(f.session_step)
        elif at is not None and value is not None and value <= at:
            future.set_exception(
                CommandRejected(f"{kind} {value} has already passed ({kind} is {at})")
            )
        else:
            keep.append((kind, value, future))
    f.holds = keep
