"""Status pushes (docs/protocol.md, "Pushes"): viewers follow the session without polling, the
server encodes each pushed frame once for every viewer, and a session nobody watches costs the
server's thread nothing (no timer, no CPU)."""

from __future__ import annotations

import asyncio
import time

import pytest
from weightwatch.engine.remote import outgoing
from weightwatch.engine.remote import protocol as p
from weightwatch.engine.remote import server as srv
from weightwatch.engine.remote.client import RemoteSession
from weightwatch.engine.remote.connection import Connection
from weightwatch.engine.remote.server import SessionServer

from tests.fakes.fake_session import FakeSession, fake_config

from .wire import T, Wire, wait_for


@pytest.fixture
def served(tmp_path):
    """A fake training (200 batches/s) behind a server whose requests are counted by op."""
    session = FakeSession(fake_config(tmp_path / "run", epochs=100), rate=200.0)
    server = SessionServer(session, session.run_dir).start()
    asked: list[tuple[str, str | None]] = []
    handle = server._handle

    def counted(conn, msg):
        asked.append((msg["op"], msg.get("what")))
        return handle(conn, msg)

    server._handle = counted  # type: ignore[method-assign]
    session.start()
    wait_for(lambda: session.status().session_step > 0, "training to start")
    yield session, server, asked
    server.close()
    session.stop()


def on_loop(server, fn):
    """`fn()` run on the server's loop thread (what it sees there: its timers, its CPU)."""

    async def call():
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), server._loop).result(T)


def test_a_viewer_follows_the_step_without_reading_status(served):
    session, server, asked = served
    viewer = RemoteSession(session.run_dir, viewer="attach")
    try:
        connected = len(asked)  # its first sync reads everything once
        seen = []
        deadline = time.monotonic() + T
        while len(set(seen)) < 4 and time.monotonic() < deadline:
            seen.append(viewer.status().session_step)
            time.sleep(0.05)
        assert len(set(seen)) >= 4, f"the viewer's step did not follow the session: {seen}"
        assert seen == sorted(seen)
        # ... and it keeps up: within a few pushes (4 a second) of the session's own step
        lag = session.status().session_step - viewer.status().session_step
        assert 0 <= lag <= 200, f"the viewer is {lag} steps behind"
        polled = [a for a in asked[connected:] if a[0] == "read"]
        assert polled == [], f"the viewer still polls: {polled}"
        assert ("telemetry", None) in asked[connected:]  # telemetry is still pulled
    finally:
        viewer.close()


def test_a_viewer_that_does_not_ask_for_pushes_polls_as_before(served, monkeypatch):
    session, server, asked = served
    monkeypatch.setattr(RemoteSession, "status_pushes", False)
    viewer = RemoteSession(session.run_dir, viewer="old")
    try:
        connected = len(asked)
        first = viewer.status().session_step
        wait_for(lambda: viewer.status().session_step > first + 50, "the polled status")
        assert ("read", "status") in asked[connected:]
        assert not any(c.status_pushes for c in server.connections)
    finally:
        viewer.close()


def test_pushed_frames_are_encoded_once_for_all_viewers(served, monkeypatch):
    session, server, asked = served
    encoded: list[tuple[str, bytes]] = []  # every push frame made (kept: ids stay unique)
    sent: list[bytes] = []
    encode, send = p.encode, Connection.send

    def spy_encode(message, *args, **kwargs):
        frame = encode(message, *args, **kwargs)
        if "push" in message:
            encoded.append((message["push"], frame))
        return frame

    def spy_send(conn, frame):
        sent.append(frame)
        return send(conn, frame)

    monkeypatch.setattr(p, "encode", spy_encode)
    monkeypatch.setattr(Connection, "send", spy_send)
    wires = [Wire(server.socket) for _ in range(3)]
    try:
        for w in wires:
            assert w.ask("subscribe", status=True)["result"] == {"status_hz": srv.STATUS_HZ}
        start = len(encoded)
        for w in wires:  # three status rounds each, then the pause's event and state
            assert [w.push()["push"] for _ in range(3)] == ["status"] * 3
        session.pause().result(T)
        for w in wires:
            kinds: set[str] = set()
            while not kinds >= {"event", "state"}:
                kinds.add(w.push()["push"])
        made = encoded[start:]
        assert {kind for kind, _ in made} == {"status", "event", "state"}
        for kind, frame in made:  # encoded once, written to each of the three viewers
            assert sum(1 for f in sent if f is frame) == 3, f"a {kind} frame"
    finally:
        for w in wires:
            w.close()


