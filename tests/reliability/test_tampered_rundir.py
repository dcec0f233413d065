"""The run directory is untrusted input (issue 10, "Security").

Crafted manifests (path traversal, absolute paths, nested JSON, wrong types, negative or huge
numbers, bad hashes, bad UTF-8...) are listed by `inspect` as damaged with the reason, never
loaded (a load is all or nothing: the weights, the epoch and the step are unchanged), and never
make weightwatch remove a file it did not write. Callback paths that leave the run directory are
refused in one line; every file callbacks wrote is listed by `inspect`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from weightwatch.engine.checkpoints import CheckpointStore
from weightwatch.engine.config import load_config
from weightwatch.engine.errors import BadInput, ConfigError
from weightwatch.engine.inspect import inspect_run
from weightwatch.engine.session import Session
from weightwatch.engine.specs import CallbackSpec
from weightwatch.engine.weights import fingerprint, model_step

from tests.conftest import write_config

from .conftest import T

DEEP = "[" * 3000 + "]" * 3000


def evil_file(good: dict) -> str:
    return good["file"].replace("good.", "evil.", 1)


def crafted(good: dict, other: dict, outside: Path) -> dict[str, tuple[object, str]]:
    """name -> (what `evil.json` holds: a dict, or raw bytes; words its problem must contain).

    Every manifest is named `evil`, and (unless the case is about them) points at a real,
    intact weights file, so that only the crafted field makes it bad."""
    base = {**good, "name": "evil", "file": evil_file(good)}

    def m(**changes):
        return {**base, **changes}

    return {
        "traversal to a file outside": (m(file="../../important.txt"), "plain file name"),
        "traversal to the event log": (m(file="../events.jsonl"), "plain file name"),
        "absolute path": (m(file=str(outside)), "plain file name"),
        "backslash": (m(file="..\\..\\important.txt"), "plain file name"),
        "NUL in file": (m(file="evil\0.ww.weights.h5"), "plain file name"),
        "dot dot": (m(file=".."), "plain file name"),
        "another checkpoint's file": (m(file=other["file"]), "not the name weightwatch gives"),
        "not our suffix": (m(file="evil.weights.h5"), "not the name weightwatch gives"),
        "file not a string": (m(file=["a"]), "file: expected a file name"),
        "name missing": ({k: v for k, v in base.items() if k != "name"}, "name: expected"),
        "name not a string": (m(name=123), "name: expected"),
        "name of another manifest": (m(name="good"), "but the manifest file is evil.json"),
        "nested JSON, 3000 deep": (DEEP.encode(), "nested too deeply"),
        "not an object": (b"[1, 2, 3]", "expected a JSON object"),
        "bad UTF-8": (b'{"name": "\xff\xfe"}', "not UTF-8"),
        "truncated JSON": (json.dumps(base).encode()[:40], "not valid JSON"),
        "empty file": (b"", "not valid JSON"),
        "too large": (b" " * (2 << 20), "larger than"),
        "wrong format": (m(format="something-else/9"), "format: expected"),
        "epoch a string": (m(epoch="abc"), "epoch: expected a whole number"),
        "epoch negative": (m(epoch=-5), "epoch: expected a whole number"),
        "epoch huge": (m(epoch=10**30), "epoch: expected a whole number"),
        "epoch nested": (m(epoch={"a": 1}), "epoch: expected a whole number"),
        "step_in_epoch a float": (m(step_in_epoch=1.5), "step_in_epoch: expected"),
        "model_step a bool": (m(model_step=True), "model_step: expected"),
        "bad sha256": (m(sha256="xyz"), "sha256: expected 64 hex digits"),
        "sha256 not the file's": (m(sha256="0" * 64), "not the name weightwatch gives"),
        "fingerprint not hex": (m(fingerprint="not-hex"), "fingerprint: expected 64 hex"),
        "loss a string": (m(loss="NaN"), "loss: expected a finite number"),
        "rng not a list": (m(rng="abc"), "rng: expected"),
        "has_optimizer a string": (m(has_optimizer="yes"), "has_optimizer: expected"),
    }


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A run directory with two checkpoints, `good` (step 2) and `other` (step 4)."""
    root = tmp_path_factory.mktemp("tamper")
    config = write_config(root / "cfg", epochs=50)
    session = Session(load_config(config), run_dir=root / "run")
    held = session.hold_at_step(2)
    session.start()
    held.result(T)
    session.save("good").result(T)
    held = session.hold_at_step(4)
    session.release()
    held.result(T)
    session.save("other").result(T)
    session.stop().result(T)
    return config, root / "run"


