"""Fixtures for the TUI tests: a deterministic fake session and an app around it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.notifications import Notification, Notify
from weightwatch.engine.events import SessionState
from weightwatch.engine.specs import CallbackSpec
from weightwatch.tui.app import WeightwatchApp
from weightwatch.tui.widgets import banner

from tests.fakes.fake_session import FakeSession, fake_config

NOW = 1_700_000_000.0  # the frozen clock
CALLBACKS = (
    CallbackSpec("EarlyStopping", True, {"monitor": "loss", "patience": 3}),
    CallbackSpec("CSVLogger", False, {"filename": "log.csv"}),
)


@pytest.fixture(autouse=True)
def verdicts_linger(monkeypatch) -> None:
    """A verdict stays on the banner until a test hides it: otherwise what a snapshot shows
    depends on whether setting it up took longer than `LINGER_S` (it did on a loaded CI host,
    and the banner had turned to its muted line). `test_banner_turns_muted_after_lingering`
    checks the timer itself."""
    monkeypatch.setattr(banner, "LINGER_S", 1e6)


def make_fake(run_dir: Path, **kw) -> FakeSession:
    config = fake_config(run_dir, callbacks=CALLBACKS)
    return FakeSession(config, clock=lambda: NOW, **kw)


def make_app(session, **kw) -> WeightwatchApp:
    """The app under test, its scrolls not animated: focusing a button scrolls it into view with
    Textual's animation, and on a loaded host a snapshot caught the dialog's scrollbar a
    fraction of a row from where it settles (the 80x24 failed-apply snapshot)."""
    kw = {"clock": lambda: NOW + 150, "cursor_blink": False, "handle_signals": False, **kw}
    app = WeightwatchApp(session, **kw)
    app.animation_level = "none"
    return app


@pytest.fixture
def fake(tmp_path) -> FakeSession:
    return make_fake(tmp_path / "run")


@pytest.fixture
def app(fake) -> WeightwatchApp:
    return make_app(fake)


class Notes(list):
    """Every notification the app showed (collected through `message_hook`)."""

    def hook(self, message) -> None:
        if isinstance(message, Notify):
            self.append(message.notification)

    def of(self, severity: str) -> list[str]:
        return [n.message for n in self if n.severity == severity]


@pytest.fixture
def notes() -> Notes:
    return Notes()


async def until(predicate, pilot=None, timeout: float = 60.0) -> None:
    """Wait (letting the app run) until `predicate()` is true. The bound is for a hung app, not
    a speed check: in fresh-clone CI runs some TUI tests took 68-73 s instead of 1-2 s (a whole
    host's stall, not reproduced under CPU hogs here), and one wait of 15 s failed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}\n{_where(pilot)}")
        if pilot is not None:
            await pilot.pause(0.01)
        else:
            await asyncio.sleep(0.01)


def _where(pilot) -> str:
    """What every thread and the app's workers were doing (a wait that timed out on a loaded CI
    host says where it was stuck)."""
    import sys
    import threading
    import traceback

    names = {t.ident: t.name for t in threading.enumerate()}
    lines = []
    if pilot is not None:
        app = pilot.app
        lines.append(f"screen stack: {app.screen_stack}; workers: {list(app.workers)}")
    for ident, frame in sys._current_frames().items():
        lines.append(f"--- thread {names.get(ident, ident)}")
        lines += [line.rstrip() for line in traceback.format_stack(frame)[-8:]]
    return "\n".join(lines)


async def running(pilot, fake: FakeSession) -> None:
    """Wait for the app to have started the fake's training thread and for the dashboard to
    show it. (Without the forced tick what sat behind a dialog opened next depended on whether
    the dashboard's timer had fired first: on a loaded host the layer-norm panel behind the
    callback editor was still empty, and its snapshot differed.)"""
    await until(lambda: fake.status().state is not SessionState.STARTING, pilot)
    await pilot.pause()
    pilot.app.dashboard.tick(force=True)
    await pilot.pause()


__all__ = ["Notification", "make_app", "make_fake", "running", "until", "NOW"]
