"""Two sessions on one run directory (issue 10).

One live session per run directory: `RUN_DIR/session.lock`, held with `flock` for the session's
life, so the kernel drops it however the process ends. A second session (`run --plain`,
`--headless`, `demo`) is refused in one line naming the holder's pid, before it touches anything
(the first one's in-flight temp files survive); `inspect` needs no lock. A lock left by a killed
session is taken over with a note in `events.jsonl`. Every `metrics.csv` row names the session
that wrote it, and `read_run`/`inspect` attribute records by session id, not by file order.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from weightwatch.engine.atomic import TEMP_PREFIX
from weightwatch.engine.config import load_config
from weightwatch.engine.errors import BadInput
from weightwatch.engine.inspect import inspect_run
from weightwatch.engine.runlock import LOCK_NAME, RunDirInUse, RunLock
from weightwatch.engine.runlog import METRIC_COLUMNS, read_run

from tests.conftest import write_config

from .conftest import T, check_report, saving_child
from .terminal import Terminal

CLI = [sys.executable, "-m", "weightwatch.tui.cli"]
LONG = 100_000  # epochs: the first session is still training when the test is done with it


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=T)


def records(run: Path) -> list[dict]:
    out = []
    for line in (run / "events.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass  # a torn line after kill -9
    return out


def session_ids(run: Path) -> list[str]:
    return [r["session"] for r in records(run) if r["type"] == "session"]


def metric_rows(run: Path) -> list[dict]:
    path = run / "metrics.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("session")]  # whole rows only


def wait_for(predicate, child: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + T
    while not predicate():
        assert child.poll() is None, f"{what}: the child exited ({child.returncode})"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def refused_line(run_shown: str, pid: int) -> re.Pattern:
    return re.compile(
        rf"weightwatch: \S*{re.escape(run_shown)} is in use by a live session \(pid {pid}, "
        r"started [0-9: -]+\); use another --run-dir"
    )


def test_a_second_session_is_refused_and_the_first_trains_on_to_its_report(tmp_path):
    config = write_config(tmp_path / "two", epochs=LONG)
    run = tmp_path / "two" / "run"
    first = subprocess.Popen(
        [*CLI, "run", str(config), "--plain"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: metric_rows(run), first, "the first session to train")
        # what a save in progress looks like: a second session's start used to delete it
        inflight = run / "checkpoints" / f"{TEMP_PREFIX}in-flight.0a1b2c3d.weights.h5"
        inflight.parent.mkdir(exist_ok=True)
        inflight.write_bytes(b"half a save")
        attempts = [
            ["run", str(config), "--plain"],
            ["run", str(config), "--headless"],
            ["run", str(config), "--plain", "--run-dir", str(run)],
            ["demo", "--headless", "--run-dir", str(run)],
        ]
        for args in attempts:
            out = cli(*args, cwd=tmp_path)
            assert out.returncode == 2, (args, out.stdout[-500:], out.stderr[-2000:])
            lines = out.stderr.strip().splitlines()
            assert len(lines) == 1 and refused_line("two/run", first.pid).fullmatch(lines[0]), (
                args,
                out.stderr,
            )
            assert out.stdout == ""
        term = Terminal("run", str(config), cwd=tmp_path)  # the dashboard: refused before it opens
        assert term.wait(T) == 2, term.text[-2000:]
        lines = term.text.decode().strip().splitlines()
        assert len(lines) == 1 and refused_line("two/run", first.pid).fullmatch(lines[0].strip())
        looked = cli("inspect", str(run), "--json", cwd=tmp_path)  # read-only: no lock needed
        assert looked.returncode == 0, looked.stderr
        assert [e["kind"] for e in json.loads(looked.stdout)["events"]] == ["started"]
        assert inflight.read_bytes() == b"half a save"
        seen = len(metric_rows(run))
        wait_for(lambda: len(metric_rows(run)) > seen + 8, first, "the first to train on")
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=T)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, err
    report = json.loads((run / "report.json").read_text())
    check_report(report)
    assert report["events"][-1]["kind"] == "quit"
    (sid,) = session_ids(run)  # the refused ones wrote nothing
    rows = metric_rows(run)
    assert [int(r["session_step"]) for r in rows] == list(range(1, report["session_steps"] + 1))
    assert {r["session"] for r in rows} == {sid}
    assert (run / LOCK_NAME).read_text() == ""  # released cleanly: the next start is not stale


def test_kill_9_leaves_a_stale_lock_that_the_next_session_takes_over(tmp_path):
    config = write_config(tmp_path / "k", epochs=1_000_000)
    run = tmp_path / "k" / "run"
    with saving_child(config, run) as child:
        refused = cli("run", str(config), "--plain", cwd=tmp_path)  # while it saves every batch
        assert refused.returncode == 2 and f"(pid {child.pid}, started" in refused.stderr
        assert child.poll() is None
        saved = sum(r.get("kind") == "checkpoint_saved" for r in records(run))
        wait_for(
            lambda: sum(r.get("kind") == "checkpoint_saved" for r in records(run)) > saved + 3,
            child,
            "the saver to go on saving",
        )
    (old,) = session_ids(run)
    short = write_config(tmp_path / "k2", epochs=1)  # 4 batches
    out = cli("run", str(short), "--plain", "--run-dir", str(run), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    again, new = session_ids(run)
    assert again == old
    notes = [r for r in records(run) if r["type"] == "note"]
    assert [(n["session"], n["message"]) for n in notes] == [
        (new, f"stale lock from pid {child.pid} taken over")
    ]
    assert notes[0]["stale_lock"]["session"] == old
    rows = metric_rows(run)
    assert {r["session"] for r in rows} == {old, new}
    assert [int(r["session_step"]) for r in rows if r["session"] == new] == [1, 2, 3, 4]
    assert [e["kind"] for e in inspect_run(run)["events"]] == ["started", "finished", "quit"]


def test_metrics_csv_names_the_session_of_every_row_across_sessions(make_config):
    from weightwatch.engine.session import Session

    config = make_config(epochs=2)
    run = Path(config.run.run_dir)
    run.mkdir(parents=True)
    old = "session_step,model_step,epoch,instance,loss,lr,global_norm\r\n1,1,0,1,0.5,0.001,2.0\r\n"
    (run / "metrics.csv").write_text(old, newline="")  # a file from before the session column
    ids = []
    for _ in range(2):
        s = Session(config)
        with pytest.raises(RunDirInUse, match=rf"\(pid {os.getpid()}, started"):
            Session(config)  # in one process too: flock holds per open file
        held = s.hold_at_step(3)
        s.start()
        held.result(T)
        s.stop().result(T)
        assert s.stopped.wait(T)
        ids.append(s.session_id)
    assert session_ids(run) == ids and ids[0] != ids[1]
    (kept,) = run.glob("metrics.before-*.csv")
    assert kept.name == f"metrics.before-{ids[0]}.csv" and kept.read_bytes() == old.encode()
    with open(run / "metrics.csv", newline="") as f:
        header, *body = list(csv.reader(f))
    assert header == [*METRIC_COLUMNS, "norm/hidden", "norm/out", "session"]
    assert [(int(r[0]), r[-1]) for r in body] == [(i, sid) for sid in ids for i in (1, 2, 3)]
    notes = [r for r in records(run) if r["type"] == "note"]
    assert [n["session"] for n in notes] == [ids[0]] and kept.name in notes[0]["message"]


def test_records_are_attributed_by_session_id_not_by_order(tmp_path):
    """Two sessions that wrote at once (before the lock, or a copied-together log): the latest
    session's events are its own, wherever they sit in the file."""

    def ev(sid, kind, step):
        return {"type": "event", "session": sid, "kind": kind, "session_step": step}

    lines = [
        {"type": "session", "session": "aaaa", "time": 1.0, "pid": 1},
        ev("aaaa", "started", 0),
        {"type": "session", "session": "bbbb", "time": 2.0, "pid": 2},
        ev("bbbb", "started", 0),
        ev("aaaa", "checkpoint_saved", 5),
        {"type": "segment", "session": "aaaa", "index": 0, "origin": "fresh"},
        ev("bbbb", "pause", 3),
        {"type": "segment", "session": "bbbb", "index": 0, "origin": "restored"},
        ev("aaaa", "quit", 9),
    ]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    events, segments = read_run(tmp_path)
    assert [(e["kind"], e["session_step"]) for e in events] == [("started", 0), ("pause", 3)]
    assert [s["origin"] for s in segments] == ["restored"]
    assert [e["kind"] for e in inspect_run(tmp_path)["events"]] == ["started", "pause"]


