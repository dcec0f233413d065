"""What every benchmark shares: result rows, medians, RSS, time stamps, and the two model configs.

Timings on a shared machine are noisy, so nothing here is a pass/fail test: each benchmark
measures its baseline in the same process and run, interleaves rounds, and reports medians.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo_data"

# A model with ~20 ms steps on the reference machine (2 shared cores): the sensor Conv1D,
# four times wider, on batches of 64.
HEAVY_PARAMS = {"window": 32, "channels": 3, "classes": 4, "filters": 64, "dropout": 0.2}
HEAVY_BATCH = 64


@dataclass
class Row:
    """One line of the result table."""

    key: str  # stable id, e.g. "overhead.reference.ui" (the smoke test checks these)
    label: str  # what was measured, in words
    measured: str  # the measurement, with units
    baseline: str  # the same-run baseline it is compared with ("" if none)
    result: float | None  # the number the target applies to
    shown: str  # `result` as printed
    target: str  # e.g. ">= 0.97"
    holds: bool | None  # None: no target, or nothing measured

    def to_json(self) -> dict:
        return asdict(self)


def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def rss_bytes() -> int:
    """The current resident set size of this process (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def stamp(future: Future) -> dict:
    """Record when `future` resolves, on the thread that resolves it (no event-loop delay).

    Register this before the future can resolve (holds and commands resolve at the next batch
    boundary, never inside the call that creates them).
    """
    when: dict = {}

    def done(_: Future) -> None:
        when["wall"], when["cpu"] = time.perf_counter(), time.process_time()

    future.add_done_callback(done)
    return when


def run_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"ww-bench-{prefix}-"))


def config(model: str, epochs: int, folder: Path | None = None):
    """The benchmark config for `model` ("reference" or "heavy"), training `epochs` epochs."""
    from weightwatch.engine.config import load_config

    if model == "reference":
        cfg = load_config(DEMO / "reference.toml")
    elif model == "heavy":
        cfg = load_config(DEMO / "sensors.toml")
        cfg = replace(
            cfg,
            callbacks=(),
            model=replace(cfg.model, params=dict(HEAVY_PARAMS)),
            data=replace(cfg.data, batch_size=HEAVY_BATCH),
        )
    else:
        raise ValueError(f"unknown benchmark model. Received: model={model!r}")
    folder = folder or run_dir(model)
    return replace(
        cfg, train=replace(cfg.train, epochs=epochs), run=replace(cfg.run, run_dir=folder)
    )


def pause_row(key: str, label: str, pauses: list[int]) -> Row:
    """Pause latency: batches trained between the request and the pause (target <= 1)."""
    worst = max(pauses)
    return Row(
        key,
        label,
        f"batches {min(pauses)}-{worst}",
        "",
        worst,
        f"max {worst} batch",
        "<= 1 batch",
        worst <= 1,
    )


def cpu_step_ratio(baseline: list[dict], runs: list[dict]) -> float:
    """Median over the rounds of the baseline's CPU seconds a step / the measured side's (>1:
    the measured side spends less CPU a step); runs are `{"cpu", "steps", ...}` of one round."""
    return median(
        [
            (b["cpu"] / b["steps"]) / (t["cpu"] / t["steps"])
            for b, t in zip(baseline, runs, strict=True)
        ]
    )


def ratio_row(
    key: str, label: str, measured: list[float], baseline: list[float], unit: str, target: float
) -> Row:
    """A row for `measured / baseline`, median over interleaved rounds (pairs of one round)."""
    ratios = [m / b for m, b in zip(measured, baseline, strict=True) if b]
    r = median(ratios)
    spread = f" [{min(ratios):.3f}-{max(ratios):.3f}]" if len(ratios) > 1 else ""
    return Row(
        key,
        label,
        f"{median(measured):,.0f} {unit}",
        f"{median(baseline):,.0f} {unit}",
        r,
        f"{r:.3f}{spread}",
        f">= {target:.2f}",
        r >= target if r == r else None,
    )


CHILD_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}


def run_child(module: str, kind: str, folder: Path, size: dict, extra: tuple = ()) -> dict:
    """One run of `kind` in a fresh process (`python -m module --child kind ...`, which writes
    its result as JSON); a run that fails raises with the last line it printed."""
    import json
    import subprocess
    import sys

    out = folder / f"{kind}.json"
    cmd = [sys.executable, "-m", module, "--child", kind, "--folder", str(folder)]
    cmd += ["--samples", str(size["samples"]), "--epochs", str(size["epochs"]), "--out", str(out)]
    cmd += list(extra)
    env = {**os.environ, **CHILD_ENV}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{kind} run failed: {tail}")
    return json.loads(out.read_text())


def rotations(kinds: tuple[str, ...], rounds: int):
    """Round r runs every kind once, in an order rotated by r (interleaved rounds)."""
    for r in range(rounds):
        yield from kinds[r % len(kinds) :] + kinds[: r % len(kinds)]


def child_main(child, kinds: tuple[str, ...], samples: int, epochs: int) -> None:
    """The `--child` side of `run_child`: run one kind, write its result as JSON."""
    import argparse
    import json

    p = argparse.ArgumentParser()
    p.add_argument("--child", choices=kinds, required=True)
    p.add_argument("--folder", type=Path, required=True)
    p.add_argument("--samples", type=int, default=samples)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    a.out.write_text(json.dumps(child(a.child, a.folder, a.samples, a.epochs)))
