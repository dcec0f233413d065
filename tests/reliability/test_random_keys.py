"""Random sequences of keys and dialog inputs (hypothesis), driven by a pilot against a running
session: the `FakeSession` for breadth, a real tiny session for fewer examples.

After every step: no unhandled exception and no internal-error dialog, at most one training
thread ever, every state change a legal one, and a report that follows the contract. A `q` or
Ctrl+C somewhere in the sequence must end the app with the report written.

Examples per run: 6 (fake) and 2 (real), derandomized, in the default run; 100 and 25, drawn
at random, in the slow set.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textual import events
from weightwatch.engine.config import load_config
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.events import StateChanged
from weightwatch.engine.session import Session
from weightwatch.tui.screens.error import ErrorScreen

from tests.conftest import write_config
from tests.tui.conftest import make_fake

from .conftest import KEYS_SETTINGS, SIZE, T, check_report, real_app

LEGAL = {  # state -> states it may change to (the same state again is always allowed)
    S.STARTING: {S.RUNNING, S.FAILED, S.STOPPED},
    S.RUNNING: {S.PAUSED, S.HOLDING, S.FINISHED, S.STOPPED},
    S.PAUSED: {S.RUNNING, S.FINISHED, S.STOPPED},
    S.HOLDING: {S.RUNNING, S.PAUSED, S.FINISHED, S.STOPPED},
    S.FINISHED: {S.RUNNING, S.PAUSED, S.HOLDING, S.STOPPED},
    S.FAILED: {S.RUNNING, S.STOPPED},
    S.STOPPED: set(),
}
KEYS = [
    "p",
    "space",
    "c",
    "s",
    "l",
    "r",
    "o",
    "e",
    "question_mark",
    "escape",
    "escape",
    "enter",
    "enter",
    "tab",
    "down",
    "up",
    "delete",
    "ctrl+s",
    "home",
    "end",
    "f7",
]
TEXTS = [
    "",
    "0.001",
    "1e9",
    "-1",
    "nan",
    "inf",
    "abc",
    "good",
    "../evil",
    "x" * 120,
    "7",
    "/nonexistent.weights.h5",
    "EarlyStopping",
    "patience = 2",
    "ww_test_models:Exploder",
]
STEP = st.one_of(
    st.tuples(st.just("key"), st.sampled_from(KEYS)),
    st.tuples(st.just("paste"), st.sampled_from(TEXTS) | st.text(max_size=16)),
    st.tuples(st.just("train"), st.integers(1, 40)),
)
SEQUENCE = st.tuples(
    st.lists(STEP, min_size=3, max_size=25),
    st.sampled_from([None, "q", "ctrl+c"]),  # how it ends: left running, or quit
)


class Watch:
    """Wraps the session: counts training threads and records every state change."""

    def __init__(self, session) -> None:
        self.session = session
        self.running = 0
        self.most = 0
        self.calls = 0
        self.states: list[S] = [S.STARTING]
        self._lock = threading.Lock()
        run, listener = session.run, session.listener
        session.run = lambda: self._run(run)
        session.listener = lambda item: self._listen(item, listener)

    def _run(self, run) -> None:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            run()
        finally:
            with self._lock:
                self.running -= 1

    def _listen(self, item, listener) -> None:
        if isinstance(item, StateChanged):
            self.states.append(item.state)
        listener(item)

    def check(self, app) -> None:
        assert app._exception is None, app._exception
        assert app.internal_error is None, app.internal_error
        assert not any(isinstance(s, ErrorScreen) for s in app.screen_stack)
        assert self.most <= 1 and self.calls <= 1
        states = list(self.states)
        for before, after in zip(states, states[1:], strict=False):
            assert after is before or after in LEGAL[before], f"{before} -> {after}"
        check_report(self.session.report())


async def drive(app, watch: Watch, steps: list, end: str | None, fake=None) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for kind, value in steps:
            if app.finished.is_set():
                break
            if kind == "key":
                await pilot.press(value)
            elif kind == "paste":
                app.post_message(events.Paste(value))
                await pilot.pause()
            elif fake is not None:
                fake.step(value)
                await pilot.pause()
            else:
                await pilot.pause(0.005 * value)  # the real session trains meanwhile
            watch.check(app)
        if end is not None:
            await pilot.press(end)
        else:
            await pilot.press("escape", "escape", "escape", "q")  # any dialog closed, then q
        loop = asyncio.get_running_loop()
        deadline = loop.time() + T
        while not app.finished.is_set() and loop.time() < deadline:
            if end == "q" and app.screen is not app.dashboard:
                await pilot.press("escape", "q")  # q was typed into a dialog: close it, quit
            elif end == "q" and not app._quitting:
                await pilot.press("q")  # q closed the event detail (its own key): quit now
            await pilot.pause(0.05)
    assert app.finished.is_set(), "the app did not quit"
    watch.check(app)
    assert watch.states[-1] is S.STOPPED
    written = json.loads((Path(app.run_dir) / "report.json").read_text())
    check_report(written)
    assert written == json.loads(json.dumps(app.report))


def fake_example(sequence) -> None:
    steps, end = sequence
    with tempfile.TemporaryDirectory() as folder:
        fake = make_fake(Path(folder) / "run")
        app = real_app(fake)
        watch = Watch(fake)
        asyncio.run(drive(app, watch, steps, end, fake=fake))


def real_example(config, sequence) -> None:
    steps, end = sequence
    with tempfile.TemporaryDirectory() as folder:
        session = Session(config, run_dir=Path(folder) / "run")
        app = real_app(session)
        watch = Watch(session)
        asyncio.run(drive(app, watch, steps[:12], end))


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return load_config(write_config(folder, epochs=6, n=256))


@KEYS_SETTINGS
@given(SEQUENCE)
def test_random_keys_against_the_fake_session(sequence):
    fake_example(sequence)


@settings(KEYS_SETTINGS, max_examples=2)
@given(sequence=SEQUENCE)
def test_random_keys_against_a_real_session(tiny_config, sequence):
    real_example(tiny_config, sequence)


@pytest.mark.slow
@settings(KEYS_SETTINGS, max_examples=100, derandomize=False)
@given(SEQUENCE)
def test_many_random_keys_against_the_fake_session(sequence):
    fake_example(sequence)


@pytest.mark.slow
@settings(KEYS_SETTINGS, max_examples=25, derandomize=False)
@given(sequence=SEQUENCE)
def test_many_random_keys_against_a_real_session(tiny_config, sequence):
    real_example(tiny_config, sequence)
