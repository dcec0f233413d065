"""What each command does to the fake's "model", at a boundary: engine/transitions.py's rules.

One handler per command, `(fake, *args) -> result`, each resolving its future with what the
engine's resolves with (see `weightwatch.engine.api`). Verdicts come from the engine's own
`Lineage`, checkpoint names from `engine.checkpoints.check_name`, callback paths from
`engine.callback_paths` - so these rules cannot drift from the engine's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from weightwatch.engine import events as ev
from weightwatch.engine.callback_paths import in_run_dir, recorded_paths
from weightwatch.engine.checkpoints import check_name
from weightwatch.engine.errors import BadInput, CheckpointError, CommandRejected
from weightwatch.engine.events import SessionState as S

from .fake_model import CLASS_NAMES, OPTIMIZERS, Weights

if TYPE_CHECKING:
    from .fake_session import FakeSession

RUNNING_LIKE = (S.RUNNING, S.HOLDING)
# Commands whose refusal is also an `error` event (as in the engine).
RECORDED = ("save", "load", "rebuild", "recompile", "callbacks", "set_lr")


def _start_again(f: FakeSession, verdict_kind: str, detail: dict) -> tuple[str, dict]:
    """After a transition: a new segment at once if training is running (else at resume)."""
    if f.state in RUNNING_LIKE:
        verdict, more = f.open_segment()
        return verdict, {**detail, **more}
    return verdict_kind, detail


def pause(f: FakeSession) -> None:
    if f.state not in RUNNING_LIKE:
        raise CommandRejected(f"nothing to pause: training is {f.state.value}")
    f.close_segment()
    f.record("pause", detail={"epoch": f.epoch, "step_in_epoch": f.step_in_epoch})
    f.set_state(S.PAUSED, "paused")


def resume(f: FakeSession, epochs: int | None = None) -> str:
    if f.state in RUNNING_LIKE:
        raise CommandRejected("already running")
    if f.state is S.FAILED:
        raise CommandRejected("the session could not start; see the error")
    detail = {}
    if f.epoch >= f.target_epochs:
        f.target_epochs = f.epoch + (epochs or f.config.train.epochs)
        detail["epochs"] = f.target_epochs
    verdict, more = f.open_segment()
    f.record("resume", verdict=verdict, detail={**detail, **more})
    f.set_state(S.RUNNING, "running")
    return verdict


def release(f: FakeSession) -> None:
    if f.state is S.HOLDING:
        f.set_state(f.resume_state, "")


def set_callbacks(f: FakeSession, specs: list) -> str:
    for i, spec in enumerate(specs):  # a path that leaves the run directory: nothing changes
        in_run_dir(spec, f.run_dir, file=f.config.path.name, where=f"[[callbacks]][{i + 1}]")
    norm = f.weights.norm()
    if f.state in RUNNING_LIKE:
        f.close_segment()
    f.callbacks = tuple(specs)
    f.lineage.note("callbacks")
    verdict, detail = _start_again(f, ev.CONTINUED, {})
    f.record(
        "callbacks_changed",
        verdict=verdict,
        norm_before=norm,
        detail={
            **detail,
            "callbacks": [s.label for s in specs if s.enabled],
            "disabled": [s.label for s in specs if not s.enabled],
            "callback_paths": recorded_paths(specs, f.run_dir),
        },
    )
    return verdict


def save(f: FakeSession, name: str | None = None) -> ev.CheckpointInfo:
    name = check_name(name or f.default_checkpoint_name())
    path = f.run_dir / "checkpoints" / f"{name}.weights.h5"
    info = ev.CheckpointInfo(
        name=name,
        path=str(path),
        source="weightwatch",
        model_step=f.model_step,
        epoch=f.epoch,
        step_in_epoch=f.step_in_epoch,
        loss=f.telemetry.latest("loss"),
        global_norm=f.weights.norm(),
        fingerprint=f.weights.fingerprint(),
        has_optimizer=True,
        created=f.clock(),
        size=48_213,
        loadable=True,
    )
    f.checkpoints[name] = (info, replace(f.weights))
    detail = {"name": name, "path": str(path), "fingerprint": info.fingerprint, "epoch": f.epoch}
    f.record("checkpoint_saved", detail=detail)
    return info


def find(f: FakeSession, ref: str) -> tuple[ev.CheckpointInfo, Weights]:
    found = f.checkpoints.get(ref) or next(
        (c for c in f.checkpoints.values() if c[0].path == ref), None
    )
    if found is None:
        raise CheckpointError(
            f"{ref}: no checkpoint of that name in {f.run_dir / 'checkpoints'} and no such file"
        )
    return found


def load_checkpoint(f: FakeSession, ref: str) -> ev.CheckpointInfo:
    """Put a checkpoint's weights and position back (all or nothing: `find` raises first)."""
    info, weights = find(f, ref)
    f.weights = replace(weights)
    f.model_step, f.epoch = info.model_step or 0, info.epoch or 0
    f.step_in_epoch = info.step_in_epoch or 0
    f.lineage.note("load", checkpoint=info.name, optimizer_restored=True)
    return info


