"""What the live dashboard's UI thread costs on the whole benchmark job (a script, not a section).

    .venv/bin/python -m benchmarks.ui_cost                 # 5 runs of the full job, medians
    .venv/bin/python -m benchmarks.ui_cost --runs 1 --samples 4000 --epochs 2

Each run is a fresh process that trains the whole-job benchmark (benchmarks/job.py `write_job`:
the reference MLP, 16,000 samples x 12 epochs by default, `deterministic = true`) under the live
dashboard in Textual's headless driver (benchmarks/runs.py `live_ui`, as `--headless` runs it),
and reports what does not swing with the host's load: the CPU seconds of the UI thread (Textual's
loop, where all UI runs: its own CPU clock, read from the training thread at the job's first and
last batch) as a share of the job's wall time, and counts of the work done: chart rounds
(`redraw_charts`), charts built (`build_lines`), status refreshes (a changed status line) and
status reads, frames sent (`App._display`) and layout passes.

The breakdown charges the UI thread's CPU time to what ran it, each category counting only its
own time (a chart's lines built inside the compositor's pass count as charts): `charts` (rounds:
pull, replot, plotext's build of the lines, the layer table), `status` (reading the status,
writing and rendering the status line, the footer's parked flag), `compositor` (Textual's
layout passes and screen updates, the other widgets' lines), `other` (the rest: the event loop,
timers, messages, the event log), and `gc` (the cyclic garbage collector when the UI thread's
allocations set it off: with TensorFlow's objects in the heap a full collection takes ~0.1-0.2
s; `collections` counts those full ones).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .common import ROOT

CATEGORIES = ("charts", "status", "compositor", "gc")
COUNTS = (
    "rounds",
    "charts_built",
    "status_refreshes",
    "status_reads",
    "frames",
    "layouts",
    "collections",
)


class Ledger:
    """UI-thread CPU time charged to the innermost category running (exclusive times)."""

    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id
        self.spent = dict.fromkeys(CATEGORIES, 0.0)
        self.counts = dict.fromkeys(COUNTS, 0)
        self._stack: list[str] = []
        self._mark = 0.0

    def wrap(self, owner: type, name: str, category: str, count: str | None = None):
        """Patch `owner.name` so that its UI-thread time goes to `category`; return an undo."""
        original = getattr(owner, name)
        ledger = self

        def wrapped(*args, **kwargs):
            if threading.get_ident() != ledger.thread_id:
                return original(*args, **kwargs)
            if count:
                ledger.counts[count] += 1
            ledger._enter(category)
            try:
                return original(*args, **kwargs)
            finally:
                ledger._leave()

        setattr(owner, name, wrapped)
        return lambda: setattr(owner, name, original)

    def snapshot(self) -> tuple[dict, dict]:
        return dict(self.spent), dict(self.counts)

    def _enter(self, category: str) -> None:
        now = time.thread_time()
        if self._stack:
            self.spent[self._stack[-1]] += now - self._mark
        self._stack.append(category)
        self._mark = now

    def _leave(self) -> None:
        now = time.thread_time()
        self.spent[self._stack.pop()] += now - self._mark
        self._mark = now


@contextmanager
def instrumented(session):
    """Count and time the dashboard's work on this (the UI) thread while the block runs."""
    from textual.app import App
    from textual.screen import Screen
    from weightwatch.tui.screens.dashboard import DashboardScreen
    from weightwatch.tui.widgets.charts import TimelineChart
    from weightwatch.tui.widgets.layers import LayerNorms
    from weightwatch.tui.widgets.status import StatusBar
    from weightwatch.tui.widgets.status_fit import FittedStatusBar

    ledger = Ledger(threading.get_ident())
    undo = [
        ledger.wrap(DashboardScreen, "redraw_charts", "charts", "rounds"),
        ledger.wrap(TimelineChart, "build_lines", "charts", "charts_built"),
        ledger.wrap(LayerNorms, "pull", "charts"),
        ledger.wrap(DashboardScreen, "show_status", "status"),
        ledger.wrap(FittedStatusBar, "render", "status"),
        ledger.wrap(Screen, "_refresh_layout", "compositor", "layouts"),
        ledger.wrap(Screen, "_compositor_refresh", "compositor"),
        ledger.wrap(App, "_display", "compositor", "frames"),
    ]
    show = StatusBar.show

    def counted_show(self, status):  # a refresh is a status line that changed
        before = self.shown
        show(self, status)
        if self.shown is not before and threading.get_ident() == ledger.thread_id:
            ledger.counts["status_refreshes"] += 1

    StatusBar.show = counted_show  # type: ignore[method-assign]
    undo.append(lambda: setattr(StatusBar, "show", show))
    status = session.status

    def counted_status():
        if threading.get_ident() == ledger.thread_id:
            ledger.counts["status_reads"] += 1
            ledger._enter("status")
            try:
                return status()
            finally:
                ledger._leave()
        return status()

    session.status = counted_status

    def collecting(phase: str, info: dict) -> None:  # a collection run on the UI thread
        if threading.get_ident() == ledger.thread_id:
            if phase == "start":
                ledger._enter("gc")
                ledger.counts["collections"] += info["generation"] == 2
            else:
                ledger._leave()

    gc.callbacks.append(collecting)
    undo.append(lambda: gc.callbacks.remove(collecting))
    try:
        yield ledger
    finally:
        for step in reversed(undo):
            step()


