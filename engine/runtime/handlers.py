"""What each command does to the live model, on the training thread, at a boundary.

One function per command of the registry (`engine/commands.py`, whose `handler` names it here);
each takes the typed `Context` and the command's arguments and returns the future's result.
`apply` runs one: a refusal resolves the future with the one-line error (and is an `error` event
where the registry says so). Training then goes on in the same loop (`ctx.loop`, a TrainLoop):
a handler that changes the model or the callbacks tells the loop (`model_changed`,
`set_callbacks`, `set_epochs`), and nothing restarts.
"""

from __future__ import annotations

import sys
from typing import Any

import keras

from ..callback_paths import recorded_paths
from ..callbacks import make_entries
from ..commands import command
from ..compileforms import recompile_forms, recompile_spec
from ..errors import BadInput, CommandRejected
from ..events import SessionState
from ..mailbox import Command
from ..specs import CallbackSpec
from ..weights import rng_variables
from . import gcfreeze
from .context import RUNNING_LIKE, Context
from .flow import Quit, one_line

START_OF_EPOCH = "start of epoch"  # what a checkpoint of a feed that cannot save its place says


def apply(ctx: Context, cmd: Command) -> None:
    """Run one command and resolve its future."""
    spec = command(cmd.kind)
    handler = getattr(sys.modules[__name__], spec.handler)
    try:
        result = handler(ctx, **cmd.args)
    except (BadInput, CommandRejected) as e:
        if spec.logs_errors:
            ctx.recorder.record("error", detail={"action": cmd.kind, "message": str(e)})
        _fail(cmd, e)
        return
    except Quit:
        ctx.stop_future = cmd.future
        raise
    except Exception as e:  # user code (builder, callback constructor) or a bug: keep going
        ctx.recorder.error(cmd.kind, e, user_code=True)
        _fail(cmd, CommandRejected(f"{cmd.kind} failed: {one_line(e)}"))
        return
    ctx.recorder.publish()  # before the future resolves: whoever waits on it sees the new status
    if not cmd.future.done():
        cmd.future.set_result(result)


def _fail(cmd: Command, exc: BaseException) -> None:
    if not cmd.future.done():
        cmd.future.set_exception(exc)


def pause(ctx: Context) -> None:
    if not ctx.running():
        raise CommandRejected(f"nothing to pause: training is {ctx.session_state.value}")
    ctx.close_segment()
    st = ctx.state
    ctx.recorder.record("pause", detail={"epoch": st.epoch, "step_in_epoch": st.step_in_epoch})
    ctx.set_state(SessionState.PAUSED, "paused")


def resume(ctx: Context, epochs: int | None = None) -> str:
    if ctx.session_state in RUNNING_LIKE:
        raise CommandRejected("already running")
    if ctx.session_state is SessionState.FAILED:
        raise CommandRejected("the session could not start; see the error")
    st, detail = ctx.state, {}
    if st.epoch >= st.target_epochs:
        st.target_epochs = st.epoch + (epochs or ctx.config.train.epochs)
        detail["epochs"] = st.target_epochs
        ctx.loop.set_epochs(st.target_epochs)
    verdict, more = ctx.open_segment()
    ctx.recorder.record("resume", verdict=verdict, detail={**detail, **more})
    ctx.set_state(SessionState.RUNNING, "running")
    return verdict


def release(ctx: Context) -> None:
    if ctx.session_state is SessionState.HOLDING:
        ctx.set_state(ctx.resume_state)


def stop(ctx: Context) -> None:
    raise Quit


def set_callbacks(ctx: Context, specs: list[CallbackSpec]) -> str:
    entries = make_entries(specs, ctx.config.path, ctx.run_dir)  # raises: nothing changes
    entries = _kept(ctx.dispatcher.entries, entries)
    norm = ctx.state.norm()
    if ctx.running():
        ctx.close_segment()
    ctx.dispatcher.replace(entries)
    ctx.loop.set_callbacks(ctx.dispatcher.active)  # leaving: on_train_end; joining: begin
    ctx.lineage.note("callbacks")
    verdict, detail = ctx.verdict_after("callbacks")
    ctx.recorder.record(
        "callbacks_changed",
        verdict=verdict,
        norm_before=norm,
        detail={
            **detail,
            "callbacks": [s.label for s in specs if s.enabled],
            "disabled": [s.label for s in specs if not s.enabled],
            "callback_paths": recorded_paths(specs, ctx.run_dir),  # for `inspect`
        },
    )
    return verdict


