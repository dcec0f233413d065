"""Viewers that die, hang up or stop reading never stop or slow the training, and a session
process killed with `kill -9` leaves its run directory as consistent as a local run does.

Fast tests: viewer *processes* that are raw protocol clients (no Textual, no TensorFlow) of a
served FakeSession, killed with SIGKILL or SIGHUP mid-stream; a viewer that stops reading.
Slow tests: real `weightwatch attach` dashboards in pseudo-terminals on a real detached session
(`weightwatch run --detach`): one killed, one hung up (its terminal closed, then SIGHUP, as a
dropped SSH connection does); then the session process itself killed with `kill -9`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from weightwatch.engine.remote.protocol import MAX_QUEUED
from weightwatch.engine.remote.server import SessionServer

from tests.fakes.fake_session import FakeSession, fake_config

from .fuzzkit import Raw, frame

T = 30.0
ROOT = Path(__file__).resolve().parents[2]

# A viewer process: subscribes, pulls telemetry as the dashboard does, reads what comes.
RAW_VIEWER = textwrap.dedent(
    """
    import signal, socket, struct, sys, json, time
    # a viewer dies of SIGHUP as a terminal program does, even when started under nohup
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    def send(obj):
        body = json.dumps({"v": 1, **obj}).encode()
        s.sendall(struct.pack(">I", len(body)) + body)
    send({"op": "hello", "id": 1, "viewer": "raw"}); send({"op": "subscribe", "id": 2})
    print("ready", flush=True)
    i = 3
    while True:
        send({"op": "telemetry", "id": i, "cursor": None}); i += 1
        s.recv(1 << 16)
        time.sleep(0.002)
    """
)


class Served:
    """A FakeSession training by itself behind a server, and a well-behaved viewer."""

    def __init__(self, run_dir: Path) -> None:
        self.session = FakeSession(fake_config(run_dir, epochs=100_000), rate=300.0)
        self.server = SessionServer(self.session, run_dir).start()
        self.loop_errors: list[str] = []
        self.server._loop.set_exception_handler(
            lambda loop, ctx: self.loop_errors.append(str(ctx.get("exception") or ctx))
        )
        self.thread = self.session.start()
        self.watcher = Raw(self.server.socket)
        self.rid = 100

    def ask(self, **request) -> dict:
        self.rid += 1
        self.watcher.send(frame({**request, "id": self.rid}))
        got = self.watcher.reply(self.rid)
        assert got["ok"], got
        return got["result"]

    def steps(self) -> int:
        return self.ask(op="read", what="status")["session_step"]

    def viewers(self) -> list[str]:
        return [v["viewer"] for v in self.ask(op="read", what="viewers")]

    def until(self, predicate, what: str) -> None:
        deadline = time.monotonic() + T
        while not predicate():
            assert time.monotonic() < deadline, f"timed out: {what}"
            time.sleep(0.02)

    def trains_on(self, where: str) -> None:
        """Steps grow, the server's loop raised nothing, the session was never stopped."""
        before = self.steps()
        self.until(lambda: self.steps() >= before + 10, f"{where}: the session stopped training")
        assert not self.loop_errors, (where, self.loop_errors)
        assert self.thread.is_alive() and ("stop", ()) not in self.session.calls, where
        snap = self.ask(op="telemetry", cursor=None)  # a good viewer still gets good replies
        assert snap["series"]["loss"]["count"] > 0, where

    def close(self) -> None:
        self.watcher.close()
        self.server.close()
        self.session.stop()


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path / "run")
    yield s
    s.close()


