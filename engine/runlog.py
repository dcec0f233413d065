"""The run directory's append-only logs: events.jsonl, metrics.csv, epochs.jsonl.

Events are written (and fsynced) one by one: they are rare and must survive a crash. Metrics are
written in blocks when telemetry is flushed (a few times a second), never per batch.

A log that cannot be written (a full disk, a folder made read-only) never stops training: what
the disk refused waits in memory and goes out with the next write, so the file catches up once
there is room again (lines stay whole). `on_problem` is told once per failing stretch.

Every record names the session that wrote it: events.jsonl and epochs.jsonl records carry
`session`, and metrics.csv's last column is `session` (the columns before it are as they were).
A metrics.csv whose header differs from this session's (one from before the session column, or
another model's layers) is not appended to: it is renamed `metrics.before-<session>.csv`, a note
in events.jsonl says so, and this session starts metrics.csv anew, so every file has one header.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from .atomic import json_safe, os_reason
from .events import Event, Segment

METRIC_COLUMNS = ["session_step", "model_step", "epoch", "instance", "loss", "lr", "global_norm"]
EVENTS_BACKLOG = 64 << 20  # bytes held while the disk refuses writes (events: never dropped
METRICS_BACKLOG = 8 << 20  # in practice); metrics rows beyond this are dropped and counted


class Appender:
    """One append-only file, written with unbuffered writes and a backlog for refused bytes."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.file: io.RawIOBase | None = None
        self.backlog = bytearray()
        self.dropped = 0  # records refused because the backlog was full

    def write(self, data: bytes, sync: bool = False) -> OSError | None:
        """Append `data` after the backlog; the error if the disk refused some of it."""
        if len(self.backlog) + len(data) > self.limit:
            self.dropped += 1
        else:
            self.backlog += data
        try:
            if self.file is None:
                self.file = open(self.path, "ab", buffering=0)  # noqa: SIM115
            while self.backlog:
                written = self.file.write(self.backlog) or 0
                del self.backlog[:written]
            if sync:
                os.fsync(self.file.fileno())
        except OSError as e:
            return e
        return None

    def close(self) -> None:
        if self.file is not None:
            self.write(b"")  # a last try for the backlog
            self.file.close()