def _kept(old: list, new: list) -> list:
    """A callback whose type and arguments the edit left as they were stays the same instance
    (its state - EarlyStopping's patience, a logger's file - goes on, and it sees one `fit`);
    the others are the new instances."""
    pool = list(old)
    out = []
    for spec, cb in new:
        same = next((e for e in pool if (e[0].type, e[0].kwargs) == (spec.type, spec.kwargs)), None)
        if same is not None:
            pool.remove(same)
            cb = same[1]
        out.append((spec, cb))
    return out


def save(ctx: Context, name: str | None = None) -> Any:
    name = name or ctx.default_checkpoint_name()
    st = ctx.state
    fp = st.fingerprint()
    meta = {
        "model_step": st.model_step(),
        "epoch": st.epoch,
        "step_in_epoch": st.step_in_epoch,
        "session_step": st.done,
        "loss": ctx.recorder.last_loss,
        "global_norm": st.norm(),
        "fingerprint": fp,
        "instance": st.instance,
        "seed": ctx.config.run.seed,
        "optimizer": st.model.optimizer.name,
        "rng": [v.numpy().tolist() for v in rng_variables(st.model)],
    }
    resume, exact = _resume_record(ctx, meta)
    meta["data_exact"] = exact
    info, warning = ctx.store.save(st.model, name, meta, resume)
    detail = {"name": info.name, "path": info.path, "fingerprint": fp, "epoch": st.epoch}
    if not exact:
        detail["data_position"] = START_OF_EPOCH
    if warning:  # saved (the user asked), but it will not load: say so where it is shown
        detail["warning"] = warning
    ctx.recorder.record("checkpoint_saved", detail=detail)
    return info


def _resume_record(ctx: Context, meta: dict) -> tuple[dict, bool]:
    """What the file itself carries so that `--from` resumes from it anywhere (engine/resume.py),
    and whether the feed's position is exact (else a resume starts the epoch's data again)."""
    from ..resume import numerics

    feed: Any = ctx.loop.feed if ctx.loop is not None else None
    exact = bool(getattr(feed, "exact_position", True))
    state = feed.position_state() if exact and hasattr(feed, "position_state") else None
    record = {k: meta[k] for k in ("epoch", "step_in_epoch", "model_step", "seed", "fingerprint")}
    record |= numerics() | {"deterministic": bool(ctx.config.run.deterministic)}
    record |= {"data_exact": exact, "rng": meta["rng"], "data_state": state}
    return record, exact


def load_checkpoint(ctx: Context, ref: str, feed: Any = None) -> tuple[Any, bool, float, bool]:
    """Assign a checkpoint's weights (all or nothing) and take its position: the epoch, the step
    in it and the feed's data position (`feed`: the loop's unless given). The last value: is the
    data position exact (False: the epoch's data starts again from its beginning)?"""
    st = ctx.state
    norm = st.norm()
    info, where, with_opt = ctx.store.load(st.model, ref)
    exact = True
    if where is not None:  # checked (whole numbers >= 0) before anything was assigned
        st.epoch = st.epoch if where["epoch"] is None else where["epoch"]
        st.step_in_epoch = where["step_in_epoch"]
        feed = feed if feed is not None else getattr(ctx.loop, "feed", None)
        exact = where["data_exact"] and bool(getattr(feed, "exact_position", True))
        if hasattr(feed, "restore_position"):
            feed.restore_position(
                where["data_state"] if exact else None, st.epoch, st.step_in_epoch
            )
    ctx.lineage.note("load", checkpoint=info.name, optimizer_restored=with_opt)
    return info, with_opt, norm, exact


