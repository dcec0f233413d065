"""Saves into a folder that refuses writes: a clear one-line error, the previous checkpoint and
the session intact.

The tests run as root, for whom `chmod 0o500` blocks nothing. So the read-only folder is made
with `chattr +i` (immutable: no file may be created, renamed or removed in it, root included) and
the full disk is a real 1 MiB tmpfs, filled up; each is skipped where the system cannot make it.
A third test fails the commit step (`os.replace`) the portable way, with a patch.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from weightwatch.engine.config import load_config
from weightwatch.engine.errors import CheckpointError
from weightwatch.engine.runlog import read_run
from weightwatch.engine.session import Session
from weightwatch.engine.weights import fingerprint

from tests.conftest import write_config

from .conftest import T, check_report
from .test_kill_during_save import leftovers, plain_keras_fingerprint


@contextlib.contextmanager
def immutable(folder: Path):
    if (
        not shutil.which("chattr")
        or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode
    ):
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str = "1m"):
    folder.mkdir(parents=True)
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)
    return filler


def held_session(config_path: Path, run: Path, step: int = 2) -> Session:
    session = Session(load_config(config_path), run_dir=run)
    held = session.hold_at_step(step)
    session.start()
    held.result(T)
    return session


def go_on(session: Session, steps: int) -> int:
    """Release the hold and wait for training to reach `steps` more batches: it goes on."""
    target = session.status().session_step + steps
    held = session.hold_at_step(target)
    session.release()
    return held.result(T)


def assert_intact(session: Session, good) -> None:
    (listed,) = [c for c in session.store.list(verify=True) if c.name == "good"]
    assert listed.loadable and listed.fingerprint == good.fingerprint
    assert plain_keras_fingerprint(listed.path) == good.fingerprint
    assert leftovers(session.run_dir) == []


def test_read_only_checkpoint_folder(tmp_path):
    session = held_session(write_config(tmp_path / "ro", epochs=50), tmp_path / "ro" / "run")
    good = session.save("good").result(T)
    with immutable(session.store.dir):
        for name in ("next", "good"):  # a new name, and overwriting the previous one
            with pytest.raises(CheckpointError) as err:
                session.save(name).result(T)
            message = str(err.value)
            assert "\n" not in message and f"checkpoint {name!r}" in message
            assert "Operation not permitted" in message and str(session.store.dir) in message
        assert_intact(session, good)
        assert go_on(session, 5) == 7
    session.save("after").result(T)
    _stop_and_check(session, ["good", "after"])


def test_full_disk(tmp_path):
    with small_tmpfs(tmp_path / "small") as disk:
        config = write_config(tmp_path / "cfg", epochs=50)
        session = held_session(config, disk / "run")
        good = session.save("good").result(T)
        filler = fill(disk)
        for name in ("next", "good"):
            with pytest.raises(CheckpointError) as err:
                session.save(name).result(T)
            message = str(err.value)
            assert "\n" not in message and "No space left on device" in message
        assert_intact(session, good)
        assert go_on(session, 40) == 42  # the logs cannot be written either: training goes on
        session.pause().result(T)
        filler.unlink()
        session.save("after").result(T)
        report = _stop_and_check(session, ["good", "after"])
        assert report["session_steps"] == 42
        (refused,) = [e for e in report["events"] if e["detail"].get("action") == "write"]
        assert "No space left on device; training goes on" in refused["detail"]["message"]
        rows = (disk / "run" / "metrics.csv").read_text().splitlines()[1:]
        assert [int(r.split(",")[0]) for r in rows] == list(range(1, 43))  # caught up


def test_commit_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    session = held_session(write_config(tmp_path / "c", epochs=50), tmp_path / "c" / "run")
    good = session.save("good").result(T)

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("weightwatch.engine.atomic.os.replace", no_space)
    with pytest.raises(CheckpointError, match="No space left on device"):
        session.save("good").result(T)
    monkeypatch.undo()
    assert_intact(session, good)
    assert fingerprint(session.model) == good.fingerprint  # held since the save
    _stop_and_check(session, ["good"])


def _stop_and_check(session: Session, names: list[str]) -> dict:
    """Stop; the report, events.jsonl and the checkpoints agree and nothing was lost."""
    session.stop().result(T)
    assert session.stopped.wait(T)
    report = session.report()
    check_report(report)
    assert [c["name"] for c in report["checkpoints"]] == names
    events, _ = read_run(session.run_dir)
    assert [e["kind"] for e in events] == [e["kind"] for e in report["events"]]
    assert (
        json.loads((session.run_dir / "events.jsonl").read_text().splitlines()[-1])["kind"]
        == "quit"
    )
    return report


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=T,
    )


@pytest.mark.parametrize("option", ["--report", "--run-dir"])
def test_an_unwritable_report_or_run_dir_is_refused_before_training(tmp_path, option):
    config = write_config(tmp_path / "u", epochs=2)
    (tmp_path / "a-file").write_text("not a folder")
    target = "a-file/report.json" if option == "--report" else "a-file/run"
    out = run_cli("run", str(config), "--plain", option, target, cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    (line,) = out.stderr.splitlines()
    assert line.startswith(f"weightwatch: {option}") and "cannot write in " in line
    assert "a-file" in line and line.endswith(")")


@pytest.mark.slow
def test_a_report_that_cannot_be_written_at_the_end_is_said_and_the_logs_are_kept(tmp_path):
    config = write_config(tmp_path / "e", epochs=100_000)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    run = tmp_path / "e" / "run"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "weightwatch.tui.cli",
            "run",
            str(config),
            "--plain",
            "--report",
            str(out_dir / "report.json"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not (run / "metrics.csv").exists() and child.poll() is None:
            subprocess.run(["sleep", "0.1"])
        with immutable(out_dir):  # the disk goes read-only before the run ends
            child.send_signal(signal.SIGINT)
            _, err = child.communicate(timeout=T)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 1
    (line,) = err.splitlines()
    assert line == (
        f"weightwatch: could not write the report to {out_dir / 'report.json'}; "
        "events.jsonl and metrics.csv in the run directory hold the run"
    )
    report = json.loads((run / "report.json").read_text())  # the run directory's copy
    check_report(report)
    events, _ = read_run(run)
    assert events[-1]["kind"] == "quit" and len(events) == len(report["events"])
