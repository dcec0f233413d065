"""SVG snapshots of the live tour (`weightwatch demo`) at each of its steps, 120x40 (issue 11).

The tour runs on the fake session (nothing moves until the test calls `fake.step`), with a
frozen clock and no cursor blink. Each snapshot is taken where a class sees it: training held
by the tour, waiting for `n`. Besides the picture, each test reads the banner's verdict and the
caption's "Tour k/5" back from the widgets, so a failure says in words what changed.

Update with `pytest tests/tui/test_tour_snapshots.py --snapshot-update` and look at the result.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from weightwatch.engine.events import SessionState as S
from weightwatch.tui import demo, tour

from .conftest import NOW, make_fake, until

SIZE = (120, 40)
GAP = 10
RUN_DIR = Path("runs/snapshot")  # never written: the fake keeps everything in memory

# (id, the banner's verdict on show (None: muted), how the banner starts, what the caption says)
# after `index` presses of `n`.
STEPS = [
    ("first-hold", "fresh", "★ fresh", ["Tour 0/5", "Held at step 10: press n for the first"]),
    ("continued", "continued", "→ continued", ["Tour 1/5", "CONTINUED", "Held at step 20"]),
    ("save", None, "last verdict: → continued", ["Tour 2/5", "Saved tour-checkpoint"]),
    ("restored", "restored", "↺ restored", ["Tour 3/5", "RESTORED", "jumped back", "step 40:"]),
    ("reset", "reset", "⚠ reset", ["Tour 4/5", "RESET", "Held at step 50: press n"]),
    ("optimizer_reset", "optimizer_reset", "⚠ optimizer_reset", ["Tour 5/5", "end of the tour"]),
    ("end", None, "last verdict: ⚠ optimizer_reset", [tour.OUTRO, "paused at step 60: p resumes"]),
]


@pytest.fixture(autouse=True)
def no_reading_pause(monkeypatch):
    monkeypatch.setattr(demo, "CAPTION_PAUSE_S", 0.0)


def tour_app(fake) -> demo.DemoApp:
    kw = {"clock": lambda: NOW + 150, "cursor_blink": False, "handle_signals": False}
    return demo.DemoApp(fake, gap=GAP, **kw)


async def hold(fake, app, pilot, step: int) -> None:
    """Train as far as the fake will go: the tour's hold stops it at `step`."""
    fake.step(10 * GAP)
    assert fake.status().session_step == step
    await until(lambda: f"step {step}:" in app.caption_text, pilot)


async def talk(pilot) -> None:
    """A class talks at each hold for longer than a verdict lingers or a toast stays: the
    banner turns to its muted "last verdict" line and the toasts go, as they would."""
    pilot.app.dashboard.query_one("#banner").hide()
    pilot.app.clear_notifications()
    await pilot.pause()


async def tour_to(fake, pilot, index: int) -> None:
    """Carry the tour through `index` presses of `n` and wait for the hold after the last."""
    app = pilot.app
    await until(lambda: fake.status().state is not S.STARTING, pilot)
    await until(lambda: app.dashboard.query("#tour-caption"), pilot)
    # The banner's colour and the toasts last a few seconds of wall time, which a slow machine
    # would turn into another picture: nothing expires by itself here; `talk()` does what time
    # does while a class talks at a hold.
    app.dashboard.query_one("#banner").linger = 1e6
    app.NOTIFICATION_TIMEOUT = 1e6
    await hold(fake, app, pilot, GAP)
    for i in range(min(index, len(tour.TOUR))):
        await talk(pilot)
        await pilot.press("n")
        await until(lambda i=i: app.stop_index == i + 1 and not app.busy, pilot)
        await until(lambda: "Training goes on" in app.caption_text, pilot)
        await hold(fake, app, pilot, GAP * (i + 2))
    if index > len(tour.TOUR):
        await talk(pilot)
        await pilot.press("n")
        await until(lambda: app.ended and fake.status().state is S.PAUSED, pilot)
        await until(lambda: "p resumes it" in app.caption_text, pilot)
    await pilot.pause()
    app.dashboard.tick(force=True)
    await pilot.pause()


@pytest.mark.parametrize("index", range(len(STEPS)), ids=[s[0] for s in STEPS])
def test_tour_step_snapshot(snap_compare, index):
    _, verdict, banner_starts, says = STEPS[index]
    fake = make_fake(RUN_DIR)
    app = tour_app(fake)
    seen: dict[str, str | None] = {}

    async def run_before(pilot) -> None:
        await tour_to(fake, pilot, index)
        banner = pilot.app.dashboard.query_one("#banner")
        seen["verdict"], seen["banner"] = banner.verdict, banner.text
        seen["caption"] = str(pilot.app.dashboard.query_one("#tour-caption").render())

    matches = snap_compare(app, terminal_size=SIZE, run_before=run_before)
    assert seen["verdict"] == verdict, seen["banner"]
    assert str(seen["banner"]).startswith(banner_starts), seen["banner"]
    for text in says:
        assert text in str(seen["caption"]), (text, seen["caption"])
    assert matches
