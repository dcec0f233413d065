"""`weightwatch serve`'s bad input and dead sessions: one line each, no traceback, nothing
served (fast: no browser, no TensorFlow)."""

from __future__ import annotations

import socket

import pytest
from weightwatch.engine.remote.server import SessionServer
from weightwatch.tui.cli import main
from weightwatch.tui.serve import attach_command, public_url

from tests.fakes.fake_session import FakeSession, fake_config

pytest.importorskip("textual_serve")


def run(argv, capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_serving_a_run_directory_with_no_session_is_one_line_exit_1(tmp_path, capsys):
    rc, out, err = run(["serve", str(tmp_path / "nothing")], capsys)
    assert (rc, out) == (1, "")
    assert err == f"weightwatch: no session in {tmp_path / 'nothing'}: no such run directory\n"


@pytest.mark.parametrize("port", ["0", "70000"])
def test_a_port_out_of_range_is_one_line_exit_2(tmp_path, capsys, port):
    rc, _, err = run(["serve", str(tmp_path), "--port", port], capsys)
    assert rc == 2
    assert err == f"weightwatch: --port: expected a port number in 1..65535, received {port}\n"


def test_a_busy_port_is_one_line_exit_2_and_the_session_goes_on(tmp_path, capsys):
    session = FakeSession(fake_config(tmp_path / "run"))
    server = SessionServer(session, tmp_path / "run").start()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        rc, _, err = run(["serve", str(tmp_path / "run"), "--port", str(port)], capsys)
    finally:
        taken.close()
        server.close()
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith(f"weightwatch: --port {port}: cannot listen on 127.0.0.1:{port}")
    assert ("stop", ()) not in session.calls


def test_each_tab_runs_this_interpreters_attach_quoted_for_the_shell(tmp_path):
    odd = tmp_path / "a run; rm -rf x"
    command = attach_command(odd, python="/opt/py thon")
    assert command == f"'/opt/py thon' -m weightwatch.tui.cli attach '{odd}'"
    assert public_url("::1", 8000) == "http://[::1]:8000"