def test_a_paused_session_pushes_no_status(served):
    session, server, asked = served
    w = Wire(server.socket, timeout=T)
    try:
        w.ask("subscribe", status=True)
        session.pause().result(T)
        step = session.status().session_step
        time.sleep(0.6)  # the last push of the running state may still be on its way
        w.sock.settimeout(0.1)
        w.pushes.clear()
        with pytest.raises(TimeoutError):
            while True:
                w.push()
        assert session.status().session_step == step
    finally:
        w.close()


def test_subscribe_with_a_status_that_is_not_a_bool_is_refused(served):
    session, server, asked = served
    w = Wire(server.socket)
    try:
        reply = w.ask("subscribe", status="yes")
        assert reply["error"]["type"] == "ProtocolError"
        assert "subscribe: status must be true or false" in reply["error"]["message"]
        assert w.closed()
    finally:
        w.close()


def test_nobody_watching_costs_the_server_thread_nothing(served):
    session, server, asked = served
    viewer = RemoteSession(session.run_dir, viewer="attach")
    wait_for(lambda: server._status_task is not None, "the status pushes to start")
    viewer.close()
    # the last viewer gone: the pushes end, and no timer is left on the loop
    wait_for(lambda: on_loop(server, lambda: server._status_task) is None, "the pushes to end")
    assert on_loop(server, lambda: list(server._loop._scheduled)) == []
    step, cpu, wall = session.status().session_step, on_loop(server, time.thread_time), time.time()
    time.sleep(2.0)
    cpu, wall = on_loop(server, time.thread_time) - cpu, time.time() - wall
    assert session.status().session_step > step + 100  # the training went on meanwhile
    assert cpu < 0.02 * wall, f"the server's thread used {cpu:.4f} s of CPU in {wall:.2f} s"


def test_telemetry_blocks_are_encoded_once_for_all_viewers(served, monkeypatch):
    session, server, asked = served
    converted: list[int] = []
    convert = outgoing.plain_block

    def spy(xs, columns):
        converted.append(id(xs))
        return convert(xs, columns)

    monkeypatch.setattr(outgoing, "plain_block", spy)
    wires = [Wire(server.socket) for _ in range(3)]
    try:
        cursor = wires[0].ask("telemetry", cursor=None)["result"]["cursor"]
        wait_for(lambda: session.telemetry.cursor >= cursor + 5, "five blocks more")
        replies = [w.ask("telemetry", cursor=cursor)["result"] for w in wires]
        truth = session.telemetry.since(cursor)  # what a pull answered before (maybe more now)
        for got in replies:
            assert len(got["blocks"]) >= 5
            assert got["blocks"] == truth["blocks"][: len(got["blocks"])]
            assert got["layer_names"] == truth["layer_names"]
            assert got["cursor"] == cursor + len(got["blocks"])
        # three viewers pulled the same blocks: each was converted (and encoded) once
        assert len(converted) == len(set(converted)) == max(len(r["blocks"]) for r in replies)
    finally:
        for w in wires:
            w.close()


def test_a_viewer_of_a_paused_session_hardly_pulls(served):
    session, server, asked = served
    viewer = RemoteSession(session.run_dir, viewer="attach")
    try:
        viewer.pause().result(T)
        time.sleep(0.5)  # the pause's pushes and the pulls they bring
        start = len(asked)
        time.sleep(3.0)
        pulls = asked[start:].count(("telemetry", None))
        # at 4 Hz it would be 12; with nothing new, once a second (IDLE_PULL_S)
        assert 1 <= pulls <= 4, f"{pulls} telemetry pulls in 3 s of a paused session"
        assert asked[start:].count(("read", "status")) == 0
    finally:
        viewer.close()
