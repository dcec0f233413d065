"""kill -9 while a real session saves a checkpoint after every batch (DESIGN.md: "crash-safe
checkpoints").

Each trial starts `saver_child.py` on the same run directory, kills it at a random moment and
then checks, from the run directory alone, that `weightwatch inspect --json` lists only loadable
checkpoints, that plain Keras loads each to its recorded fingerprint, and that a new session in
that directory removes the interrupted save's leftovers, starts and loads every checkpoint.
Stock Keras, writing in place, left nothing loadable in most such trials.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from weightwatch.engine.atomic import TEMP_PREFIX
from weightwatch.engine.checkpoints import OWN_SUFFIX, CheckpointStore
from weightwatch.engine.config import load_config
from weightwatch.engine.runlog import read_run
from weightwatch.engine.session import Session
from weightwatch.engine.weights import fingerprint

from tests.conftest import write_config

from .conftest import T, saving_child


def leftovers(run: Path) -> list[str]:
    """Files an interrupted save left: temp files and weights no manifest points to."""
    store = CheckpointStore(run, clean=False)
    referenced = {m["file"] for m in store.manifests().values()}
    return sorted(
        p.name
        for p in store.dir.iterdir()
        if p.name.startswith(TEMP_PREFIX)
        or (p.name.endswith(OWN_SUFFIX) and p.name not in referenced)
    )


def kill_while_saving(config: Path, run: Path, rng: random.Random) -> list[str]:
    """One trial: start the child, let it save for a random while, kill -9; the leftovers."""
    with saving_child(config, run):
        time.sleep(rng.uniform(0.0, 0.5))
    return leftovers(run)


def inspect_json(run: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", "inspect", str(run), "--json"],
        capture_output=True,
        text=True,
        timeout=T,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def plain_keras_fingerprint(path: str) -> str:
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    model.load_weights(path)
    return fingerprint(model)


def check_after_kill(config_path: Path, run: Path, left: list[str]) -> None:
    listed = inspect_json(run)["checkpoints"]
    assert listed, "the child printed ready after its first save: at least one must be listed"
    assert all(c["source"] == "weightwatch" and c["loadable"] for c in listed), listed
    for c in listed:
        assert plain_keras_fingerprint(c["path"]) == c["fingerprint"], c["name"]

    session = Session(load_config(config_path), run_dir=run)  # opening it cleans up
    assert sorted(session.store.removed_orphans) == left
    assert leftovers(run) == []
    held = session.hold_at_step(0)
    session.start()
    held.result(T)
    for c in listed:
        info = session.load(c["name"]).result(T)
        assert info.fingerprint == c["fingerprint"] == fingerprint(session.model)
    session.stop().result(T)
    assert session.stopped.wait(T)
    events, _ = read_run(run)  # this session's records, even after a torn line
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "quit"
    assert kinds.count("checkpoint_loaded") == len(listed)


def run_trials(tmp_path: Path, trials: int) -> int:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    config = write_config(tmp_path / "k", epochs=1_000_000)
    run = tmp_path / "k" / "run"
    mid_save = 0
    for trial in range(trials):
        left = kill_while_saving(config, run, rng)
        mid_save += bool(left)
        try:
            check_after_kill(config, run, left)
        except AssertionError as e:
            raise AssertionError(f"trial {trial} (seed {seed}, leftovers {left}): {e}") from e
    print(f"kill -9 trials: {trials}, killed mid-save (leftovers found): {mid_save}")
    return mid_save


def test_kill_during_saves_three_trials(tmp_path):
    run_trials(tmp_path, 3)


@pytest.mark.slow
def test_kill_during_saves_twenty_five_trials(tmp_path):
    mid_save = run_trials(tmp_path, 25)
    assert mid_save >= 10, "the kills should mostly land inside a save, or the test proves little"


def test_a_torn_last_line_stays_on_its_own_line(tmp_path):
    """A crash mid-write leaves half a line; the next session must not glue onto it."""
    import csv

    config = load_config(write_config(tmp_path / "t", epochs=2))
    run = tmp_path / "t" / "run"
    for torn in (True, False):
        session = Session(config, run_dir=run)
        held = session.hold_at_step(3)
        session.start()
        held.result(T)
        session.stop().result(T)
        assert session.stopped.wait(T)
        if torn:  # what kill -9 in the middle of a write leaves
            with open(run / "events.jsonl", "a") as f:
                f.write('{"type": "event", "kind": "pau')
            with open(run / "metrics.csv", "a") as f:
                f.write("4,4,0,1,0.3")
    events, segments = read_run(run)
    assert [e["kind"] for e in events] == ["started", "quit"] and len(segments) == 1
    rows = list(csv.reader(open(run / "metrics.csv")))
    header, body = rows[0], rows[1:]
    assert [len(r) for r in body].count(len(header)) == 6  # three steps in each session
    assert body[3] == ["4", "4", "0", "1", "0.3"]  # the torn row, alone
