"""The benchmark suite runs end to end in quick mode and prints every row of its table.

No timing is asserted here (the machines are shared; docs/performance.md has the figures): only
that each benchmark still runs against the current engine and UI and reports a result. The
default run takes the sections of one device on TensorFlow; the sections that serve viewers,
split the CPU into devices or run on JAX (each mostly child processes importing TensorFlow or
JAX, ~2.5 minutes of the CI's 2 cores) are the slow test: their engine paths have their own
tests in the default run (tests/remote, tests/engine/test_mirrored.py, test_jax.py). So is
`targets`, which runs again (with more rounds) the children that `job` and `pipeline` run here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run import SECTIONS

ROOT = Path(__file__).resolve().parent.parent
SLOW_SECTIONS = ("remote", "mirrored", "jaxjob", "targets")


def quick_table(tmp_path: Path, sections: list[str]) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        # one section at a time: each is mostly a child process importing TensorFlow or JAX, and
        # two at once beside the other xdist worker starved its TUI tests (a Textual pilot timed
        # out after 30 s waiting for an app's first messages; tests of ~1 s took 70-140 s)
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--jobs",
            "1",
            "--only",
            ",".join(sections),
            "--json",
            str(tmp_path / "rows.json"),
        ],
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
    expected = [key for name in sections for key in SECTIONS[name]]
    assert sorted(rows) == sorted(expected)
    assert not any("failed" in line for line in rows.values())


def test_quick_mode_prints_a_table_with_every_row_of_the_one_device_sections(tmp_path):
    quick_table(tmp_path, [name for name in SECTIONS if name not in SLOW_SECTIONS])


@pytest.mark.slow
def test_quick_mode_prints_every_row_of_the_remote_mirrored_jax_and_targets_sections(tmp_path):
    quick_table(tmp_path, list(SLOW_SECTIONS))


def test_the_slow_sections_are_named_as_the_suite_names_them():
    # the default test takes every other section, so a misspelt name here would only make
    # the slow test fail late: say so in the default run
    assert set(SLOW_SECTIONS) < set(SECTIONS)
