"""`run --detach`, `stop`, `ps` and describe_dead: what a person sees, and what is on disk.

One test starts a real session process (TensorFlow); the kill -9 one is `slow`. The rest fake the
run directory's files or serve the test double, so they take milliseconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from weightwatch.engine.remote import registry
from weightwatch.engine.remote.locate import describe_dead, socket_path
from weightwatch.engine.remote.server import SessionServer
from weightwatch.engine.runlock import RunLock
from weightwatch.tui.cli import main

from tests.conftest import write_config
from tests.fakes.fake_session import FakeSession, fake_config
from tests.remote.wire import Wire

T = 180.0  # seconds: TensorFlow's import on a shared machine


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch):
    """A registry of our own (ps lists only what these tests started)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    yield tmp_path / "state"
    # A test that failed half-way must not leave its session process training forever (one was
    # found still at 80 % CPU after its run directory was gone): kill what the registry lists.
    for entry in registry.entries():
        try:
            pid = int(entry["pid"])
            if b"weightwatch.engine.remote.daemon" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)  # only our session process, never a reused pid
        except (OSError, ValueError, KeyError):
            pass


def cli(argv, capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def fake_run_dir(path: Path, *, pid: int | None, events=(), metrics_step=None, report=False):
    """A run directory as a session leaves it: the lock's holder (None: a clean release)."""
    path.mkdir(parents=True)
    holder = "" if pid is None else json.dumps({"pid": pid, "started": time.time()})
    (path / "session.lock").write_text(holder)
    lines = [json.dumps({"type": "event", "kind": k, "session_step": s}) for k, s in events]
    (path / "events.jsonl").write_text("\n".join(lines) + '\n{"type": "event", "kin')  # torn
    if metrics_step is not None:
        (path / "metrics.csv").write_text(f"session_step,loss\n{metrics_step},0.5\n{metrics_step}")
    if report:
        (path / "report.json").write_text("{}")
    return path


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ----- describe_dead ------------------------------------------------------------------------


def test_describe_dead_says_what_the_files_say(tmp_path):
    pid = dead_pid()
    killed = fake_run_dir(
        tmp_path / "killed",
        pid=pid,
        events=[("started", 0), ("checkpoint_saved", 1200)],
        metrics_step=1100,
    )
    assert describe_dead(killed) == (
        f"the session in killed is not running: process {pid} ended without a clean stop "
        "at session step 1,200 (last event: checkpoint_saved)"
    )
    later = fake_run_dir(tmp_path / "later", pid=pid, events=[("started", 0)], metrics_step=4096)
    assert describe_dead(later).endswith("at session step 4,096 (last event: started at step 0)")
    clean = fake_run_dir(tmp_path / "clean", pid=None, events=[("quit", 80)], report=True)
    assert describe_dead(clean) == (
        "the session in clean is not running: it stopped cleanly at session step 80 "
        "(last event: quit)"
    )
    alive = fake_run_dir(tmp_path / "alive", pid=os.getpid(), events=[("started", 0)])
    assert describe_dead(alive) is None
    assert describe_dead(tmp_path / "nowhere") == "no session in nowhere: no such run directory"


# ----- bad input: exit 2 before anything starts ----------------------------------------------


@pytest.mark.parametrize(
    "extra, expect",
    [
        (["--headless"], "--detach: does not combine with --headless"),
        (["--script", "s.toml"], "--detach: does not combine with --script"),
        (["--listen", "localhost:http"], "--listen localhost:http: expected HOST:PORT"),
        (["--from", "nope"], "checkpoint 'nope': no such checkpoint"),
    ],
)
def test_bad_detach_input_exits_2_and_starts_nothing(tmp_path, capsys, state_home, extra, expect):
    config = write_config(tmp_path / "job")
    rc, out, err = cli(["run", str(config), "--detach", *extra], capsys)
    assert rc == 2
    assert err.count("\n") == 1 and expect in err, err
    assert registry.entries() == []
    assert not (tmp_path / "job" / "run" / "session.log").exists()


def test_a_child_that_fails_at_once_says_its_line_and_exit_code(tmp_path, capsys):
    config = write_config(tmp_path / "job")
    run_dir = tmp_path / "job" / "run"
    run_dir.mkdir(parents=True)
    lock = RunLock.acquire(run_dir, "other")  # a live session holds it: the child refuses
    try:
        rc, out, err = cli(["run", str(config), "--detach", "--run-dir", str(run_dir)], capsys)
    finally:
        lock.release()
    assert rc == 2
    assert "is in use by a live session" in err and err.count("\n") == 1, err
    assert registry.entries() == []


# ----- stop and ps without TensorFlow ------------------------------------------------------


def test_stop_of_a_dead_session_is_one_line_exit_1(tmp_path, capsys):
    pid = dead_pid()
    fake_run_dir(tmp_path / "gone", pid=pid, events=[("started", 0), ("pause", 7)])
    rc, out, err = cli(["stop", "gone"], capsys)
    assert rc == 1
    assert err == (
        f"weightwatch: the session in gone is not running: process {pid} ended without a clean "
        "stop at session step 7 (last event: pause)\n"
    )


def test_ps_lists_a_live_session_with_its_viewers_and_a_dead_one(tmp_path, capsys, state_home):
    session = FakeSession(fake_config(tmp_path / "live", epochs=50), rate=100.0)
    server = SessionServer(session, session.run_dir).start()
    session.start()
    pid = dead_pid()
    fake_run_dir(tmp_path / "dead", pid=pid, events=[("started", 0), ("resume", 42)])
    folder = registry.registry_dir(create=True)
    for name, run_dir, who in (("1", session.run_dir, os.getpid()), ("2", tmp_path / "dead", pid)):
        entry = {"run_dir": str(run_dir), "pid": who, "started": float(name), "listen": None}
        (folder / f"{name}.json").write_text(json.dumps(entry))
    (folder / "junk.json").write_text("not json")
    viewer = Wire(socket_path(session.run_dir))
    viewer.ask("hello", viewer="attach")
    try:
        session.hold_at_step(30).result(timeout=10)
        rc, out, err = cli(["ps"], capsys)
        rc_json, as_json, _ = cli(["ps", "--json"], capsys)
    finally:
        viewer.close()
        server.close()
        session.stop()
    assert rc == 0 and err == ""
    assert out.splitlines() == [
        f"live  holding  epoch 1/50  step 30  1 viewer  pid {os.getpid()}",
        f"dead  dead: the session in dead is not running: process {pid} ended without a clean "
        "stop at session step 42 (last event: resume)",
    ]
    rows = json.loads(as_json)
    assert [r["state"] for r in rows] == ["holding", "dead"]
    assert rows[0]["viewer_names"] == ["attach"] and rows[0]["step"] == 30


# ----- the real thing ------------------------------------------------------------------------


def detach(tmp_path, capsys, epochs=100_000) -> tuple[Path, int]:
    config = write_config(tmp_path / "job", epochs=epochs, n=64, batch=16)
    rc, out, err = cli(["run", str(config), "--detach"], capsys)
    assert rc == 0, err
    run_dir = (tmp_path / "job" / "run").resolve()
    assert "weightwatch attach job/run" in out
    (entry,) = registry.entries()
    assert entry["run_dir"] == str(run_dir)
    return run_dir, entry["pid"]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"


def test_detach_ps_stop_writes_the_report_and_the_process_ends(tmp_path, capsys):
    run_dir, pid = detach(tmp_path, capsys)
    deadline = time.monotonic() + T
    while not json.loads(cli(["ps", "--json"], capsys)[1])[0]["step"]:
        assert time.monotonic() < deadline, "no step trained"
        time.sleep(0.1)
    rc, out, _ = cli(["ps"], capsys)
    assert rc == 0 and out.startswith("job/run  running  epoch ") and f"pid {pid}" in out
    assert os.stat(socket_path(run_dir)).st_mode & 0o777 == 0o600
    viewer = Wire(socket_path(run_dir), timeout=T)  # a viewer of the real session
    assert viewer.ask("hello", viewer="attach")["result"]["pid"] == pid
    viewer.ask("subscribe")
    assert viewer.ask("call", method="pause")["ok"]
    assert viewer.push()["event"]["kind"] == "pause"
    snap = viewer.ask("telemetry", cursor=None)["result"]
    assert snap["series"]["loss"]["count"] > 0 and len(snap["layer_names"]) > 0
    assert "1 viewer" in cli(["ps"], capsys)[1]
    rc, out, err = cli(["stop", "job/run"], capsys)
    assert rc == 0, err
    pushes = [viewer.push() for _ in range(3)]  # paused, quit, stopped: then the end
    assert [m.get("state") or m["event"]["kind"] for m in pushes] == ["paused", "quit", "stopped"]
    assert viewer.frame() is None
    viewer.close()
    report = json.loads((run_dir / "report.json").read_text())
    assert report["session_steps"] > 0 and report["events"][-1]["kind"] == "quit"
    assert f"{report['session_steps']:,} steps trained" in out
    deadline = time.monotonic() + 30
    while not gone(pid):
        assert time.monotonic() < deadline, "the session process did not end"
        time.sleep(0.05)
    assert registry.entries() == [] and not socket_path(run_dir).exists()
    assert (run_dir / "session.lock").read_text() == ""  # released: a clean stop
    assert cli(["ps"], capsys)[1].startswith("weightwatch: no detached sessions")


@pytest.mark.slow
def test_kill_9_of_the_session_process_is_one_line_in_ps_and_stop(tmp_path, capsys):
    run_dir, pid = detach(tmp_path, capsys)
    viewer = Wire(socket_path(run_dir), timeout=T)
    saved = viewer.ask("call", method="save", args={"name": "mid"})["result"]
    viewer.close()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not gone(pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rc, out, _ = cli(["ps"], capsys)
    assert rc == 0
    assert out.startswith(
        f"job/run  dead: the session in job/run is not running: process {pid} ended without "
        "a clean stop at session step "
    ), out
    rc, _, err = cli(["stop", "job/run"], capsys)
    assert rc == 1 and f"process {pid} ended without a clean stop" in err
    # the same run directory takes a new detached session (the stale socket is replaced), and
    # ps forgets the dead one: its run directory is the new session's now
    from weightwatch.engine.checkpoints import CheckpointStore

    (listed,) = CheckpointStore(run_dir, clean=False).list(verify=True)
    assert (listed.name, listed.loadable, listed.model_step) == ("mid", True, saved["model_step"])
    config = tmp_path / "job" / "config.toml"
    rc, _, err = cli(["run", str(config), "--detach", "--from", "mid"], capsys)
    assert rc == 0, err
    viewer = Wire(socket_path(run_dir), timeout=T)
    started = viewer.ask("read", what="events")["result"]["events"][-1]
    viewer.close()
    assert (started["kind"], started["verdict"], started["detail"]["from"]) == (
        "started",
        "restored",
        "mid",
    )
    rc, out, _ = cli(["ps"], capsys)
    assert len(out.splitlines()) == 1 and out.startswith("job/run  running"), out
    assert [e["pid"] for e in registry.entries()] != [pid]
    assert cli(["stop", "job/run"], capsys)[0] == 0


@pytest.mark.slow
def test_sighup_is_ignored_and_sigterm_stops_cleanly(tmp_path, capsys):
    run_dir, pid = detach(tmp_path, capsys)
    os.kill(pid, signal.SIGHUP)
    time.sleep(1.0)
    assert not gone(pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while not gone(pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["events"][-1]["kind"] == "quit"
    assert registry.entries() == []


def test_describe_dead_reads_no_fifo_and_no_link_target(tmp_path):
    """A run directory is input: a FIFO would hang a plain open(), a link must not be taken for a
    path to follow anywhere but to a plain file's bytes."""
    pid = dead_pid()
    run_dir = fake_run_dir(tmp_path / "odd", pid=pid, events=[])
    (run_dir / "events.jsonl").unlink()
    os.mkfifo(run_dir / "events.jsonl")
    (run_dir / "metrics.csv").symlink_to("/dev/zero")
    assert describe_dead(run_dir) == (
        f"the session in odd is not running: process {pid} ended without a clean stop"
    )


@pytest.mark.slow
def test_a_model_that_cannot_be_built_exits_2_and_leaves_no_session(tmp_path, capsys):
    config = write_config(tmp_path / "job", builder="broken")
    models = tmp_path / "job" / "ww_test_models.py"
    models.write_text(
        models.read_text() + "\n\ndef broken():\n    raise ValueError('no model today')\n"
    )
    rc, out, err = cli(["run", str(config), "--detach"], capsys)
    assert rc == 2
    assert err.startswith("weightwatch: could not start: ") and "no model today" in err, err
    assert err.count("\n") == 1
    deadline = time.monotonic() + 30
    while registry.entries():
        assert time.monotonic() < deadline, "the failed session did not end"
        time.sleep(0.05)
    assert json.loads((tmp_path / "job" / "run" / "report.json").read_text())["session_steps"] == 0
