"""The live tour (`weightwatch demo`): it holds training between its steps, waits for `n` (or the
autoplay timer), and its captions say what really happened."""

from __future__ import annotations

import json

import pytest
from weightwatch.engine.errors import CheckpointError
from weightwatch.engine.events import Event
from weightwatch.engine.events import SessionState as S
from weightwatch.tui import demo, tour

from .conftest import NOW, make_fake, until

GAP = 10


@pytest.fixture(autouse=True)
def no_reading_pause(monkeypatch):
    monkeypatch.setattr(demo, "CAPTION_PAUSE_S", 0.0)


def tour_app(fake, **kw) -> demo.DemoApp:
    kw = {"clock": lambda: NOW + 150, "cursor_blink": False, "handle_signals": False, **kw}
    return demo.DemoApp(fake, gap=GAP, **kw)


def caption(app) -> str:
    return str(app.dashboard.query_one("#tour-caption").render())


async def held_at(fake, app, pilot, step: int) -> None:
    """Let the fake train as far as it will: the tour's hold must stop it at `step`."""
    await until(lambda: fake.status().state is not S.STARTING, pilot)
    fake.step(10 * GAP)
    assert fake.status().state is S.HOLDING
    assert fake.status().session_step == step
    await until(lambda: f"step {step}:" in app.caption_text, pilot)
    assert fake.step(5) == 0  # held while the caption waits for n


async def test_live_tour_holds_between_steps_and_says_what_happened(tmp_path):
    fake = make_fake(tmp_path / "run")
    app = tour_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await held_at(fake, app, pilot, GAP)
        assert "Held at step 10: press n for the first step" in caption(app)
        words = ["CONTINUED", "Saved tour-checkpoint", "RESTORED", "RESET", "OPTIMIZER_RESET"]
        for i, word in enumerate(words):
            await pilot.press("n")
            await until(lambda i=i: app.stop_index == i + 1 and not app.busy, pilot)
            await until(lambda: "Training goes on" in app.caption_text, pilot)
            assert f"Tour {i + 1}/5" in caption(app) and word in caption(app)
            if tour.TOUR[i].verdict:  # the banner names the transition just made
                assert app.dashboard.query_one("#banner").verdict == tour.TOUR[i].verdict
            await held_at(fake, app, pilot, GAP * (i + 2))
        assert "press n for the end of the tour" in caption(app)
        await pilot.press("n")
        await until(lambda: app.ended, pilot)
        assert caption(app).startswith(tour.OUTRO)
        assert "Training is paused at step 60: p resumes it." in caption(app)
        await until(lambda: fake.status().state is S.PAUSED, pilot)  # the picture stays
        await pilot.press("p")  # the keys are yours
        await until(lambda: fake.status().state is S.RUNNING, pilot)
        await until(lambda: caption(app) == tour.OUTRO, pilot)  # no longer "paused"
        assert fake.step(3 * GAP) == 3 * GAP  # no hold left behind
        assert app.check_action("next_stop", ()) is False  # n leaves the footer
    steps = {e.kind: e.session_step for e in fake.events() if e.kind != "started"}
    assert [steps[k] for k in [s.event for s in tour.TOUR]] == [10, 20, 30, 40, 50]
    origins = [s.origin for s in fake.segments()]
    # the last: p resumed the paused outro (a resume opens a segment, as in the engine)
    assert origins == ["fresh", "continued", "restored", "reset", "optimizer_reset", "continued"]
    load = next(e for e in fake.events() if e.kind == "checkpoint_loaded")
    assert f"{load.norm_before:.3g}" != f"{load.norm_after:.3g}"  # a jump that happened
    restored = next(c for c in app.captions if "RESTORED" in c)
    assert f"jumped back from {load.norm_before:.3g} to {load.norm_after:.3g}" in restored


async def test_first_caption_waits_for_training_to_start(tmp_path, monkeypatch):
    fake = make_fake(tmp_path / "run")
    app = tour_app(fake)
    monkeypatch.setattr(app, "train", lambda: None)  # TensorFlow "still loading"
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.dashboard.query("#tour-caption"), pilot)
        await pilot.pause(0.3)
        assert "starting…" in caption(app)
        assert "fresh model is training" not in caption(app)
        app.run_worker(fake.run, thread=True, group="training")  # training starts now
        await held_at(fake, app, pilot, GAP)
        assert "a fresh model is training" in caption(app)
        assert app.captions[0] == tour.STARTING


async def test_a_step_that_fails_is_described_as_failed(tmp_path):
    fake = make_fake(tmp_path / "run")

    def disk_full(name):
        raise CheckpointError(f"checkpoint {name}: no space left on device")

    fake.inject("save", disk_full)
    app = tour_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await held_at(fake, app, pilot, GAP)
        for i in range(2):
            await pilot.press("n")
            await until(lambda i=i: app.stop_index == i + 1 and not app.busy, pilot)
            if i == 0:
                await held_at(fake, app, pilot, 2 * GAP)
        text = caption(app)
        assert "Tour 2/5" in text and "did not happen" in text and "no space left" in text
        assert "Saved" not in text


async def test_x_ends_the_tour_and_lets_training_go(tmp_path):
    fake = make_fake(tmp_path / "run")
    app = tour_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await held_at(fake, app, pilot, GAP)
        await pilot.press("x")
        await until(lambda: fake.status().state is S.RUNNING, pilot)
        assert app.dashboard.query_one("#tour-caption").display is False
        await pilot.press("n")  # the tour is over: n does nothing
        assert fake.step(5 * GAP) == 5 * GAP
        assert app.stop_index == 0
        assert [e.kind for e in fake.events()] == ["started"]