def child(folder: Path, samples: int, epochs: int) -> dict:
    """One whole job under the live dashboard, in this process."""
    import tensorflow as tf  # noqa: F401  (imported before anything is timed)
    from weightwatch.engine.config import load_config
    from weightwatch.engine.session import Session

    from .job import write_job

    cfg = load_config(write_job(folder, samples, epochs, deterministic=True))
    session = Session(cfg, run_dir=folder / "runs" / f"ui-{time.monotonic_ns()}")
    ui_clock = time.pthread_getcpuclockid(threading.get_ident())  # this thread runs the UI
    began: dict = {}
    run = session.run

    def timed_run(*args, **kwargs):  # the training thread's start: build, compile, trace...
        began.update(wall=time.perf_counter(), ui=time.clock_gettime(ui_clock))
        began["ledger"] = ledger.snapshot()
        return run(*args, **kwargs)

    session.run = timed_run  # type: ignore[method-assign]
    finished = session.hold_when_finished()
    ended: dict = {}

    def done(_) -> None:  # on the training thread, at the last batch
        ended.update(wall=time.perf_counter(), ui=time.clock_gettime(ui_clock))
        ended["ledger"] = ledger.snapshot()

    finished.add_done_callback(done)
    with instrumented(session) as ledger:
        asyncio.run(_under_ui(session, finished))
    return _result(began, ended)


async def _under_ui(session, finished) -> None:
    from .runs import live_ui

    async with live_ui(session):
        await asyncio.wrap_future(finished)


def _result(began: dict, ended: dict) -> dict:
    """The job's numbers, from its first step to its last batch (the first frame before the
    training thread started and the quit after it are not the job's)."""
    wall, ui = ended["wall"] - began["wall"], ended["ui"] - began["ui"]
    (spent0, counts0), (spent1, counts1) = began["ledger"], ended["ledger"]
    spent = {c: spent1[c] - spent0[c] for c in CATEGORIES}
    counts = {c: counts1[c] - counts0[c] for c in COUNTS}
    return {"wall": wall, "ui_cpu": ui, "share": ui / wall, "spent": spent, "counts": counts}


def run_child(folder: Path, samples: int, epochs: int) -> dict:
    out = folder / f"ui-cost-{time.monotonic_ns()}.json"
    cmd = [sys.executable, "-m", "benchmarks.ui_cost", "--child", "--folder", str(folder)]
    cmd += ["--samples", str(samples), "--epochs", str(epochs), "--out", str(out)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"ui_cost run failed: {tail}")
    return json.loads(out.read_text())


def report(runs: list[dict]) -> str:
    med = statistics.median
    lines = [
        f"{'run':>4} {'wall s':>7} {'UI cpu s':>8} {'share':>6}  "
        + " ".join(f"{c:>10}" for c in (*CATEGORIES, "other"))
        + "  "
        + " ".join(f"{c:>8}" for c in COUNTS)
    ]

    def row(name: str, wall, ui, share, spent: dict, counts: dict) -> str:
        return (
            f"{name:>4} {wall:7.2f} {ui:8.3f} {share:6.2%}  "
            + " ".join(f"{spent[c]:10.3f}" for c in (*CATEGORIES, "other"))
            + "  "
            + " ".join(f"{counts[c]:8g}" for c in COUNTS)
        )

    def parts(r: dict) -> dict:
        spent = dict(r["spent"])
        spent["other"] = r["ui_cpu"] - sum(spent.values())
        return spent

    for i, r in enumerate(runs, 1):
        lines.append(row(str(i), r["wall"], r["ui_cpu"], r["share"], parts(r), r["counts"]))
    lines.append(
        row(
            "med",
            med(r["wall"] for r in runs),
            med(r["ui_cpu"] for r in runs),
            med(r["share"] for r in runs),
            {c: med(parts(r)[c] for r in runs) for c in (*CATEGORIES, "other")},
            {c: med(r["counts"][c] for r in runs) for c in COUNTS},
        )
    )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--samples", type=int, default=16_000)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--json", type=Path, help="also write every run's numbers here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        a.out.write_text(json.dumps(child(a.folder, a.samples, a.epochs)))
        return
    runs = []
    with tempfile.TemporaryDirectory(prefix="ww-ui-cost-") as tmp:
        for _ in range(a.runs):
            runs.append(run_child(Path(tmp), a.samples, a.epochs))
            print(f"run {len(runs)}: UI thread {runs[-1]['share']:.2%} of wall", flush=True)
    print(report(runs))
    if a.json:
        a.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
