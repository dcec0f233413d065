"""A session whose start failed stays open, in state FAILED, until the person retries or quits.

The start fails when the user's builder, data loader or a callback's constructor raises, or when
`--from` names a checkpoint that does not fit the model. The error and its traceback are an
`error` event (and `errors.log`); then the training thread parks here. A `rebuild` command
retries the start: the user's own modules that the config names (and that live beside it) are
reloaded first, so a fix made in the editor is picked up. Callback edits made meanwhile are used
by the retry. A checkpoint from `--from` that did not fit is dropped: the retry starts fresh.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

from .errors import BadInput, CheckpointError, CommandRejected
from .events import SessionState
from .specs import Config

RETRY_HINT = "fix it, then press r to retry"


def failed_to_start(t, exc: Exception) -> None:
    """Record why the start failed (with the traceback if user code raised) and go FAILED."""
    from .trainer import one_line

    s = t.session
    t.error("start", exc, user_code=raised_by_user_code(exc))
    if isinstance(exc, CheckpointError) and s.from_checkpoint:
        s.from_checkpoint = None  # it will not fit next time either: the retry starts fresh
    if t.retry is not None:
        t.retry.set_exception(CommandRejected(f"the session could not start: {one_line(exc)}"))
        t.retry = None
    s._set_state(SessionState.FAILED, f"{one_line(exc)} - {RETRY_HINT}")


def raised_by_user_code(exc: BaseException) -> bool:
    """True when the user's own code raised (the traceback helps); False for plain bad input."""
    return not isinstance(exc, BadInput) or isinstance(exc.__cause__, Exception)


def wait_for_retry(t) -> bool:
    """Park in FAILED. True: retry the start now (a rebuild came); False: stop."""
    s = t.session
    while True:
        cmd = s._pop_command()
        if cmd is None:
            s._wait(0.5)
        elif cmd.kind == "stop":
            t.stop_future = cmd.future
            return False
        elif cmd.kind == "rebuild":
            if prepare_retry(t, cmd):
                return True
        elif cmd.kind == "callbacks":
            t.config = replace(t.config, callbacks=tuple(cmd.args["specs"]))
            s._update_status(callbacks=t.config.callbacks)
            cmd.future.set_result(None)
        elif cmd.kind != "release":
            cmd.future.set_exception(
                CommandRejected(f"the session could not start ({s.status().message})")
            )


def prepare_retry(t, cmd) -> bool:
    """Reload the user's modules and forget the failed attempt; False if a reload failed."""
    t.retry = cmd.future
    t.model, t.probe, t.instance = None, None, 0
    try:
        reload_user_modules(t.config)
    except Exception as e:  # the fixed file does not even import: still FAILED
        failed_to_start(t, e)
        return False
    return True


def user_module_names(config: Config) -> list[str]:
    """The modules named by the config's builder, loader and `module:Class` callbacks."""
    specs = [config.model.builder, config.data.loader or ""]
    specs += [c.type for c in config.callbacks if ":" in c.type]
    return list(dict.fromkeys(spec.partition(":")[0] for spec in specs if ":" in spec))


def reload_user_modules(config: Config) -> list[str]:
    """Reload the user's imported modules that live in the config's folder (never a library).

    Modules that failed to import are not in `sys.modules`: the retry imports them afresh.
    """
    folder = config.folder.resolve()
    reloaded = []
    for name in user_module_names(config):
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if module is None or not file or folder not in Path(file).resolve().parents:
            continue
        # The bytecode cache goes by mtime and size: an edit within the same second that kept
        # the size would be missed.
        Path(importlib.util.cache_from_source(file)).unlink(missing_ok=True)
        importlib.reload(module)
        reloaded.append(name)
    return reloaded


def started(t) -> None:
    """The start worked: a pending retry succeeded."""
    if t.retry is not None:
        t.retry.set_result("fresh")
        t.retry = None
