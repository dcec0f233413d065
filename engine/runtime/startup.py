"""Start-up of the training thread, a failed start, and its retry.

The start fails when the user's builder, data loader or a callback's constructor raises, or when
`--from` names a checkpoint that does not fit the model. The error and its traceback are an
`error` event (and `errors.log`); then the training thread parks in FAILED. A `rebuild` command
retries the start: the user's own modules that the config names (and that live beside it) are
reloaded first (engine/restart.py), so a fix made in the editor is picked up. Callback edits
made meanwhile are used by the retry. A checkpoint from `--from` that did not fit is dropped:
the retry starts fresh.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from .. import backend, peers
from ..callback_paths import recorded_paths
from ..callbacks import make_entries
from ..compilenames import check_optimizer
from ..datafiles import read_data
from ..devices import make_strategy
from ..errors import CheckpointError, CommandRejected, ConfigError
from ..events import SessionState
from ..feeds import make_feed, validation_of
from ..feeds_loader import split
from ..mailbox import Command
from ..restart import RETRY_HINT, raised_by_user_code, reload_user_modules
from ..trial import check_val_shapes
from ..usercode import display_path, ensure_on_path, resolve_import
from .building import batch_structure
from .context import Context
from .flow import one_line
from .handlers import START_OF_EPOCH, load_checkpoint


def fix_numerics() -> None:
    """What `deterministic = true` needs beyond the feed's fixed order and the RNG state that
    every checkpoint carries. On a GPU that is op determinism (its kernels are not deterministic
    without it). On the CPU it is nothing: its kernels already give the same bits run after run,
    and op determinism only swaps the fused cross-entropy for a slower composite and stops the
    feed's prefetch, ~6-7 % of a small MLP's steps/s (docs/determinism-findings.md)."""
    from ..backend import is_jax

    if is_jax():  # XLA on the CPU is deterministic; a GPU would need XLA's flag (not built)
        return
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        tf.config.experimental.enable_op_determinism()


def _from_path(ctx: Context) -> str | None:
    """`--from` as an absolute file path, which the other processes of a run load too."""
    if not ctx.from_checkpoint:
        return None
    try:
        return str(ctx.store.resolve(ctx.from_checkpoint)[0])
    except CheckpointError:
        return None  # process 0's start says what is wrong with it


def share_feed(feed: Any, peers: Any, file: str) -> None:
    """Each process of a run of several feeds its own rows of every global batch."""
    from ..data import BatchFeed

    if not isinstance(feed, BatchFeed):
        raise ConfigError(
            f"{file}: [run].processes = {peers.count}: takes data as arrays (a .npz/.csv file "
            "or a loader returning arrays), not a dataset or generator"
        )
    try:
        feed.share(peers.index, peers.count)
    except ConfigError as e:
        raise ConfigError(f"{file}: {e}") from None


def prepare(ctx: Context) -> tuple[Any, Any]:
    """Data, feed, model and callbacks from the config: the feed and the validation data
    (arrays or a pipeline, as `fit`'s validation_data)."""
    cfg = ctx.config
    ensure_on_path(cfg.folder)
    st = ctx.state
    # First: a CPU split must happen before anything initialises TensorFlow's devices; the
    # other processes of a run of several start before JAX does (engine/peers.py).
    if cfg.run.processes > 1 and ctx.peers is None:
        ctx.peers = peers.start(cfg, ctx.run_dir, _from_path(ctx))
    st.strategy, st.placement = make_strategy(cfg.run, display_path(cfg.path), ctx.peers)
    if cfg.run.deterministic:
        fix_numerics()
    # A loader's pipeline takes its shuffle seeds from the global seed in force when it is
    # made: seeded here, its order is the run's (as in a script that seeds, then loads), not
    # whatever this process did before; a resumed run makes the same pipeline again.
    backend.set_random_seed(cfg.run.seed, tensorflow=cfg.data.loader is not None)
    data = split(read_data(cfg), cfg.data.validation_split)
    file = display_path(cfg.path)
    check_val_shapes(cfg, file, data)  # else Keras fails at the first epoch's end
    feed = make_feed(cfg, data, file, reload=lambda: read_data(cfg))
    if ctx.peers is not None:
        share_feed(feed, ctx.peers, file)
    st.batch_source = partial(batch_structure, feed)  # builds an unbuilt model (building.py)
    st.builder = resolve_import(cfg.model.builder, "[model].builder", file)
    check_optimizer(cfg.compile.optimizer, "[compile].optimizer", file)
    st.model = st.build_model(cfg.run.seed, name_key=True)
    st.instance = 1
    entries = make_entries(list(cfg.callbacks), file, ctx.run_dir)
    ctx.dispatcher.replace(entries)
    return feed, validation_of(data)


def begin(ctx: Context, feed=None) -> None:
    """The first segment (from `--from`'s checkpoint if given: its epoch, step, RNG and the
    `feed`'s data position, carried in the file itself) and the `started` event."""
    origin, more = "fresh", {}
    if ctx.from_checkpoint:
        *_, exact = load_checkpoint(ctx, ctx.from_checkpoint, feed)
        origin = "restored"
        more = {} if exact else {"data_position": START_OF_EPOCH}
    ctx.open_segment(origin)
    ctx.recorder.record(
        "started",
        verdict=origin,
        detail={
            "instance": ctx.state.instance,
            "seed": ctx.config.run.seed,
            "epochs": ctx.state.target_epochs,
            "from": ctx.from_checkpoint,
            "run_dir": str(ctx.run_dir),
            "callback_paths": recorded_paths(ctx.config.callbacks, ctx.run_dir),
            **more,
            # under a strategy, where it trains ("mirrored x2 (CPU:0, CPU:1)"); the report's
            # `strategy` says it for every run
            **({"strategy": label} if (label := ctx.state.placement.label()) else {}),
            **({"backend": "jax"} if ctx.config.run.backend == "jax" else {}),
        },
    )


def failed_to_start(ctx: Context, exc: Exception) -> None:
    """Record why the start failed (with the traceback if user code raised) and go FAILED."""
    ctx.recorder.error("start", exc, user_code=raised_by_user_code(exc))
    if isinstance(exc, CheckpointError) and ctx.from_checkpoint:
        ctx.from_checkpoint = None  # it will not fit next time either: the retry starts fresh
    if ctx.retry is not None:
        ctx.retry.set_exception(CommandRejected(f"the session could not start: {one_line(exc)}"))
        ctx.retry = None
    ctx.set_state(SessionState.FAILED, f"{one_line(exc)} - {RETRY_HINT}")


def started(ctx: Context) -> None:
    """The start worked: a pending retry succeeded."""
    if ctx.retry is not None:
        ctx.retry.set_result("fresh")
        ctx.retry = None


def wait_for_retry(ctx: Context) -> bool:
    """Park in FAILED. True: retry the start now (a rebuild came); False: stop."""
    box = ctx.mailbox
    while True:
        cmd = box.pop()
        if cmd is None:
            box.wait(0.5)
        elif cmd.kind == "stop":
            ctx.stop_future = cmd.future
            return False
        elif cmd.kind == "rebuild":
            if _prepare_retry(ctx, cmd):
                return True
        elif cmd.kind == "callbacks":
            ctx.config = replace(ctx.config, callbacks=tuple(cmd.args["specs"]))
            box.update_status(callbacks=ctx.config.callbacks)
            cmd.future.set_result(None)
        elif cmd.kind != "release":
            cmd.future.set_exception(
                CommandRejected(f"the session could not start ({box.status.message})")
            )


def _prepare_retry(ctx: Context, cmd: Command) -> bool:
    """Reload the user's modules and forget the failed attempt; False if a reload failed."""
    ctx.retry = cmd.future
    ctx.state.forget()
    try:
        reload_user_modules(ctx.config)
    except Exception as e:  # the fixed file does not even import: still FAILED
        failed_to_start(ctx, e)
        return False
    return True
