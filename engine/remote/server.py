"""`SessionServer`: any `SessionAPI` served over the session protocol (docs/protocol.md).

The server runs an asyncio loop on its own thread. Commands become the session's futures and are
answered when they resolve; reads are answered at once. The training thread only ever meets the
server in its listener, which hands each message to the loop with `call_soon_threadsafe` and
returns: encoding and the per-viewer queues live on the loop's thread, and a viewer whose queue
is full is dropped, never waited for. Whatever a client sends, the worst it gets is an error
frame and a closed connection: nothing it sends raises into the session.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ..api import plain
from ..errors import BadInput, CommandRejected
from ..events import Event, SessionState, StateChanged
from . import protocol as p
from .connection import (
    REFUSALS,
    Connection,
    error_frame,
    one_line,
    printable,
    refusal,
    reply,
    request_id,
    specs_from,
)
from .locate import socket_path, token_path
from .outgoing import TelemetryReplies, status_frame
from .rebuild import config_to_plain

HELLO_LIMIT = 4096  # an unauthenticated TCP client's first frame
HELLO_TIMEOUT_S = 10.0  # ... and how long it may take to send it
MAX_CONNECTIONS = 64
CLOSE_GRACE_S = 1.0  # at shutdown: how long queued replies may take to go out
STATUS_HZ = 4.0  # status pushes: at most this often, only when it changed, only to who asked


class SessionServer:
    """Serves `session` on RUN_DIR's Unix socket, and on TCP `listen` (host, port) if given."""

    def __init__(self, session: Any, run_dir: Path | str, listen: tuple[str, int] | None = None):
        self.session = session
        self.run_dir = Path(run_dir).resolve()
        self.listen = listen
        self.socket = socket_path(self.run_dir, create=True)
        self.token: str | None = None
        self.port: int | None = None  # the TCP port bound (listen's, or the one picked for 0)
        self.connections: set[Connection] = set()
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._previous: Callable[[object], None] | None = None
        self._events_seen = 0
        self._status_task: asyncio.Task | None = None  # only while a viewer takes status pushes
        self._telemetry = TelemetryReplies()

    # ----- lifecycle -------------------------------------------------------------------------
    def start(self) -> SessionServer:
        """Listen (BadInput if the address cannot be taken) and install the listener."""
        self._previous = self.session.listener
        self._events_seen = len(self.session.events())
        self.session.listener = self._listener
        ready: Future = Future()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="weightwatch-server", daemon=True
        )
        self._thread.start()
        try:
            ready.result()
        except BaseException:
            self.session.listener = self._previous
            raise
        return self

    def _serve(self, ready: Future) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._open())
        except BaseException as e:
            ready.set_exception(e)
            return
        ready.set_result(None)
        self._loop.run_forever()
        self._loop.close()

    async def _open(self) -> None:
        if self.socket.exists() or self.socket.is_symlink():
            if not stat.S_ISSOCK(os.lstat(self.socket).st_mode):
                raise BadInput(f"{self.socket}: not a socket; remove it")
            self.socket.unlink()  # a killed session's: the run lock says nobody else is here
        unix = await asyncio.start_unix_server(
            lambda r, w: self._accept(r, w, "unix"), path=str(self.socket), limit=1 << 16
        )
        os.chmod(self.socket, 0o600)
        self._servers.append(unix)
        if self.listen is not None:
            host, port = self.listen
            self.token = self._write_token()
            try:
                tcp = await asyncio.start_server(
                    lambda r, w: self._accept(r, w, "tcp"), host, port, limit=1 << 16
                )
            except OSError as e:
                raise BadInput(f"--listen {host}:{port}: cannot listen ({e.strerror})") from None
            self.port = tcp.sockets[0].getsockname()[1]
            self._servers.append(tcp)

    def _write_token(self) -> str:
        token = secrets.token_hex(32)
        path = token_path(self.run_dir, create=True)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return token

    def close(self) -> None:
        """Send what is queued (briefly), close every connection, remove the socket; idempotent."""
        if self._thread is None:
            return
        if self.session.listener == self._listener:
            self.session.listener = self._previous
        if self._loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            try:
                done.result(CLOSE_GRACE_S + 2)
            except Exception:
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2)
        self._thread = None
        for path in (self.socket, token_path(self.run_dir)):
            try:
                path.unlink()
            except OSError:
                pass

    async def _shutdown(self) -> None:
        if self._status_task is not None:
            self._status_task.cancel()
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            conn.send(b"")  # the sender closes after what is queued (a stop's reply)
        deadline = time.monotonic() + CLOSE_GRACE_S
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.drop()

    # ----- the training thread's side: never blocks --------------------------------------------
    def _listener(self, message: object) -> None:
        if isinstance(message, Event):
            index = self._events_seen
            self._events_seen += 1
        else:
            index = None
        try:
            self._loop.call_soon_threadsafe(self._fan_out, message, index)
        except RuntimeError:
            pass  # the loop has closed: the server is gone, training goes on
        if self._previous is not None:
            self._previous(message)

    def _fan_out(self, message: object, index: int | None) -> None:
        if isinstance(message, Event):
            push = {"push": "event", "event": plain(message), "index": index}
        elif isinstance(message, StateChanged):
            push = {"push": "state", "state": str(message.state.value), "reason": message.reason}
            push["session_step"] = message.session_step
        else:
            return
        frame = p.encode(push)
        for conn in list(self.connections):
            if conn.subscribed:
                conn.send(frame)

    async def _push_status(self) -> None:
        """The status (and the segments, when they changed) to every viewer that asked, at most
        STATUS_HZ and only when it changed, encoded once for all: what N viewers polling `read
        status` each cost the server N times. Ends with the last such viewer, so a session
        nobody watches has no timer on this loop."""
        last: tuple[Any, Any] = (None, None)
        try:
            while any(c.status_pushes for c in self.connections):
                frame, last = status_frame(self.session, last)
                for conn in list(self.connections):
                    if frame is not None and conn.status_pushes:
                        conn.send(frame)
                await asyncio.sleep(1.0 / STATUS_HZ)
        finally:
            self._status_task = None

    # ----- one connection ------------------------------------------------------------------
    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: str
    ) -> None:
        conn = Connection(writer, transport)
        if len(self.connections) >= MAX_CONNECTIONS:
            await self._say_and_close(conn, None, f"too many viewers ({MAX_CONNECTIONS})")
            return
        self.connections.add(conn)
        sender = asyncio.ensure_future(self._send_loop(conn))
        try:
            if transport == "tcp" and not await self._authenticate(conn, reader):
                return
            await self._read_loop(conn, reader)
        except (ConnectionError, OSError):
            pass  # the viewer went away (kill -9, a dropped SSH tunnel)
        finally:
            self.connections.discard(conn)
            self._forget_holds(conn)
            if not conn.closed:
                conn.send(b"")  # the sender ends after what is queued
                try:
                    await asyncio.wait_for(sender, CLOSE_GRACE_S)
                except (TimeoutError, ConnectionError, OSError):
                    pass
            sender.cancel()
            conn.drop()

    def _forget_holds(self, conn: Connection) -> None:
        """A viewer that went away (a script killed mid-run, a dropped tunnel) must not leave the
        session parked for nobody: its pending holds are cancelled, and if the session is held
        at one of its holds and no other viewer holds anything, the session is released."""
        held = False
        for future in conn.holds:
            if not future.done():
                future.cancel()
            elif not future.cancelled() and future.exception() is None:
                held = True
        conn.holds.clear()
        others = any(c.holds for c in self.connections)
        if held and not others and self.session.state is SessionState.HOLDING:
            try:
                self.session.release()
            except Exception:  # a session that stopped meanwhile: nothing to let go
                pass

    async def _send_loop(self, conn: Connection) -> None:
        while True:
            frame = await conn.queue.get()
            if not frame:  # the end: what was queued before it has gone out
                conn.writer.close()
                return
            conn.writer.write(frame)
            await conn.writer.drain()

    async def _authenticate(self, conn: Connection, reader: asyncio.StreamReader) -> bool:
        """The first TCP frame must be `hello` with the token (constant-time compare)."""
        try:
            msg = await asyncio.wait_for(p.read_frame(reader, HELLO_LIMIT), HELLO_TIMEOUT_S)
        except p.ProtocolError as e:
            return self._refuse(conn, None, str(e))
        except TimeoutError:
            return self._refuse(conn, None, "no hello with the token in time")
        if msg is None:
            return False
        token = msg.get("token")
        good = isinstance(token, str) and self.token is not None
        if not (good and hmac.compare_digest(str(token).encode(), str(self.token).encode())):
            return self._refuse(conn, request_id(msg), "hello: wrong or missing token")
        try:
            conn.send(p.encode(self._hello(conn, p.check_request(msg))))
        except p.ProtocolError as e:
            return self._refuse(conn, request_id(msg), str(e))
        return True

    def _refuse(self, conn: Connection, rid: int | None, message: str) -> bool:
        conn.send(error_frame(rid, "ProtocolError", message))
        return False

    async def _say_and_close(self, conn: Connection, rid: int | None, message: str) -> None:
        try:
            conn.writer.write(error_frame(rid, "ProtocolError", message))
            await asyncio.wait_for(conn.writer.drain(), CLOSE_GRACE_S)
        except (ConnectionError, OSError, TimeoutError):
            pass
        conn.drop()

    async def _read_loop(self, conn: Connection, reader: asyncio.StreamReader) -> None:
        while not conn.closed:
            msg: dict[str, Any] | None = None
            try:
                msg = await p.read_frame(reader, p.MAX_REQUEST)
                if msg is None or msg.get("op") == "bye":
                    return
                self._handle(conn, p.check_request(msg))
            except p.ProtocolError as e:
                self._refuse(conn, request_id(msg), str(e))
                return

    # ----- requests ---------------------------------------------------------------------------
    def _handle(self, conn: Connection, msg: dict[str, Any]) -> None:
        op, rid = msg["op"], msg["id"]
        if op == "hello":
            conn.send(p.encode(self._hello(conn, msg)))
        elif op == "subscribe":
            conn.subscribed = True
            result: dict[str, Any] = {}
            if msg.get("status"):  # a viewer that no longer polls `read status`
                conn.status_pushes = True
                result["status_hz"] = STATUS_HZ
                if self._status_task is None:
                    self._status_task = self._loop.create_task(self._push_status())
            conn.send(p.encode({"id": rid, "ok": True, "result": result}))
        elif op == "call":
            self._call(conn, rid, msg["method"], msg.get("args") or {})
        else:
            try:
                if op == "read":
                    conn.send(reply(rid, self._read(msg)))
                else:
                    conn.send(self._telemetry_reply(rid, msg.get("cursor")))
            except REFUSALS as e:
                conn.send(refusal(rid, e))
            except Exception as e:  # a read that failed: say so, the session is not touched
                conn.send(error_frame(rid, "BadInput", f"{op}: {one_line(e)}"))

    def _hello(self, conn: Connection, msg: dict[str, Any]) -> dict[str, Any]:
        conn.viewer = printable(msg.get("viewer") or "viewer")
        result = {
            "session_id": getattr(self.session, "session_id", None),
            "pid": os.getpid(),
            "run_dir": str(self.run_dir),
            "config": config_to_plain(self.session.config),
            "protocol": p.VERSION,
            "listen": None if self.listen is None else f"{self.listen[0]}:{self.port}",
        }
        return {"id": msg["id"], "ok": True, "result": result}

    def _call(self, conn: Connection, rid: int, method: str, args: dict[str, Any]) -> None:
        try:
            p.check_args(method, args)  # names and JSON types, before any session sees them
            if method == "set_callbacks":
                args = {**args, "specs": specs_from(args.get("specs"))}
            bound = getattr(self.session, method)
            inspect.signature(bound).bind(**args)  # unknown or missing arguments: BadInput
            outcome = bound(**args)
        except REFUSALS as e:
            conn.send(refusal(rid, e))
            return
        except Exception as e:  # wrong types (set_lr("x")): refused before the session saw it
            conn.send(error_frame(rid, "BadInput", f"call {method}: {one_line(e)}"))
            return
        if method == "release":
            conn.holds.clear()  # what it held at is let go
        if not isinstance(outcome, Future):
            conn.send(reply(rid, outcome))
            return
        if method.startswith("hold_"):
            conn.holds.append(outcome)
        outcome.add_done_callback(
            lambda f: self._loop.call_soon_threadsafe(self._resolved, conn, rid, f)
        )

    def _resolved(self, conn: Connection, rid: int, future: Future) -> None:
        if future.cancelled():
            return  # a hold of a viewer that went away (_forget_holds)
        exc = future.exception()
        if exc is None:
            conn.send(reply(rid, future.result()))
        elif isinstance(exc, REFUSALS):
            conn.send(refusal(rid, exc))
        else:
            conn.send(error_frame(rid, "CommandRejected", one_line(exc)))

    def _read(self, msg: dict[str, Any]) -> Any:
        s, what = self.session, msg["what"]
        if what == "events":
            events = s.events()
            since = min(msg.get("since", 0), len(events))
            return {"events": events[since:], "next": len(events)}
        if what == "checkpoints":
            return s.list_checkpoints()
        if what == "viewers":
            return [c.plain() for c in self.connections]
        return getattr(s, what)()  # status, segments, default_checkpoint_name, report

    def _telemetry_reply(self, rid: int, cursor: int | None) -> bytes:
        store = self.session.telemetry
        if not hasattr(store, "snapshot"):
            raise CommandRejected("this session's telemetry cannot be pulled remotely")
        return self._telemetry.reply(store, rid, cursor)