class RunLog:
    def __init__(
        self, run_dir: Path, session_id: str | None = None, notes: Sequence[dict] = ()
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.session_id = session_id or uuid.uuid4().hex[:12]
        for name in ("events.jsonl", "epochs.jsonl", "metrics.csv"):
            end_torn_line(self.run_dir / name)
        self._events = Appender(self.run_dir / "events.jsonl", EVENTS_BACKLOG)
        self._epochs = Appender(self.run_dir / "epochs.jsonl", EVENTS_BACKLOG)
        self._metrics = Appender(self.run_dir / "metrics.csv", METRICS_BACKLOG)
        self._metrics_started = False
        self.problem: str | None = None  # why the logs cannot be written now, if they cannot
        self.on_problem: Callable[[str], None] | None = None
        self._write(
            {"type": "session", "session": self.session_id, "time": time.time(), "pid": os.getpid()}
        )
        for note in notes:  # a stale lock taken over, say
            self.note(**note)

    def note(self, message: str, **detail) -> None:
        """A line for a person reading events.jsonl, not an event of the session."""
        self._write({"type": "note", "session": self.session_id, "message": message, **detail})

    def _put(self, appender: Appender, data: bytes, sync: bool = False) -> None:
        error = appender.write(data, sync)
        if error is None:
            if not any(a.backlog for a in (self._events, self._epochs, self._metrics)):
                self.problem = None
        elif self.problem is None:
            self.problem = f"cannot write {appender.path}: {os_reason(error)}"
            if self.on_problem is not None:
                self.on_problem(self.problem)

    def _write(self, record: dict) -> None:
        line = json.dumps(json_safe(record), default=float) + "\n"
        self._put(self._events, line.encode(), sync=True)

    def event(self, ev: Event) -> None:
        self._write({"type": "event", "session": self.session_id, **ev.to_json()})

    def segment(self, seg: Segment) -> None:
        self._write({"type": "segment", "session": self.session_id, **seg.to_json()})

    def metrics(self, layer_names: list[str], rows: list[list]) -> None:
        text = io.StringIO()
        csv.writer(text).writerows([[*row, self.session_id] for row in rows])
        self._put_metrics(layer_names, text.getvalue())

    def metrics_block(
        self, layer_names: list[str], steps, model_steps, epoch: int, instance: int, values
    ) -> None:
        """Rows for a block of steps; `values` (2-D) holds loss, lr, global norm, layer norms.

        The same text `metrics()` writes for these rows, but one `%` per row instead of a Python
        call per value: this runs on the training thread between two batches.
        """
        values_format = ",".join(["%.9g"] * values.shape[1])
        line = f"%d,%d,{epoch:d},{instance:d},{values_format},{self.session_id}\r\n"
        rows = zip(steps.tolist(), model_steps.tolist(), values.tolist(), strict=True)
        self._put_metrics(layer_names, "".join([line % (s, m, *v) for s, m, v in rows]))

    def _put_metrics(self, layer_names: list[str], text: str) -> None:
        if not self._metrics_started:
            self._metrics_started = True
            header = io.StringIO()
            csv.writer(header).writerow(
                [*METRIC_COLUMNS, *(f"norm/{n}" for n in layer_names), "session"]
            )
            if self._needs_header(header.getvalue().encode()):
                text = header.getvalue() + text
        self._put(self._metrics, text.encode())

    def _needs_header(self, header: bytes) -> bool:
        """Append under an equal header; set a different one aside (module docstring)."""
        path = self._metrics.path
        try:
            with open(path, "rb") as f:
                first = f.readline()
        except FileNotFoundError:
            return True
        except OSError:
            return False  # unreadable: appending is all that can be tried
        if not first or first == header:
            return not first
        kept = path.with_name(f"metrics.before-{self.session_id}.csv")
        try:
            os.rename(path, kept)
        except OSError as e:  # the rows still go out, under a header line of their own
            self.note(f"metrics.csv has other columns and could not be renamed ({os_reason(e)})")
            return True
        self.note(f"metrics.csv had other columns; kept as {kept.name}, started anew")
        return True

    def epoch(self, record: dict) -> None:
        record = {**record, "session": self.session_id}
        self._put(self._epochs, (json.dumps(json_safe(record), default=float) + "\n").encode())

    def close(self) -> None:
        for appender in (self._events, self._epochs, self._metrics):
            if appender.file is not None:
                try:
                    os.fsync(appender.file.fileno())
                except OSError:
                    pass
            appender.close()


def end_torn_line(path: Path) -> None:
    """A crash in the middle of a write leaves half a line: end it, so that what this session
    appends starts on a line of its own (readers skip the torn line)."""
    try:
        with open(path, "rb+") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
    except OSError:  # missing, or not ours to change: nothing to end
        pass


def read_run(run_dir: Path) -> tuple[list[dict], list[dict]]:
    """Events and segments of the latest session recorded in a run directory.

    The latest session is the one whose `session` record comes last; its records are those that
    carry its id, wherever they sit in the file (two sessions that wrote at once interleave).
    """
    path = Path(run_dir) / "events.jsonl"
    records = []
    if path.exists():
        # The run directory is input too: a byte that is not UTF-8 spoils its line, not the file.
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn last line after a crash
            if isinstance(rec, dict):
                records.append(rec)
    ids = [rec.get("session") for rec in records if rec.get("type") == "session"]
    if not ids:
        return [], []
    events, segments = [], {}
    for rec in records:
        if rec.pop("session", None) != ids[-1]:
            continue
        kind = rec.pop("type", None)
        if kind == "event":
            events.append(rec)
        elif kind == "segment" and type(rec.get("index")) is int:
            segments[rec["index"]] = rec
    return events, [segments[i] for i in sorted(segments)]
