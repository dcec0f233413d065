"""Helpers for driving a real Session from a test thread (no UI)."""

from __future__ import annotations

import numpy as np
from weightwatch.engine.session import Session

T = 120  # seconds: generous, the machines are shared


_first_holds: dict[int, object] = {}


def started(config, hold: int | None = None, **kw) -> Session:
    """A running session; `hold` registers a step hold before training starts (race-free)."""
    s = Session(config, **kw)
    if hold is not None:
        _first_holds[id(s)] = s.hold_at_step(hold)
    s.start()
    return s


def held_at(session: Session, step: int) -> int:
    """Wait for a hold; only the first hold (given to `started`) may be registered while
    training runs freely, every later one while the thread is parked at the previous one."""
    first = _first_holds.pop(id(session), None)
    if first is not None:
        return first.result(T)
    return session.hold_at_step(step).result(T)


def finish(session: Session) -> dict:
    """Release any hold, run to the end of all epochs, stop, and return the report."""
    session.release()
    session.hold_when_finished().result(T)
    session.stop().result(T)
    assert session.stopped.wait(T)
    return session.report()


def stop(session: Session) -> dict:
    session.stop().result(T)
    assert session.stopped.wait(T)
    return session.report()


def model(session: Session):
    """The live model: read only while the training thread is parked."""
    return session.model


def optimizer_state(session: Session) -> list[np.ndarray]:
    return [np.array(v.numpy()) for v in model(session).optimizer.variables]


def verdicts(report: dict, kind: str | None = None) -> list:
    return [e["verdict"] for e in report["events"] if kind is None or e["kind"] == kind]


def events_of(report: dict, kind: str) -> list[dict]:
    return [e for e in report["events"] if e["kind"] == kind]
