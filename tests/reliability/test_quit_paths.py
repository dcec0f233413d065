"""Every way out of a run leaves complete files: `q`, Ctrl+C and SIGTERM, during training and
with a dialog open, on the real CLI (the interactive app in a pseudo-terminal; `--plain` and
`--headless` without one).

Complete means: `report.json` follows the contract and agrees with `events.jsonl`, whose last
event is `quit` with every segment closed; `metrics.csv` has one whole row for every session
step, 1 to the report's `session_steps`.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from weightwatch.engine.runlog import read_run

from tests.conftest import write_config

from .conftest import T, check_report
from .terminal import Terminal

LONG = 100_000  # epochs: training is still going when the test quits


def metrics_rows(run: Path) -> int:
    path = run / "metrics.csv"
    return max(0, len(path.read_text().splitlines()) - 1) if path.exists() else 0


def check_complete(run: Path) -> dict:
    report = json.loads((run / "report.json").read_text())
    check_report(report)
    events, segments = read_run(run)
    assert [e["kind"] for e in events] == [e["kind"] for e in report["events"]]
    assert events[-1]["kind"] == "quit" and report["events"][-1]["kind"] == "quit"
    assert segments == report["segments"] and segments[-1]["end_session_step"] is not None
    rows = list(csv.reader(open(run / "metrics.csv", newline="")))
    header, body = rows[0], rows[1:]
    assert all(len(row) == len(header) for row in body)
    assert report["session_steps"] > 0
    assert [int(row[0]) for row in body] == list(range(1, report["session_steps"] + 1))
    return report


# --- the interactive app, in a pty ---------------------------------------------------------------

DIALOGS = {  # key that opens it, words that show it is open
    "save dialog": ("s", "Weights, optimizer state, RNG state"),
    "help": ("?", "optimizer_reset: weights kept"),
}
QUITS = {  # how each way out is carried out
    "q": lambda term: term.press("q"),
    "ctrl+c": lambda term: term.press("ctrl+c"),
    "sigterm": lambda term: term.signal(signal.SIGTERM),
}


def interactive(tmp_path: Path, how: str, dialog: str | None) -> None:
    config = write_config(tmp_path / "i", epochs=LONG)
    run = tmp_path / "i" / "run"
    term = Terminal("run", str(config), cwd=tmp_path)
    try:
        term.wait_for(lambda: metrics_rows(run) > 0, "training")
        if dialog is not None:
            key, words = DIALOGS[dialog]
            term.press(key)
            term.wait_for(lambda: term.seen(words), f"the {dialog}")
            if how == "q":  # q belongs to the dialog (typed, or closes help): once more quits
                term.press("q")
        QUITS[how](term)
    finally:
        code = term.wait(T)
    assert code == 0, term.text[-2000:]
    check_complete(run)


QUICK = [("q", None), ("ctrl+c", "save dialog"), ("sigterm", "save dialog")]
SLOW = [("ctrl+c", None), ("sigterm", None), ("q", "help"), ("ctrl+c", "help")]


@pytest.mark.parametrize(("how", "dialog"), QUICK)
def test_interactive_quit(tmp_path, how, dialog):
    interactive(tmp_path, how, dialog)


@pytest.mark.slow
@pytest.mark.parametrize(("how", "dialog"), SLOW)
def test_interactive_quit_more(tmp_path, how, dialog):
    interactive(tmp_path, how, dialog)


# --- without a screen -------------------------------------------------------------------------


def screenless(tmp_path: Path, mode: str, sig: signal.Signals) -> None:
    config = write_config(tmp_path / "p", epochs=LONG)
    run = tmp_path / "p" / "run"
    child = subprocess.Popen(
        [sys.executable, "-m", "weightwatch.tui.cli", "run", str(config), mode],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = 0
        while metrics_rows(run) == 0 and child.poll() is None and deadline < T * 20:
            deadline += 1
            subprocess.run(["sleep", "0.05"])
        child.send_signal(sig)
        out, err = child.communicate(timeout=T)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert "Traceback" not in out + err, err
    check_complete(run)


@pytest.mark.parametrize("sig", [signal.SIGINT])
def test_plain_quit(tmp_path, sig):
    screenless(tmp_path, "--plain", sig)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "sig"),
    [("--plain", signal.SIGTERM), ("--headless", signal.SIGTERM), ("--headless", signal.SIGINT)],
)
def test_screenless_quit_more(tmp_path, mode, sig):
    screenless(tmp_path, mode, sig)
