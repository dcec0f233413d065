"""Two implementations of `SessionAPI`, one fixture: every test here runs against both.

`engine`: the real `Session` on a tiny MLP (64 samples, batches of 16: 4 steps an epoch, 3
epochs), on its own training thread. `fake`: the test double with the same shape (4 steps an
epoch, 3 epochs), training by itself on its own thread at `rate` batches per second. The tests
use nothing but the protocol (and `config` for the expected defaults)."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import pytest
from weightwatch.engine.api import SessionAPI

from tests.conftest import write_config
from tests.fakes.fake_session import FakeSession, fake_config

T = 120  # seconds: generous, the machines are shared
EPOCHS, STEPS = 3, 4


def make_engine(folder: Path) -> SessionAPI:
    from weightwatch.engine.config import load_config
    from weightwatch.engine.session import Session

    return Session(load_config(write_config(folder, epochs=EPOCHS, n=64, batch=16)))


def make_fake(folder: Path) -> SessionAPI:
    config = fake_config(folder / "run", epochs=EPOCHS, steps_per_epoch=STEPS)
    return FakeSession(config, rate=500.0)


_started: set[int] = set()


def start(session: SessionAPI) -> None:
    _started.add(id(session))
    session.start()


@pytest.fixture(params=["engine", "fake"])
def api(request, tmp_path):
    session = (make_engine if request.param == "engine" else make_fake)(tmp_path / "s")
    yield session
    if id(session) in _started:  # a session never started would never answer a stop
        _started.discard(id(session))
        try:
            session.stop().result(T)
        except Exception:
            pass
    session.close()


def done(future: Future):
    """The future's result (raises what it raised), waiting as long as a loaded machine may."""
    return future.result(T)
