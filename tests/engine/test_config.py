"""Config loading and validation: defaults, every key, and a corpus of bad configs.

Each bad fixture starts with `# key: <key path>` and `# expect: <text in the message>`.
"""

from __future__ import annotations

import importlib.machinery
import re
import subprocess
import sys
from pathlib import Path

import pytest
from weightwatch.engine.config import callback_spec_from_table, load_config, parse_config
from weightwatch.engine.errors import BadInput, ConfigError, ScriptError
from weightwatch.engine.specs import CallbackSpec

CONFIGS = Path(__file__).parents[1] / "fixtures" / "configs"
BAD = sorted(CONFIGS.glob("bad_*.toml"))


def expectation(path: Path) -> tuple[str, str]:
    """The `# key:` and `# expect:` header lines of a bad fixture."""
    key_line, expect_line = path.read_text().splitlines()[:2]
    return key_line.removeprefix("# key: "), expect_line.removeprefix("# expect: ")


@pytest.fixture(autouse=True)
def in_fixtures(monkeypatch):
    """Run from the fixture folder, so files are named as a person would type them."""
    monkeypatch.chdir(CONFIGS)


def test_minimal_config_gets_every_default():
    config = load_config("good.toml")

    assert config.path == CONFIGS / "good.toml"
    assert config.folder == CONFIGS
    assert (config.run.name, config.run.seed, config.run.deterministic) == ("good", 0, False)
    assert config.run.run_dir == CONFIGS / "runs" / "good"  # cwd/runs/<name>
    assert (config.model.builder, config.model.params) == ("tiny_model:build", {})
    assert config.compile.optimizer == "adam"
    assert config.compile.learning_rate is None
    assert (config.compile.loss, config.compile.metrics) == ("mse", ())
    assert config.data.path == CONFIGS / "tiny.npz"
    assert config.data.loader is None
    assert (config.data.batch_size, config.data.validation_split) == (32, 0.0)
    assert config.data.shuffle is True
    assert (config.train.epochs, config.train.steps_per_epoch) == (2, None)
    assert config.callbacks == ()
    assert (config.ui.refresh_hz, config.ui.chart_window) == (4.0, 0)


def test_default_run_dir_follows_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    config = load_config(CONFIGS / "good.toml")
    assert config.run.run_dir == tmp_path / "runs" / "good"


def test_full_config_reads_every_key():
    config = load_config("good_full.toml")

    assert config.run.name == "full"
    assert config.run.run_dir == CONFIGS / "out" / "full-run"  # relative to the config
    assert (config.run.seed, config.run.deterministic) == (123, True)
    assert config.model.params == {"units": 6}
    assert config.compile.optimizer == "sgd"
    assert config.compile.learning_rate == 0.05
    assert config.compile.loss == "mean_absolute_error"
    assert config.compile.metrics == ("mae", "mse")
    assert config.data.path == CONFIGS / "tiny_val.npz"
    assert (config.data.batch_size, config.data.shuffle) == (16, False)
    assert isinstance(config.data.validation_split, float)
    assert (config.train.epochs, config.train.steps_per_epoch) == (3, 2)
    assert config.callbacks == (
        CallbackSpec("EarlyStopping", True, {"monitor": "val_loss", "patience": 2}),
        CallbackSpec(
            "ModelCheckpoint",
            False,
            {"filepath": "ckpt/best.weights.h5", "save_weights_only": True},
        ),
        CallbackSpec("tiny_callbacks:CountBatches", True, {"every": 5}),
    )
    assert [spec.label for spec in config.callbacks] == [
        "EarlyStopping",
        "ModelCheckpoint",
        "CountBatches",
    ]
    assert (config.ui.refresh_hz, config.ui.chart_window) == (2.5, 500)


def test_loader_config_keeps_loader_and_params():
    config = load_config("good_loader.toml")
    assert config.data.path is None
    assert (config.data.loader, config.data.params) == ("tiny_loaders:quad", {"n": 40})
    assert config.compile.metrics == ("mae",)


def test_parse_config_resolves_paths_against_the_given_file(tmp_path):
    (tmp_path / "d.csv").write_text("1,2\n")
    text = (
        '[model]\nbuilder = "m:f"\n[compile]\nloss = "mse"\n[data]\npath = "d.csv"\n'
        "[train]\nepochs = 1\n[compile.x]\n"
    )
    with pytest.raises(ConfigError, match=r"^x\.toml: \[compile\]\.x: unknown key"):
        parse_config(text, Path("x.toml"))
    config = parse_config(text.replace("[compile.x]\n", ""), tmp_path / "x.toml")
    assert config.data.path == tmp_path / "d.csv"
    assert config.run.name == "x"


