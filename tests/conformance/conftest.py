"""Three implementations of `SessionAPI`, one fixture: every test here runs against each.

`engine`: the real `Session` on a tiny MLP (64 samples, batches of 16: 4 steps an epoch, 3
epochs), on its own training thread. `fake`: the test double with the same shape (4 steps an
epoch, 3 epochs), training by itself on its own thread at `rate` batches per second. `remote`:
a `RemoteSession` (what `weightwatch attach` drives) talking over the run directory's socket to
a `SessionServer` that serves the fake, so that the remote path cannot drift either; starting it
starts the served session, as the detached process does. `remote_engine` (slow): the same over a
served engine `Session`. The tests use nothing but the protocol
(and `config` for the expected defaults)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

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


def make_remote(folder: Path, make: Callable[[Path], SessionAPI] = make_fake) -> SessionAPI:
    from weightwatch.engine.remote.client import RemoteSession
    from weightwatch.engine.remote.server import SessionServer

    served = make(folder)
    served.run_dir.mkdir(parents=True, exist_ok=True)
    server = SessionServer(served, served.run_dir).start()
    client = RemoteSession(served.run_dir, viewer="conformance")
    _served[id(client)] = (served, server)
    return client


_started: set[int] = set()
_served: dict[int, tuple[SessionAPI, Any]] = {}  # a RemoteSession's: (served session, server)
MAKERS = {
    "engine": make_engine,
    "fake": make_fake,
    "remote": make_remote,
    "remote_engine": lambda folder: make_remote(folder, make_engine),
}
SLOW = {"remote_engine"}  # the engine's tests again, through the socket: slow only


def start(session: SessionAPI) -> None:
    _started.add(id(session))
    served = _served.get(id(session))
    if served is not None:  # the session process trains by itself; the viewer waits with it
        # A read's reply comes after every request sent before it has reached the session: the
        # commands "sent while starting" are there before the first batch, as with a detached
        # session still loading TensorFlow when a viewer attaches.
        session.list_checkpoints()
        served[0].start()
    session.start()


@pytest.fixture(
    params=[pytest.param(n, marks=[pytest.mark.slow] if n in SLOW else []) for n in MAKERS]
)
def api(request, tmp_path):
    session = MAKERS[request.param](tmp_path / "s")
    yield session
    if id(session) in _started:  # a session never started would never answer a stop
        _started.discard(id(session))
        try:
            session.stop().result(T)
        except Exception:
            pass
    session.close()
    served, server = _served.pop(id(session), (None, None))
    if server is not None:
        server.close()
        served.stop()
        served.close()


def done(future: Future):
    """The future's result (raises what it raised), waiting as long as a loaded machine may."""
    return future.result(T)
