"""Detached sessions and their viewers (issue 14), against the user's plain `fit`.

- `remote.viewers0/1/3`: steps/s of a detached session (a `Session` and its `SessionServer` in a
  fresh process, as `run --detach` makes it) with 0, 1 and 3 viewers attached / plain `fit` on
  the job of `benchmarks/job.py` (the reference MLP with 256 hidden units, 16,000 samples, batch
  32, 12 epochs). Each viewer is its own process running what `weightwatch attach` runs: the
  attached dashboard (`AttachedApp` on a `RemoteSession`) in Textual's headless driver, charts
  redrawing. The viewers are connected before training is released; the clock runs from the
  release to the last batch (first-step tracing included, as in `job`). Every run is a fresh
  process; rounds are interleaved and each ratio pairs runs of one round. On 2 cores the viewers'
  own CPU is part of what is measured: they share the machine with the training.
- `remote.key_latency`: a key press in a viewer (`p`, pause or resume; pilot.press in the viewer
  process) -> the command landed in the session process (its event recorded at the boundary),
  minus one batch (the median batch time of that run): target <= 50 ms on loopback.
- `remote.attach_1m`: a viewer connecting to a session with 1,000,000 steps of telemetry (a
  FakeSession: the telemetry is made in blocks, no training) -> the first frame of both charts
  built with the whole history (last x = 1M): target < 1 s. Measured in the viewer process from
  the connection's start (its Python and Textual imports excluded, and given).

Both processes read `time.perf_counter`, which is CLOCK_MONOTONIC on Linux: one clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, Row, cpu_step_ratio, median, ratio_row
from .job import write_job

SAMPLES, EPOCHS = 16_000, 12
QUICK = {"samples": 2_000, "epochs": 1}
VIEWERS = (0, 1, 3)
KINDS = ("plain",) + tuple(f"detached{n}" for n in VIEWERS)
PRESSES, QUICK_PRESSES = 12, 4
HISTORY = 1_000_000
SIZE = (120, 40)
T = 600.0
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}


# --- the session process's side ------------------------------------------------------------------


def detached(folder: Path, samples: int, epochs: int, viewers: int) -> dict:
    """A detached session with `viewers` viewer processes connected, timed from the release."""
    import tensorflow as tf  # noqa: F401  (imported before the clock, as in job.py)
    from weightwatch.engine.config import load_config
    from weightwatch.engine.remote.server import SessionServer
    from weightwatch.engine.session import Session

    cfg = load_config(write_job(folder, samples, epochs, deterministic=True))
    session = Session(cfg, run_dir=folder / "runs" / f"detached{viewers}-{time.monotonic_ns()}")
    server = SessionServer(session, session.run_dir).start()
    held, finished = session.hold_at_step(0), session.hold_when_finished()
    ended: dict = {}
    finished.add_done_callback(
        lambda _: ended.update(wall=time.perf_counter(), cpu=time.process_time())
    )
    session.start()
    held.result(T)
    procs = [viewer_process(session.run_dir, "watch") for _ in range(viewers)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        viewers_cpu = sum(cpu_seconds(p.pid) for p in procs)
        server_cpu = server_thread_cpu(server)
        began, cpu = time.perf_counter(), time.process_time()
        session.release()
        steps = finished.result(T)
        server_cpu = server_thread_cpu(server) - server_cpu
        viewers_cpu = sum(cpu_seconds(p.pid) for p in procs) - viewers_cpu
    finally:
        end_viewers(procs)
        session.stop().result(T)
        server.close()
    wall = ended["wall"] - began
    return {
        "steps": steps,
        "wall": wall,
        "cpu": ended["cpu"] - cpu,
        "viewers_cpu": viewers_cpu,
        "server_cpu": server_cpu,
    }


def server_thread_cpu(server) -> float:
    """CPU seconds of the server's loop thread (benchmarks/remote_cost.py measures it alone)."""

    async def read() -> float:
        return time.thread_time()

    return asyncio.run_coroutine_threadsafe(read(), server._loop).result(T)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latency(folder: Path, samples: int, presses: int) -> dict:
    """One viewer presses `p` `presses` times; when each pause / resume landed, in the session."""
    import tensorflow as tf  # noqa: F401
    from weightwatch.engine.config import load_config
    from weightwatch.engine.remote.server import SessionServer
    from weightwatch.engine.session import Session

    cfg = load_config(write_job(folder, samples, 1000, deterministic=True))
    session = Session(cfg, run_dir=folder / "runs" / f"latency-{time.monotonic_ns()}")
    landed: list[float] = []

    def record(item: object) -> None:  # on the training thread, where the command lands
        if getattr(item, "kind", None) in ("pause", "resume"):
            landed.append(time.perf_counter())

    session.listener = record  # the server chains its fan-out in front of it
    server = SessionServer(session, session.run_dir).start()
    session.start()
    warm = session.hold_at_step(200)  # past tracing: batches at their steady pace
    warm.result(T)
    session.release()
    landed.clear()  # only what the viewer's presses landed
    proc = viewer_process(session.run_dir, f"press:{presses}")
    try:
        out, _ = proc.communicate(timeout=T)
        pressed = json.loads(out.strip().splitlines()[-1])
        rate = session.status().steps_per_s or float("nan")
    finally:
        session.stop().result(T)
        server.close()
    return {"pressed": pressed, "landed": landed, "batch_s": 1.0 / rate}


