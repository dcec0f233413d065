"""The benchmark suite runs end to end in quick mode and prints every row of its table.

No timing is asserted here (the machines are shared; docs/performance.md has the figures): only
that each benchmark still runs against the current engine and UI and reports a result.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.run import SECTIONS

ROOT = Path(__file__).resolve().parent.parent


def test_quick_mode_prints_a_table_with_every_row(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(tmp_path / "rows.json")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    rows = {
        line.split("|")[1].strip(): line
        for line in done.stdout.splitlines()
        if line.startswith("| ") and not line.startswith(("| id ", "| --- "))
    }
    expected = [key for keys in SECTIONS.values() for key in keys]
    assert sorted(rows) == sorted(expected)
    assert not any("failed" in line for line in rows.values())
