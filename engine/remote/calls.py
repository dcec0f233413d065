"""The session commands of `RemoteSession` (engine/remote/client.py): each one `call` request,
its future resolved by the reply (the result rebuilt as the engine's dataclass where it is one);
and the reads the UI makes rarely, asked when made (with a timeout and a fallback)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ..events import CheckpointInfo, Event, Segment, Status
from ..specs import CallbackSpec
from .rebuild import empty_report

READ_TIMEOUT_S = 10.0  # a read asked now (checkpoints, report): the server answers at once


class RemoteCalls:
    """SessionAPI's commands and holds over `_call`, and its rare reads (a dialog opening, the
    report) asked there and then; the connection is the client's."""

    _ended: threading.Event
    _report: dict | None

    def _wait(self, coro: Any, timeout: float) -> Any:
        raise NotImplementedError

    async def _request(self, op: str, **fields: Any) -> Any:
        raise NotImplementedError

    def status(self) -> Status:
        raise NotImplementedError

    def segments(self) -> list[Segment]:
        raise NotImplementedError

    def events(self) -> list[Event]:
        raise NotImplementedError

    def _call(
        self, method: str, convert: Callable[[Any], Any] | None = None, **args: Any
    ) -> Future:
        raise NotImplementedError

    def pause(self) -> Future:
        return self._call("pause")

    def resume(self, epochs: int | None = None) -> Future:
        return self._call("resume", epochs=epochs)

    def set_callbacks(self, specs: list[CallbackSpec]) -> Future:
        return self._call("set_callbacks", specs=list(specs))

    def save(self, name: str | None = None) -> Future:
        return self._call("save", _checkpoint, name=name)

    def load(self, ref: str) -> Future:
        return self._call("load", _checkpoint, ref=ref)

    def rebuild(self, seed: int | None = None) -> Future:
        return self._call("rebuild", seed=seed)

    def recompile(
        self, optimizer: str | dict | None = None, learning_rate: float | dict | None = None
    ) -> Future:
        return self._call("recompile", optimizer=optimizer, learning_rate=learning_rate)

    def set_lr(self, value: float) -> Future:
        return self._call("set_lr", value=value)

    def note_error(self, message: str, detail: dict | None = None) -> Future:
        return self._call("note_error", message=message, detail=detail)

    def hold_at_step(self, n: int) -> Future:
        return self._call("hold_at_step", n=n)

    def hold_at_epoch(self, n: int) -> Future:
        return self._call("hold_at_epoch", n=n)

    def hold_when_finished(self) -> Future:
        return self._call("hold_when_finished")

    def release(self) -> None:
        self._call("release")  # lands in order with the commands sent before it

    # -- reads asked now ------------------------------------------------------------------------
    def _read_now(self, what: str, fallback: Any) -> Any:
        """A read the UI makes rarely (a dialog opening): asked now, or `fallback` when gone."""
        if self._ended.is_set():
            return fallback
        try:
            return self._wait(self._request("read", what=what), READ_TIMEOUT_S)
        except Exception:
            return fallback

    def list_checkpoints(self) -> list[CheckpointInfo]:
        return [CheckpointInfo(**c) for c in self._read_now("checkpoints", [])]

    def default_checkpoint_name(self) -> str:
        return (
            self._read_now("default_checkpoint_name", "")
            or f"step-{self.status().session_step:06d}"
        )

    def report(self) -> dict:
        """The live session's report; once it stopped (or is gone), its final one."""
        if self._report is not None:
            return self._report
        report = self._read_now("report", None)
        return (
            report
            if report is not None
            else empty_report(self.status(), self.segments(), self.events())
        )

    def viewers(self) -> list:
        return self._read_now("viewers", [])


def _checkpoint(result: dict) -> CheckpointInfo:
    return CheckpointInfo(**result)
