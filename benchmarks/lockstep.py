"""A diagnostic script (not a section of the suite): the six runs of `targets` alive at once,
taking turns with the machine one epoch at a time (benchmarks/turns.py), so that every kind's
epoch e runs within seconds of the others'. Each run still times its whole job as `job` does,
minus the time it waited for its turns; both sides get the same callback, whose only hook is
`on_epoch_end`. The script prints each run's epoch times.

    .venv/bin/python -m benchmarks.lockstep --rounds 2

Why it is not a row: waiting between epochs is not neutral. A `tf.data` iterator freed after it
has lived long waits for TensorFlow's autotuning thread, whose sleep grows with the iterator's
age; plain `fit` frees one each epoch on its training thread, so in lockstep its epochs met idle
stalls of 1.5-10 s (CPU 99 % idle meanwhile, vmstat) that a run alone meets at 0.25-1.2 s. The
measurement is biased against whoever frees iterators after a wait. That is what it is good for:
it found the dashboard waiting 10-20 s at the end of a run for the same reason (the loop now
hands every spent iterator to engine/reaper.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import common, job
from .common import median
from .targets import KINDS

CALLBACK = '\n[[callbacks]]\ntype = "benchmarks.turns:Turn"\n'


def configs(folder: Path, samples: int, epochs: int) -> None:
    """The job's data and configs, written once before the round's runs start (they share them)."""
    for pipeline in (False, True):
        cfg = job.write_job(folder, samples, epochs, deterministic=True, pipeline=pipeline)
        cfg.with_name(f"{cfg.stem}_lockstep.toml").write_text(cfg.read_text() + CALLBACK)


def child(kind: str, folder: Path, fds: tuple[int, int]) -> dict:
    import keras
    import tensorflow as tf  # noqa: F401  (imported before the clock on every side)

    from . import turns

    turns.TURNS = t = turns.Turns(*fds)
    pipeline = kind.startswith("pipe_")
    cfg_path = folder / ("pipe.toml" if pipeline else "job.toml")
    base = kind.removeprefix("pipe_")
    if base == "plain":
        t.ready()
        t.take()
        got = job._plain("plain", cfg_path, keras, pipeline, callbacks=[turns.Turn()])
    else:
        from weightwatch.engine.config import load_config
        from weightwatch.engine.session import Session

        cfg = load_config(cfg_path.with_name(f"{cfg_path.stem}_lockstep.toml"))
        session = Session(cfg, run_dir=folder / "runs" / f"{kind}-{time.monotonic_ns()}")
        t.ready()
        t.take()
        got = job.timed_job(session, under_ui=base == "ui")
    got["wall"] -= t.waited
    got["cpu"] -= t.waited_cpu
    got.update(waited_cpu=t.waited_cpu, turns=t.turns, segments=t.segments)
    return got


def one_round(kinds: tuple[str, ...], folder: Path, order_shift: int) -> dict[str, dict]:
    """Every kind alive at once; each turn, each run in turn trains one epoch (the order rotated
    by one every turn); a run that finished is waited for before the next one goes on."""
    procs, go, back = {}, {}, {}
    for kind in kinds:
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        cmd = [sys.executable, "-m", "benchmarks.lockstep", "--child", kind]
        cmd += ["--folder", str(folder), "--fds", f"{r1},{w2}", "--out", str(folder / kind)]
        with open(folder / f"{kind}.err", "w") as err:
            procs[kind] = subprocess.Popen(
                cmd,
                cwd=common.ROOT,
                env={**os.environ, **common.CHILD_ENV},
                pass_fds=(r1, w2),
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        os.close(r1)
        os.close(w2)
        go[kind], back[kind] = w1, r2
    got: dict[str, dict] = {}
    try:
        for kind in kinds:
            _expect(kind, back[kind], b"r", folder)
        alive, turn = list(kinds), order_shift
        while alive:
            shift = turn % len(alive)
            for kind in alive[shift:] + alive[:shift]:
                os.write(go[kind], b"g")
                said = os.read(back[kind], 1)
                if said == b"e":
                    procs[kind].wait(300)
                    got[kind] = json.loads((folder / kind).read_text())
                else:
                    _expect(kind, said, b"d", folder)
            alive = [k for k in alive if k not in got]
            turn += 1
    finally:
        for kind, p in procs.items():
            os.close(go[kind])
            os.close(back[kind])
            if p.poll() is None:
                p.kill()
                p.wait()
    return got


def _expect(kind: str, got: bytes | int, want: bytes, folder: Path) -> None:
    said = os.read(got, 1) if isinstance(got, int) else got
    if said != want:
        lines = (folder / f"{kind}.err").read_text().strip().splitlines() or ["no output"]
        raise RuntimeError(f"{kind} run failed: {lines[-1]}")


def report(rounds: int) -> None:
    """`rounds` lockstep rounds: each run's whole-job steps/s, its ratio to its plain `fit` in
    the same round, and its epoch times (the longest marked)."""
    with tempfile.TemporaryDirectory(prefix="ww-bench-lockstep-") as tmp:
        folder = Path(tmp)
        configs(folder, job.SAMPLES, job.EPOCHS)
        for r in range(rounds):
            got = one_round(KINDS, folder, r)
            for kind in KINDS:
                t = got[kind]
                base = got["pipe_plain" if kind.startswith("pipe_") else "plain"]
                ratio = (t["steps"] / t["wall"]) / (base["steps"] / base["wall"])
                epochs = " ".join(f"{s:.2f}" for s in t["segments"][1:])
                print(
                    f"round {r} {kind:12s} {t['steps'] / t['wall']:5.0f} steps/s  ratio "
                    f"{ratio:.3f}  first {t['segments'][0]:.2f} s  epochs {epochs}  "
                    f"(median {median(t['segments'][1:]):.2f}, longest "
                    f"{max(t['segments'][1:]):.2f}; waiting CPU {t['waited_cpu']:.2f} s)",
                    flush=True,
                )


def _main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=1, help="lockstep rounds to run (~80 s each)")
    p.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    p.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--fds", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child is None:
        report(a.rounds)
        return
    r, w = (int(n) for n in a.fds.split(","))
    got = child(a.child, a.folder, (r, w))
    a.out.write_text(json.dumps(got))
    from . import turns

    assert turns.TURNS is not None
    turns.TURNS.finish()


if __name__ == "__main__":
    _main()
