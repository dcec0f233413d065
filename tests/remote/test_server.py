"""SessionServer over the test double: what each request gets back, and what a bad or slow
client cannot do to the session or to the other viewers (docs/protocol.md)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from weightwatch.engine.remote import protocol as p
from weightwatch.engine.remote.locate import socket_path, token_path
from weightwatch.engine.remote.server import SessionServer
from weightwatch.engine.telemetry import TelemetryStore

from tests.fakes.fake_session import FakeSession, fake_config

from .wire import Wire, wait_for


@pytest.fixture
def served(tmp_path):
    """A fake training by itself (200 batches/s, 100 epochs of 60) behind a server."""
    session = FakeSession(fake_config(tmp_path / "run", epochs=100), rate=200.0)
    server = SessionServer(session, session.run_dir).start()
    session.start()
    wires: list[Wire] = []

    def connect(address=None) -> Wire:
        wires.append(Wire(address or server.socket))
        return wires[-1]

    yield session, server, connect
    for wire in wires:
        wire.close()
    server.close()
    session.stop()


def running(session) -> None:
    wait_for(lambda: session.status().session_step > 0, "training to start")


def test_calls_and_reads_return_the_plain_results(served):
    session, server, connect = served
    running(session)
    w = connect()
    hello = w.ask("hello", viewer="attach")["result"]
    assert (hello["pid"], hello["run_dir"], hello["protocol"]) == (
        os.getpid(),
        str(session.run_dir.resolve()),
        1,
    )
    assert hello["config"]["train"]["epochs"] == 100
    assert w.ask("call", method="pause") == {"v": 1, "id": 2, "ok": True, "result": None}
    status = w.ask("read", what="status")["result"]
    assert status["state"] == "paused" and status["session_step"] == session.session_step
    saved = w.ask("call", method="save", args={"name": "mid"})["result"]
    assert saved["name"] == "mid" and saved["model_step"] == session.model_step
    assert [c["name"] for c in w.ask("read", what="checkpoints")["result"]] == ["mid"]
    assert w.ask("call", method="resume")["result"] == "continued"
    events = w.ask("read", what="events", since=1)["result"]
    assert [e["kind"] for e in events["events"]] == ["pause", "checkpoint_saved", "resume"]
    assert events["next"] == 4
    segments = w.ask("read", what="segments")["result"]
    assert [s["origin"] for s in segments] == ["fresh", "continued"]
    name = w.ask("read", what="default_checkpoint_name")["result"]
    assert name.startswith("step-")
    assert w.ask("read", what="viewers")["result"][0]["viewer"] == "attach"
    assert w.ask("call", method="set_lr", args={"value": 0.5})["result"] == 0.5
    assert session.learning_rate == 0.5


def test_a_refused_command_is_a_reply_and_the_connection_stays(served):
    session, server, connect = served
    running(session)
    w = connect()
    refused = w.ask("call", method="resume")
    assert refused["ok"] is False and refused["error"]["type"] == "CommandRejected"
    assert "running" in refused["error"]["message"]
    wrong = w.ask("call", method="pause", args={"when": "now"})
    assert wrong["error"]["type"] == "BadInput" and "when" in wrong["error"]["message"]
    bad_lr = w.ask("call", method="set_lr", args={"value": "fast"})
    assert bad_lr["error"]["type"] == "BadInput"
    specs = w.ask("call", method="set_callbacks", args={"specs": [{"kwargs": 3}]})
    assert specs["error"]["type"] == "BadInput" and "specs[0]" in specs["error"]["message"]
    assert w.ask("read", what="status")["result"]["state"] == "running"
    assert ("set_lr", ("fast",)) not in session.calls


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x00\x00\x05hello",  # not JSON
        b"\x00\x00\x00\x00",  # length 0
        p.HEADER.pack(p.MAX_REQUEST + 1),  # over the limit
        p.HEADER.pack(2) + b"[]",  # not an object
        p.encode({"op": "call", "id": 1, "method": "fit"}),  # unknown method
        p.encode({"op": "read", "id": 1, "what": "status"}).replace(b'"v":1', b'"v":2'),
    ],
)
def test_a_bad_frame_closes_only_its_connection(served, garbage):
    session, server, connect = served
    running(session)
    bad, good = connect(), connect()
    assert good.ask("subscribe")["ok"]
    bad.raw(garbage)
    error = bad.frame()
    assert error is not None and error["ok"] is False
    assert error["error"]["type"] == "ProtocolError"
    assert bad.frame() is None  # closed after the one error
    before = session.status().session_step
    wait_for(lambda: session.status().session_step > before + 5, "training to go on")
    assert good.ask("read", what="status")["result"]["state"] == "running"
    assert [c.viewer for c in server.connections] == ["viewer"]


def test_a_command_from_one_viewer_is_the_same_event_on_both_in_order(served):
    session, server, connect = served
    running(session)
    a, b = connect(), connect()
    a.ask("subscribe"), b.ask("subscribe")
    first, second = a.send("call", method="pause"), b.send("call", method="resume")
    assert a.reply(first)["ok"] and b.reply(second)["result"] == "continued"
    seen = []
    for wire in (a, b):
        pushes = [wire.push() for _ in range(4)]  # pause, paused, resume, running
        seen.append(
            [(m.get("index"), m.get("event", {}).get("kind"), m.get("state")) for m in pushes]
        )
    assert seen[0] == seen[1]
    assert seen[0] == [
        (1, "pause", None),
        (None, None, "paused"),
        (2, "resume", None),
        (None, None, "running"),
    ]
    assert [e.kind for e in session.events()][1:3] == ["pause", "resume"]


def test_a_viewer_that_stops_reading_is_dropped_and_training_goes_on(served, monkeypatch):
    monkeypatch.setattr(p, "MAX_QUEUED", 4)
    session, server, connect = served
    running(session)
    slow, steer = connect(), connect()
    slow.ask("subscribe")
    steer.ask("hello", viewer="steer")
    big = "x" * 60_000  # each push ~60 kB: the socket's buffers fill, then the queue
    for _ in range(60):  # one at a time: a burst of replies would fill steer's own queue
        assert steer.ask("call", method="note_error", args={"message": big})["ok"]
    wait_for(lambda: len(server.connections) == 1, "the slow viewer to be dropped")
    assert [c.viewer for c in server.connections] == ["steer"]
    before = session.status().session_step
    wait_for(lambda: session.status().session_step > before + 10, "training to go on")
    received = 0
    try:
        while slow.frame() is not None:
            received += 1
    except (p.ProtocolError, AssertionError):
        pass  # cut mid-frame: the drop aborts the connection
    assert received < 61  # it lost pushes: it was dropped, not waited for


def test_tcp_needs_the_token_first(tmp_path):
    session = FakeSession(fake_config(tmp_path / "run"), rate=100.0)
    server = SessionServer(session, session.run_dir, listen=("127.0.0.1", 0)).start()
    session.start()
    try:
        token = token_path(session.run_dir)
        assert stat.S_IMODE(token.stat().st_mode) == 0o600
        assert token.read_text().strip() == server.token and len(server.token) == 64
        address = ("127.0.0.1", server.port)
        for first in ({"op": "hello", "token": "0" * 64}, {"op": "read", "what": "status"}):
            wrong = Wire(address)
            wrong.send(**first)
            error = wrong.frame()
            assert error["ok"] is False and error["error"]["type"] == "ProtocolError"
            assert wrong.frame() is None
            wrong.close()
        right = Wire(address)
        hello = right.ask("hello", token=server.token, viewer="tunnel")["result"]
        assert hello["run_dir"] == str(session.run_dir.resolve())
        assert right.ask("read", what="status")["ok"]
        right.close()
    finally:
        server.close()
        session.stop()
    assert not token.exists() and not server.socket.exists()


def test_socket_0600_in_a_0700_folder(served):
    session, server, connect = served
    assert server.socket == socket_path(session.run_dir)
    assert stat.S_ISSOCK(os.lstat(server.socket).st_mode)
    assert stat.S_IMODE(os.stat(server.socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(server.socket.parent).st_mode) == 0o700


def test_telemetry_snapshot_then_blocks_rebuild_the_same_charts(served):
    session, server, connect = served
    wait_for(lambda: session.status().session_step > 20, "some steps")
    w = connect()
    snap = w.ask("telemetry", cursor=None)["result"]
    mirror = TelemetryStore()
    mirror.load_snapshot(snap)
    cursor = snap["cursor"]
    wait_for(lambda: session.status().session_step > 40, "more steps")
    w.ask("call", method="pause")
    got = w.ask("telemetry", cursor=cursor)["result"]
    for block in got["blocks"]:
        mirror.append_columns(block["x"], block["columns"])
    assert got["layer_names"] == session.telemetry.layer_names
    for name in ("loss", "global_norm", "layer/0"):
        assert mirror.window(name) == session.telemetry.window(name)
    assert w.ask("telemetry", cursor=10**9)["result"]["resync"] is True


def test_a_long_socket_path_falls_back_to_a_private_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "rt"))
    (tmp_path / "rt").mkdir(mode=0o700)
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    path = socket_path(deep, create=True)
    assert path.parent == tmp_path / "rt" / "weightwatch" and len(path.name) == 21
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert socket_path(Path(str(deep) + "/")) == path  # the same run directory, the same socket


def test_the_telemetry_log_is_bounded_and_an_old_cursor_resyncs(monkeypatch):
    import numpy as np
    from weightwatch.engine import telemetry

    monkeypatch.setattr(telemetry, "LOG_BLOCKS", 3)
    store = TelemetryStore(capacity=8)  # 5 blocks of 10: the buckets halve, stride 8
    for i in range(5):
        store.append_columns(np.arange(i * 10, i * 10 + 10.0), {"loss": np.arange(10.0) + i})
    assert store.since(1) == {"resync": True, "cursor": 5}
    assert [b["x"][0] for b in store.since(2)["blocks"]] == [20.0, 30.0, 40.0]
    assert store.since(5)["blocks"] == []
    mirror = TelemetryStore(capacity=8)
    mirror.load_snapshot(store.snapshot())
    assert mirror.window("loss", width=3) == store.window("loss", width=3)
    assert mirror.snapshot() == store.snapshot()
    monkeypatch.setattr(telemetry, "LOG_VALUES", 30)  # 20 values a block of 10 rows
    store.append_columns([50.0, 51.0], {"loss": [1.0, 2.0]})  # 4 values: keeps 2 blocks
    assert store.since(3)["resync"] is True
    assert [len(b["x"]) for b in store.since(4)["blocks"]] == [10, 2]


def test_a_malformed_snapshot_changes_nothing():
    store = TelemetryStore()
    store.append(1.0, loss=2.0)
    snap = store.snapshot()
    snap["series"]["loss"]["x0"] = [1.0, 2.0]  # n is 1
    with pytest.raises(ValueError, match="x0"):
        TelemetryStore().load_snapshot(snap)
    mirror = TelemetryStore()
    mirror.append(5.0, loss=9.0)
    with pytest.raises(ValueError):
        mirror.load_snapshot({"series": {"loss": {"n": "many"}}})
    assert mirror.latest("loss") == 9.0


def test_a_viewer_killed_mid_stream_is_forgotten_and_training_goes_on(served):
    import socket
    import struct

    session, server, connect = served
    running(session)
    doomed, other = connect(), connect()
    doomed.ask("hello", viewer="doomed"), doomed.ask("subscribe")
    other.ask("hello", viewer="other")
    doomed.send("read", what="report")  # a reply on its way as it dies
    doomed.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    doomed.sock.close()  # a reset, as a kill -9 leaves it
    other.ask("call", method="pause"), other.ask("call", method="resume")
    wait_for(lambda: [c.viewer for c in server.connections] == ["other"], "the dead viewer gone")
    before = session.status().session_step
    wait_for(lambda: session.status().session_step > before + 5, "training to go on")


def test_tcp_silence_and_too_many_viewers_get_one_error(tmp_path, monkeypatch):
    from weightwatch.engine.remote import server as server_module

    monkeypatch.setattr(server_module, "HELLO_TIMEOUT_S", 0.2)
    monkeypatch.setattr(server_module, "MAX_CONNECTIONS", 2)
    session = FakeSession(fake_config(tmp_path / "run"), rate=100.0)
    server = SessionServer(session, session.run_dir, listen=("127.0.0.1", 0)).start()
    try:
        silent = Wire(("127.0.0.1", server.port))
        error = silent.frame()
        assert error["error"] == {
            "type": "ProtocolError",
            "message": "no hello with the token in time",
        }
        assert silent.frame() is None
        silent.close()
        first, second = Wire(server.socket), Wire(server.socket)
        first.ask("read", what="status"), second.ask("read", what="status")
        third = Wire(server.socket)
        assert third.frame()["error"]["message"] == "too many viewers (2)"
        assert third.frame() is None
        assert first.ask("read", what="status")["ok"]
        for wire in (first, second, third):
            wire.close()
    finally:
        server.close()
        session.stop()


def test_stop_over_the_wire_replies_with_the_final_report(served):
    session, server, connect = served
    running(session)
    w = connect()
    report = w.ask("call", method="stop")["result"]
    assert report["session_steps"] == session.session_step > 0
    assert report["events"][-1]["kind"] == "quit"
    again = w.ask("call", method="pause")
    assert again["error"] == {"type": "CommandRejected", "message": "the session has stopped"}


def test_a_viewer_that_goes_away_leaves_no_hold_behind(served):
    """A script viewer killed mid-run: its pending hold is cancelled (training runs past that
    step), and a hold the session is parked at is released when nobody else holds anything."""
    session, server, connect = served
    running(session)
    a = connect()
    at = session.status().session_step + 400
    a.send("call", method="hold_at_step", args={"n": at})
    wait_for(lambda: any(c.holds for c in server.connections), "the hold to be registered")
    a.close()  # gone before the hold was reached
    wait_for(lambda: session.status().session_step > at + 20, "training past the dropped hold")
    assert session.state.value == "running"
    b, c = connect(), connect()
    here = session.status().session_step + 40
    rid = b.send("call", method="hold_at_step", args={"n": here})
    assert b.reply(rid)["result"] == here
    assert session.state.value == "holding"
    c.ask("hello", viewer="watcher")  # a viewer holding nothing does not keep the hold
    b.close()  # parked at b's hold, and b is gone: released
    wait_for(lambda: session.state.value == "running", "the orphaned hold to be released")
    # then past the hold: the fake's next step can come a moment after its state changes (it
    # had not come yet, once, on a loaded CI host)
    wait_for(lambda: session.status().session_step > here, "training past the released hold")
