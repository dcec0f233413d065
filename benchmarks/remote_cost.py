"""What serving a detached session costs the training process: the server thread's CPU.

`python -m benchmarks.remote_cost [--seconds S] [--reps R] [--viewers 0,1,3] [--poll] [--profile]`

steps/s of a detached session (benchmarks/remote.py) swings +-15 % between runs on a shared
2-core machine; the CPU seconds the server's loop thread burns do not. This starts a real
`Session` on the reference MLP (benchmarks/job.py), serves it with `SessionServer`, lets it
train past tracing, then, for 0, 1 and 3 viewers in turn (rounds interleaved, the order rotated
every round), attaches that many `RemoteSession`s, each its own process (what `weightwatch
attach` talks to the server, without a dashboard), and measures over S seconds:

- the server thread's CPU seconds per wall second (`time.thread_time()` on that thread), and
  per training step (us/step: steps/s swings, this much less);
- requests served per second (frames the viewers sent) and frames sent per second (replies and
  pushes), counted by wrapping the server's request handler and the connections' `send`;
- each viewer process's CPU seconds per wall second (what it takes from the training's cores);
- steps/s of the training (noisy: for orientation only).

Measured (2 shared cores, 5 rounds of 4 s, medians), before -> after status pushes and blocks
encoded once: 3 viewers 0.0144 -> 0.0072 server CPU s/s (16.6 -> 7.0 us/step), 35 -> 12
requests/s; 1 viewer 0.0053 -> 0.0055 s/s, 11.5 -> 3.7 requests/s; 0 viewers 0 (no timer).
`--profile` (cProfile on the server thread) shows what is left: half of it the socket writes.

`--poll` makes the viewers poll `read status` as clients before status pushes did (a client of
protocol 1 that never asks for them), for an in-process A/B with the same server.
Not part of `python -m benchmarks`: it is a diagnosis, one run ~(S + 2) x 3 x R seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, median
from .job import write_job

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}


def thread_cpu(server) -> float:
    """CPU seconds of the server's loop thread so far: `time.thread_time()` read on that thread
    (nanoseconds; /proc's utime+stime count 10 ms ticks, too coarse for a few seconds)."""
    return on_loop(server, time.thread_time)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a viewer process (Linux /proc, 10 ms ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def on_loop(server, fn):
    async def call():
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), server._loop).result(10)


class Counts:
    """Requests handled and frames queued by the server, counted by wrapping its methods."""

    def __init__(self) -> None:
        from weightwatch.engine.remote import server as srv
        from weightwatch.engine.remote.connection import Connection

        self.requests = self.frames = 0
        handle, send = srv.SessionServer._handle, Connection.send

        def counted_handle(server, conn, msg):
            self.requests += 1
            return handle(server, conn, msg)

        def counted_send(conn, frame):
            self.frames += 1
            return send(conn, frame)

        srv.SessionServer._handle = counted_handle  # type: ignore[method-assign]
        Connection.send = counted_send  # type: ignore[method-assign]


def viewer_processes(run_dir: Path, n: int, poll: bool) -> list[subprocess.Popen]:
    cmd = [sys.executable, "-m", "benchmarks.remote_cost", "--viewer", str(run_dir)]
    cmd += ["--poll"] if poll else []
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for _ in range(n)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    return procs


