"""Bad checkpoints through the picker's path field (a real session behind the app) and through
`--from` on the command line: a clear one-line error, the weights unchanged, training goes on.

(`tests/engine/test_faults.py` covers the same files through the engine's API.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from weightwatch.engine.config import load_config
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.session import Session
from weightwatch.engine.weights import fingerprint
from weightwatch.tui.screens.picker import CheckpointPicker, path_problem

from tests.conftest import write_config

from .conftest import SIZE, T, check_report, real_app, until


def make_bad_files(folder: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """Each kind of bad checkpoint, with the words its error must contain."""
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    data = good.read_bytes()
    (folder / "truncated.weights.h5").write_bytes(data[: len(data) // 2])
    (folder / "random.weights.h5").write_bytes(os.urandom(4096))
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(12), keras.layers.Dense(1)])
    other.save_weights(str(folder / "other.weights.h5"))
    other.save(str(folder / "model.keras"))
    return {
        "truncated": (folder / "truncated.weights.h5", "truncated or corrupt"),
        "random bytes": (folder / "random.weights.h5", "truncated or corrupt"),
        "another architecture": (folder / "other.weights.h5", "does not fit this model"),
        "a .keras file": (folder / "model.keras", ".keras archive"),
        "a missing file": (folder / "missing.weights.h5", "no such"),
    }


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    import keras

    root = tmp_path_factory.mktemp("bad")
    good = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, name="hidden"), keras.layers.Dense(1, name="out")]
    )
    good.compile("adam", "mse")
    good.save_weights(str(root / "good.weights.h5"))
    return make_bad_files(root / "files", root / "good.weights.h5")


async def test_bad_checkpoints_through_the_picker(tmp_path, bad_files, notes):
    session = Session(load_config(write_config(tmp_path / "ui", epochs=3)))
    held = session.hold_at_step(2)
    app = real_app(session)
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        await until(held.done, pilot)
        before = fingerprint(session.model)  # held: safe to read
        inline = [kind for kind, (path, _) in bad_files.items() if path_problem(str(path))]
        assert "a missing file" in inline and len(inline) < len(bad_files)  # both ways tried
        for kind, (path, words) in bad_files.items():
            errors = len(notes.of("error"))
            await pilot.press("l")
            picker = app.screen
            assert isinstance(picker, CheckpointPicker), kind
            picker.query_one("#load-path").value = str(path)
            await pilot.press("enter")
            if path_problem(str(path)):  # refused in the picker itself, which stays open
                assert app.screen is picker and picker.error_text, kind
                assert len(notes.of("error")) == errors, kind  # nothing logged: no load tried
                await pilot.press("escape")
            else:
                await until(lambda: len(notes.of("error")) > errors, pilot)  # noqa: B023
                message = notes.of("error")[-1]
                assert words in message and path.name in message and "\n" not in message, kind
                error = session.events()[-1]
                assert error.kind == "error" and error.detail["action"] == "load"
            assert app.screen is app.dashboard
            assert session.state is S.HOLDING
            assert fingerprint(session.model) == before, kind
        session.release()  # training goes on
        await until(lambda: session.state is S.FINISHED, pilot)
        await pilot.press("q")
        await until(lambda: app.finished.is_set(), pilot)
    check_report(app.report)
    assert app.report["session_steps"] == 12


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=T,
    )


@pytest.mark.parametrize(
    "kind", ["truncated", "random bytes", "another architecture", "a .keras file", "a missing file"]
)
def test_bad_checkpoint_from_the_command_line(tmp_path, bad_files, kind):
    config = write_config(tmp_path / "cli", epochs=2)
    path, words = bad_files[kind]
    out = run_cli("run", str(config), "--headless", "--from", str(path), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stdout + out.stderr, out.stderr
    assert lines[0].startswith("weightwatch: ") and words in lines[0] and path.name in lines[0]


def test_a_from_checkpoint_that_does_not_fit_can_be_retried_fresh(tmp_path, bad_files):
    """In the app, `--from` that does not fit leaves the session FAILED (the message says why);
    a rebuild (r) retries the start without it."""
    path, words = bad_files["another architecture"]
    config = load_config(write_config(tmp_path / "f", epochs=2))
    session = Session(config, from_checkpoint=str(path))
    session.start()
    while session.state not in (S.FAILED, S.STOPPED):
        session.stopped.wait(0.02)
    assert session.state is S.FAILED and words in session.status().message
    assert "press r to retry" in session.status().message
    with pytest.raises(Exception, match="could not start"):
        session.save("x").result(T)  # nothing to save yet, and it says why
    assert session.rebuild().result(T) == "fresh"
    started = [e for e in session.events() if e.kind == "started"]
    assert started[0].verdict == "fresh" and started[0].detail["from"] is None
    assert session.hold_when_finished().result(T) == 8
    session.stop().result(T)
    check_report(session.report())
