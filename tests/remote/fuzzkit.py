"""Cases for the protocol fuzz tests (test_fuzz.py): seeded, so every failure names its seed
and case and replays exactly. Each case is the bytes one connection sends and what the server
must do with them:

- `Case.bad`: a frame that breaks the protocol; the server answers with exactly one
  ProtocolError frame (or nothing, when the bytes end cleanly before a header) and closes.
- otherwise a well-formed request with random values: a reply with the request's id (ok, or a
  BadInput / CommandRejected refusal) and the connection stays open.
"""

from __future__ import annotations

import json
import random
import socket
import string
import struct
from dataclasses import dataclass
from pathlib import Path

from weightwatch.engine.remote import protocol as p

from .wire import recv_exactly

# Methods a client may send that would legitimately stop or park the session (or end a run):
# the fuzz sends them only with an argument they do not take, which must be refused before the
# session sees the call.
HALTING = ("pause", "stop", "hold_at_step", "hold_at_epoch", "hold_when_finished", "resume")
FREE = tuple(m for m in p.CALLS if m not in HALTING)
# Each method's keyword arguments (engine/api.py), so that values of the wrong type reach the
# checks behind the signature, not only an unknown name.
PARAMS = {
    "save": ("name",),
    "load": ("ref",),
    "rebuild": ("seed",),
    "recompile": ("optimizer", "learning_rate"),
    "set_lr": ("value",),
    "note_error": ("message", "detail"),
    "set_callbacks": ("specs",),
}
HEADER = struct.Struct(">I")
T = 10.0


@dataclass
class Case:
    name: str
    data: bytes
    bad: bool
    rid: int | None = None
    halting: bool = False  # a halting method with a bogus argument: BadInput, never the session


def junk(rng: random.Random, depth: int = 0):
    """A random JSON value (nested a little)."""
    kinds = ["int", "float", "str", "bool", "null"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 1, 2**31, 2**53, -(2**63), rng.randrange(-1000, 1000)])
    if kind == "float":
        return rng.choice([0.5, -1e308, 1e-3, 3.0, rng.uniform(-10, 10)])
    if kind == "str":
        alphabet = string.printable + "é✓\x00/.."
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [junk(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {junk_key(rng): junk(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def junk_key(rng: random.Random) -> str:
    return rng.choice(["name", "ref", "seed", "value", "specs", "optimizer", "x", "", "../a"])


def frame(obj, version=p.VERSION) -> bytes:
    body = json.dumps({"v": version, **obj} if isinstance(obj, dict) else obj).encode()
    return HEADER.pack(len(body)) + body


def raw_body(body: bytes) -> bytes:
    return HEADER.pack(len(body)) + body


def bad_case(rng: random.Random, i: int) -> Case:
    """One frame that breaks the protocol, of a random kind."""
    kind = rng.choice(
        [
            "bytes",
            "truncated",
            "oversized",
            "zero",
            "notjson",
            "notobject",
            "version",
            "op",
            "types",
        ]
    )
    if kind == "bytes":
        data = rng.randbytes(rng.randrange(1, 2048))
    elif kind == "truncated":
        whole = frame({"op": "read", "id": i, "what": "status"})
        data = whole[: rng.randrange(1, len(whole))]
    elif kind == "oversized":
        data = HEADER.pack(rng.randrange(p.MAX_REQUEST + 1, 2**32)) + rng.randbytes(64)
    elif kind == "zero":
        data = HEADER.pack(0) + rng.randbytes(rng.randrange(0, 8))
    elif kind == "notjson":
        data = raw_body(rng.choice([b"\xff\xfe", b"{", b"{'op': 1}", b"NaN-", rng.randbytes(9)]))
    elif kind == "notobject":
        data = frame(rng.choice([[1, 2], "hello", 3, None, True]))
    elif kind == "version":
        data = frame({"op": "read", "id": i, "what": "status"}, rng.choice([0, 2, "1", None]))
    elif kind == "op":
        op = rng.choice([junk(rng), "Call", "READ", "shutdown", "eval", "", None])
        data = frame({"op": op, "id": i})
    else:
        data = frame(wrong_types(rng, i))
    return Case(f"bad:{kind}", data, bad=True)


def wrong_types(rng: random.Random, i: int) -> dict:
    """A request with one field of the wrong type or value (docs/protocol.md: ProtocolError)."""
    return rng.choice(
        [
            {"op": "read", "id": rng.choice(["1", 1.5, -1, True, None, 2**60]), "what": "status"},
            {"op": "read", "id": i, "what": rng.choice(["model", "__dict__", 1, None, "Status"])},
            {"op": "read", "id": i, "what": "events", "since": rng.choice([-1, "0", 1.5, None])},
            {"op": "telemetry", "id": i, "cursor": rng.choice([-5, "0", 1.5, [], {}])},
            {"op": "call", "id": i, "method": rng.choice(["__init__", "model", "close", 3])},
            {"op": "call", "id": i, "method": "save", "args": rng.choice([[], "x", 1])},
            {"op": "hello", "id": i, "viewer": rng.choice([1, [], {}])},
        ]
    )


def good_case(rng: random.Random, i: int) -> Case:
    """A well-formed request with random values."""
    op = rng.choice(["read", "read", "telemetry", "subscribe", "hello", "call", "call", "call"])
    msg: dict = {"op": op, "id": i}
    halting = False
    if op == "read":
        msg["what"] = rng.choice(p.READS)
        if msg["what"] == "events":
            msg["since"] = rng.choice([0, 1, 5, 10**9])
    elif op == "telemetry":
        msg["cursor"] = rng.choice([None, 0, 1, 10**12])
    elif op == "hello":
        msg["viewer"] = junk(rng) if rng.random() < 0.2 else "fuzz"
        if not isinstance(msg["viewer"], str):
            msg["viewer"] = str(msg["viewer"])
    elif op == "call":
        halting = rng.random() < 0.3
        msg["method"] = rng.choice(HALTING if halting else FREE)
        params = PARAMS.get(msg["method"], ())
        if params and rng.random() < 0.7:  # the method's own arguments, values of any type
            args = {k: junk(rng) for k in params if rng.random() < 0.8}
        else:
            args = {junk_key(rng): junk(rng) for _ in range(rng.randrange(0, 3))}
        if halting:
            args["no_such_argument"] = junk(rng)
        msg["args"] = args
    return Case(
        f"good:{op}:{msg.get('method', msg.get('what', ''))}", frame(msg), False, i, halting
    )


def cases(seed: int, n: int) -> list[Case]:
    rng = random.Random(seed)
    return [bad_case(rng, i) if rng.random() < 0.5 else good_case(rng, i) for i in range(n)]


class Raw:
    """A raw connection: send bytes, read frames until the server closes."""

    def __init__(self, address: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(T)
        self.sock.connect(str(address))

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused early (an oversized header) and closed: that is allowed

    def end_writing(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def frame(self) -> dict | None:
        """The next frame, None when the server closed."""
        head = self._exactly(HEADER.size)
        if head is None:
            return None
        body = self._exactly(HEADER.unpack(head)[0])
        assert body is not None, "the server closed mid-frame"
        return p.decode(body)

    def reply(self, rid: int) -> dict:
        """The reply to `rid` (pushes and other replies skipped)."""
        while True:
            msg = self.frame()
            assert msg is not None, f"closed before replying to {rid}"
            if msg.get("id") == rid and "push" not in msg:
                return msg

    def _exactly(self, n: int) -> bytes | None:
        return recv_exactly(self.sock, n)

    def close(self) -> None:
        self.sock.close()