def end(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()  # the viewer detaches when its stdin ends
    for proc in procs:
        proc.wait(30)


def measure(
    session, server, counts: Counts, n: int, seconds: float, poll: bool, profile: bool = False
) -> dict:
    procs = viewer_processes(session.run_dir, n, poll)
    profiler = cProfile.Profile()
    try:
        time.sleep(0.5)  # past the viewers' first sync (a snapshot each)
        r0, f0, s0 = counts.requests, counts.frames, session.status().session_step
        if profile:  # cProfile sees the thread that enables it: the server's loop thread
            on_loop(server, profiler.enable)
        v0 = sum(process_cpu(proc.pid) for proc in procs)
        c0, w0 = thread_cpu(server), time.perf_counter()
        time.sleep(seconds)
        c1, w1 = thread_cpu(server), time.perf_counter()
        v1 = sum(process_cpu(proc.pid) for proc in procs)
        if profile:
            on_loop(server, profiler.disable)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        r1, f1, s1 = counts.requests, counts.frames, session.status().session_step
    finally:
        end(procs)
    wall = w1 - w0
    return {
        "viewers": n,
        "server_cpu_per_s": (c1 - c0) / wall,
        "server_us_per_step": (c1 - c0) / max(1, s1 - s0) * 1e6,
        "viewer_cpu_per_s": (v1 - v0) / wall / max(1, n),
        "requests_per_s": (r1 - r0) / wall,
        "frames_per_s": (f1 - f0) / wall,
        "steps_per_s": (s1 - s0) / wall,
    }


def main(
    seconds: float, reps: int, counts_of: list[int], poll: bool, profile: bool = False
) -> list[dict]:
    import tensorflow as tf  # noqa: F401  (imported before anything is measured)
    from weightwatch.engine.config import load_config
    from weightwatch.engine.remote.server import SessionServer
    from weightwatch.engine.session import Session

    counts = Counts()
    got: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ww-remote-cost-") as tmp:
        cfg = load_config(write_job(Path(tmp), 16_000, 10_000, deterministic=True))
        session = Session(cfg, run_dir=Path(tmp) / "runs" / "cost")
        server = SessionServer(session, session.run_dir).start()
        held = session.hold_at_step(300)  # past tracing: batches at their steady pace
        session.start()
        held.result(600)
        session.release()
        try:
            for r in range(reps):
                for n in counts_of[r % len(counts_of) :] + counts_of[: r % len(counts_of)]:
                    got.append(measure(session, server, counts, n, seconds, poll, profile))
                    print(json.dumps(got[-1]), file=sys.stderr, flush=True)
        finally:
            session.stop().result(600)
            server.close()
    return got


def summary(got: list[dict], counts_of: list[int], poll: bool) -> None:
    print(f"viewers {'polling status' if poll else 'as shipped'}, medians of each count:")
    print(
        "viewers  server CPU s/s  us/step  each viewer s/s  requests/s  frames/s  steps/s  (runs)"
    )
    for n in counts_of:
        runs = [g for g in got if g["viewers"] == n]
        m = {k: median([g[k] for g in runs]) for k in runs[0]}
        print(
            f"{n:7d}  {m['server_cpu_per_s']:14.4f}  {m['server_us_per_step']:7.2f}"
            f"  {m['viewer_cpu_per_s']:15.4f}"
            f"  {m['requests_per_s']:10.1f}"
            f"  {m['frames_per_s']:8.1f}  {m['steps_per_s']:7.1f}  ({len(runs)})"
        )


def viewer(run_dir: str, poll: bool) -> None:
    """One viewer: connected until stdin ends (what attach keeps fresh, without a screen)."""
    from weightwatch.engine.remote.client import RemoteSession

    if poll:  # as a client that never asks for status pushes
        RemoteSession.status_pushes = False
    session = RemoteSession(run_dir, viewer="cost")
    print("ready", flush=True)
    sys.stdin.read()
    session.close()


def _main() -> None:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--seconds", type=float, default=3.0)
    a.add_argument("--reps", type=int, default=5)
    a.add_argument("--viewers", default="0,1,3")
    a.add_argument("--poll", action="store_true")
    a.add_argument("--profile", action="store_true", help="cProfile the server thread")
    a.add_argument("--viewer")
    args = a.parse_args()
    if args.viewer:
        return viewer(args.viewer, args.poll)
    counts_of = [int(n) for n in args.viewers.split(",")]
    got = main(args.seconds, args.reps, counts_of, args.poll, args.profile)
    summary(got, counts_of, args.poll)


if __name__ == "__main__":
    _main()
