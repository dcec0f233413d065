"""The headless tour (`weightwatch demo --headless`): the live tour's stops and captions, timed by
exact step triggers and carried out by the script runner through the keys and dialogs, one SVG
per stop (the classroom slides and the README screenshot come from here)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from weightwatch.engine.script import Trigger

from .app import WeightwatchApp
from .demo import DemoApp
from .tour import GAP, OUTRO, TOUR, action_for, before_text, heading, what_happened

if TYPE_CHECKING:
    from weightwatch.engine.api import SessionAPI


async def run_headless_tour(
    session: SessionAPI,
    *,
    report_path: Path | None,
    screenshots: Path | None,
    size: tuple[int, int] = (120, 40),
) -> dict:
    """The timed tour: each stop held at an exact step, one SVG per stop."""
    from .headless import ScriptRunner
    from .triggers import hold_for

    first = Trigger("at_step", GAP)
    app = DemoApp(
        session, live=False, report_path=report_path, handle_signals=False, cursor_blink=False
    )
    app.script = type("TourScript", (), {"actions": [action_for(TOUR[0], 1, first)]})()
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    async with app.run_test(headless=True, size=size, notifications=True) as pilot:
        runner = ScriptRunner(app, pilot)
        if await runner.started():
            hold = app.script_hold
            for i, stop in enumerate(TOUR):
                action = action_for(stop, i + 1, Trigger("at_step", GAP * (i + 1)))
                hold = hold or hold_for(session, action.trigger)
                runner.let_go()
                if not await runner.reach(hold, action):
                    break
                runner.held = True
                app.caption(before_text(i))
                await pilot.pause()
                _shot(app, screenshots, f"{i + 1:02d}a-{stop.kind}-before.svg")
                events = session.events()
                step_before, start = session.status().model_step, events[0].norm_after
                await runner.perform(action)
                body = what_happened(stop, session.events()[len(events) :], step_before, start)
                app.caption(f"{heading(i)}  {body}")
                await pilot.pause(0.3)  # let the charts pull the jump
                _shot(app, screenshots, f"{i + 1:02d}b-{stop.kind}-after.svg")
                hold = None
            end = Trigger("at_step", GAP * (len(TOUR) + 1))
            runner.let_go()
            await runner.reach(hold_for(session, end), action_for(TOUR[-1], len(TOUR) + 1, end))
            runner.held = True
            app.caption(OUTRO)
            await pilot.pause(0.3)
            _shot(app, screenshots, f"{len(TOUR) + 1:02d}-the-whole-story.svg")
        await runner.quit()
    return app.report or {}


def _shot(app: WeightwatchApp, folder: Path | None, name: str) -> None:
    if folder is not None:
        app.clear_notifications()
        app.dashboard.tick(force=True)  # chart redraws are rationed; draw the jump now
        app.save_screenshot(filename=name, path=str(folder))
