"""The guided tour, headless end to end on the shipped config (the live tour: test_tour_live)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .svgtext import svg_text

WORDS = {
    "01b-callbacks-after.svg": "continued",
    "03b-load-after.svg": "restored",
    "04b-rebuild-after.svg": "reset: new model instance",
    "05b-recompile-after.svg": "optimizer_reset",
}


def test_headless_demo_walks_through_all_four_verdicts(tmp_path):
    shots, report = tmp_path / "shots", tmp_path / "report.json"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "weightwatch.tui.cli",
            "demo",
            "--headless",
            "--report",
            str(report),
            "--screenshots",
            str(shots),
            "--run-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(report.read_text())
    assert [s["origin"] for s in r["segments"]] == [
        "fresh",
        "continued",
        "restored",
        "reset",
        "optimizer_reset",
    ]
    verdicts = {e["kind"]: e["verdict"] for e in r["events"] if e["verdict"]}
    assert verdicts == {
        "started": "fresh",
        "callbacks_changed": "continued",
        "checkpoint_loaded": "restored",
        "rebuilt": "reset",
        "recompiled": "optimizer_reset",
    }
    reset = r["segments"][3]
    assert reset["instance"] == 2 and reset["start_model_step"] == 0
    assert reset["start_fingerprint"] == r["segments"][0]["start_fingerprint"]  # same seed
    restored = r["segments"][2]
    assert restored["start_fingerprint"] == r["checkpoints"][0]["fingerprint"]
    # the checkpoint file, loaded by plain Keras, has the fingerprint the report gives
    import keras
    from weightwatch.demo_data.models import reference_mlp
    from weightwatch.engine.weights import fingerprint

    plain = reference_mlp()
    plain.compile("adam", "categorical_crossentropy")
    plain.load_weights(r["checkpoints"][0]["path"])
    assert fingerprint(plain) == r["checkpoints"][0]["fingerprint"]
    assert isinstance(plain, keras.Model)
    names = sorted(p.name for p in shots.iterdir())
    assert len(names) == 11 and names[-1] == "06-the-whole-story.svg"
    for name, word in WORDS.items():
        text = svg_text((shots / name).read_text())
        assert word in text, f"{name} does not show {word!r}"
        assert "Tour " in text  # the caption is on screen
    story = svg_text((shots / "06-the-whole-story.svg").read_text())
    for marker in ("cb", "save", "load", "RESET", "opt"):
        assert marker in story


def test_autoplay_and_headless_do_not_go_together(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", "demo", "--headless", "--autoplay", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "weightwatch: demo: --autoplay plays the live tour; --headless runs its timed twin"
    ]
    assert not (tmp_path / "runs").exists()  # refused before anything was written


def test_autoplay_wants_seconds(capsys):
    from weightwatch.tui.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--autoplay", "-1"])
    assert exit_.value.code == 2
    assert "--autoplay: expected a number of seconds > 0, received '-1'" in capsys.readouterr().err
