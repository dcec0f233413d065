"""Soak (slow set): 200k steps with the interactive app live in a pseudo-terminal.

The child is sampled from outside (`/proc/PID`): resident memory, threads and open files, with
the progress read from the size of `metrics.csv`. After the warm-up, memory stays flat (bounded
telemetry store, no per-step growth anywhere) and no thread or file descriptor leaks.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import write_config

from .terminal import Terminal

STEPS = 200_000
BATCH, SAMPLES = 16, 4096  # 256 steps per epoch
WARM_UP = 20_000  # steps: TensorFlow's and the app's caches, the telemetry store filling up
MEMORY_GROWTH_MB = 16  # allowed after the warm-up (allocator noise; a leak of even 96 bytes
#                        per step would be 17 MB over the 180k steps measured)


def sample(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
        "threads": int(fields["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


@pytest.mark.slow
def test_two_hundred_thousand_steps_with_the_ui_live(tmp_path):
    epochs = STEPS // (SAMPLES // BATCH)
    config = write_config(tmp_path / "soak", epochs=epochs, n=SAMPLES, batch=BATCH)
    metrics = tmp_path / "soak" / "run" / "metrics.csv"
    term = Terminal("run", str(config), cwd=tmp_path)
    samples: list[tuple[int, dict]] = []
    row_bytes = None
    try:
        term.wait_for(lambda: metrics.exists() and metrics.stat().st_size > 0, "training")
        while not term.seen("FINISHED"):
            assert term.proc.poll() is None, term.text[-2000:]
            time.sleep(2)
            size = metrics.stat().st_size
            if row_bytes is None and size > 100_000:
                lines = metrics.read_text().splitlines()[1:]
                row_bytes = (size - len(lines[0])) / len(lines)  # about; the header aside
            steps = int(size / row_bytes) if row_bytes else 0
            samples.append((steps, sample(term.proc.pid)))
        end = sample(term.proc.pid)
        term.press("q")
    finally:
        code = term.wait(300)
    assert code == 0
    rows = len(metrics.read_text().splitlines()) - 1
    assert rows == epochs * (SAMPLES // BATCH)
    after = [s for steps, s in samples if steps >= WARM_UP]
    assert len(after) >= 10, f"too few samples after the warm-up: {samples}"
    base = after[0]
    growth = max(s["rss_mb"] for s in after) - base["rss_mb"]
    report = (
        f"rss after warm-up {base['rss_mb']:.0f} MB, max growth {growth:.1f} MB, "
        f"end {end}; threads {base['threads']} -> {end['threads']}, "
        f"fds {base['fds']} -> {end['fds']}"
    )
    print(report)
    assert growth <= MEMORY_GROWTH_MB, report
    assert end["threads"] <= base["threads"] and end["fds"] <= base["fds"], report