def _model_changed(ctx: Context, model=None) -> None:
    """The loop goes on from the state's (epoch, step) with the new weights or model; its
    metrics start again here (the epoch record's `covers_from`)."""
    st = ctx.state
    if st.step_in_epoch >= ctx.loop.feed.steps_per_epoch:  # taken after the epoch's last batch
        st.epoch, st.step_in_epoch = st.epoch + 1, 0
    ctx.loop.model_changed(model, epoch=st.epoch, step=st.step_in_epoch)


def load(ctx: Context, ref: str) -> Any:
    # The segment closes only once the load has happened: a refused file changes nothing, and
    # training goes on in the same segment. Its end is the weights from before the load.
    end = ctx.state.fingerprint() if ctx.running() else None
    info, with_opt, norm, exact = load_checkpoint(ctx, ref)
    if end is not None:
        ctx.close_segment(end)
    _model_changed(ctx)
    detail = {
        "checkpoint": info.name,
        "path": info.path,
        "optimizer_restored": with_opt,
        "epoch": ctx.state.epoch,
        "fingerprint": ctx.state.fingerprint(),
    }
    if not exact:
        detail["data_position"] = START_OF_EPOCH
    verdict, more = ctx.verdict_after("load")
    detail = {**detail, **more}
    ctx.recorder.record("checkpoint_loaded", verdict=verdict, norm_before=norm, detail=detail)
    _unfinish(ctx)
    return info


def rebuild(ctx: Context, seed: int | None = None) -> str:
    seed = ctx.config.run.seed if seed is None else int(seed)
    st = ctx.state
    norm = st.norm()
    model = st.build_model(seed)  # the old model stays live if the builder raises
    if ctx.running():
        ctx.close_segment()
    st.replace_model(model)
    _model_changed(ctx, model)  # epoch 0, batch 0: the same run goes on with the new model
    ctx.loop.set_epochs(st.target_epochs)
    ctx.lineage.note("rebuild")
    verdict, detail = ctx.verdict_after("rebuild")
    detail = {"instance": st.instance, "seed": seed, **detail}
    ctx.recorder.record("rebuilt", verdict=verdict, norm_before=norm, detail=detail)
    _unfinish(ctx)
    gcfreeze.release()  # the old model and its traced functions may go
    return verdict


def recompile(ctx: Context, optimizer: Any = None, learning_rate: Any = None) -> str:
    """Every form `[compile] optimizer` / `learning_rate` takes (plain data); neither given:
    the config's `[compile]` afresh. What they name is made before anything changes."""
    recompile_forms(optimizer, learning_rate, "recompile", "", BadInput)
    spec = recompile_spec(ctx.config.compile, optimizer, learning_rate)
    st = ctx.state
    step = st.prepare_compile(st.model, spec, file="recompile", where="", error=BadInput)
    norm = st.norm()
    if ctx.running():
        ctx.close_segment()
    step()
    ctx.loop.model_changed()  # the loop picks up the new train function at the boundary
    ctx.lineage.note("recompile")
    verdict, detail = ctx.verdict_after("recompile")
    if optimizer is None:  # what the config's own compile made: its optimizer, or its function
        optimizer = spec.optimizer if not spec.function else f"function {spec.function}"
    detail = {"optimizer": optimizer, "learning_rate": learning_rate, **detail}
    ctx.recorder.record("recompiled", verdict=verdict, norm_before=norm, detail=detail)
    gcfreeze.release()  # the old optimizer and train function may go
    return verdict


def set_lr(ctx: Context, value: float) -> float:
    if not value > 0:
        raise BadInput(f"learning rate must be a positive number, received {value}")
    opt = ctx.state.model.optimizer
    schedule = getattr(opt, "_learning_rate", None)  # Keras's own attribute: a schedule or not
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
    ctx.recorder.record("lr_changed", detail={"old": old, "new": value})
    ctx.recorder.publish(learning_rate=value)
    return value


def note_error(ctx: Context, message: str, detail: dict) -> None:
    ctx.recorder.record("error", detail={"message": message, **detail})


def _unfinish(ctx: Context) -> None:
    """A load or rebuild after training finished: ready to train again, paused."""
    if ctx.session_state is SessionState.FINISHED and ctx.state.epoch < ctx.state.target_epochs:
        ctx.set_state(SessionState.PAUSED, "ready: press resume to train")
