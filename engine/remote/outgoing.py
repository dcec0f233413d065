"""What `SessionServer` (engine/remote/server.py) sends to many viewers, made once for all:
the status push, and the telemetry blocks their pulls carry."""

from __future__ import annotations

from typing import Any

from ..api import plain
from ..telemetry import plain_block
from . import protocol as p


def status_frame(session: Any, last: tuple[Any, Any]) -> tuple[bytes | None, tuple[Any, Any]]:
    """The status push (segments in it when they changed since `last`), or None when nothing
    changed or the session cannot say now (stopping: the next round tries again)."""
    try:
        status, segments = plain(session.status()), plain(session.segments())
        if (status, segments) == last:
            return None, last
        push: dict[str, Any] = {"push": "status", "status": status}
        if segments != last[1]:
            push["segments"] = segments
        return p.encode(push), (status, segments)
    except Exception:
        return None, last


class TelemetryReplies:
    """Telemetry replies: a snapshot, a resync, or the blocks since a cursor. Viewers pulling at
    the same rate mostly pull the same fresh blocks, so each block is converted and encoded once
    (kept by index, the last KEEP of them) and a reply is put together from the texts."""

    KEEP = 64

    def __init__(self) -> None:
        self._blocks: dict[int, tuple[Any, str]] = {}

    def reply(self, store: Any, rid: int, cursor: int | None) -> bytes:
        got = None if cursor is None else store.raw_since(cursor)
        if cursor is None or got is None:  # the store's own lists, encoded as they are
            result = (
                store.snapshot() if cursor is None else {"resync": True, "cursor": store.cursor}
            )
            return p.encode({"id": rid, "ok": True, "result": result})
        head, blocks = got
        parts = [self._block(cursor + i, xs, cols) for i, (xs, cols) in enumerate(blocks)]
        self._trim(head["cursor"])
        body = p.dumps({"v": p.VERSION, "id": rid, "ok": True, "result": head})
        # body ends with the result's and the frame's closing braces: the blocks go before them
        return p.frame_of(f'{body[:-2]},"blocks":[{",".join(parts)}]}}}}'.encode())

    def _block(self, index: int, xs: Any, columns: Any) -> str:
        cached = self._blocks.get(index)
        if cached is not None and cached[0] is xs:  # the very block (held here: its id stays)
            return cached[1]
        text = p.dumps(plain_block(xs, columns))
        self._blocks[index] = (xs, text)
        return text

    def _trim(self, cursor: int) -> None:
        if len(self._blocks) > 2 * self.KEEP:
            for index in [i for i in self._blocks if i < cursor - self.KEEP]:
                del self._blocks[index]
