"""A script action's trigger: its words, and the exact hold that waits for it.

Shared by the headless runner (tui/headless.py), the live tour (tui/tour_headless.py) and the
app, which registers a script's first hold before it starts the training thread. No Textual here.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from weightwatch.engine.api import SessionAPI
    from weightwatch.engine.script import Trigger


def describe(trigger: Trigger) -> str:
    """A trigger as the script wrote it: `at_step = 200`, `when = "finished"`."""
    if trigger.kind == "finished":
        return 'when = "finished"'
    return f"{trigger.kind} = {trigger.value}"


def hold_for(session: SessionAPI, trigger: Trigger | None) -> Future | None:
    """Register the hold for a trigger (None: the action has no trigger)."""
    if trigger is None:
        return None
    if trigger.kind == "at_step":
        return session.hold_at_step(trigger.value)
    if trigger.kind == "at_epoch":
        return session.hold_at_epoch(trigger.value)
    return session.hold_when_finished()
