"""The guided tour: headless end to end on the shipped config, and the interactive `n` key."""

from __future__ import annotations

import json
import subprocess
import sys

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


async def test_interactive_tour_goes_on_with_n_and_x_hands_over(tmp_path, monkeypatch):
    from weightwatch.tui import demo

    from .conftest import NOW, make_fake, running, until

    monkeypatch.setattr(demo, "CAPTION_PAUSE_S", 0.0)
    fake = make_fake(tmp_path / "run")
    app = demo.DemoApp(fake, clock=lambda: NOW + 150, cursor_blink=False, handle_signals=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, fake)
        await until(lambda: app.dashboard.query("#tour-caption"), pilot)
        caption = app.dashboard.query_one("#tour-caption")
        assert "Press n for the first step" in str(caption.render())
        fake.step(20)
        for i, verdict in enumerate(["continued", None, "restored", "reset", "optimizer_reset"]):
            await pilot.press("n")
            # the fake applies commands at its boundaries: reach one until the step is done
            await until(
                lambda i=i: fake.boundary() or (app.stop_index == i + 1 and not app.busy), pilot
            )
            assert f"Tour {i + 1}/5" in str(caption.render())
            if verdict:
                assert fake.status().last_verdict == verdict
            fake.step(10)
        assert "the keys" in str(caption.render()).lower()
        await pilot.press("n")  # past the end: nothing more happens
        assert app.stop_index == 5
        await pilot.press("x")
        assert caption.display is False
