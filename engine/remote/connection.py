"""One viewer's connection, and the reply frames the server sends (engine/remote/server.py)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future
from typing import Any

from ..api import plain
from ..errors import BadInput, CommandRejected
from ..specs import CallbackSpec
from . import protocol as p

REFUSALS = (CommandRejected, BadInput)


class Connection:
    """One viewer: its outgoing queue (bounded) and what `viewers` says about it."""

    def __init__(self, writer: asyncio.StreamWriter, transport: str) -> None:
        self.writer = writer
        self.transport = transport
        self.viewer = "viewer"
        self.since = time.time()
        self.subscribed = False
        self.status_pushes = False  # subscribed with `status: true`: pushed, never polled
        self.closed = False
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(p.MAX_QUEUED)
        # Holds this viewer asked for: pending ones are cancelled when it goes away, and one
        # the session is parked at is released then (nobody else would release it).
        self.holds: list[Future] = []

    def send(self, frame: bytes) -> bool:
        """Queue a frame without waiting; False (and the connection dropped) when full."""
        if self.closed:
            return False
        try:
            self.queue.put_nowait(frame)
            return True
        except asyncio.QueueFull:
            self.drop()
            return False

    def drop(self) -> None:
        """Close at once, unsent frames lost (a viewer that stopped reading re-reads)."""
        self.closed = True
        self.writer.transport.abort()

    def plain(self) -> dict[str, Any]:
        return {"viewer": self.viewer, "transport": self.transport, "since": self.since}


def specs_from(raw: Any) -> list[CallbackSpec]:
    if not isinstance(raw, list):
        raise BadInput("call set_callbacks: specs must be a list of {type, enabled, kwargs}")
    specs = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise BadInput(f"call set_callbacks: specs[{i}] must be an object with a type")
        kwargs, enabled = item.get("kwargs", {}), item.get("enabled", True)
        if not isinstance(kwargs, dict) or not isinstance(enabled, bool):
            raise BadInput(f"call set_callbacks: specs[{i}]: kwargs an object, enabled a bool")
        specs.append(CallbackSpec(item["type"], enabled, dict(kwargs)))
    return specs


def reply(rid: int, result: Any) -> bytes:
    try:
        return p.encode({"id": rid, "ok": True, "result": plain(result)})
    except (TypeError, ValueError, p.ProtocolError) as e:  # a session bug, said as one line
        return error_frame(rid, "CommandRejected", f"the result could not be sent: {one_line(e)}")


BAD_INPUT_KINDS = ("CheckpointError", "ConfigError", "ScriptError")  # engine/errors.py's


def refusal(rid: int, exc: BaseException) -> bytes:
    kind = "BadInput" if isinstance(exc, BadInput) else "CommandRejected"
    if type(exc).__name__ in BAD_INPUT_KINDS:  # the viewer raises the same class (docs/protocol)
        kind = type(exc).__name__
    return error_frame(rid, kind, one_line(exc, with_type=False))


def error_frame(rid: int | None, kind: str, message: str) -> bytes:
    return p.encode({"id": rid, "ok": False, "error": {"type": kind, "message": message}})


def request_id(msg: dict[str, Any] | None) -> int | None:
    rid = msg.get("id") if isinstance(msg, dict) else None
    return rid if type(rid) is int and 0 <= rid < 2**53 else None


def one_line(error: BaseException, with_type: bool = True) -> str:
    first = next(iter(str(error).strip().splitlines()), "")[:500]
    if not with_type:
        return first or type(error).__name__
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def printable(name: str) -> str:
    return "".join(ch for ch in name if ch.isprintable())[:40] or "viewer"
