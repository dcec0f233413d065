"""RemoteSession beyond the conformance suite: TCP with its token, a lost connection as a state
(never an exception into the UI), and the telemetry mirror matching the session's store."""

from __future__ import annotations

import pytest
from weightwatch.engine.errors import CommandRejected
from weightwatch.engine.events import Event, StateChanged
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.remote.client import RemoteSession, SessionUnreachable
from weightwatch.engine.remote.locate import describe_dead, token_path
from weightwatch.engine.remote.server import SessionServer
from weightwatch.tui.cli import main

from tests.fakes.fake_session import FakeSession, fake_config

from .wire import T, wait_for


@pytest.fixture
def served(tmp_path):
    """A fake training by itself (200 batches/s) behind a server on the socket and on TCP."""
    session = FakeSession(fake_config(tmp_path / "run", epochs=100), rate=200.0)
    session.run_dir.mkdir(parents=True)
    server = SessionServer(session, session.run_dir, listen=("127.0.0.1", 0)).start()
    session.start()
    yield session, server
    server.close()
    session.stop()


def test_tcp_with_the_token_is_a_session_and_a_wrong_token_one_line(served, tmp_path, capsys):
    fake, server = served
    address = f"tcp://127.0.0.1:{server.port}"
    token = token_path(fake.run_dir).read_text().strip()
    client = RemoteSession(address, token=token)
    try:
        assert client.config == fake.config
        assert client.run_dir == fake.run_dir.resolve()  # the session's, from hello
        assert client.kind == "tcp" and client.state is S.RUNNING
    finally:
        client.close()
    with pytest.raises(SessionUnreachable, match="wrong or missing token"):
        RemoteSession(address, token="0" * 64)
    (tmp_path / "bad-token").write_text("f" * 64 + "\n")
    assert main(["attach", address, "--token-file", str(tmp_path / "bad-token")]) == 1
    err = capsys.readouterr().err
    assert err == f"weightwatch: {address}: hello: wrong or missing token\n"
    assert fake.state is S.RUNNING  # nobody got in, nothing changed


def test_a_lost_connection_is_a_stopped_state_with_a_reason_not_an_exception(served):
    fake, server = served
    heard: list[object] = []
    client = RemoteSession(fake.run_dir, listener=heard.append)
    try:
        wait_for(lambda: client.status().session_step > 0, "a status read")
        server.close()  # the session process went away
        wait_for(lambda: client.state is S.STOPPED, "the client to notice")
        said = describe_dead(fake.run_dir)  # from the run directory's files (the fake's: none)
        closed, reset = "the session closed the connection", "the connection was lost"
        assert client.status().message.startswith((closed, reset))  # a clean close or a reset
        assert client.status().message.endswith(f": {said}")
        (change,) = [m for m in heard if isinstance(m, StateChanged)]
        assert change.state is S.STOPPED and change.reason == client.status().message
        with pytest.raises(CommandRejected, match="not connected"):
            client.pause().result(T)
        assert client.list_checkpoints() == [] and set(client.report()) >= {"events", "final"}
        client.run()  # returns at once: the session is gone
    finally:
        client.close()


def test_the_telemetry_mirror_is_the_sessions_store(served):
    fake, _ = served
    client = RemoteSession(fake.run_dir)
    try:
        wait_for(lambda: fake.status().session_step > 30, "training")
        at = client.hold_at_step(fake.status().session_step + 20).result(T)
        assert client.telemetry.last_x() == at == fake.telemetry.last_x()
        assert sorted(client.telemetry.names()) == sorted(fake.telemetry.names())
        for name in fake.telemetry.names():
            assert client.telemetry.window(name, width=50) == fake.telemetry.window(name, width=50)
        assert client.telemetry.layer_names == fake.telemetry.layer_names
        client.release()
    finally:
        client.close()


def test_a_viewer_the_server_dropped_comes_back_and_misses_no_event(served):
    fake, server = served
    heard: list[object] = []
    client = RemoteSession(fake.run_dir, listener=heard.append)
    try:
        wait_for(lambda: len(server.connections) == 1, "the viewer to connect")
        (conn,) = server.connections
        server._loop.call_soon_threadsafe(conn.drop)  # as when its queue filled up
        fake.pause().result(T)  # an event while it was away (or just after)
        wait_for(lambda: client.reconnects == 1 and client.state is S.PAUSED, "a reconnect")
        assert client.pause().exception(T) is not None  # the session answers again: refused
        assert client.resume().result(T) == "continued"
        assert [e.kind for e in client.events()] == [e.kind for e in fake.events()]
        told = [m.kind for m in heard if isinstance(m, Event)]
        assert told == ["pause", "resume"]  # each once, in order
        assert client.lost is None and client.state is S.RUNNING
    finally:
        client.close()


def test_a_config_with_class_weight_crosses_the_wire_and_comes_back_whole(tmp_path):
    """`[train] class_weight` has int keys (as fit takes them): the hello's config is plain data
    with string keys, and the viewer's Config has the ints back."""
    from dataclasses import replace

    from weightwatch.engine.api import plain
    from weightwatch.engine.remote.rebuild import config_from_plain, config_to_plain

    from tests.fakes.fake_session import fake_config

    config = fake_config(tmp_path / "run")
    config = replace(config, train=replace(config.train, class_weight={0: 1.0, 1: 5.0}))
    with pytest.raises(TypeError):
        plain(config)  # int keys are not plain data: the hello must not send it as it is
    wire = config_to_plain(config)
    assert wire["train"]["class_weight"] == {"0": 1.0, "1": 5.0}
    assert config_from_plain(wire).train.class_weight == {0: 1.0, 1: 5.0}
