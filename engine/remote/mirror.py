"""How `RemoteSession` (engine/remote/client.py) keeps its cache of the session fresh.

The server pushes the status to a viewer that subscribed with `status: true` (docs/protocol.md):
at most a few times a second, and only when it changed, so a viewer sends no `read status` at
all. A server that does not push (answers `subscribe` without `status_hz`) is polled at the
config's refresh rate, as before. Telemetry is pulled at the refresh rate (at most
TELEMETRY_HZ); after a pull that brought nothing, the next waits until a push says something
changed, or IDLE_PULL_S: a paused session's viewers hardly ask at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from ..events import Event, Segment, Status
from ..specs import Config
from ..telemetry import TelemetryStore
from .rebuild import status_from_plain

TELEMETRY_HZ = 4.0
IDLE_PULL_S = 1.0  # after an empty pull and no push since: pull again no sooner than this


class RemoteMirror:
    """The status, segments, events and telemetry a viewer shows, kept as the server sends."""

    status_pushes = True  # ask the server for status pushes (False: poll, as clients before)
    _status_pushed = False  # the server said it pushes (its `subscribe` reply)
    _fresh = True  # something was pushed (or a pull brought rows) since the last empty pull
    _pulled_at = 0.0
    _loop: asyncio.AbstractEventLoop
    _ended: threading.Event
    _status: Status
    _segments: list[Segment]
    _events: list[Event]
    _cursor: int | None
    telemetry: TelemetryStore

    async def _request(self, op: str, **fields: Any) -> Any:
        raise NotImplementedError

    async def _subscribe(self) -> None:
        asked = {"status": True} if self.status_pushes else {}
        result = await self._request("subscribe", **asked)
        self._status_pushed = bool(isinstance(result, dict) and result.get("status_hz"))

    def _pushed_status(self, message: dict) -> None:
        if self._ended.is_set():  # detached or lost: the last state it saw is kept, and why
            return
        self._status = status_from_plain(message["status"])
        if "segments" in message:
            self._segments = [Segment(**s) for s in message["segments"]]
        self._fresh = True

    async def _tick(self) -> None:
        """Status at the config's refresh rate unless pushed; telemetry at that rate too."""
        hz = max(0.5, self._config_hz())
        status_every, pull_every = 1.0 / hz, 1.0 / min(hz, TELEMETRY_HZ)
        loop = self._loop
        next_status = next_pull = loop.time()
        while not self._ended.is_set():
            now = loop.time()
            with contextlib.suppress(Exception):
                if not self._status_pushed and now >= next_status:
                    next_status = now + status_every
                    await self._read_status()
                if now >= next_pull:
                    next_pull = now + pull_every
                    if self._pull_due(now):
                        await self._pull_telemetry()
            wake = next_pull if self._status_pushed else min(next_status, next_pull)
            await asyncio.sleep(max(0.01, wake - loop.time()))

    def _pull_due(self, now: float) -> bool:
        if not self._status_pushed:  # nothing tells this viewer that something changed
            return True
        return self._fresh or now - self._pulled_at >= IDLE_PULL_S

    def _config_hz(self) -> float:
        config: Config | None = getattr(self, "_config", None)
        return (config.ui.refresh_hz if config else 0) or 4.0

    async def _sync(self) -> None:
        """Everything cached, re-read: after each command, so its effect is seen at once."""
        await self._read_status()
        await self._read_events()
        await self._pull_telemetry()

    async def _read_status(self) -> None:
        self._status = status_from_plain(await self._request("read", what="status"))
        self._segments = [Segment(**s) for s in await self._request("read", what="segments")]

    async def _read_events(self) -> None:
        got = await self._request("read", what="events", since=len(self._events))
        start = len(self._events)
        fresh = [Event(**e) for e in got["events"]]
        # The pushes may have filled part of it meanwhile: keep one copy of each index.
        self._events.extend(fresh[len(self._events) - start :])

    async def _pull_telemetry(self) -> None:
        self._fresh, self._pulled_at = False, self._loop.time()
        got = await self._request("telemetry", cursor=self._cursor)
        if got.get("resync"):
            self._cursor = None
            got = await self._request("telemetry", cursor=None)
        store = self.telemetry
        if "series" in got:
            store.load_snapshot(got)  # the mirror replaced whole, as one write
        for block in got.get("blocks", ()):
            store.append_columns(block["x"], block["columns"])
        if got.get("blocks"):
            self._fresh = True  # rows came: more may be on their way
        if list(got.get("layer_names", store.layer_names)) != store.layer_names:
            store.set_layer_names(got["layer_names"])
        self._cursor = got.get("cursor", self._cursor)
