"""A small blocking client of the session protocol, for one-shot commands (`stop`, `ps`) and
tests: connect, ask, read the reply. The dashboard's client is `client.RemoteSession`."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from ..errors import BadInput, CommandRejected
from . import protocol as p
from .locate import socket_path


class Unreachable(Exception):
    """Nothing answers at the run directory's socket."""


class TimedOut(Unreachable):
    """The session is there but did not answer in time (a stop behind a long batch)."""


class Blocking:
    """One connection to the session in `run_dir`; `hello` is sent on connect."""

    def __init__(self, run_dir: Path, viewer: str, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(socket_path(run_dir)))
        except OSError as e:
            self.sock.close()
            raise Unreachable(str(e)) from None
        self.next_id = 0
        self.hello = self.ask("hello", viewer=viewer)

    def ask(self, op: str, timeout: float | None = None, **fields: Any) -> Any:
        """The result of one request; CommandRejected / BadInput for a refusal, Unreachable when
        the connection ends first."""
        self.next_id += 1
        rid = self.next_id
        try:
            self.sock.sendall(p.encode({"op": op, "id": rid, **fields}, limit=p.MAX_REQUEST))
            if timeout is not None:
                self.sock.settimeout(timeout)
            while True:
                msg = self.frame()
                if msg is None:
                    raise Unreachable("the session closed the connection")
                if msg.get("id") == rid:
                    break
        except TimeoutError:
            raise TimedOut(f"no reply to {op} in {self.sock.gettimeout():.0f} s") from None
        except (OSError, p.ProtocolError) as e:
            raise Unreachable(str(e)) from None
        if msg.get("ok"):
            return msg.get("result")
        error = msg.get("error") or {}
        kind = BadInput if error.get("type") == "BadInput" else CommandRejected
        raise kind(str(error.get("message")))

    def frame(self) -> dict | None:
        head = self._exactly(p.HEADER.size)
        if head is None:
            return None
        (size,) = p.HEADER.unpack(head)
        if not 0 < size <= p.MAX_REPLY:
            raise p.ProtocolError(f"reply length {size} is outside 1..{p.MAX_REPLY}")
        body = self._exactly(size)
        if body is None:
            raise p.ProtocolError("truncated reply")
        return p.decode(body)

    def wait_closed(self, timeout: float) -> bool:
        """True once the server closed the connection (the session process is ending)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except TimeoutError:
            return False
        except OSError:
            pass
        return True

    def close(self) -> None:
        self.sock.close()

    def _exactly(self, n: int) -> bytes | None:
        chunks, got = [], 0
        while got < n:
            chunk = self.sock.recv(min(n - got, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)