async def test_autoplay_runs_the_whole_tour_then_quits_with_the_report(tmp_path):
    fake = make_fake(tmp_path / "run", rate=2000)
    report = tmp_path / "report.json"
    app = tour_app(fake, autoplay=0.05, report_path=report)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.finished.is_set(), pilot, timeout=30)
    r = json.loads(report.read_text())
    assert [s["origin"] for s in r["segments"]] == [
        "fresh",
        "continued",
        "restored",
        "reset",
        "optimizer_reset",
    ]
    at = [e["session_step"] for e in r["events"] if e["kind"] in {s.event for s in tour.TOUR}]
    assert at == [10, 20, 30, 40, 50]  # each step at its exact hold, none skipped
    shown = "\n".join(app.captions)
    for i in range(len(tour.TOUR)):
        assert tour.before_text(i) in shown
    assert "next step follows in 0.05 s" in shown and app.captions[-1].startswith(tour.OUTRO)
    assert r["events"][-2]["kind"] == "pause"  # the last picture stays until it quits
    assert r["events"][-2]["session_step"] == 60


def ev(kind, verdict=None, before=1.0, after=1.0, step=0, **detail) -> Event:
    return Event(kind, 100, step, verdict, detail, before, after)


@pytest.mark.parametrize(
    ("stop", "events", "says", "never"),
    [
        (2, [ev("checkpoint_loaded", "restored", 2.5, 2.5, 40)], "stayed at 2.5", "jumped"),
        (2, [ev("checkpoint_loaded", "restored", 2.9, 2.5, 40)], "from 2.9 to 2.5", "stayed"),
        (3, [ev("rebuilt", "continued")], "verdict is CONTINUED", "RESET."),
        (1, [ev("error", message="disk full")], "did not happen: disk full", "Saved"),
        (4, [], "did not happen: nothing was recorded", "OPTIMIZER_RESET."),
        (4, [ev("recompiled", "optimizer_reset", 2.0, 2.0, 0)], "No jump", "fell"),
        (3, [ev("rebuilt", "reset", 3.0, 1.0, 0)], "fell from 3 to 1 - back to where", "rose"),
    ],
)
def test_captions_describe_what_the_events_say(stop, events, says, never):
    text = tour.what_happened(tour.TOUR[stop], events, 77, 1.0)
    assert says in text and never not in text


async def test_a_person_who_pauses_mid_tour_keeps_control_and_the_tour_holds_again(tmp_path):
    fake = make_fake(tmp_path / "run")
    app = tour_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await held_at(fake, app, pilot, GAP)
        await pilot.press("p")  # a person pauses at the hold
        await until(lambda: fake.status().state is S.PAUSED, pilot)
        await pilot.press("n")
        await until(lambda: app.stop_index == 1 and not app.busy, pilot)
        await until(lambda: "Training is paused at step 10: press n" in caption(app), pilot)
        assert "CONTINUED" in caption(app)
        await pilot.press("p")  # resumed by hand: the tour does not hold it meanwhile
        await until(lambda: fake.status().state is S.RUNNING, pilot)
        assert fake.step(GAP // 2) == GAP // 2
        await pilot.press("n")  # the save lands at the next boundary, then the tour holds again
        await until(lambda: app.stop_index == 2 or fake.boundary(), pilot)
        await until(lambda: app._hold is not None, pilot)
        fake.step(10 * GAP)
        assert fake.status().state is S.HOLDING
        assert fake.status().session_step == GAP + GAP // 2 + GAP
        await until(lambda: "Held at step 25: press n for the next step" in caption(app), pilot)
        assert "Saved tour-checkpoint" in caption(app)


async def test_an_autoplayed_tour_whose_training_cannot_start_still_quits(tmp_path, monkeypatch):
    fake = make_fake(tmp_path / "run")
    app = tour_app(fake, autoplay=0.05)
    monkeypatch.setattr(app, "train", lambda: fake.fail_start("the builder raised"))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.finished.is_set(), pilot, timeout=10)
    assert app.captions[-1] == tour.FAILED_START


async def test_x_during_autoplay_hands_over_for_good(tmp_path):
    fake = make_fake(tmp_path / "run")
    app = tour_app(fake, autoplay=0.3)
    async with app.run_test(size=(120, 40)) as pilot:
        await held_at(fake, app, pilot, GAP)
        await pilot.press("x")
        await pilot.pause(1.0)  # well past the autoplay delay
        assert not app.finished.is_set() and app.stop_index == 0
        assert fake.step(GAP) == GAP


async def test_x_between_holds_lets_go_of_the_hold_it_left_pending(tmp_path):
    fake = make_fake(tmp_path / "run")
    app = tour_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await held_at(fake, app, pilot, GAP)
        await pilot.press("n")
        await until(lambda: "Training goes on" in app.caption_text, pilot)
        await pilot.press("x")  # the hold at step 20 is registered and cannot be withdrawn
        assert fake.step(10 * GAP) == GAP  # it is reached...
        await until(lambda: fake.status().state is S.RUNNING, pilot)  # ...and let go at once
        assert fake.step(10 * GAP) == 10 * GAP
        assert app.stop_index == 1