def raw_viewer(address: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", RAW_VIEWER, str(address)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_viewer_processes_killed_mid_stream_never_reach_the_session(served, sig):
    rng = random.Random(7)
    for trial in range(4):
        procs = [raw_viewer(served.server.socket) for _ in range(3)]
        served.until(lambda: served.viewers().count("raw") == 3, "three viewers connected")
        for proc in procs:
            time.sleep(rng.uniform(0.0, 0.05))  # mid-request, mid-reply, between the two
            os.kill(proc.pid, sig)
            assert proc.wait(T) == -sig
            proc.stdout.close()
        served.until(lambda: "raw" not in served.viewers(), f"trial {trial}: dead viewers left")
        served.trains_on(f"trial {trial} ({sig.name})")


def test_a_viewer_that_stops_reading_is_dropped_and_never_blocks_training(served):
    stalled = Raw(served.server.socket)
    stalled.send(frame({"op": "hello", "id": 1, "viewer": "stalled"}))
    stalled.send(frame({"op": "subscribe", "id": 2}))
    served.until(lambda: "stalled" in served.viewers(), "the stalled viewer connected")
    # It asks and asks and never reads: the replies fill the socket, then its bounded queue.
    # (A send that times out would leave half a frame, which the server rightly waits for: so
    # the sends block, generously, and only the drop ends them.)
    stalled.sock.settimeout(T)
    began, steps = time.monotonic(), served.steps()
    for i in range(3, 50_000):
        try:
            stalled.sock.sendall(frame({"op": "read", "id": i, "what": "status"}))
        except (BrokenPipeError, ConnectionResetError):
            break  # the server dropped it
        if i % 500 == 0 and "stalled" not in served.viewers():
            break
    served.until(lambda: "stalled" not in served.viewers(), "the stalled viewer was dropped")
    assert i > MAX_QUEUED, f"dropped after {i} requests: before its queue could be full"
    served.until(lambda: served.steps() > steps, "training waited for the stalled viewer")
    served.trains_on(f"after the stalled viewer was dropped ({time.monotonic() - began:.1f} s)")
    stalled.close()


# ----- the real thing (slow): weightwatch attach in terminals, a detached session ---------------


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


@pytest.fixture
def detached(tmp_path, monkeypatch):
    """A real detached session of a small config (this test's own ps registry)."""
    from tests.conftest import write_config

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config = write_config(tmp_path / "job", epochs=100_000, n=64, batch=16)
    done = cli("run", str(config), "--detach")
    assert done.returncode == 0, done.stderr
    run_dir = (tmp_path / "job" / "run").resolve()
    (entry,) = [json.loads(p.read_text()) for p in (tmp_path / "state").rglob("*.json")]
    yield run_dir, entry["pid"]
    try:
        os.kill(entry["pid"], signal.SIGKILL)  # only the session this fixture started
    except ProcessLookupError:
        pass


@pytest.mark.slow
def test_real_viewers_killed_and_hung_up_do_not_stop_a_detached_session(detached):
    from tests.remote.terminals import Viewer, steps_of

    run_dir, pid = detached
    a, b = Viewer(run_dir), Viewer(run_dir)
    try:
        a.shows("loss"), b.shows("loss")
        before = steps_of(run_dir)
        os.kill(a.proc.pid, signal.SIGKILL)
        assert a.proc.wait(T) == -signal.SIGKILL
        b.hang_up()  # the terminal closed, then SIGHUP: a dropped SSH connection
        assert b.proc.wait(T) is not None
        deadline = time.monotonic() + T
        while steps_of(run_dir) < before + 20:
            assert time.monotonic() < deadline, "the session stopped training"
            time.sleep(0.1)
    finally:
        a.close(), b.close()
    ps = cli("ps")
    assert ps.returncode == 0 and " running " in ps.stdout and "0 viewers" in ps.stdout, ps.stdout
    stop = cli("stop", str(run_dir))
    assert stop.returncode == 0, stop.stderr
    report = json.loads((run_dir / "report.json").read_text())
    kinds = [e["kind"] for e in report["events"]]
    assert kinds[-1] == "quit" and "pause" not in kinds  # no viewer's death paused it


@pytest.mark.slow
def test_kill_9_of_the_session_process_with_a_viewer_attached(detached):
    from tests.remote.terminals import Viewer

    run_dir, pid = detached
    viewer = Viewer(run_dir)
    try:
        viewer.shows("loss")
        saver = Raw(socket_path_of(run_dir))
        for i, name in enumerate(("first", "second", "third")):
            saver.send(frame({"op": "call", "id": i + 1, "method": "save", "args": {"name": name}}))
            assert saver.reply(i + 1)["ok"]
        saver.send(frame({"op": "call", "id": 9, "method": "save", "args": {"name": "last"}}))
        time.sleep(random.Random(3).uniform(0.0, 0.05))  # maybe in the middle of that save
        os.kill(pid, signal.SIGKILL)
        saver.close()
        viewer.shows("STOPPED")  # the dashboard stays, at the last state it saw
        viewer.press("q")  # leaving says what happened, exit 1
        assert viewer.proc.wait(T) == 1, viewer.text()
        said = viewer.output_lines()
    finally:
        viewer.close()
    assert len(said) == 1 and f"process {pid} ended without a clean stop" in said[0], said
    attach = cli("attach", str(run_dir))
    assert attach.returncode == 1 and attach.stderr.count("\n") == 1, attach.stderr
    assert f"process {pid} ended without a clean stop" in attach.stderr
    ps = cli("ps")
    assert f"process {pid} ended without a clean stop" in ps.stdout and ps.stdout.count("\n") == 1
    check_consistent(run_dir, {"first", "second", "third"})


def socket_path_of(run_dir: Path) -> Path:
    from weightwatch.engine.remote.locate import socket_path

    return socket_path(run_dir)


def check_consistent(run_dir: Path, saved: set[str]) -> None:
    """As after a local run's kill -9: every listed checkpoint loadable (the saves that had
    replied among them), every log line complete but perhaps a torn last one."""
    listed = json.loads(cli("inspect", str(run_dir), "--json").stdout)["checkpoints"]
    ours = {c["name"] for c in listed if c["source"] == "weightwatch"}
    assert saved <= ours <= saved | {"last"}, ours
    assert all(c["loadable"] for c in listed if c["source"] == "weightwatch"), listed
    for name in ("events.jsonl", "metrics.csv"):
        lines = (run_dir / name).read_text().split("\n")
        whole = lines[:-1]  # after the last newline: nothing, or a line torn by the kill
        assert whole, name
        if name == "events.jsonl":
            assert all(isinstance(json.loads(line), dict) for line in whole)
        else:
            width = whole[0].count(",")
            assert all(line.count(",") == width for line in whole), name
