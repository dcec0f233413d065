"""`[run] backend` and `KERAS_BACKEND` (issue 16): the default, the refusals, the selection.

Keras picks its backend once per process, at its first import, so the CLI settles it from the
config first (engine/backend_env.py). Nothing here trains: every refusal happens before Keras or
TensorFlow loads. The CLI cases run the real command line in a subprocess with a controlled
environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from weightwatch.engine import backend_env
from weightwatch.engine.backend_env import require_jax, select_backend
from weightwatch.engine.config import load_config
from weightwatch.engine.errors import ConfigError

CONFIGS = Path(__file__).parents[1] / "fixtures" / "configs"
MISMATCH = 'backend_jax.toml: [run].backend: "jax" while the environment has KERAS_BACKEND='


@pytest.fixture(autouse=True)
def in_fixtures(monkeypatch):
    """Run from the fixture folder (messages name files as typed), with no KERAS_BACKEND set
    and no Keras imported, whatever earlier tests in this process did (both are put back)."""
    monkeypatch.chdir(CONFIGS)
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.delitem(sys.modules, "keras", raising=False)


def fake_keras(monkeypatch, backend: str) -> None:
    """This process "already imported" Keras with `backend` (the real import costs seconds)."""
    keras = types.ModuleType("keras")
    keras.backend = types.SimpleNamespace(backend=lambda: backend)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keras", keras)


# --- the config key ---------------------------------------------------------------------------


def test_backend_defaults_to_tensorflow():
    assert load_config("good.toml").run.backend == "tensorflow"


@pytest.mark.parametrize(
    "env, expected",
    [("jax", "jax"), ("tensorflow", "tensorflow"), ("torch", "tensorflow"), ("", "tensorflow")],
)
def test_without_the_key_the_backend_follows_keras_backend(monkeypatch, env, expected):
    monkeypatch.setenv("KERAS_BACKEND", env)
    assert load_config("good.toml").run.backend == expected


def test_the_key_is_read_and_wins_over_an_unset_or_foreign_environment(monkeypatch):
    assert load_config("backend_jax.toml").run.backend == "jax"
    assert load_config("backend_tensorflow.toml").run.backend == "tensorflow"
    monkeypatch.setenv("KERAS_BACKEND", "torch")  # not one weightwatch runs on: no conflict
    assert load_config("backend_jax.toml").run.backend == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "jax")  # agreeing is fine
    assert load_config("backend_jax.toml").run.backend == "jax"


def test_an_unknown_backend_is_one_line():
    with pytest.raises(ConfigError) as caught:
        load_config("bad_backend.toml")
    assert str(caught.value) == (
        'bad_backend.toml: [run].backend: expected "tensorflow" or "jax", received "torch"'
    )


@pytest.mark.parametrize(
    "config, env", [("backend_jax.toml", "tensorflow"), ("backend_tensorflow.toml", "jax")]
)
def test_config_and_keras_backend_must_agree(monkeypatch, config, env):
    monkeypatch.setenv("KERAS_BACKEND", env)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    wanted = "jax" if env == "tensorflow" else "tensorflow"
    assert str(caught.value) == (
        f'{config}: [run].backend: "{wanted}" while the environment has KERAS_BACKEND={env}; '
        "make them agree (or unset KERAS_BACKEND)"
    )


def test_mirrored_strategy_is_refused_on_jax():
    with pytest.raises(ConfigError) as caught:
        load_config("backend_jax_mirrored.toml")
    message = str(caught.value)
    assert message.startswith(
        'backend_jax_mirrored.toml: [run].backend: "jax" does not run strategy = "mirrored"'
    )
    assert "MirroredStrategy is TensorFlow's" in message and "\n" not in message


def test_cpu_devices_stay_tensorflow_only_for_now(tmp_path):
    text = (CONFIGS / "backend_jax.toml").read_text() + "\n"
    (tmp_path / "c.toml").write_text(
        text.replace('\nbackend = "jax"', '\nbackend = "jax"\ncpu_devices = 2')
    )
    (tmp_path / "tiny.npz").write_bytes((CONFIGS / "tiny.npz").read_bytes())
    with pytest.raises(ConfigError, match=r'\[run\]\.cpu_devices: only with strategy = "mirr'):
        load_config(tmp_path / "c.toml")


# --- select_backend -----------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["backend_jax.toml", "backend_tensorflow.toml", "good.toml"])
def test_select_backend_writes_keras_backend(config):
    run = load_config(config).run
    assert select_backend(run, config) == run.backend
    assert os.environ["KERAS_BACKEND"] == run.backend


@pytest.mark.parametrize("imported, config", [("tensorflow", "jax"), ("jax", "tensorflow")])
def test_select_backend_refuses_keras_imported_with_the_other_backend(
    monkeypatch, imported, config
):
    run = load_config(f"backend_{config}.toml").run
    fake_keras(monkeypatch, imported)
    with pytest.raises(ConfigError) as caught:
        select_backend(run, "x.toml")
    assert str(caught.value) == (
        f'x.toml: [run].backend: "{config}", but this process already imported Keras with the '
        f'"{imported}" backend (Keras picks its backend once, at its first import)'
    )
    assert "KERAS_BACKEND" not in os.environ  # nothing changed
    fake_keras(monkeypatch, config)
    assert select_backend(run, "x.toml") == config  # the same backend: fine


def test_jax_that_is_not_installed_is_named_with_the_install_line(monkeypatch):
    run = load_config("backend_jax.toml").run
    monkeypatch.setitem(sys.modules, "jax", None)  # what an absent package looks like to import
    with pytest.raises(ConfigError) as caught:
        select_backend(run, "backend_jax.toml")
    assert str(caught.value) == (
        'backend_jax.toml: [run].backend: "jax" needs JAX, which is not installed '
        "(pip install 'weightwatch[jax]')"
    )
    assert "KERAS_BACKEND" not in os.environ
    with pytest.raises(ConfigError, match=r"\[run\]\.backend: .*weightwatch\[jax\]'\)$"):
        require_jax("backend_jax.toml")
    tf_run = load_config("backend_tensorflow.toml").run
    assert select_backend(tf_run, "t.toml") == "tensorflow"  # TensorFlow needs no JAX


def test_backend_env_imports_no_keras_and_no_jax():
    code = (
        "import sys; import weightwatch.engine.backend_env, weightwatch.engine.config; "
        "print(sorted(m for m in ('keras', 'jax', 'tensorflow', 'textual') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert backend_env.keras_backend_in_use() is None  # (this process: the fixture removed it)


# --- the real command line --------------------------------------------------------------------


def cli(argv: list[str], env: dict[str, str], prelude: str = "") -> subprocess.CompletedProcess:
    """`weightwatch ARGV` in a fresh process; `prelude` runs first (to fake what is imported)."""
    code = (
        prelude + "\nimport sys\nfrom weightwatch.tui.cli import main\nsys.exit(main(sys.argv[1:]))"
    )
    clean = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=CONFIGS,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_exit_2(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    return line


@pytest.mark.parametrize("command", [["check"], ["run", "--headless"], ["run", "--plain"]])
def test_cli_refuses_a_config_that_contradicts_keras_backend(command):
    done = cli([*command, "backend_jax.toml"], {"KERAS_BACKEND": "tensorflow"})
    assert one_line_exit_2(done) == f"weightwatch: {MISMATCH}tensorflow; " + (
        "make them agree (or unset KERAS_BACKEND)"
    )
    assert not (CONFIGS / "runs" / "backend_jax").exists()  # refused before any run directory


def test_cli_refuses_the_reverse_mismatch_and_mirrored_on_jax():
    done = cli(["run", "--headless", "backend_tensorflow.toml"], {"KERAS_BACKEND": "jax"})
    line = one_line_exit_2(done)
    assert line.startswith('weightwatch: backend_tensorflow.toml: [run].backend: "tensorflow" ')
    done = cli(["check", "backend_jax_mirrored.toml"], {})
    line = one_line_exit_2(done)
    assert line.startswith("weightwatch: backend_jax_mirrored.toml: [run].backend: ")
    assert 'on JAX use strategy = "data_parallel"' in line


@pytest.mark.parametrize("command", [["check"], ["run", "--headless"], ["run", "--detach"]])
def test_cli_refuses_jax_when_it_is_not_installed(command):
    done = cli([*command, "backend_jax.toml"], {}, prelude="import sys; sys.modules['jax'] = None")
    assert one_line_exit_2(done) == (
        'weightwatch: backend_jax.toml: [run].backend: "jax" needs JAX, which is not installed '
        "(pip install 'weightwatch[jax]')"
    )


def test_cli_refuses_a_process_that_already_imported_keras_otherwise():
    prelude = textwrap.dedent(
        """
        import sys, types
        keras = types.ModuleType("keras")
        keras.backend = types.SimpleNamespace(backend=lambda: "tensorflow")
        sys.modules["keras"] = keras
        """
    )
    done = cli(["check", "backend_jax.toml"], {}, prelude=prelude)
    assert 'already imported Keras with the "tensorflow" backend' in one_line_exit_2(done)


def test_the_detached_session_process_refuses_a_mismatch_too(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "weightwatch.engine.remote.daemon", "backend_jax.toml"]
        + ["--run-dir", str(tmp_path / "run")],
        cwd=CONFIGS,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert one_line_exit_2(done) == (
        f"weightwatch: {MISMATCH}tensorflow; make them agree (or unset KERAS_BACKEND)"
    )


def test_run_selects_the_backend_before_anything_imports_keras(tmp_path):
    """`prepare` (run, --headless, --plain, --detach) leaves KERAS_BACKEND set for the training
    thread and for a detached child; with no key and no KERAS_BACKEND that is TensorFlow."""
    from types import SimpleNamespace

    from weightwatch.tui.launch import prepare

    args = SimpleNamespace(script=None, run_dir=str(tmp_path / "rd"), report=None)
    args.from_checkpoint = None
    config, *_ = prepare(args, Path("backend_jax.toml"))
    assert (config.run.backend, os.environ["KERAS_BACKEND"]) == ("jax", "jax")
    os.environ.pop("KERAS_BACKEND")
    prepare(args, Path("good.toml"))
    assert os.environ["KERAS_BACKEND"] == "tensorflow"


def test_keras_really_runs_on_the_selected_backend_over_keras_json(tmp_path):
    """The selection beats keras.json (which alone would give TensorFlow): Keras imported after
    it runs on JAX, and TensorFlow is not loaded at all (~1 s: Keras on JAX imports fast)."""
    (tmp_path / "keras.json").write_text('{"backend": "tensorflow"}')
    code = textwrap.dedent(
        """
        import sys
        from weightwatch.engine.backend_env import select_backend
        from weightwatch.engine.config import load_config
        select_backend(load_config("backend_jax.toml").run, "backend_jax.toml")
        import keras
        print(keras.backend.backend(), "tensorflow" in sys.modules)
        """
    )
    clean = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=CONFIGS,
        env={**clean, "KERAS_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["jax", "False"]
