"""The session protocol's frames and requests (docs/protocol.md), shared by server and client.

A frame is a 4-byte big-endian length and one UTF-8 JSON object. Nothing here touches a session:
it only turns bytes into checked plain dicts and back, so the fuzz tests can drive it alone.
"""

from __future__ import annotations

import asyncio
import json
import math
import struct
from typing import Any

from ..errors import BadInput

VERSION = 1
HEADER = struct.Struct(">I")
MAX_REQUEST = 1 << 20  # a client's frame (commands, reads): 1 MiB
MAX_REPLY = 64 << 20  # a server's frame (a telemetry snapshot of a long run): 64 MiB
MAX_QUEUED = 2048  # pushed frames waiting for one viewer before it is dropped

CALLS = (
    "pause",
    "resume",
    "set_callbacks",
    "save",
    "load",
    "rebuild",
    "recompile",
    "set_lr",
    "note_error",
    "stop",
    "hold_at_step",
    "hold_at_epoch",
    "hold_when_finished",
    "release",
)
READS = (
    "status",
    "events",
    "segments",
    "checkpoints",
    "default_checkpoint_name",
    "report",
    "viewers",
)
OPS = ("hello", "call", "read", "telemetry", "subscribe", "bye")


class ProtocolError(Exception):
    """A frame that breaks the protocol: one line; the connection is closed after the reply."""


def encode(message: dict[str, Any], limit: int = MAX_REPLY) -> bytes:
    """One frame: `message` (plain data) with the version added."""
    return frame_of(dumps({"v": VERSION, **message}).encode(), limit)


def dumps(value: Any) -> str:
    """Plain data as the frames' JSON (NaN travels; anything not plain is a TypeError)."""
    return json.dumps(value, allow_nan=True, separators=(",", ":"), default=_refuse)


def frame_of(body: bytes, limit: int = MAX_REPLY) -> bytes:
    """A frame around a body already encoded (one object with `"v"`: `encode` or a reply put
    together from parts encoded once for every viewer)."""
    if len(body) > limit:
        raise ProtocolError(f"frame of {len(body)} bytes is over the limit of {limit}")
    return HEADER.pack(len(body)) + body


def _refuse(value: Any) -> Any:
    raise TypeError(f"not plain data: {type(value).__qualname__}")


def decode(body: bytes) -> dict[str, Any]:
    """A frame's body as a dict with the right version, or ProtocolError."""
    try:
        message = json.loads(body.decode("utf-8"), parse_constant=_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"not UTF-8 JSON: {type(exc).__name__}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"expected a JSON object, received a {type(message).__name__}")
    if message.get("v") != VERSION:
        raise ProtocolError(
            f"unsupported protocol version {message.get('v')!r} (this side speaks {VERSION})"
        )
    return message


def _constant(name: str) -> float:
    """NaN and infinities travel (a diverged loss is a value to show), nothing else."""
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


async def read_frame(reader: asyncio.StreamReader, limit: int) -> dict[str, Any] | None:
    """The next frame, None at a clean end of stream; ProtocolError for a bad or truncated one."""
    try:
        head = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("truncated frame header") from None
        return None
    (size,) = HEADER.unpack(head)
    if size == 0 or size > limit:
        raise ProtocolError(f"frame length {size} is outside 1..{limit}")
    try:
        body = await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise ProtocolError(f"truncated frame: expected {size} bytes") from None
    return decode(body)


def check_request(message: dict[str, Any]) -> dict[str, Any]:
    """A client's frame, checked field by field (before anything acts on it)."""
    op = message.get("op")
    if op not in OPS:
        raise ProtocolError(f"unknown op {_short(op)}; expected one of {', '.join(OPS)}")
    rid = message.get("id")
    if op != "bye" and (type(rid) is not int or not 0 <= rid < 2**53):
        raise ProtocolError(f"{op}: expected an integer id, received {_short(rid)}")
    if op == "hello":
        for key in ("token", "viewer"):
            if message.get(key) is not None and not isinstance(message[key], str):
                raise ProtocolError(f"hello: {key} must be a string")
    elif op == "call":
        if message.get("method") not in CALLS:
            raise ProtocolError(f"call: unknown method {_short(message.get('method'))}")
        if not isinstance(message.get("args", {}), dict):
            raise ProtocolError("call: args must be an object")
    elif op == "read":
        if message.get("what") not in READS:
            raise ProtocolError(f"read: unknown what {_short(message.get('what'))}")
        since = message.get("since", 0)
        if type(since) is not int or since < 0:
            raise ProtocolError("read: since must be a non-negative integer")
    elif op == "subscribe":
        if not isinstance(message.get("status", False), bool):
            raise ProtocolError("subscribe: status must be true or false")
    elif op == "telemetry":
        cursor = message.get("cursor")
        if cursor is not None and (type(cursor) is not int or cursor < 0):
            raise ProtocolError("telemetry: cursor must be null or a non-negative integer")
    return message


# Each call's arguments and the JSON types they may have (engine/api.py). A session checks its
# commands' values on the training thread, at a boundary, where a value of the wrong type must
# never arrive: a remote one (anything at all) is checked here first.
_NUMBER = "number"
ARGS: dict[str, dict[str, tuple]] = {
    "pause": {},
    "resume": {"epochs": (int, None)},
    "set_callbacks": {"specs": (list,)},
    "save": {"name": (str, None)},
    "load": {"ref": (str,)},
    "rebuild": {"seed": (int, None)},
    "recompile": {"optimizer": (str, dict, None), "learning_rate": (_NUMBER, dict, None)},
    "set_lr": {"value": (_NUMBER,)},
    "note_error": {"message": (str,), "detail": (dict, None)},
    "stop": {},
    "hold_at_step": {"n": (int,)},
    "hold_at_epoch": {"n": (int,)},
    "hold_when_finished": {},
    "release": {},
}
_NAMES: dict[Any, str] = {int: "an integer", str: "a string", list: "a list", dict: "an object"}
_NAMES |= {None: "null", _NUMBER: "a number"}


def check_args(method: str, args: dict[str, Any]) -> None:
    """A call's argument names and JSON types; BadInput (one line) for the first wrong one."""
    allowed = ARGS[method]
    for key, value in args.items():
        if key not in allowed:
            takes = ", ".join(allowed) or "no arguments"
            raise BadInput(f"call {method}: unknown argument {_short(key)} (takes {takes})")
        if not any(_is(value, kind) for kind in allowed[key]):
            wanted = " or ".join(_NAMES[kind] for kind in allowed[key])
            raise BadInput(f"call {method}: {key} must be {wanted}, received {_short(value)}")


def _is(value: Any, kind: Any) -> bool:
    if kind is None:
        return value is None
    if kind == _NUMBER:
        return type(value) in (int, float)
    return type(value) is kind  # bool is not an int here: True is no seed


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
