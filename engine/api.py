"""SessionAPI: everything a front end (the dashboard, a headless script, a test) may call.

`weightwatch.engine.session.Session` implements it, and so does the test double in
`tests/fakes/fake_session.py`; `tests/conformance/` runs one set of behaviour tests against both
through this protocol, so the two cannot drift. Issue 14 puts it behind a socket, so every
argument and every result is plain data: dataclasses and enums from `events.py` / `specs.py`
(`Status`, `Event`, `Segment`, `CheckpointInfo`, `CallbackSpec`, `Config`), dicts, lists, str,
int, float, bool and None. `plain()` turns any of them into JSON types and refuses anything else
(a model, a tensor, an array), which is how the conformance suite checks that promise.

Commands return `concurrent.futures.Future`s and land at the next batch boundary (at once while
the training thread is parked). What each future resolves to (plain data, as `plain()` takes it):

    pause -> None                     resume -> the verdict of the segment it opened (str)
    set_callbacks -> verdict or None  save / load -> CheckpointInfo
    rebuild / recompile -> verdict    set_lr -> the new rate (float)
    stop -> the final report (dict), or None when already stopped
    note_error -> None                hold_* -> the session step it held at (int)

A refused command resolves with `CommandRejected` or `BadInput` (one line, for a toast).

Kept outside the protocol, for local callers only (they hold objects that cannot cross a
socket): `Session.stopped` (a `threading.Event`), the `threading.Thread` that `Session.start()`
returns (the protocol promises only "an object"), and `Session.model` (the live Keras model, for
tests that fingerprint it while the thread is parked).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .events import CheckpointInfo, Event, Segment, SessionState, Status
from .specs import CallbackSpec, Config

Listener = Callable[[object], None]
"""Called on the training thread with each `Event` and `StateChanged` (plain dataclasses)."""


@runtime_checkable
class TelemetryView(Protocol):
    """The pulls the UI makes on a timer (charts, layer norms); every result is plain data.

    `engine.telemetry.TelemetryStore` is one; a remote client would be a cache refreshed by
    `version`. Series are named `loss`, `val_loss`, `lr`, `global_norm` and `layer/<i>`."""

    version: int  # changes on every write: redraw only when it moved
    layer_names: list[str]  # the names of the `layer/<i>` series, in order

    def names(self) -> list[str]: ...

    def window(
        self, name: str, x_min: float | None = None, x_max: float | None = None, width: int = 200
    ) -> tuple[list, list]: ...

    def latest(self, name: str) -> float | None: ...

    def last_x(self) -> float | None: ...


@runtime_checkable
class SessionAPI(Protocol):
    """A training session as a front end sees it (see the module docstring)."""

    listener: Listener | None

    @property
    def config(self) -> Config:
        """The validated config (frozen plain dataclasses): name, epochs, [ui] refresh..."""
        ...

    @property
    def run_dir(self) -> Path: ...

    @property
    def telemetry(self) -> TelemetryView: ...

    @property
    def state(self) -> SessionState: ...

    # -- lifecycle --------------------------------------------------------------------------
    def run(self) -> None:
        """Train on the calling thread until `stop()` (a remote client waits here)."""
        ...

    def start(self) -> object:
        """`run()` on a new daemon thread; returns a handle local callers may `join()`."""
        ...

    def stop(self) -> Future:
        """Stop at the next boundary; resolves with the final report once the thread returned."""
        ...

    def close(self) -> None:
        """Let the run directory go; idempotent."""
        ...

    # -- commands -----------------------------------------------------------------------------
    def pause(self) -> Future: ...

    def resume(self, epochs: int | None = None) -> Future: ...

    def set_callbacks(self, specs: list[CallbackSpec]) -> Future: ...

    def save(self, name: str | None = None) -> Future: ...

    def load(self, ref: str) -> Future: ...

    def rebuild(self, seed: int | None = None) -> Future: ...

    def recompile(
        self, optimizer: str | dict | None = None, learning_rate: float | dict | None = None
    ) -> Future: ...

    def set_lr(self, value: float) -> Future: ...

    def note_error(self, message: str, detail: dict | None = None) -> Future: ...

    # -- exact holds (scripts, the tour) ------------------------------------------------------
    def hold_at_step(self, n: int) -> Future: ...

    def hold_at_epoch(self, n: int) -> Future: ...

    def hold_when_finished(self) -> Future: ...

    def release(self) -> None: ...

    # -- reads (cheap snapshots, for a UI timer) -----------------------------------------------
    def status(self) -> Status: ...

    def events(self) -> list[Event]: ...

    def segments(self) -> list[Segment]: ...

    def list_checkpoints(self) -> list[CheckpointInfo]: ...

    def default_checkpoint_name(self) -> str: ...

    def report(self) -> dict:
        """The report (DESIGN.md keys); complete once the thread has stopped."""
        ...


# What the protocol's members are, for checks that walk them (tests/conformance).
MEMBERS: tuple[str, ...] = tuple(
    name for name in vars(SessionAPI) if not name.startswith("_") and name != "MEMBERS"
) + ("listener",)


def plain(value: Any) -> Any:
    """`value` as JSON types (dataclasses to dicts, enums to their value, tuples to lists, paths
    to str); TypeError for anything that is not plain data, so nothing else crosses the API."""
    if value is None or isinstance(value, bool | int | float | str):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"not plain data: a dict with keys {list(value)[:3]}")
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    raise TypeError(f"not plain data: {type(value).__module__}.{type(value).__qualname__}")
