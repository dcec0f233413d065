"""The run directory's append-only logs: events.jsonl, metrics.csv, epochs.jsonl.

Events are flushed (and fsynced) one by one: they are rare and must survive a crash. Metrics are
written in blocks when telemetry is flushed (a few times a second), never per batch.
"""

from __future__ import annotations

import csv
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

from .events import Event, Segment

METRIC_COLUMNS = ["session_step", "model_step", "epoch", "instance", "loss", "lr", "global_norm"]


class RunLog:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.session_id = uuid.uuid4().hex[:12]
        for name in ("events.jsonl", "epochs.jsonl", "metrics.csv"):
            end_torn_line(self.run_dir / name)
        self._events = open(self.run_dir / "events.jsonl", "a", encoding="utf-8")
        self._epochs = open(self.run_dir / "epochs.jsonl", "a", encoding="utf-8")
        self._metrics_path = self.run_dir / "metrics.csv"
        self._metrics: TextIO | None = None
        self._writer: Any = None
        self._write(
            {"type": "session", "session": self.session_id, "time": time.time(), "pid": os.getpid()}
        )

    def _write(self, record: dict) -> None:
        self._events.write(json.dumps(record, default=float) + "\n")
        self._events.flush()
        try:
            os.fsync(self._events.fileno())
        except OSError:
            pass

    def event(self, ev: Event) -> None:
        self._write({"type": "event", "session": self.session_id, **ev.to_json()})

    def segment(self, seg: Segment) -> None:
        self._write({"type": "segment", "session": self.session_id, **seg.to_json()})

    def metrics(self, layer_names: list[str], rows: list[list]) -> None:
        if self._writer is None:
            new = not self._metrics_path.exists() or self._metrics_path.stat().st_size == 0
            metrics = open(self._metrics_path, "a", encoding="utf-8", newline="")  # noqa: SIM115
            self._metrics, self._writer = metrics, csv.writer(metrics)
            if new:
                self._writer.writerow(METRIC_COLUMNS + [f"norm/{n}" for n in layer_names])
        self._writer.writerows(rows)
        if self._metrics is not None:
            self._metrics.flush()

    def epoch(self, record: dict) -> None:
        self._epochs.write(json.dumps(record, default=float) + "\n")
        self._epochs.flush()

    def close(self) -> None:
        for f in (self._events, self._epochs, self._metrics):
            if f is not None and not f.closed:
                f.flush()
                try:
                    os.fsync(f.fileno())
                except OSError:
                    pass
                f.close()


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
    except FileNotFoundError:
        pass


def read_run(run_dir: Path) -> tuple[list[dict], list[dict]]:
    """Events and segments of the latest session recorded in a run directory."""
    path = Path(run_dir) / "events.jsonl"
    sessions: list[tuple[list[dict], dict[int, dict]]] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn last line after a crash
            kind = rec.pop("type", None)
            rec.pop("session", None)
            if kind == "session":
                sessions.append(([], {}))
            elif sessions and kind == "event":
                sessions[-1][0].append(rec)
            elif sessions and kind == "segment":
                sessions[-1][1][rec["index"]] = rec
    if not sessions:
        return [], []
    events, segments = sessions[-1]
    return events, [segments[i] for i in sorted(segments)]
