"""Hostile or unlucky input through the real command line: one line, exit code 2, no traceback.

Each case here once ended differently (issue 10): a traceback (a TOML nested 3000 deep, an .npz
whose header declares 373 GiB, NUL in a name, a builder returning a dict), nothing at all with the
builder's own exit code (a builder that calls `sys.exit`), exit 0 with an asyncio traceback and no
report (`run` with that builder), or a misleading line naming the builder (a `keras.py` beside the
config). The fixtures are the fuzz corpus's (tests/fixtures); `# key:` and `# expect:` in their
first two lines say what the line must contain.

Every case starts a fresh interpreter (`python -m weightwatch.tui.cli`): an escaping
`SystemExit` or a TensorFlow message on fd 2 would show only there. That costs an import of
TensorFlow per case, so the default run keeps one of each kind and the slow set has them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[1] / "fixtures"
CONFIGS = FIXTURES / "configs"
SCRIPTS = FIXTURES / "scripts"
slow = pytest.mark.slow


def header(path: Path) -> tuple[str, str]:
    key, expect = path.read_text().splitlines()[:2]
    return key.removeprefix("# key: "), expect.removeprefix("# expect: ")


def weightwatch(*args: str | Path, cwd: Path = CONFIGS) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_line(done: subprocess.CompletedProcess, fixture: Path) -> str:
    """Exit code 2 and exactly one line on stderr naming the fixture, its key and what is wrong."""
    key, expect = header(fixture)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert len(lines) == 1, done.stderr[-3000:]
    assert fixture.name in lines[0] and key in lines[0] and expect in lines[0], lines[0]
    return lines[0]


CHECK_CONFIGS = [
    "bad_nested_deep.toml",  # RecursionError in tomllib
    "deep_npz_huge_header.toml",  # MemoryError: the header declares 373 GiB
    "bad_run_name_nul.toml",  # NUL in [run].name: "embedded null byte" further on
    "deep_builder_returns_dict.toml",
    "deep_builder_sys_exit.toml",  # printed nothing, exited with the builder's code
    pytest.param("bad_nested_deep_tables.toml", marks=slow),
    pytest.param("bad_run_dir_nul.toml", marks=slow),
    pytest.param("bad_data_path_nul.toml", marks=slow),
    pytest.param("deep_builder_generator_exit.toml", marks=slow),  # a traceback
    pytest.param("deep_builder_exits_on_import.toml", marks=slow),
    pytest.param("deep_loader_sys_exit.toml", marks=slow),  # "OK"? no: exit 0, nothing said
    pytest.param("deep_callback_sys_exit.toml", marks=slow),
    # `check` said OK and the first epoch then failed:
    pytest.param("deep_xval_features.toml", marks=slow),
    pytest.param("deep_sparse_labels.toml", marks=slow),
    pytest.param("deep_callback_reduce_lr_monitor.toml", marks=slow),
    pytest.param("deep_callback_lambda_string.toml", marks=slow),
    pytest.param("deep_callback_patience_string.toml", marks=slow),
]


@pytest.mark.parametrize("name", CHECK_CONFIGS)
def test_check_refuses_in_one_line(name):
    assert_one_line(weightwatch("check", name), CONFIGS / name)


def test_check_refuses_a_keras_py_beside_the_config():
    # Before: the line blamed [model].builder for "a circular import" inside keras.py.
    fixture = CONFIGS / "shadowing" / "bad_shadow_keras.toml"
    line = assert_one_line(weightwatch("check", fixture.name, cwd=fixture.parent), fixture)
    assert line.startswith("weightwatch: bad_shadow_keras.toml: keras.py: ") and "rename" in line


SCRIPTS_CHECKED = [
    "bad_nested_deep.toml",
    pytest.param("bad_save_name_long.toml", marks=slow),  # accepted, then refused mid-run
    pytest.param("bad_screenshot_nul.toml", marks=slow),
    pytest.param("deep_callback_patience_string.toml", marks=slow),
]


@pytest.mark.parametrize("name", SCRIPTS_CHECKED)
def test_check_refuses_a_bad_script_in_one_line(name):
    done = weightwatch("check", CONFIGS / "good.toml", "--script", name, cwd=SCRIPTS)
    assert_one_line(done, SCRIPTS / name)


RUN_CONFIGS = [
    "deep_builder_sys_exit.toml",  # exit 0, an asyncio traceback, no report
    "deep_npz_huge_header.toml",
    pytest.param("bad_nested_deep.toml", marks=slow),
    pytest.param("bad_run_dir_nul.toml", marks=slow),
    pytest.param("deep_loader_sys_exit.toml", marks=slow),
    pytest.param("deep_callback_sys_exit.toml", marks=slow),
    pytest.param("deep_builder_returns_dict.toml", marks=slow),
]


@pytest.mark.parametrize("name", RUN_CONFIGS)
def test_run_refuses_in_one_line_and_still_writes_its_report(name, tmp_path):
    run_dir, report = tmp_path / "run", tmp_path / "report.json"
    done = weightwatch("run", name, "--headless", "--run-dir", run_dir, "--report", report)
    assert_one_line(done, CONFIGS / name)
    if name.startswith("deep_"):  # found once the session had started: it says so, in full
        written = json.loads(report.read_text())
        assert written["session_steps"] == 0
        errors = [e for e in written["events"] if e["kind"] == "error"]
        assert errors and errors[0]["detail"]["action"] == "start"
        assert header(CONFIGS / name)[1] in errors[0]["detail"]["message"]
    else:  # refused before anything was made
        assert not run_dir.exists() and not report.exists()


@slow
def test_run_refuses_a_keras_py_beside_the_config(tmp_path):
    fixture = CONFIGS / "shadowing" / "bad_shadow_keras.toml"
    done = weightwatch(
        "run", fixture.name, "--headless", "--run-dir", tmp_path / "run", cwd=fixture.parent
    )
    assert_one_line(done, fixture)


def test_a_hook_that_calls_sys_exit_mid_run_pauses_the_session_and_the_report_says_so(tmp_path):
    # Before: the SystemExit ended the training thread; exit code 5, an asyncio traceback, and
    # neither report.json nor --report written.
    run_dir, report = tmp_path / "run", tmp_path / "report.json"
    done = weightwatch(
        "run", "deep_callback_hook_exits.toml", "--headless", "--run-dir", run_dir,
        "--report", report,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode not in (0, 5), done.stderr[-3000:]  # failed training is not success
    written = json.loads(report.read_text())
    assert json.loads((run_dir / "report.json").read_text()) == written
    errors = [e for e in written["events"] if e["kind"] == "error"]
    assert errors[0]["detail"]["message"] == "called sys.exit(5)"
    assert "sys.exit(5)" in errors[0]["detail"]["traceback"]  # where it was called
    assert written["session_steps"] == 2 and written["events"][-1]["kind"] == "quit"
