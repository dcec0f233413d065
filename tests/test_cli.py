"""The CLI contract: exit code 2 and one line naming the file and key for every bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from weightwatch.tui.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
CONFIGS = FIXTURES / "configs"
SCRIPTS = FIXTURES / "scripts"
BAD_CONFIGS = sorted(CONFIGS.glob("bad_*.toml")) + sorted(CONFIGS.glob("deep_*.toml"))
BAD_SCRIPTS = sorted(SCRIPTS.glob("bad_*.toml")) + sorted(SCRIPTS.glob("deep_*.toml"))


def header(path: Path) -> tuple[str, str]:
    key, expect = path.read_text().splitlines()[:2]
    return key.removeprefix("# key: "), expect.removeprefix("# expect: ")


def run_cli(argv, capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_corpus_sizes():
    assert len(BAD_CONFIGS) >= 20 and len(BAD_SCRIPTS) >= 5


@pytest.mark.parametrize("path", BAD_CONFIGS, ids=lambda p: p.stem)
def test_check_bad_config_exits_2_with_one_line_naming_file_and_key(path, capsys, monkeypatch):
    monkeypatch.chdir(CONFIGS)
    key, expect = header(path)
    rc, _, err = run_cli(["check", path.name], capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert path.name in lines[0] and key in lines[0] and expect in lines[0]


@pytest.mark.parametrize("path", BAD_SCRIPTS, ids=lambda p: p.stem)
def test_check_bad_script_exits_2_with_one_line_naming_file_and_key(path, capsys, monkeypatch):
    monkeypatch.chdir(SCRIPTS)
    key, expect = header(path)
    rc, _, err = run_cli(["check", str(CONFIGS / "good.toml"), "--script", path.name], capsys)
    assert rc == 2
    line = err.strip()
    assert "\n" not in line and path.name in line and key in line and expect in line


def test_run_with_bad_inputs_exits_2_before_any_screen(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(CONFIGS)
    rc, _, err = run_cli(["run", "bad_batch_size_zero.toml", "--headless"], capsys)
    assert rc == 2 and "[data].batch_size" in err
    rc, _, err = run_cli(
        ["run", "good.toml", "--from", "nothing.weights.h5", "--run-dir", str(tmp_path)], capsys
    )
    assert rc == 2 and "nothing.weights.h5" in err and "no such" in err
    (tmp_path / "x.keras").write_bytes(b"PK")
    rc, _, err = run_cli(
        ["run", "good.toml", "--from", str(tmp_path / "x.keras"), "--run-dir", str(tmp_path)],
        capsys,
    )
    assert rc == 2 and ".keras" in err
    rc, _, err = run_cli(["inspect", str(tmp_path / "nowhere")], capsys)
    assert rc == 2 and "no such run directory" in err
    rc, _, err = run_cli(["check", "missing.toml"], capsys)
    assert rc == 2 and err.strip() == "weightwatch: missing.toml: file not found"


def test_check_good_config_prints_what_it_found(capsys, monkeypatch):
    monkeypatch.chdir(CONFIGS)
    rc, out, _ = run_cli(["check", "good.toml"], capsys)
    assert rc == 0 and out.strip().endswith("good.toml: OK") and "batches" in out


def test_cli_entry_point_help_and_no_traceback():
    out = subprocess.run(
        [sys.executable, "-m", "weightwatch.tui.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    for command in ("run", "check", "demo", "inspect"):
        assert command in out.stdout
