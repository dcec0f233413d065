"""A blocking test client of the session protocol: raw frames over a socket, nothing hidden."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from weightwatch.engine.remote import protocol as p

T = 20.0  # seconds: generous, the machines are shared


def wait_for(predicate, what: str) -> None:
    """Poll `predicate` until it holds; fail naming `what` after T seconds."""
    deadline = time.monotonic() + T
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def recv_exactly(sock: socket.socket, n: int, partial: bool = False) -> bytes | None:
    """`n` bytes from `sock`; at a close: None, or with `partial` what came before it."""
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return data if partial and data else None
        data += chunk
    return data


class Wire:
    """One connection; `ask` sends a request and returns the reply with its id (pushes met on
    the way are kept in `pushes`)."""

    def __init__(self, address: Path | tuple[str, int], timeout: float = 10.0) -> None:
        family = socket.AF_UNIX if isinstance(address, Path) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(address) if isinstance(address, Path) else address)
        self.next_id = 1
        self.pushes: list[dict] = []
        self.replies: dict[int, dict] = {}

    def send(self, op: str, **fields: Any) -> int:
        rid = self.next_id
        self.next_id += 1
        self.sock.sendall(p.encode({"op": op, "id": rid, **fields}, limit=p.MAX_REQUEST))
        return rid

    def raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self) -> dict | None:
        """The next frame, None at the end of the stream."""
        head = self._exactly(p.HEADER.size)
        if head is None:
            return None
        (size,) = p.HEADER.unpack(head)
        body = self._exactly(size)
        assert body is not None, "the server closed mid-frame"
        return p.decode(body)

    def reply(self, rid: int) -> dict:
        while rid not in self.replies:
            msg = self.frame()
            assert msg is not None, f"closed before the reply to {rid}"
            if "push" in msg:
                self.pushes.append(msg)
            else:
                self.replies[msg["id"]] = msg
        return self.replies.pop(rid)

    def ask(self, op: str, **fields: Any) -> dict:
        return self.reply(self.send(op, **fields))

    def push(self) -> dict:
        while not self.pushes:
            msg = self.frame()
            assert msg is not None, "closed while waiting for a push"
            if "push" in msg:
                self.pushes.append(msg)
            else:
                self.replies[msg["id"]] = msg
        return self.pushes.pop(0)

    def closed(self) -> bool:
        """True once the server has closed (reads what is left)."""
        try:
            while self.sock.recv(65536):
                pass
        except (ConnectionError, OSError):
            pass
        return True

    def _exactly(self, n: int) -> bytes | None:
        return recv_exactly(self.sock, n, partial=True)

    def close(self) -> None:
        self.sock.close()
