"""The Trainer's side of a run over several processes (engine/peers.py has the protocol).

Process 0 sends each command it applies at a boundary (`send`); a follower applies what it
receives, in the same order, at the same boundary (`follow`). When training raises because a
process is gone, `peer_failed` turns that into a clean stop. Each function takes the Trainer
(engine/trainer.py), whose context, recorder and mailbox it uses.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from ..errors import CommandRejected
from ..events import SessionState
from ..mailbox import Command
from ..peers import PeerLost
from ..specs import CallbackSpec
from . import handlers
from .flow import Quit, one_line

SKIPPED = ("note_error", "release")  # process 0's own: a note in its log, its holds


def wire_args(trainer: Any, cmd: Command) -> dict:
    """A command's arguments as the other processes apply them: a load names its file by its
    absolute path (they have no run directory of their own), callback specs are tables."""
    args = dict(cmd.args)
    if cmd.kind == "load" and args.get("ref"):
        with contextlib.suppress(Exception):  # refused here too: they refuse it the same
            args["ref"] = str(trainer.ctx.store.resolve(str(args["ref"]))[0])
    if cmd.kind == "callbacks" and args.get("specs") is not None:
        args["specs"] = [dataclasses.asdict(spec) for spec in args["specs"]]
    return args


def send(trainer: Any, peers: Any, cmd: Command) -> bool:
    """Process 0: send a command before it is applied here. False: it could not be sent and
    is refused (applied here alone, it would split the run)."""
    try:
        peers.publish(cmd.kind, wire_args(trainer, cmd))
    except (TypeError, ValueError) as e:  # not JSON: nothing was sent
        message = f"{cmd.kind}: cannot be sent to the other processes ({e})"
        trainer.recorder.record("error", detail={"action": cmd.kind, "message": message})
        if not cmd.future.done():
            cmd.future.set_exception(CommandRejected(message))
        return False
    return True


def follow(trainer: Any, peers: Any) -> None:
    """A follower's boundary: apply what process 0 applies here, in its order, until it goes
    on (`go`). A save too, into this process's scratch directory: Keras makes variables while
    it writes a file, and under a distribution across processes every variable made is a
    collective (`device_put` checks the value is the same everywhere) that all must join."""
    while True:
        kind, args = peers.receive()
        if kind == "go":
            return
        if kind in SKIPPED:
            continue
        if kind == "callbacks" and args.get("specs") is not None:
            args["specs"] = [CallbackSpec(**spec) for spec in args["specs"]]
        cmd = Command(kind, args)
        trainer.recorder.account_time()
        handlers.apply(trainer.ctx, cmd)
        if cmd.future.done() and cmd.future.exception() is not None:
            print(f"process {peers.index}: {kind}: {cmd.future.exception()}", flush=True)
        trainer._callback_effects()


def peer_failed(trainer: Any, e: BaseException) -> None:
    """Training raised in a run of several processes: a process that is gone stops the run
    (process 0: an `error` event naming it, a clean stop and the report; a follower: one line,
    then it leaves). Any other error is left to the caller (the same user-code error on every
    process pauses every one)."""
    peers = trainer.ctx.peers
    if peers is None:
        return
    gone = isinstance(e, PeerLost) or "gloo" in str(e).lower()
    if not peers.leader:
        if gone:
            print(f"process {peers.index}: stopping: {one_line(e)}", flush=True)
            raise Quit from e
        return
    lost = peers.lost(wait=3.0 if gone else 0.5)
    if lost is None and not gone:
        return
    stop_for_peer(trainer, lost or f"a process of the run is gone ({one_line(e)})")


def stop_for_peer(trainer: Any, lost: str) -> None:
    """Process 0: a follower is gone; say which, then stop cleanly (report, lock freed)."""
    message = f"{lost} at step {trainer.done}"
    trainer.recorder.record("error", detail={"action": "training", "message": message})
    trainer.mailbox.set_state(SessionState.PAUSED, message)
    trainer.recorder.publish()
    raise Quit