def manifest(run: Path, name: str) -> dict:
    return json.loads((run / "checkpoints" / f"{name}.json").read_text())


def tampered_copy(saved_run, tmp_path: Path, content) -> tuple[Path, Path]:
    """A copy of the run directory with `evil.json` holding `content`; an `important.txt`
    beside it that nothing may touch. Returns (run, important)."""
    _, run = saved_run
    copy = tmp_path / "here" / "run"
    shutil.copytree(run, copy)
    important = copy.parent / "important.txt"  # where "../../important.txt" lands
    important.write_text("keep me")
    good = manifest(copy, "good")
    shutil.copy(copy / "checkpoints" / good["file"], copy / "checkpoints" / evil_file(good))
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    (copy / "checkpoints" / "evil.json").write_bytes(data)
    return copy, important


def test_the_untampered_copy_is_sound(saved_run, tmp_path):
    """The control: `evil.json` as `crafted` starts from it loads fine."""
    _, run = saved_run
    good = manifest(run, "good")
    copy, _ = tampered_copy(saved_run, tmp_path, {**good, "name": "evil", "file": evil_file(good)})
    (evil,) = [c for c in inspect_run(copy)["checkpoints"] if c["name"] == "evil"]
    assert evil["loadable"] is True and evil["problem"] is None


def cases(saved_run, tmp_path):
    _, run = saved_run
    outside = tmp_path / "here" / "important.txt"
    return crafted(manifest(run, "good"), manifest(run, "other"), outside)


CASE_NAMES = list(crafted({"file": "good.x"}, {"file": "y"}, Path("/x")))


@pytest.mark.parametrize("case", CASE_NAMES)
def test_a_crafted_manifest_is_listed_as_damaged_and_nothing_is_removed(saved_run, tmp_path, case):
    content, words = cases(saved_run, tmp_path)[case]
    run, important = tampered_copy(saved_run, tmp_path, content)
    files_before = sorted(p.name for p in (run / "checkpoints").iterdir())
    data = inspect_run(run)  # must not raise
    (evil,) = [c for c in data["checkpoints"] if c["name"] == "evil"]
    assert evil["loadable"] is False and words in evil["problem"], evil
    assert evil["problem"].startswith("manifest damaged: ") and "\n" not in evil["problem"]
    good = {c["name"]: c for c in data["checkpoints"] if c["name"] in ("good", "other")}
    assert all(c["loadable"] for c in good.values()) and len(good) == 2
    store = CheckpointStore(run)  # what a new session does first: clean up
    assert store.removed_orphans == []
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == files_before
    assert important.read_text() == "keep me" and (run / "events.jsonl").exists()
    with pytest.raises(BadInput, match="manifest damaged"):
        store.resolve("evil")


def test_inspect_cli_lists_a_damaged_manifest(saved_run, tmp_path):
    run, _ = tampered_copy(saved_run, tmp_path, DEEP.encode())
    out = subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", "inspect", str(run)],
        capture_output=True,
        text=True,
        timeout=T,
    )
    assert out.returncode == 0, out.stderr
    (line,) = [ln for ln in out.stdout.splitlines() if ln.strip().startswith("evil ")]
    assert "NO (manifest damaged: not valid JSON (nested too deeply))" in line


@pytest.fixture
def held_copy(saved_run, tmp_path):
    """A live session on a copy of the run directory, parked at step 3."""
    config, run = saved_run
    copy = tmp_path / "live"
    shutil.copytree(run, copy)
    session = Session(load_config(config), run_dir=copy)
    held = session.hold_at_step(3)
    session.start()
    held.result(T)
    yield session
    if not session.stopped.is_set():
        session.stop().result(T)


