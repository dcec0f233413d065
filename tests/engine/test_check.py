"""The deep checks of `weightwatch check`: imports, data, model probe, callbacks, scripts.

These import Keras; the fixture model and data are tiny so the whole file runs in seconds.
Each `deep_*` fixture starts with `# key: <key path>` and `# expect: <text in the message>`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from weightwatch.engine.check import (
    check_config,
    check_script,
    display_path,
    ensure_on_path,
    load_data,
    make_callback,
    resolve_import,
)
from weightwatch.engine.config import load_config, parse_config
from weightwatch.engine.errors import ConfigError, ScriptError
from weightwatch.engine.script import load_script
from weightwatch.engine.specs import CallbackSpec

keras = pytest.importorskip("keras")

FIXTURES = Path(__file__).parents[1] / "fixtures"
CONFIGS = FIXTURES / "configs"
DEEP_CONFIGS = sorted(CONFIGS.glob("deep_*.toml"))
DEEP_SCRIPTS = sorted((FIXTURES / "scripts").glob("deep_*.toml"))


def expectation(path: Path) -> tuple[str, str]:
    key_line, expect_line = path.read_text().splitlines()[:2]
    return key_line.removeprefix("# key: "), expect_line.removeprefix("# expect: ")


@pytest.fixture(autouse=True)
def in_configs(monkeypatch):
    monkeypatch.chdir(CONFIGS)


def test_good_configs_pass_with_notes():
    assert check_config(load_config("good.toml")) == [
        "compile: adam, loss mse, metrics none",
        "data: 64 samples, 2 batches of 32 per epoch",
        "model: tiny_model:build built Sequential with 2 layers, 49 parameters, output shape (1,)",
        "callbacks: none",
        "trial: one batch trained",
    ]
    notes = check_config(load_config("good_full.toml"))
    assert notes[0] == (
        "compile: sgd (learning rate 0.05), loss mean_absolute_error, metrics mae, mse"
    )
    assert notes[1] == (
        "data: 48 samples, 3 batches of 16 per epoch, 2 steps per epoch, plus validation data"
    )
    assert notes[3] == "callbacks: EarlyStopping, ModelCheckpoint (disabled), CountBatches"
    assert notes[4] == "trial: one batch trained and one validated, calling 2 callbacks"
    assert check_config(load_config("good_csv.toml"))[1] == (
        "data: 20 samples (15 for training, 5 for validation), 2 batches of 8 per epoch"
    )
    assert check_config(load_config("good_loader.toml"))[1] == (
        "data: 30 samples, 3 batches of 10 per epoch, 3 steps per epoch, plus validation data"
    )


@pytest.mark.parametrize("path", DEEP_CONFIGS, ids=[p.stem for p in DEEP_CONFIGS])
def test_deep_problem_fails_in_one_line_naming_file_and_key(path):
    key, expect = expectation(path)
    config = load_config(path.name)  # the shape is fine: only the deep check objects
    with pytest.raises(ConfigError) as caught:
        check_config(config)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path.name}: {key}: ")
    assert expect in message


def test_load_data_reads_npz_csv_and_loaders():
    x, y, x_val, y_val = load_data(load_config("good.toml"))
    with np.load(CONFIGS / "tiny.npz") as npz:
        np.testing.assert_array_equal(x, npz["x"])
        np.testing.assert_array_equal(y, npz["y"])
    assert x_val is None and y_val is None

    x, y, x_val, y_val = load_data(load_config("good_full.toml"))
    assert (x.shape, y.shape, x_val.shape, y_val.shape) == ((48, 4), (48,), (16, 4), (16,))

    x, y, x_val, _ = load_data(load_config("good_csv.toml"))  # header row skipped, last col is y
    rows = np.loadtxt(CONFIGS / "tiny.csv", delimiter=",", skiprows=1, dtype=np.float32)
    np.testing.assert_array_equal(x, rows[:, :-1])
    np.testing.assert_array_equal(y, rows[:, -1])
    assert x_val is None

    x, y, x_val, y_val = load_data(load_config("good_loader.toml"))
    assert (len(x), len(y), len(x_val), len(y_val)) == (30, 30, 10, 10)


def csv_config(folder: Path):
    """A config in `folder` whose data is `folder/d.csv`."""
    text = '[model]\nbuilder = "m:f"\n[compile]\nloss = "mse"\n[data]\npath = "d.csv"\n'
    return parse_config(text + "[train]\nepochs = 1\n", folder / "c.toml")


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("1,2,3\n4,5\n", "expected 3 columns on every line of d.csv, received 2 on line 2"),
        (
            "1\n2\n",
            "expected rows of at least 2 numbers (features, then y) in d.csv, received 1 column",
        ),
        (
            "a,b\n",
            "expected rows of at least 2 numbers (features, then y) in d.csv, received no "
            "rows of numbers",
        ),
        ("x,y\n\n1,2\n3,nan\n4,-\n", 'expected numbers in d.csv, received "-" on line 5'),
    ],
)
def test_csv_problems_name_the_line(tmp_path, text, expect):
    (tmp_path / "d.csv").write_text(text)
    config = csv_config(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_data(config)
    assert str(caught.value).endswith(f"c.toml: [data].path: {expect}")


def test_unreadable_csv_is_bad_input(tmp_path):
    (tmp_path / "d.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    config = csv_config(tmp_path)
    with pytest.raises(
        ConfigError,
        match=r"c\.toml: \[data\]\.path: expected a UTF-8 CSV file, "
        r"received d\.csv \(",
    ):
        load_data(config)


def test_csv_without_header_keeps_every_row(tmp_path):
    (tmp_path / "d.csv").write_text("1,2,3\n4,5,6\n")
    config = csv_config(tmp_path)
    x, y, _, _ = load_data(config)
    np.testing.assert_array_equal(x, [[1, 2], [4, 5]])
    np.testing.assert_array_equal(y, [3, 6])


def test_make_callback_builds_keras_and_user_callbacks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ensure_on_path(CONFIGS)
    early = make_callback(
        CallbackSpec("EarlyStopping", kwargs={"patience": 2}), file="c.toml", index=1
    )
    assert isinstance(early, keras.callbacks.EarlyStopping) and early.patience == 2
    user = make_callback(
        CallbackSpec("tiny_callbacks:CountBatches", kwargs={"every": 3}), file="c.toml", index=2
    )
    assert type(user).__name__ == "CountBatches" and user.every == 3
    spec = CallbackSpec("ModelCheckpoint", kwargs={"filepath": "ck/best.keras"})
    assert make_callback(spec, file="c.toml", index=3).filepath == "ck/best.keras"
    assert list(tmp_path.iterdir()) == []  # constructing writes nothing


@pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed here"
)
def test_tensorboard_without_its_package_is_a_clear_error():
    with pytest.raises(ConfigError) as caught:
        make_callback(
            CallbackSpec("TensorBoard", kwargs={"log_dir": "logs"}), file="c.toml", index=4
        )
    assert str(caught.value) == (
        'c.toml: [[callbacks]][4].type: TensorBoard needs the "tensorboard" package, which is '
        "not installed (pip install tensorboard, or set enabled = false and remove it)"
    )


def test_resolve_import_follows_dotted_attributes_and_names_the_key():
    ensure_on_path(CONFIGS)
    assert resolve_import("tiny_callbacks:CountBatches.on_train_batch_end", "[x]", "c.toml")
    with pytest.raises(ScriptError) as caught:
        resolve_import("tiny_loaders:pear", "[[action]][1].type", "s.toml", error=ScriptError)
    assert str(caught.value) == (
        's.toml: [[action]][1].type: cannot import "tiny_loaders:pear" '
        '(tiny_loaders has no attribute "pear") (did you mean "pair"?)'
    )


def test_user_module_that_fails_on_import_is_bad_input(tmp_path):
    (tmp_path / "ww_broken_mod.py").write_text("raise RuntimeError('no GPU here')\n")
    ensure_on_path(tmp_path)
    with pytest.raises(ConfigError) as caught:
        resolve_import("ww_broken_mod:build", "[model].builder", "c.toml")
    assert str(caught.value) == (
        'c.toml: [model].builder: cannot import "ww_broken_mod:build" (RuntimeError: no GPU here)'
    )


def test_ensure_on_path_puts_the_folder_first_once(tmp_path):
    ensure_on_path(tmp_path)
    ensure_on_path(tmp_path)
    assert sys.path.count(str(tmp_path)) == 1
    assert sys.path[0] == str(tmp_path)
    sys.path.remove(str(tmp_path))


def test_display_path_is_relative_inside_the_working_directory(tmp_path):
    assert display_path(CONFIGS / "good.toml") == "good.toml"
    assert display_path(tmp_path / "c.toml") == str(tmp_path / "c.toml")


def test_good_script_passes_against_its_config():
    script = load_script(FIXTURES / "scripts" / "good.toml")
    assert check_script(script, load_config("good.toml")) == [
        "script: 12 actions (pause, screenshot, callbacks, resume, save, set_lr, rebuild, load, "
        "recompile, press, wait, quit)"
    ]


@pytest.mark.parametrize("path", DEEP_SCRIPTS, ids=[p.stem for p in DEEP_SCRIPTS])
def test_deep_script_problem_names_the_action(path, monkeypatch):
    monkeypatch.chdir(path.parent)
    key, expect = expectation(path)
    script = load_script(path.name)
    with pytest.raises(ScriptError) as caught:
        check_script(script, load_config(CONFIGS / "good.toml"))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path.name}: {key}: ")
    assert expect in message


def trial_config(folder: Path, callbacks: str) -> Path:
    """A config in `folder` (with its own copy of tiny.npz) with these [[callbacks]] tables."""
    (folder / "tiny.npz").write_bytes((CONFIGS / "tiny.npz").read_bytes())
    path = folder / "c.toml"
    path.write_text((CONFIGS / "good.toml").read_text() + callbacks)
    return path


def test_the_trial_fit_writes_nothing_the_person_would_see(tmp_path):
    """Callbacks run their hooks in the trial with every file argument (relative or absolute)
    inside a throwaway folder, which is also the working directory meanwhile."""
    elsewhere = tmp_path / "elsewhere"
    path = trial_config(
        tmp_path,
        f'[[callbacks]]\ntype = "ModelCheckpoint"\nfilepath = "{elsewhere}/best.weights.h5"\n'
        "save_weights_only = true\n"
        '[[callbacks]]\ntype = "CSVLogger"\nfilename = "log.csv"\n'
        '[[callbacks]]\ntype = "hostile:WritesFile"\n',
    )
    before = sorted(tmp_path.rglob("*"))
    notes = check_config(load_config(path))
    assert notes[-1] == "trial: one batch trained, calling 3 callbacks"
    assert sorted(tmp_path.rglob("*")) == before
    assert not (CONFIGS / "written.txt").exists() and Path.cwd() == CONFIGS


def test_a_hook_that_fails_is_named_by_its_callback(tmp_path):
    path = trial_config(
        tmp_path,
        '[[callbacks]]\ntype = "TerminateOnNaN"\n'
        '[[callbacks]]\ntype = "LambdaCallback"\non_train_batch_end = "exit"\n',
    )
    with pytest.raises(ConfigError) as caught:
        check_config(load_config(path))
    assert str(caught.value) == (
        f"{path}: [[callbacks]][2]: LambdaCallback failed in on_train_batch_end during a "
        "one-batch trial fit (raised TypeError: 'str' object is not callable)"
    )


def test_disabled_callbacks_are_built_but_not_run_in_the_trial(tmp_path):
    path = trial_config(
        tmp_path, '[[callbacks]]\ntype = "LambdaCallback"\nenabled = false\non_epoch_end = "x"\n'
    )
    assert check_config(load_config(path))[-2:] == [
        "callbacks: LambdaCallback (disabled)",
        "trial: one batch trained",
    ]


def test_a_real_ctrl_c_in_user_code_still_interrupts(tmp_path):
    text = (
        (CONFIGS / "good.toml").read_text().replace("tiny_model:build", "hostile:build_interrupted")
    )
    with pytest.raises(KeyboardInterrupt):
        check_config(parse_config(text, CONFIGS / "c.toml"))


def test_optimizers_keras_exports_but_get_does_not_know():
    from weightwatch.engine.check import check_optimizer, make_optimizer

    opt = make_optimizer("lamb", 0.01)
    assert type(opt) is keras.optimizers.Lamb and float(opt.learning_rate) == pytest.approx(0.01)
    assert type(make_optimizer("LAMB")) is keras.optimizers.Lamb
    check_optimizer("Lamb", "[compile].optimizer", "c.toml")
    with pytest.raises(ConfigError, match=r'received "lossscaleoptimizer"$'):
        check_optimizer("lossscaleoptimizer", "[compile].optimizer", "c.toml")  # needs an inner one
    assert check_config(load_config("good_lamb.toml"))[0] == "compile: lamb, loss mse, metrics none"


def test_an_npz_larger_than_free_memory_is_refused_before_it_is_read(monkeypatch):
    from weightwatch.engine import datafiles

    monkeypatch.setattr(datafiles, "_available_memory", lambda: 100)
    with pytest.raises(ConfigError) as caught:
        load_data(load_config("good.toml"))
    assert str(caught.value) == (
        "good.toml: [data].path: expected data that fits in memory, received tiny.npz "
        "holding 1 KiB (100 bytes available)"
    )