def test_numbers_are_widened_but_booleans_are_not_numbers():
    base = (CONFIGS / "good.toml").read_text()
    config = parse_config(
        base.replace('loss = "mse"', 'loss = "mse"\nlearning_rate = 1'), CONFIGS / "c.toml"
    )
    assert config.compile.learning_rate == 1.0 and isinstance(config.compile.learning_rate, float)
    with pytest.raises(
        ConfigError,
        match=r"learning_rate: expected a positive number, "
        r"received inf$",
    ):
        parse_config(
            base.replace('loss = "mse"', 'loss = "mse"\nlearning_rate = inf'), CONFIGS / "c.toml"
        )
    with pytest.raises(ConfigError, match=r"\[train\]\.epochs: .* received false$"):
        parse_config(base.replace("epochs = 2", "epochs = false"), CONFIGS / "c.toml")


def test_multiline_values_are_shown_on_one_line():
    base = (CONFIGS / "good.toml").read_text()
    text = base.replace('path = "tiny.npz"', 'path = "tiny.npz"\nbatch_size = """a\nb"""')
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("c.toml"))
    assert (
        str(caught.value) == "c.toml: [data].batch_size: expected a positive integer, "
        'received "a\\nb"'
    )


def test_bad_corpus_is_large_enough():
    assert len(BAD) >= 20


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_config_fails_in_one_line_naming_file_and_key(path):
    key, expect = expectation(path)
    with pytest.raises(ConfigError) as caught:
        load_config(path.name)
    message = str(caught.value)
    assert isinstance(caught.value, BadInput)
    assert "\n" not in message
    assert message.startswith(f"{path.name}: {key}: ")
    assert expect in message


def test_missing_file_and_folder_and_bad_bytes(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config("nowhere/config.toml")
    assert str(caught.value) == "nowhere/config.toml: file not found"
    with pytest.raises(ConfigError, match=r": expected a TOML file, received a folder$"):
        load_config(tmp_path)
    (tmp_path / "latin1.toml").write_bytes(b'[run]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin1\.toml: expected UTF-8 text"):
        load_config(tmp_path / "latin1.toml")


def test_byte_order_mark_is_accepted(tmp_path):
    (tmp_path / "tiny.npz").write_bytes((CONFIGS / "tiny.npz").read_bytes())
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + (CONFIGS / "good.toml").read_bytes())
    assert load_config(tmp_path / "bom.toml").run.name == "bom"


def test_callback_spec_from_table_puts_other_keys_in_kwargs():
    spec = callback_spec_from_table(
        {"type": "EarlyStopping", "patience": 3, "enabled": False},
        "[[callbacks]][1]",
        Path("c.toml"),
    )
    assert spec == CallbackSpec("EarlyStopping", False, {"patience": 3})
    with pytest.raises(
        ScriptError,
        match=r"^s\.toml: \[\[action\]\]\[2\]\.set\[1\]: expected a "
        r'table such as \{type = "EarlyStopping"\}, received 3$',
    ):
        callback_spec_from_table(3, "[[action]][2].set[1]", "s.toml", error=ScriptError)


def test_loading_modules_import_no_tensorflow_keras_or_textual():
    code = (
        "import sys, weightwatch.engine.config, weightwatch.engine.script, "
        "weightwatch.engine.check; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'textual') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_shadowing_fixture_names_the_module_beside_the_config(monkeypatch):
    monkeypatch.chdir(CONFIGS / "shadowing")
    with pytest.raises(ConfigError) as caught:
        load_config("bad_shadow_keras.toml")
    assert str(caught.value) == (
        'bad_shadow_keras.toml: keras.py: shadows the installed "keras" (the config\'s folder '
        "comes first on sys.path so that its modules import); rename it"
    )


@pytest.mark.parametrize(
    "module",
    ["numpy/__init__.py", "tensorflow.pyc", f"h5py{importlib.machinery.EXTENSION_SUFFIXES[0]}"],
)
def test_packages_and_compiled_modules_beside_the_config_shadow_too(tmp_path, module):
    (tmp_path / "tiny.npz").write_bytes((CONFIGS / "tiny.npz").read_bytes())
    (tmp_path / "c.toml").write_text((CONFIGS / "good.toml").read_text())
    (tmp_path / module).parent.mkdir(exist_ok=True)
    (tmp_path / module).write_bytes(b"")
    with pytest.raises(ConfigError, match=rf"c\.toml: {re.escape(module)}: shadows the installed"):
        load_config(tmp_path / "c.toml")


def test_modules_that_shadow_nothing_are_fine(tmp_path):
    (tmp_path / "tiny.npz").write_bytes((CONFIGS / "tiny.npz").read_bytes())
    (tmp_path / "c.toml").write_text((CONFIGS / "good.toml").read_text())
    (tmp_path / "my_keras.py").write_text("")
    (tmp_path / "google").mkdir()  # a folder without __init__.py loses to the installed package
    assert load_config(tmp_path / "c.toml").run.name == "c"