def history(folder: Path, rounds: int) -> dict:
    """A FakeSession with 1M steps of telemetry served; `rounds` viewers attach one by one."""
    sys.path.insert(0, str(ROOT))
    from weightwatch.engine.remote.server import SessionServer

    from tests.fakes.fake_session import FakeSession, fake_config

    session = FakeSession(fake_config(folder / "history", epochs=HISTORY // 60 + 1))
    session.start()
    fill(session, HISTORY)
    server = SessionServer(session, session.run_dir).start()
    frames = []
    try:
        for _ in range(rounds):
            proc = viewer_process(session.run_dir, f"frame:{HISTORY}")
            out, err = proc.communicate(timeout=T)
            assert proc.returncode == 0, err[-2000:]
            frames.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        server.close()
        session.stop()
    return {"frames": frames}


def fill(session, steps: int, block: int = 10_000) -> None:
    """`steps` batches of telemetry, appended as the training thread appends (whole blocks)."""
    import numpy as np

    names = ["loss", "global_norm", "lr"] + [f"layer/{i}" for i in range(3)]
    for start in range(0, steps, block):
        x = np.arange(start + 1, start + block + 1, dtype=float)
        loss = 1.0 / np.sqrt(x) + 0.01 * np.sin(x / 97.0)
        columns = {n: (loss if n == "loss" else np.log1p(x) + i) for i, n in enumerate(names)}
        session.telemetry.append_columns(x.tolist(), {k: v.tolist() for k, v in columns.items()})
    session.session_step = session.model_step = steps


def viewer_process(run_dir: Path, mode: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "benchmarks.remote", "--viewer", str(run_dir), "--mode", mode]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def end_viewers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.stdin:
            proc.stdin.close()  # the viewer detaches when its stdin ends
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the viewer process's side -------------------------------------------------------------------


def viewer(run_dir: str, mode: str) -> None:
    """What `weightwatch attach` runs, headless: `watch` until stdin ends, `press:N` presses
    `p` N times and prints when, `frame:N` prints how long the first full frame took."""
    from weightwatch.engine.remote.client import RemoteSession
    from weightwatch.tui.attach import AttachedApp
    from weightwatch.tui.widgets.charts import TimelineChart

    built: dict[int, float] = {}
    want = int(mode.split(":")[1]) if mode.startswith("frame") else 0
    original = TimelineChart.build_lines

    def build_lines(self, *args, **kwargs):
        lines = original(self, *args, **kwargs)
        xs = [x for trace in self.traces for x in trace.xs]
        if want and xs and max(xs) >= 0.99 * want and id(self) not in built:
            built[id(self)] = time.perf_counter()
        return lines

    TimelineChart.build_lines = build_lines  # type: ignore[method-assign]
    t0 = time.perf_counter()
    session = RemoteSession(run_dir, viewer="bench")
    connected = time.perf_counter()
    app = AttachedApp(session, handle_signals=False)
    result = asyncio.run(_drive(app, mode, built))
    if mode.startswith("frame"):
        result = {"frame_s": max(built.values()) - t0, "connect_s": connected - t0}
    print(json.dumps(result), flush=True)


async def _drive(app, mode: str, built: dict) -> object:
    async with app.run_test(headless=True, size=SIZE) as pilot:
        try:
            return await _act(pilot, mode, built)
        finally:
            await pilot.press("q")  # detach (the session goes on), as a person leaves
            await app.finished.wait()


async def _act(pilot, mode: str, built: dict) -> object:
    if mode == "watch":
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.read)  # until the session process closes it
        return None
    if mode.startswith("frame"):
        deadline = time.perf_counter() + 60
        while len(built) < 2 and time.perf_counter() < deadline:  # loss and norm charts
            await pilot.pause(0.005)
        return None
    pressed = []
    for _ in range(int(mode.split(":")[1])):
        await pilot.pause(0.4)  # a pause lands, then training parks for a while
        pressed.append(time.perf_counter())
        await pilot.press("p")
    await pilot.pause(0.5)
    return pressed


# --- the section ---------------------------------------------------------------------------------


def run_child(kind: str, folder: Path, quick: bool) -> dict:
    size = QUICK if quick else {"samples": SAMPLES, "epochs": EPOCHS}
    out = folder / f"{kind}.json"
    module = "benchmarks.job" if kind == "plain" else "benchmarks.remote"
    cmd = [sys.executable, "-m", module, "--child", kind, "--folder", str(folder)]
    cmd += ["--samples", str(size["samples"]), "--epochs", str(size["epochs"]), "--out", str(out)]
    cmd += ["--quick"] if quick and kind != "plain" else []
    done = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{kind} run failed: {tail}")
    return json.loads(out.read_text())


def main(quick: bool, rounds: int) -> list[Row]:
    rounds = 1 if quick else min(rounds, 3)
    got: dict[str, list[dict]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory(prefix="ww-bench-remote-") as tmp:
        for r in range(rounds):
            for kind in KINDS[r % len(KINDS) :] + KINDS[: r % len(KINDS)]:
                got[kind].append(run_child(kind, Path(tmp), quick))
        lat = run_child("latency", Path(tmp), quick)
        hist = run_child("history", Path(tmp), quick)
    return viewer_rows(got, quick, rounds) + [latency_row(lat), history_row(hist)]


def viewer_rows(got: dict[str, list[dict]], quick: bool, rounds: int) -> list[Row]:
    label = "MLP 256 hidden, " + (
        "QUICK: 2,000 samples, 1 epoch" if quick else "16,000 samples, 12 epochs"
    )
    label += f", {rounds} round{'s' if rounds > 1 else ''}"
    plain = [t["steps"] / t["wall"] for t in got["plain"]]
    rows = []
    for n in VIEWERS:
        runs = got[f"detached{n}"]
        who = "no viewer" if n == 0 else f"{n} viewer{'s' if n > 1 else ''} attached"
        row = ratio_row(
            f"remote.viewers{n}",
            f"steps/s, {label}: detached session, {who} / plain fit",
            [t["steps"] / t["wall"] for t in runs],
            plain,
            "steps/s",
            0.97,
        )
        row.measured += f" (session CPU/step ratio {cpu_step_ratio(got['plain'], runs):.3f}"
        served = median([t.get("server_cpu", 0.0) / t["wall"] for t in runs])
        row.measured += f"; server thread {served:.1%} of a core"
        if n:  # the viewers share the machine: how much of a core each one used meanwhile
            share = median([t["viewers_cpu"] / t["wall"] / n for t in runs])
            row.measured += f"; each viewer used {share:.0%} of a core"
        row.measured += ")"
        rows.append(row)
    return rows


def latency_row(lat: dict) -> Row:
    pressed, landed, batch = lat["pressed"], lat["landed"], lat["batch_s"]
    if len(landed) != len(pressed):
        raise RuntimeError(f"{len(pressed)} presses but {len(landed)} commands landed")
    delays = [(b - a) * 1000 for a, b in zip(pressed, landed, strict=True)]
    over = median(delays) - batch * 1000
    return Row(
        "remote.key_latency",
        f"key press in a viewer -> command landed, loopback, {len(delays)} presses of p",
        f"median {median(delays):.1f} ms, max {max(delays):.1f} ms",
        f"1 batch = {batch * 1000:.1f} ms",
        over,
        f"{over:+.1f} ms over 1 batch",
        "<= 50 ms over 1 batch",
        over <= 50,
    )


def history_row(hist: dict) -> Row:
    frames = [f["frame_s"] for f in hist["frames"]]
    connect = median([f["connect_s"] for f in hist["frames"]])
    m = median(frames)
    return Row(
        "remote.attach_1m",
        f"viewer attach -> first full frame with history, {HISTORY:,}-step session "
        f"({len(frames)} attach{'es' if len(frames) > 1 else ''})",
        f"{m:.3f} s (connect and snapshot {connect:.3f} s)",
        "",
        m,
        f"{m:.3f} s",
        "< 1 s",
        m < 1.0,
    )


def _main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--child", choices=KINDS[1:] + ("latency", "history"))
    p.add_argument("--viewer")
    p.add_argument("--mode", default="watch")
    p.add_argument("--folder", type=Path)
    p.add_argument("--samples", type=int, default=SAMPLES)
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    if a.viewer:
        return viewer(a.viewer, a.mode)
    if a.child == "latency":
        got = latency(a.folder, a.samples, QUICK_PRESSES if a.quick else PRESSES)
    elif a.child == "history":
        got = history(a.folder, 1 if a.quick else 3)
    else:
        got = detached(a.folder, a.samples, a.epochs, int(a.child.removeprefix("detached")))
    a.out.write_text(json.dumps(got))


if __name__ == "__main__":
    _main()
