"""Run the weightwatch benchmarks and print one table (see docs/performance.md).

    .venv/bin/python -m benchmarks            # the full suite (~15-20 minutes on 2 cores)
    .venv/bin/python -m benchmarks --quick    # every row once, small sizes (a smoke test)
    .venv/bin/python -m benchmarks --only overhead,pause --rounds 7 --json out.json

Every section runs in a fresh Python process (so TensorFlow state, RSS and imports never leak from
one into another); each measures its own baseline in the same process and run. Nothing here
asserts a time: the table says which targets held on this machine, this time.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a file: `python benchmarks/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from benchmarks.common import ROOT, Row  # noqa: E402

# Section -> the row keys it produces (the smoke test checks that every one is printed).
SECTIONS = {
    "startup": ["startup.first_frame", "startup.first_step"],
    "charts": [
        "charts.redraw.10k",
        "charts.redraw.100k",
        "charts.redraw.1M",
        "charts.redraw.flat",
        "memory.rss",
    ],
    "reset": ["reset.visible"],
    "pause": ["pause.reference", "pause.heavy"],
    "overhead": [
        "overhead.reference.engine",
        "overhead.reference.ui",
        "overhead.reference.engine_same_feed",
        "overhead.reference.ui_same_feed",
        "overhead.heavy.engine",
        "overhead.heavy.ui",
        "overhead.heavy.engine_same_feed",
        "overhead.heavy.ui_same_feed",
    ],
    "onoff": ["onoff.reference", "onoff.heavy"],
    "job": [
        "job.plain",
        "job.plain_same",
        "job.engine",
        "job.ui",
        "job.engine_nodet",
        "job.ui_nodet",
    ],
    "pipeline": ["pipeline.engine", "pipeline.ui"],
    "targets": [
        "targets.job.engine",
        "targets.job.ui",
        "targets.pipeline.engine",
        "targets.pipeline.ui",
    ],
    "probe": ["probe.tf", "probe.jax"],
    "remote": [
        "remote.viewers0",
        "remote.viewers1",
        "remote.viewers3",
        "remote.key_latency",
        "remote.attach_1m",
    ],
    "mirrored": ["mirrored.plain", "mirrored.ui", "mirrored.engine", "mirrored.pause"],
    "jaxjob": [
        "jax.jax_plain",
        "jax.tf_plain",
        "jax.dp_plain",
        "jax.jax_engine",
        "jax.jax_ui",
        "jax.tf_ui",
        "jax.dp_ui",
        "jax.dp_pause",
    ],
}
ROUNDS, QUICK_ROUNDS = 7, 1


def run_section(name: str, quick: bool, rounds: int) -> list[Row]:
    """One section in a child process; rows that say "failed" if it did not finish."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--section",
            name,
            "--rounds",
            str(rounds),
            "--out",
            str(out),
        ] + (["--quick"] if quick else [])
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode == 0 and out.exists():
            return [Row(**r) for r in json.loads(out.read_text())]
        why = (done.stderr.strip().splitlines() or ["no output"])[-1][:60]
        return [
            Row(key, f"section {name} failed: {why}", "-", "", None, "-", "", False)
            for key in SECTIONS[name]
        ]


def section_main(name: str, quick: bool, rounds: int, out: Path) -> None:
    rows = importlib.import_module(f"benchmarks.{name}").main(quick, rounds)
    out.write_text(json.dumps([r.to_json() for r in rows]))


def table(rows: list[Row]) -> str:
    """A Markdown table (readable in a terminal, pastable into the docs)."""
    head = ["id", "benchmark", "measured", "baseline (same run)", "result", "target", "holds"]
    lines = [head, ["---"] * len(head)]
    for r in rows:
        holds = {True: "yes", False: "**no**", None: ""}[r.holds]
        lines.append([r.key, r.label, r.measured, r.baseline, r.shown, r.target, holds])
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, one round (smoke test)")
    p.add_argument("--rounds", type=int, help=f"interleaved rounds (default {ROUNDS})")
    p.add_argument("--only", help="comma-separated sections: " + ", ".join(SECTIONS))
    p.add_argument("--json", help="also write the rows here")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="sections run at once (default 1; more only for a smoke test: they share the CPU)",
    )
    p.add_argument("--section", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    if args.section:
        section_main(args.section, args.quick, rounds, Path(args.out))
        return 0
    names = args.only.split(",") if args.only else list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s): {', '.join(unknown)}")
    rows, started = [], time.perf_counter()

    def one(name: str) -> list[Row]:
        print(f"running {name}...", file=sys.stderr, flush=True)
        return run_section(name, args.quick, rounds)

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:  # the table keeps the sections' order
        for got in pool.map(one, names):
            rows += got
    print(
        f"\n{_machine()}, {rounds} round(s), {time.perf_counter() - started:.0f} s"
        f"{', quick mode' if args.quick else ''}\n"
    )
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([r.to_json() for r in rows], indent=2))
    return 0 if all(r.result is not None for r in rows) else 1


def _machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, load {load:.2f} at the end"


if __name__ == "__main__":
    sys.exit(main())