def load(f: FakeSession, ref: str) -> ev.CheckpointInfo:
    norm = f.weights.norm()
    find(f, ref)  # refused before the segment closes: nothing changes
    if f.state in RUNNING_LIKE:
        f.close_segment()
    info = load_checkpoint(f, ref)
    detail = {
        "checkpoint": info.name,
        "path": info.path,
        "optimizer_restored": True,
        "epoch": f.epoch,
        "fingerprint": f.weights.fingerprint(),
    }
    verdict, detail = _start_again(f, ev.RESTORED, detail)
    f.record("checkpoint_loaded", verdict=verdict, norm_before=norm, detail=detail)
    _unfinish(f)
    return info


def rebuild(f: FakeSession, seed: int | None = None) -> str:
    seed = f.config.run.seed if seed is None else int(seed)
    norm = f.weights.norm()
    if f.state in RUNNING_LIKE:
        f.close_segment()
    f.weights = Weights(instance=f.weights.instance + 1, seed=seed)
    f.model_step = f.epoch = f.step_in_epoch = 0
    f.target_epochs = f.config.train.epochs
    f.lineage.note("rebuild")
    verdict, detail = _start_again(f, ev.RESET, {"instance": f.weights.instance, "seed": seed})
    f.record("rebuilt", verdict=verdict, norm_before=norm, detail=detail)
    _unfinish(f)
    return verdict


def recompile(f: FakeSession, optimizer: Any = None, learning_rate: Any = None) -> str:
    # The engine's forms: a name, a {type = ...} table, or nothing (the config's own).
    name = str(optimizer.get("type", "")) if isinstance(optimizer, dict) else optimizer
    name = f.optimizer if name is None else name
    if name.lower() not in OPTIMIZERS:
        raise BadInput(f"recompile: unknown optimizer {name!r}")
    norm = f.weights.norm()
    if f.state in RUNNING_LIKE:
        f.close_segment()
    f.optimizer = CLASS_NAMES[name.lower()]
    f.model_step, f.weights.bump_at = 0, f.weights.trained
    constant = isinstance(learning_rate, (int, float))  # a schedule table: no constant rate
    f.learning_rate = learning_rate if constant else (None if learning_rate else f.learning_rate)
    f.lineage.note("recompile")
    detail = {"optimizer": optimizer, "learning_rate": learning_rate}
    verdict, detail = _start_again(f, ev.OPTIMIZER_RESET, detail)
    f.record("recompiled", verdict=verdict, norm_before=norm, detail=detail)
    return verdict


def set_lr(f: FakeSession, value: float) -> float:
    if not value > 0:
        raise BadInput(f"learning rate must be a positive number, received {value}")
    old, f.learning_rate = f.learning_rate, float(value)
    f.record("lr_changed", detail={"old": old, "new": f.learning_rate})
    return f.learning_rate


def note_error(f: FakeSession, message: str, detail: dict) -> None:
    f.record("error", detail={"message": message, **detail})


def _unfinish(f: FakeSession) -> None:
    """A load or rebuild after training finished: ready to train again, paused."""
    if f.state is S.FINISHED and f.epoch < f.target_epochs:
        f.set_state(S.PAUSED, "ready: press resume to train")


HANDLERS: dict[str, Callable[..., Any]] = {
    "pause": pause,
    "resume": resume,
    "release": release,
    "callbacks": set_callbacks,
    "save": save,
    "load": load,
    "rebuild": rebuild,
    "recompile": recompile,
    "set_lr": set_lr,
    "note_error": note_error,
}
