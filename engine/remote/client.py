"""`RemoteSession`: a `SessionAPI` over the session protocol (docs/protocol.md), for viewers.

One daemon thread runs an asyncio loop that owns the connection. The UI thread never waits on
the network for a read: `status()`, `events()`, `segments()`, `state` and `telemetry` are a cache
kept fresh by the server's pushes (the status too, a few times a second when it changed) and
telemetry pulls at the refresh rate (engine/remote/mirror.py). A command returns a
`concurrent.futures.Future` resolved by its reply; before it resolves, the cache is re-read, so a
caller that waited for a command sees what it did (as with a local session). A lost connection
is a state, not an exception: `stopped`, with a message that says what happened
(`locate.describe_dead`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .. import errors
from ..api import Listener, plain
from ..events import Event, Segment, SessionState, StateChanged, Status
from ..specs import Config
from ..telemetry import TelemetryStore
from . import protocol
from .address import SessionUnreachable, describe_gone, parse_address, socket_for
from .calls import RemoteCalls
from .mirror import RemoteMirror
from .rebuild import config_from_plain

CONNECT_TIMEOUT_S = 10.0
MAX_RECONNECTS = 20  # a viewer dropped more often than this is given up (and says so)
ERRORS: dict[str, type[Exception]] = {
    "CommandRejected": errors.CommandRejected,
    "BadInput": errors.BadInput,
    "ConfigError": errors.ConfigError,
    "ScriptError": errors.ScriptError,
    "CheckpointError": errors.CheckpointError,
    "ProtocolError": errors.CommandRejected,  # the connection closes after it
}


class RemoteSession(RemoteCalls, RemoteMirror):
    """A live session behind a socket, used as a local one (see the module docstring)."""

    attached = True  # the dashboard detaches on `q` instead of stopping the training

    def __init__(
        self,
        address: str | Path,
        *,
        token: str | None = None,
        viewer: str = "attach",
        listener: Listener | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.kind, self.where = parse_address(address)
        self.address = str(address)
        self.token = token if token is not None else os.environ.get("WEIGHTWATCH_TOKEN")
        self.viewer = viewer
        self.listener = listener
        self.telemetry = TelemetryStore()
        self._local_run_dir = self.where if self.kind == "unix" else None
        self._ids = iter(range(1, 2**53))
        self._pending: dict[int, asyncio.Future] = {}
        self._ended = threading.Event()  # the session stopped, the viewer left, or it was lost
        self._events: list[Event] = []
        self._segments: list[Segment] = []
        self._status: Status = _no_status()
        self._report: dict | None = None
        self._cursor: int | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._closing = False
        self.lost: str | None = None  # why the connection ended, when it was not us
        self.reconnects = 0  # times the server dropped us and we came back
        self._told = 0  # events handed to the listener
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="weightwatch-remote", daemon=True
        )
        self._thread.start()
        try:
            hello = self._wait(self._connect(), connect_timeout)
        except BaseException:
            self._shutdown_loop()
            raise
        self._config: Config = config_from_plain(hello["config"])
        self._run_dir = self._local_run_dir or Path(hello["run_dir"])
        self.pid: int | None = hello.get("pid")
        self.session_id: str | None = hello.get("session_id")

    # -- the loop thread ----------------------------------------------------------------------

    def _wait(self, coro, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _connect(self) -> dict:
        result = await self._open()
        self._told = len(self._events)  # the history a viewer reads itself; pushes after it
        self._ticker = asyncio.ensure_future(self._tick())
        return result

    async def _open(self) -> dict:
        """Connect, `hello`, `subscribe`, read everything: SessionUnreachable (one line)."""
        try:
            if self.kind == "tcp":
                reader, writer = await asyncio.open_connection(*self.where)
            else:
                reader, writer = await asyncio.open_unix_connection(socket_for(self.where))
        except (OSError, ValueError) as exc:
            where = self._local_run_dir
            line = describe_gone(where) if where else f"cannot connect to {self.address} ({exc})"
            raise SessionUnreachable(line) from None
        self._writer = writer
        self._reader_task = asyncio.ensure_future(self._read_loop(reader))
        hello = {"viewer": self.viewer, **({"token": self.token} if self.token else {})}
        try:
            result = await self._request("hello", **hello)
            await self._subscribe()
            await self._sync()
        except (errors.CommandRejected, errors.BadInput, ConnectionError) as exc:
            raise SessionUnreachable(f"{self.address}: {exc}") from None
        return result

    async def _reconnect(self) -> bool:
        """The server drops a viewer that fell behind (docs/protocol.md): connect once more and
        re-read from the last event held, telling the listener what it missed. False when
        nothing answers: the session is gone."""
        self._fail_pending("the connection was dropped; the events say whether it landed")
        self._writer = None
        try:
            await asyncio.wait_for(self._open(), CONNECT_TIMEOUT_S)
        except Exception:
            return False
        for event in self._events[self._told :]:
            self._tell(event)
        self._told = len(self._events)
        return True

    def _fail_pending(self, message: str) -> None:
        for reply in self._pending.values():
            if not reply.done():
                reply.set_exception(errors.CommandRejected(message))
        self._pending.clear()

    async def _request(self, op: str, **fields: Any) -> Any:
        """Send one request and wait for its reply's result (the error rebuilt, raised)."""
        if self._writer is None or self._ended.is_set() and op != "bye":
            if self.lost is None and self.state is SessionState.STOPPED:
                raise errors.CommandRejected("the session has stopped")
            raise errors.CommandRejected(f"not connected: {self.status().message}")
        rid = next(self._ids)
        reply = self._loop.create_future()
        self._pending[rid] = reply
        # Written before the first await: requests leave in the order they were made.
        self._writer.write(protocol.encode({"op": op, "id": rid, **fields}, protocol.MAX_REQUEST))
        return await reply

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        reason = "the session closed the connection"
        try:
            while (message := await protocol.read_frame(reader, protocol.MAX_REPLY)) is not None:
                self._dispatch(message)
        except protocol.ProtocolError as exc:
            reason = f"the session sent a bad frame ({exc})"
        except (OSError, asyncio.IncompleteReadError) as exc:
            reason = f"the connection was lost ({type(exc).__name__})"
        if self._closing or self._ended.is_set() or self.state is SessionState.STOPPED:
            return self._lose(reason)
        if self.reconnects < MAX_RECONNECTS:
            self.reconnects += 1
            if await self._reconnect():
                return None
        return self._lose(reason)

    def _dispatch(self, message: dict) -> None:
        if "push" in message:
            self._fresh = True  # something changed: the next telemetry pull is due
            if message["push"] == "status":
                self._pushed_status(message)
            elif message["push"] == "event":
                self._pushed_event(message)
            elif message["push"] == "state":
                self._pushed_state(message)
            return
        reply = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
        if reply is None or reply.done():
            return
        if message.get("ok"):
            reply.set_result(message.get("result"))
        else:
            error = message.get("error") or {}
            kind = ERRORS.get(str(error.get("type")), errors.BadInput)  # docs/protocol.md
            reply.set_exception(kind(error.get("message", "refused")))

    def _pushed_event(self, message: dict) -> None:
        event = Event(**message["event"])
        index = message.get("index", len(self._events))
        if index == len(self._events):
            self._events.append(event)
        elif index > len(self._events):
            asyncio.ensure_future(self._read_events())
        if index >= self._told:  # each event told once, in order (a reconnect re-tells none)
            self._told = index + 1
            self._tell(event)

    def _pushed_state(self, message: dict) -> None:
        state = SessionState(message["state"])
        reason = message.get("reason", "")
        self._status = dataclasses.replace(self._status, state=state)
        step = message.get("session_step", self._status.session_step)
        self._tell(StateChanged(state, reason, step))
        if state is SessionState.STOPPED:
            asyncio.ensure_future(self._stopped())

    def _tell(self, item: object) -> None:
        listener = self.listener
        if listener is not None:
            try:
                listener(item)
            except Exception:  # a viewer's listener must not take the connection down
                pass

    async def _stopped(self) -> None:
        """The session stopped: keep its report (the process ends soon after), then end."""
        with contextlib.suppress(Exception):
            self._report = await self._request("read", what="report")
        self._ended.set()

    def _lose(self, reason: str) -> None:
        if self._ended.is_set() and self._writer is None:
            return
        gone = self._closing
        if not gone:
            self.lost = reason
        message = "detached" if gone else f"{reason}: {describe_gone(self._local_run_dir)}"
        self._fail_pending(f"not connected: {message}")
        self._writer = None
        was = self._status.state
        # A viewer that detached keeps the last state it saw: the session goes on without it.
        state = was if gone else SessionState.STOPPED
        speed = self._status.steps_per_s if gone else None  # a lost session trains no more
        self._status = dataclasses.replace(
            self._status, state=state, message=message, steps_per_s=speed
        )
        if was is not SessionState.STOPPED and not gone:
            self._tell(StateChanged(SessionState.STOPPED, message, self._status.session_step))
        self._ended.set()

    # -- commands -----------------------------------------------------------------------------

    def _call(
        self, method: str, convert: Callable[[Any], Any] | None = None, **args: Any
    ) -> Future:
        async def command() -> Any:
            result = await self._request("call", method=method, args=plain(args))
            with contextlib.suppress(Exception):  # a stop ends the process: nothing to re-read
                await self._sync()
            return convert(result) if convert and result is not None else result

        try:
            return asyncio.run_coroutine_threadsafe(command(), self._loop)
        except RuntimeError:  # the loop is closed: the viewer was closed
            future: Future = Future()
            future.set_exception(errors.CommandRejected("not connected: the viewer was closed"))
            return future

    def stop(self) -> Future:
        """Stop the training (not just this viewer): resolves with the final report."""
        if self._ended.is_set():
            future: Future = Future()
            future.set_result(None)
            return future

        def keep(report: dict) -> dict:
            self._report = report
            return report

        return self._call("stop", keep)

    # -- lifecycle ----------------------------------------------------------------------------

    def run(self) -> None:
        """Wait until the session stops, the connection is lost or this viewer detaches."""
        self._ended.wait()

    def start(self) -> object:
        thread = threading.Thread(target=self.run, name="weightwatch-remote-run", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Detach: `bye`, then the connection and the loop end; the session goes on."""
        if self._closing:
            return
        self._closing = True
        if self._loop.is_running():
            with contextlib.suppress(Exception):
                self._wait(self._bye(), 2.0)
        self._ended.set()
        self._shutdown_loop()

    async def _bye(self) -> None:
        writer = self._writer
        if writer is not None:
            writer.write(protocol.encode({"op": "bye"}, protocol.MAX_REQUEST))
            with contextlib.suppress(Exception):
                await writer.drain()
            self._lose("detached")
            writer.close()
        # Also after a lost connection: a task left pending when the loop closes is printed
        # ("Task was destroyed but it is pending!") under the viewer's one closing line.
        for task in (getattr(self, "_ticker", None), getattr(self, "_reader_task", None)):
            if task is not None:
                task.cancel()
        await asyncio.sleep(0)  # let the cancellations land before the loop stops

    def _shutdown_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(2.0)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()

    # -- reads ----------------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._config

    @property
    def run_dir(self) -> Path:
        return self._run_dir

    @property
    def state(self) -> SessionState:
        return self.status().state

    def status(self) -> Status:
        return self._status

    def events(self) -> list[Event]:
        return list(self._events)

    def segments(self) -> list[Segment]:
        return list(self._segments)


def _no_status() -> Status:
    return Status(SessionState.STARTING, 0, 0, 0, 0, 0, 0, 0, None, None, None, None)
