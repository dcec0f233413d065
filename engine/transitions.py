"""What each command does to the live model, applied on the training thread at a boundary.

`apply` returns True when the running `fit` must end so that training restarts from the
session's (epoch, step) with the new state (a load, rebuild, recompile or callback edit).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .callback_paths import PATH_ARGUMENTS, in_run_dir, recorded_paths  # noqa: F401
from .check import display_path, make_callback
from .errors import BadInput, CommandRejected
from .events import CONTINUED, OPTIMIZER_RESET, RESET, RESTORED, SessionState
from .specs import CallbackSpec

RUNNING_LIKE = (SessionState.RUNNING, SessionState.HOLDING)


def make_entries(specs: list[CallbackSpec], file, run_dir: Path) -> list:
    """Instantiate callbacks (enabled or not, so a toggle costs nothing later). The entries keep
    the spec as written; the instance gets paths inside the run directory (callback_paths.py:
    a relative path that leaves it is refused, in one line, before anything changes)."""
    shown = display_path(file) if file else ""
    return [
        (
            spec,
            make_callback(
                in_run_dir(spec, run_dir, file=shown, where=f"[[callbacks]][{i + 1}]"),
                file=file,
                index=i + 1,
            ),
        )
        for i, spec in enumerate(specs)
    ]


def apply(t, cmd) -> bool:
    handler = HANDLERS[cmd.kind]
    try:
        result, restart = handler(t, **cmd.args)
    except (BadInput, CommandRejected) as e:
        if cmd.kind in ("save", "load", "rebuild", "recompile", "callbacks", "set_lr"):
            t.record("error", detail={"action": cmd.kind, "message": str(e)})
        _fail(cmd, e)
        return False
    except Exception as e:  # user code (builder, callback constructor) or a bug: keep going
        from .trainer import Quit

        if isinstance(e, Quit):
            t.stop_future = cmd.future
            raise
        t.error(cmd.kind, e, user_code=True)
        from .trainer import one_line

        _fail(cmd, CommandRejected(f"{cmd.kind} failed: {one_line(e)}"))
        return False
    t.publish()  # before the future resolves: whoever waits on it sees the new status
    if not cmd.future.done():
        cmd.future.set_result(result)
    return restart


def _fail(cmd, exc) -> None:
    if not cmd.future.done():
        cmd.future.set_exception(exc)


def _running(t) -> bool:
    return t.session.state in RUNNING_LIKE


def _start_again(t, verdict_kind: str, detail: dict, before: float) -> tuple[str, dict]:
    """After a transition: a new segment at once if training is running."""
    if _running(t):
        verdict, more = t.open_segment()
        detail = {**detail, **more}
    else:
        verdict = verdict_kind
    return verdict, detail


def pause(t):
    s = t.session
    if s.state not in RUNNING_LIKE:
        raise CommandRejected(f"nothing to pause: training is {s.state.value}")
    t.close_segment()
    t.record("pause", detail={"epoch": t.epoch, "step_in_epoch": t.step_in_epoch})
    s._set_state(SessionState.PAUSED, "paused")
    return None, False


def resume(t, epochs: int | None = None):
    s = t.session
    if s.state in RUNNING_LIKE:
        raise CommandRejected("already running")
    if s.state is SessionState.FAILED:
        raise CommandRejected("the session could not start; see the error")
    detail = {}
    if t.epoch >= t.target_epochs:
        t.target_epochs = t.epoch + (epochs or t.config.train.epochs)
        detail["epochs"] = t.target_epochs
    verdict, more = t.open_segment()
    t.record("resume", verdict=verdict, detail={**detail, **more})
    s._set_state(SessionState.RUNNING, "running")
    return verdict, True


def release(t):
    s = t.session
    if s.state is SessionState.HOLDING:
        s._set_state(getattr(t, "resume_state", SessionState.RUNNING))
    return None, False


def stop(t):
    from .trainer import Quit

    raise Quit


def set_callbacks(t, specs):
    entries = make_entries(specs, t.config.path, t.session.run_dir)  # raises: nothing changes
    norm = t.norm()
    running = _running(t)
    if running:
        t.close_segment()
    t.dispatcher.replace(entries, t.model, t.params)
    t.session.lineage.note("callbacks")
    verdict, detail = _start_again(t, CONTINUED, {}, norm)
    t.record(
        "callbacks_changed",
        verdict=verdict,
        norm_before=norm,
        detail={
            **detail,
            "callbacks": [s.label for s in specs if s.enabled],
            "disabled": [s.label for s in specs if not s.enabled],
            "callback_paths": recorded_paths(specs, t.session.run_dir),  # for `inspect`
        },
    )
    return verdict, running


def save(t, name=None):
    name = name or t.session.default_checkpoint_name()
    from .weights import rng_variables

    fp = t.fingerprint()
    meta = {
        "model_step": t.model_step(),
        "epoch": t.epoch,
        "step_in_epoch": t.step_in_epoch,
        "session_step": t.done,
        "loss": t.last_loss,
        "global_norm": t.norm(),
        "fingerprint": fp,
        "instance": t.instance,
        "seed": t.config.run.seed,
        "optimizer": t.model.optimizer.name,
        "rng": [v.numpy().tolist() for v in rng_variables(t.model)],
    }
    info, warning = t.session.store.save(t.model, name, meta)
    detail = {"name": info.name, "path": info.path, "fingerprint": fp, "epoch": t.epoch}
    if warning:  # saved (the user asked), but it will not load: say so where it is shown
        detail["warning"] = warning
    t.record("checkpoint_saved", detail=detail)
    return info, False


def load_checkpoint(t, ref):
    norm = t.norm()
    info, manifest, with_opt = t.session.store.load(t.model, ref)  # all or nothing
    if manifest is not None:  # checked (whole numbers >= 0) before anything was assigned
        t.epoch = t.epoch if manifest.get("epoch") is None else manifest["epoch"]
        t.step_in_epoch = manifest.get("step_in_epoch") or 0
    t.session.lineage.note("load", checkpoint=info.name, optimizer_restored=with_opt)
    return info, with_opt, norm


def load(t, ref):
    running = _running(t)
    if running:
        t.close_segment()
    info, with_opt, norm = load_checkpoint(t, ref)
    detail = {
        "checkpoint": info.name,
        "path": info.path,
        "optimizer_restored": with_opt,
        "epoch": t.epoch,
        "fingerprint": t.fingerprint(),
    }
    verdict, detail = _start_again(t, RESTORED, detail, norm)
    t.record("checkpoint_loaded", verdict=verdict, norm_before=norm, detail=detail)
    _unfinish(t)
    return info, True


def rebuild(t, seed=None):
    seed = t.config.run.seed if seed is None else int(seed)
    norm = t.norm()
    model = t.build_model(seed)  # the old model stays live if the builder raises
    running = _running(t)
    if running:
        t.close_segment()
    t.model = model
    t.instance += 1
    t.epoch, t.step_in_epoch = 0, 0
    t.target_epochs = t.config.train.epochs
    t.dispatcher.restart_all()
    t.dispatcher.bind(model, t.params)
    t.session.lineage.note("rebuild")
    verdict, detail = _start_again(t, RESET, {"instance": t.instance, "seed": seed}, norm)
    t.record("rebuilt", verdict=verdict, norm_before=norm, detail=detail)
    _unfinish(t)
    return verdict, True


def recompile(t, optimizer, learning_rate=None):
    import keras

    try:
        keras.optimizers.get(optimizer)
    except ValueError:
        raise BadInput(f"recompile: unknown optimizer {optimizer!r}") from None
    norm = t.norm()
    running = _running(t)
    if running:
        t.close_segment()
    t.compile(t.model, optimizer, learning_rate)
    t.session.lineage.note("recompile")
    verdict, detail = _start_again(
        t, OPTIMIZER_RESET, {"optimizer": optimizer, "learning_rate": learning_rate}, norm
    )
    t.record("recompiled", verdict=verdict, norm_before=norm, detail=detail)
    return verdict, True


def set_lr(t, value):
    if not value > 0:
        raise BadInput(f"learning rate must be a positive number, received {value}")
    opt = t.model.optimizer
    schedule = getattr(opt, "_learning_rate", None)
    import keras

    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        raise CommandRejected(
            f"the learning rate follows a schedule ({type(schedule).__name__});"
            " recompile with a constant rate to set it"
        )
    old = float(opt.learning_rate.numpy())
    try:
        opt.learning_rate = value
    except TypeError as e:
        raise CommandRejected(f"the learning rate cannot be set: {e}") from None
    t.record("lr_changed", detail={"old": old, "new": value})
    t.publish(learning_rate=value)
    return value, False


def note_error(t, message, detail):
    t.record("error", detail={"message": message, **detail})
    return None, False


def _unfinish(t) -> None:
    """A load or rebuild after training finished: ready to train again, paused."""
    s = t.session
    if s.state is SessionState.FINISHED and t.epoch < t.target_epochs:
        s._set_state(SessionState.PAUSED, "ready: press resume to train")


HANDLERS: dict[str, Callable[..., tuple[Any, bool]]] = {
    "pause": pause,
    "resume": resume,
    "release": release,
    "stop": stop,
    "callbacks": set_callbacks,
    "save": save,
    "load": load,
    "rebuild": rebuild,
    "recompile": recompile,
    "set_lr": set_lr,
    "note_error": note_error,
}
