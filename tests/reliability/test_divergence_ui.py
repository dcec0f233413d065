"""The divergence sentinel through the app: a config that diverges pauses at the bad batch, the
screen says so, and the app offers to reload the last good checkpoint (one key)."""

from __future__ import annotations

import json
import math

from weightwatch.engine.config import load_config
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.session import Session
from weightwatch.engine.weights import fingerprint
from weightwatch.tui.screens.alerts import Diverged

from tests.conftest import write_config

from .conftest import SIZE, check_report, real_app, text_of, until


def refuse(constant: str):
    raise AssertionError(f"{constant} in events.jsonl")


def diverging_config(folder):
    path = write_config(folder, epochs=20)
    path.write_text(path.read_text().replace('loss = "mse"', 'loss = "mse"\nlearning_rate = 1e9'))
    return load_config(path)


async def test_divergence_pauses_shows_and_offers_the_last_good_checkpoint(tmp_path, notes):
    session = Session(diverging_config(tmp_path / "div"))
    held = session.hold_at_step(0)  # before the first step: the only good weights at this rate
    app = real_app(session)
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        await until(held.done, pilot)
        await pilot.press("s")
        app.screen.query_one("#save-name").value = "good"
        await pilot.press("enter")
        await until(lambda: session.list_checkpoints(), pilot)
        good = session.list_checkpoints()[0]
        session.release()

        await until(lambda: isinstance(app.screen, Diverged), pilot)
        assert session.state is S.PAUSED
        (diverged,) = [e for e in session.events() if e.kind == "diverged"]
        assert diverged.detail["last_good_checkpoint"] == "good"
        await pilot.pause()
        screen = text_of(app)
        assert "Training diverged" in screen and "not finite at batch" in screen
        assert "Load good" in screen
        assert any("press l to load good" in n for n in notes.of("error"))

        await pilot.press("l")  # the offer, taken
        await until(lambda: any(e.kind == "checkpoint_loaded" for e in session.events()), pilot)
        assert app.screen is app.dashboard and " diverged " in text_of(app)  # the event log
        loaded = session.events()[-1]
        assert loaded.verdict == "restored" and loaded.detail["fingerprint"] == good.fingerprint
        assert fingerprint(session.model) == good.fingerprint  # paused: safe to read

        await pilot.press("e")
        app.screen.query_one("#lr-value").value = "0.001"
        await pilot.press("enter")
        await until(lambda: session.events()[-1].kind == "lr_changed", pilot)
        await pilot.press("p")
        await until(lambda: session.state is S.FINISHED, pilot)
        await pilot.press("q")
        await until(lambda: app.finished.is_set(), pilot)
    report = app.report
    check_report(report)  # strict JSON: no NaN from the diverged batch
    assert report["final"]["epoch"] == 20 and math.isfinite(report["final"]["loss"])
    for line in (session.run_dir / "events.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=refuse)  # NaN and Infinity are not JSON


async def test_divergence_without_a_checkpoint_says_what_else_to_do(tmp_path, notes):
    session = Session(diverging_config(tmp_path / "div2"))
    app = real_app(session)
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        await until(lambda: isinstance(app.screen, Diverged), pilot)
        await pilot.pause()
        assert "No checkpoint was saved before it" in text_of(app)
        await pilot.press("l")  # nothing to load: the dialog stays
        assert isinstance(app.screen, Diverged)
        await pilot.press("escape")
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("enter")
        await until(lambda: session.status().instance == 2, pilot)
        assert session.state is S.PAUSED  # rebuilt and waiting: the rate still diverges
        await pilot.press("q")
        await until(lambda: app.finished.is_set(), pilot)
    check_report(app.report)