def test_the_lock_file_itself(tmp_path):
    """No TensorFlow: held, refused, released, stale, and never followed out of the folder."""
    lock = RunLock.acquire(tmp_path, "s1")
    held = json.loads((tmp_path / LOCK_NAME).read_text())
    assert held["pid"] == os.getpid() and held["session"] == "s1" and held["host"]
    with pytest.raises(RunDirInUse) as refused:
        RunLock.acquire(tmp_path, "s2")
    assert f"is in use by a live session (pid {os.getpid()}, started " in str(refused.value)
    lock.release()
    lock.release()  # twice is fine
    assert (tmp_path / LOCK_NAME).read_text() == ""
    again = RunLock.acquire(tmp_path, "s3")
    assert again.stale is None and again.notes == []
    again.release()

    # what kill -9 leaves: the content, but no flock
    dead = {"pid": 4242, "host": "h", "started": 1.0, "session": "old"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(dead))
    taken = RunLock.acquire(tmp_path, "s4")
    assert taken.stale == dead
    assert [n["message"] for n in taken.notes] == ["stale lock from pid 4242 taken over"]
    taken.release()

    # a run directory is input too: a planted link must not make weightwatch write elsewhere
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    (tmp_path / LOCK_NAME).unlink()
    (tmp_path / LOCK_NAME).symlink_to(outside)
    with pytest.raises(BadInput, match=LOCK_NAME):
        RunLock.acquire(tmp_path, "s5")
    (tmp_path / LOCK_NAME).unlink()
    os.link(outside, tmp_path / LOCK_NAME)
    with pytest.raises(BadInput, match=LOCK_NAME):
        RunLock.acquire(tmp_path, "s6")
    assert outside.read_text() == "precious"


@pytest.mark.slow
def test_kill_9_at_random_moments_never_leaves_a_lock_that_blocks(tmp_path):
    """Ten saver children killed at random moments (mostly inside a save): while each lives a
    session is refused naming it; once it is killed the next one takes the lock over."""
    from weightwatch.engine.session import Session

    rng = random.Random()
    config = write_config(tmp_path / "r", epochs=1_000_000)
    run = tmp_path / "r" / "run"
    for trial in range(10):
        with saving_child(config, run) as child:
            with pytest.raises(RunDirInUse, match=rf"\(pid {child.pid}, started"):
                RunLock.acquire(run, "probe")
            time.sleep(rng.uniform(0.0, 0.5))
        s = Session(load_config(config), run_dir=run)  # not started: no TensorFlow needed
        assert s.run_lock.stale["pid"] == child.pid, trial
        s.close()