def test_no_crafted_manifest_loads_and_each_load_is_all_or_nothing(held_copy, saved_run, tmp_path):
    """Each crafted manifest in turn, through the session's load: one line, and the weights,
    the epoch and the step are what they were. Then training goes on."""
    s = held_copy
    all_cases = cases(saved_run, tmp_path)
    good = json.loads((s.store.dir / "good.json").read_text())
    all_cases["rng of the wrong shape"] = ({**good, "name": "evil", "rng": [[1, 2, 3]]}, "")
    before = fingerprint(s.model)
    # the thread's own counters (parked): the status snapshot is not refreshed by a refusal
    where = (s._trainer.epoch, s._trainer.step_in_epoch, model_step(s.model))
    for case, (content, _) in all_cases.items():
        data = content if isinstance(content, bytes) else json.dumps(content).encode()
        (s.store.dir / "evil.json").write_bytes(data)
        errors = sum(e.kind == "error" for e in s.events())
        with pytest.raises(BadInput) as err:
            s.load("evil").result(T)
        assert "\n" not in str(err.value), case
        assert fingerprint(s.model) == before, case
        assert (s._trainer.epoch, s._trainer.step_in_epoch, model_step(s.model)) == where
        assert sum(e.kind == "error" for e in s.events()) == errors + 1, case
    (s.store.dir / "evil.json").unlink()
    s.load("good").result(T)  # a sound manifest still loads
    assert model_step(s.model) == 2 == s.status().model_step
    held = s.hold_at_step(6)
    s.release()
    assert held.result(T) == 6  # training went on


def test_a_save_over_a_tampered_manifest_removes_nothing_outside(held_copy, tmp_path):
    s = held_copy
    important = s.run_dir.parent / "important.txt"
    important.write_text("keep me")
    for target in ("../../important.txt", "../events.jsonl", str(important)):
        m = json.loads((s.store.dir / "good.json").read_text())
        (s.store.dir / "good.json").write_text(json.dumps({**m, "file": target}))
        s.save("good").result(T)
        assert important.read_text() == "keep me" and (s.run_dir / "events.jsonl").is_file()
        assert json.loads((s.store.dir / "good.json").read_text())["file"] != target


def test_clean_up_removes_only_what_the_store_named(saved_run, tmp_path):
    run, _ = tampered_copy(saved_run, tmp_path, {"name": "evil", "epoch": "abc"})
    ck = run / "checkpoints"
    m = manifest(run, "good")
    (ck / "good.json").write_text(json.dumps({**m, "epoch": "abc"}))  # damaged, file intact
    (ck / ".tmp-notes.txt").write_text("a user's file")
    (ck / "stray.0123456789ab.ww.weights.h5").mkdir()
    outside = tmp_path / "target.0123456789ab.ww.weights.h5"
    outside.write_text("not ours")
    (ck / "link.0123456789ab.ww.weights.h5").symlink_to(outside)
    (ck / ".tmp-x.1234abcd.weights.h5").write_bytes(b"half")
    (ck / "lost.0123456789ab.ww.weights.h5").write_bytes(b"an orphan")
    store = CheckpointStore(run)
    assert sorted(store.removed_orphans) == [
        ".tmp-x.1234abcd.weights.h5",
        "lost.0123456789ab.ww.weights.h5",
    ]
    assert (ck / m["file"]).is_file()  # a damaged manifest's weights are kept
    assert (ck / ".tmp-notes.txt").exists() and (ck / "stray.0123456789ab.ww.weights.h5").is_dir()
    assert (
        outside.read_text() == "not ours" and (ck / "link.0123456789ab.ww.weights.h5").is_symlink()
    )


# --- callback paths ------------------------------------------------------------------------------

CHECKPOINT = (
    '\n[[callbacks]]\ntype = "ModelCheckpoint"\nfilepath = "{}"\nsave_weights_only = true\n'
)


