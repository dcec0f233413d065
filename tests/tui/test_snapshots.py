"""SVG snapshots of what a person sees (fixed data, frozen clock, no cursor blink).

Update with `pytest tests/tui/test_snapshots.py --snapshot-update` and look at the result.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import make_app, make_fake, running

SIZE = (120, 40)
RUN_DIR = Path("runs/snapshot")  # never written: the fake keeps everything in memory


@pytest.fixture
def fake():
    return make_fake(RUN_DIR)


def scenario(fake, *steps):
    """A `run_before` that starts training, runs `steps` against the fake, then redraws."""

    async def run_before(pilot) -> None:
        await running(pilot, fake)
        for step in steps:
            step()
        await pilot.pause()
        pilot.app.dashboard.tick(force=True)
        await pilot.pause()

    return run_before


def test_training(snap_compare, fake):
    assert snap_compare(
        make_app(fake), terminal_size=SIZE, run_before=scenario(fake, lambda: fake.step(150))
    )


def test_paused(snap_compare, fake):
    steps = (lambda: fake.step(100), fake.pause, fake.boundary)
    assert snap_compare(make_app(fake), terminal_size=SIZE, run_before=scenario(fake, *steps))


def test_callback_editor(snap_compare, fake):
    assert snap_compare(
        make_app(fake),
        terminal_size=SIZE,
        press=["c"],
        run_before=scenario(fake, lambda: fake.step(40)),
    )


def test_checkpoint_picker_with_preview(snap_compare, fake):
    steps = (
        lambda: fake.step(60),
        lambda: fake.save("epoch-1"),
        lambda: fake.step(45),
        lambda: fake.save("before-reset"),
        lambda: fake.step(5),
    )
    assert snap_compare(
        make_app(fake), terminal_size=SIZE, press=["l"], run_before=scenario(fake, *steps)
    )


def test_right_after_a_reset(snap_compare, fake):
    steps = (
        lambda: fake.step(150),
        fake.pause,
        fake.boundary,
        lambda: fake.rebuild(3),
        fake.resume,
        lambda: fake.step(40),
    )
    assert snap_compare(make_app(fake), terminal_size=SIZE, run_before=scenario(fake, *steps))