@pytest.mark.parametrize("path", ["../../x.weights.h5", "../x.weights.h5", "a/../../x.weights.h5"])
def test_check_refuses_a_relative_callback_path_that_leaves_the_run_dir(tmp_path, path):
    from weightwatch.engine.check import check_config

    config = load_config(write_config(tmp_path / "c", extra=CHECKPOINT.format(path)))
    with pytest.raises(ConfigError) as err:
        check_config(config)
    message = str(err.value)
    assert "\n" not in message and "config.toml: [[callbacks]][1].filepath" in message
    assert "leaves the run directory" in message


def test_a_symlink_out_of_the_run_dir_is_refused(tmp_path):
    from weightwatch.engine.check import check_config

    config = load_config(write_config(tmp_path / "c", extra=CHECKPOINT.format("out/x.weights.h5")))
    config.run.run_dir.mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", config.run.run_dir / "out")
    with pytest.raises(ConfigError, match="leaves the run directory"):
        check_config(config)


def test_a_callback_edit_with_an_escaping_path_is_refused(held_copy):
    s = held_copy
    before = s.status().callbacks
    spec = CallbackSpec(
        "ModelCheckpoint", kwargs={"filepath": "../../x.weights.h5", "save_weights_only": True}
    )
    with pytest.raises(BadInput, match=r"\[\[callbacks\]\]\[1\]\.filepath: '../../x.weights.h5'"):
        s.set_callbacks([spec]).result(T)
    assert s.status().callbacks == before
    assert s.events()[-1].kind == "error" and "leaves the run directory" in str(
        s.events()[-1].detail["message"]
    )


def test_inspect_lists_every_file_callbacks_wrote(tmp_path):
    outside = tmp_path / "elsewhere" / "abs-{epoch:02d}.weights.h5"
    extra = CHECKPOINT.format("mine/ck-{epoch:02d}.weights.h5") + CHECKPOINT.format(outside)
    config = load_config(write_config(tmp_path / "c", epochs=2, extra=extra))
    session = Session(config)
    session.start()
    session.hold_when_finished().result(T)
    session.stop().result(T)
    data = inspect_run(config.run.run_dir)
    entries = {e["path"]: e for e in data["callback_files"]}
    mine = entries[str(config.run.run_dir / "mine/ck-{epoch:02d}.weights.h5")]
    assert mine["inside_run_dir"] and mine["callback"] == "ModelCheckpoint"
    assert [Path(f["path"]).name for f in mine["files"]] == ["ck-01.weights.h5", "ck-02.weights.h5"]
    absolute = entries[str(outside)]
    assert not absolute["inside_run_dir"]
    assert [Path(f["path"]).name for f in absolute["files"]] == [
        "abs-01.weights.h5",
        "abs-02.weights.h5",
    ]
    assert all(f["size"] > 0 for f in absolute["files"])
    out = subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", "inspect", str(config.run.run_dir)],
        capture_output=True,
        text=True,
        timeout=T,
    )
    assert "callback files (4)" in out.stdout and "[outside the run directory]" in out.stdout
    assert str(tmp_path / "elsewhere" / "abs-02.weights.h5") in out.stdout


def test_a_damaged_event_log_is_read_around_its_bad_lines(saved_run, tmp_path):
    """events.jsonl is input too: bytes that are not UTF-8 and a segment record without an
    index spoil their own lines only; `inspect` still lists the rest."""
    run, _ = tampered_copy(saved_run, tmp_path, manifest(saved_run[1], "good"))
    log = run / "events.jsonl"
    session_id = next(
        json.loads(line)["session"]
        for line in log.read_text().splitlines()
        if json.loads(line).get("type") == "session"
    )
    bad = json.dumps({"type": "segment", "session": session_id, "origin": "fresh"})
    log.write_bytes(log.read_bytes() + b'{"type": "event", "kind": "\xff\xfe"}\n' + bad.encode())
    out = subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", "inspect", str(run), "--json"],
        capture_output=True,
        text=True,
        timeout=T,
    )
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert [c["name"] for c in listed["checkpoints"] if c["loadable"]] == ["good", "other"]
    assert any(e["kind"] == "checkpoint_saved" for e in listed["events"])
