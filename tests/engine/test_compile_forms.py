"""Issue 13's `[compile]` grammar: every form trains as plain Keras compiles it, a recompile
takes the same forms, and a bad form is one line naming the file and the key (exit 2)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from weightwatch.engine.config import load_config, parse_config
from weightwatch.engine.errors import BadInput, CommandRejected, ConfigError, ScriptError
from weightwatch.engine.script import load_script
from weightwatch.tui.cli import main

from tests.conftest import write_config
from tests.engine.kit import T, finish, held_at, started, stop

USER = """
import keras
import numpy as np


def two_outputs():
    x = keras.Input((4,), name="x")
    h = keras.layers.Dense(8, activation="relu")(x)
    return keras.Model(x, [keras.layers.Dense(1, name="price")(h),
                           keras.layers.Dense(1, name="size")(h)])


def two_loader(n=64):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype("float32")
    return {"x": x, "y": {"price": x[:, :1] * 2, "size": x[:, 1:2] - 1}}


def halve(epoch, lr):
    return 0.04 / (2 ** epoch)


def by_hand(model):
    model.compile(keras.optimizers.SGD(0.01, momentum=0.5), "mae")


def mean_err(y_true, y_pred):
    return keras.ops.mean(y_true - y_pred)


def mlp_with(units, act):
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=act),
                             keras.layers.Dense(1)])
"""


def config_with(folder: Path, compile_text: str, extra: str = "", **kw) -> Path:
    """The conftest's tiny regression config with this `[compile]` (and more sections)."""
    path = write_config(folder, **kw)
    (folder / "p1_user.py").write_text(USER)
    text = path.read_text()
    start, end = text.index("[compile]"), text.index("[data]")
    body = text[:start] + "[compile]\n" + textwrap.dedent(compile_text) + "\n" + text[end:]
    path.write_text(body + textwrap.dedent(extra))
    return path


def check_line(path: Path, capsys) -> tuple[int, str]:
    rc = main(["check", str(path)])
    err = capsys.readouterr().err.strip()
    return rc, err


# --- shapes (no Keras) ------------------------------------------------------------------------


def test_every_form_parses_into_plain_data(tmp_path):
    path = config_with(
        tmp_path,
        """
        optimizer = { type = "SGD", momentum = 0.9, nesterov = true, clipnorm = 1.0 }
        learning_rate = { type = "ExponentialDecay", initial_learning_rate = 0.1, decay_steps = 9 }
        loss = { price = "mse", size = { type = "Huber", delta = 2.0 } }
        metrics = { price = ["mae"], size = "mse" }
        loss_weights = { price = 1.0, size = 5 }
        jit_compile = false
        steps_per_execution = 2
        """,
        'class_weight = { "0" = 1.0, "1" = 5 }\nvalidation_freq = 2\n',  # in [train], the last
    )
    c = load_config(path)
    assert c.compile.optimizer == {
        "type": "SGD",
        "momentum": 0.9,
        "nesterov": True,
        "clipnorm": 1.0,
    }
    assert c.compile.learning_rate["type"] == "ExponentialDecay"
    assert c.compile.loss["size"] == {"type": "Huber", "delta": 2.0}
    assert c.compile.loss_weights == {"price": 1.0, "size": 5}
    assert (c.compile.jit_compile, c.compile.steps_per_execution) == (False, 2)
    assert c.train.class_weight == {0: 1.0, 1: 5.0} and c.train.validation_freq == 2


BAD_SHAPES = [
    ('optimizer = { momentum = 0.9 }\nloss = "mse"', "[compile].optimizer", 'a "type" key'),
    ('optimizer = 3\nloss = "mse"', "[compile].optimizer", "received 3"),
    (
        'loss = "mse"\nlearning_rate = 0.1\noptimizer = { type = "SGD", learning_rate = 0.2 }',
        "[compile].learning_rate",
        "expected one learning rate, received two",
    ),
    (
        'loss = { type = "Huber", delta = { import = "m:x", also = 1 } }',
        "[compile].loss.delta.also",
        "unknown key",
    ),
    ('function = "p1_user:by_hand"\nloss = "mse"', "[compile].loss", "beside function"),
    ('loss = "mse"\nloss_weights = [1.0, -1]', "[compile].loss_weights[2]", "a number >= 0"),
    ('loss = "mse"\njit_compile = "yes"', "[compile].jit_compile", 'true, false or "auto"'),
]


@pytest.mark.parametrize("text, key, expect", BAD_SHAPES, ids=lambda v: str(v)[:24])
def test_bad_shapes_are_one_line_naming_the_key(tmp_path, text, key, expect):
    path = config_with(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: {key}: ") and expect in message


def test_train_keys_and_import_values_are_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = config_with(tmp_path, 'loss = "mse"').read_text()  # ends in [train]
    cases = [
        ("class_weight = { a = 1.0 }", "[train].class_weight.a", "a class index"),
        ("validation_freq = 0", "[train].validation_freq", "a positive integer"),
        (
            '[[callbacks]]\ntype = "LambdaCallback"\non_epoch_end = { import = "no colon" }',
            "[[callbacks]][1].on_epoch_end.import",
            '"module:function"',
        ),
        (
            '[model]\nparams = { act = { import = "m:f", x = 1 } }',
            "[model].params.act.x",
            "unknown",
        ),
    ]
    for text, key, expect in cases:
        body = (
            base + text
            if not text.startswith("[model]")
            else base.replace(
                'builder = "ww_test_models:mlp"', 'builder = "ww_test_models:mlp"\n' + text[8:]
            )
        )
        with pytest.raises(ConfigError) as caught:
            parse_config(body, Path("c.toml"))
        assert str(caught.value).startswith(f"c.toml: {key}: ") and expect in str(caught.value)


def test_script_recompile_takes_tables_and_refuses_bad_ones(tmp_path):
    good = tmp_path / "s.toml"
    good.write_text(
        '[[action]]\ndo = "recompile"\noptimizer = { type = "SGD", momentum = 0.9 }\n'
        'learning_rate = { type = "CosineDecay", initial_learning_rate = 0.1, '
        'decay_steps = 10 }\n[[action]]\ndo = "recompile"\n'
    )
    first, bare = load_script(good).actions
    assert first.args["optimizer"] == {"type": "SGD", "momentum": 0.9}
    assert bare.args == {"optimizer": None, "learning_rate": None}
    bad = tmp_path / "b.toml"
    bad.write_text('[[action]]\ndo = "recompile"\noptimizer = { momentum = 0.9 }\n')
    with pytest.raises(ScriptError, match=r"\[\[action\]\]\[1\]\.optimizer: expected a table"):
        load_script(bad)


# --- weightwatch check: one line, exit 2 --------------------------------------------------------

BAD_DEEP = [
    (
        'optimizer = { type = "SGD", momentom = 0.9 }\nloss = "mse"',
        '[compile].optimizer.momentom: SGD does not take "momentom" (did you mean "momentum"?)',
    ),
    (
        'optimizer = { type = "SDG" }\nloss = "mse"',
        "[compile].optimizer.type: unknown optimizer; expected a Keras optimizer name, received "
        '"SDG" (did you mean "sgd"?)',
    ),
    (
        'loss = { type = "BinaryCrossentropi", from_logits = true }',
        '[compile].loss.type: expected a Keras loss class such as "BinaryCrossentropy", received '
        '"BinaryCrossentropi" (did you mean "BinaryCrossentropy"?)',
    ),
    (
        'loss = "mse"\nlearning_rate = { type = "ExponentialDecay", initial_learning_rate = 0.1 }',
        "[compile].learning_rate: ExponentialDecay rejected its arguments (",
    ),
    (
        'loss = "mse"\nmetrics = [{ type = "AUC", curv = "PR" }]',
        '[compile].metrics[1].curv: AUC does not take "curv" (did you mean "curve"?)',
    ),
    ('loss = "mse"\nfunction = "p1_user:nope"', "[compile].function"),
]


@pytest.mark.parametrize("text, expect", BAD_DEEP, ids=lambda v: str(v)[:24])
def test_check_refuses_bad_forms_in_one_line(tmp_path, capsys, text, expect):
    if text.endswith('function = "p1_user:nope"'):
        text = 'function = "p1_user:nope"'
        expect = '[compile].function: cannot import "p1_user:nope" (p1_user has no attribute'
    rc, err = check_line(config_with(tmp_path, text), capsys)
    assert rc == 2 and "\n" not in err and "Traceback" not in err
    assert "config.toml: " in err and expect in err, err


def test_check_accepts_every_good_form(tmp_path, capsys):
    path = config_with(
        tmp_path,
        """
        optimizer = { type = "AdamW", weight_decay = 0.01, clipnorm = 1.0 }
        learning_rate = { type = "cosinedecay", initial_learning_rate = 0.01, decay_steps = 10 }
        loss = { type = "Huber", delta = 2.0 }
        metrics = ["mae", { type = "MeanSquaredError" }, "p1_user:mean_err"]
        """,
    )
    rc = main(["check", str(path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "compile: AdamW (learning rate schedule), loss Huber" in out


# --- training ------------------------------------------------------------------------------------


def test_sgd_table_with_a_schedule_trains_and_recompiles_with_a_table(tmp_path):
    path = config_with(
        tmp_path,
        """
        optimizer = { type = "SGD", momentum = 0.9, nesterov = true, clipnorm = 1.0 }
        learning_rate = { type = "ExponentialDecay", initial_learning_rate = 0.1, decay_steps = 3 }
        loss = "mse"
        """.replace("decay_steps = 3", "decay_steps = 3, decay_rate = 0.5"),
        epochs=2,
    )
    import keras

    s = started(load_config(path), hold=6)
    try:
        assert held_at(s, 6) == 6
        opt = s.model.optimizer
        assert type(opt) is keras.optimizers.SGD and opt.momentum == 0.9 and opt.nesterov
        assert int(opt.iterations.numpy()) == 6
        # 0.1 * 0.5 ** (6 / 3): the schedule's value at the optimizer's step
        assert float(opt.learning_rate.numpy()) == pytest.approx(0.025)
        assert s.status().optimizer == "SGD (schedule)"
        with pytest.raises(CommandRejected, match="follows a schedule"):
            s.set_lr(0.5).result(T)
        before = s.model.get_weights()
        with pytest.raises(BadInput, match=r"^recompile: optimizer\.momentom: SGD does not take"):
            s.recompile({"type": "SGD", "momentom": 0.9}).result(T)
        assert s.model.optimizer is opt  # refused: nothing changed
        assert all(np.array_equal(a, b) for a, b in zip(before, s.model.get_weights(), strict=True))
        verdict = s.recompile({"type": "RMSprop", "rho": 0.8}, 0.005).result(T)
        assert verdict == "optimizer_reset"
        new = s.model.optimizer
        assert type(new) is keras.optimizers.RMSprop and new.rho == 0.8
        assert float(new.learning_rate.numpy()) == pytest.approx(0.005)
        assert s.status().optimizer == "RMSprop"
        assert s.status().learning_rate == pytest.approx(0.005)
        report = finish(s)
    finally:
        if not s.stopped.is_set():
            stop(s)
    recompiled = [e for e in report["events"] if e["kind"] == "recompiled"]
    assert recompiled[-1]["detail"]["optimizer"] == {"type": "RMSprop", "rho": 0.8}


def test_two_outputs_with_a_loss_table_and_loss_weights(tmp_path):
    path = config_with(
        tmp_path,
        """
        optimizer = "adam"
        loss = { price = "mse", size = { type = "MeanAbsoluteError" } }
        loss_weights = { price = 1.0, size = 5.0 }
        metrics = { price = ["mae"] }
        """,
        epochs=1,
        builder="mlp",
    )
    text = path.read_text().replace(
        'builder = "ww_test_models:mlp"', 'builder = "p1_user:two_outputs"'
    )
    text = text.replace('path = "data.npz"', 'loader = "p1_user:two_loader"')
    path.write_text(text)
    s = started(load_config(path))
    try:
        finish(s)
        model = s.model
        x, y = _two_data(tmp_path)
        price, size = model.predict(x, verbose=0)
        expected = np.mean((price - y["price"]) ** 2) + 5.0 * np.mean(np.abs(size - y["size"]))
        results = model.evaluate(x, y, verbose=0, return_dict=True)
        assert results["loss"] == pytest.approx(expected, rel=1e-4)
        assert "price_mae" in results
    finally:
        if not s.stopped.is_set():
            stop(s)


def _two_data(folder: Path):
    import importlib
    import sys

    sys.path.insert(0, str(folder))
    data = importlib.import_module("p1_user").two_loader()
    return data["x"], data["y"]


def test_imported_callback_argument_model_params_and_a_compile_function(tmp_path):
    path = config_with(
        tmp_path,
        'function = "p1_user:by_hand"',
        """
        [[callbacks]]
        type = "LearningRateScheduler"
        schedule = { import = "p1_user:halve" }
        """,
        epochs=2,
    )
    text = path.read_text().replace(
        'builder = "ww_test_models:mlp"',
        'builder = "p1_user:mlp_with"\n'
        'params = { units = 5, act = { import = "keras.activations:tanh" } }',
    )
    path.write_text(text)
    import keras

    s = started(load_config(path))
    try:
        s.hold_when_finished().result(T)
        model = s.model
        assert model.layers[0].units == 5 and model.layers[0].activation is keras.activations.tanh
        opt = model.optimizer
        assert type(opt) is keras.optimizers.SGD and opt.momentum == 0.5
        # LearningRateScheduler(halve) set the rate at epoch 1's start: 0.04 / 2
        assert float(opt.learning_rate.numpy()) == pytest.approx(0.02)
        assert model.loss == "mae"
        s.recompile().result(T)  # no arguments: the config's own compile, the function again
        assert s.model.optimizer is not opt and type(s.model.optimizer) is keras.optimizers.SGD
        with pytest.raises(BadInput, match=r"^recompile: optimizer: the config compiles with"):
            s.recompile("adam").result(T)
    finally:
        if not s.stopped.is_set():
            stop(s)


def test_binary_crossentropy_from_logits_table(tmp_path):
    path = config_with(
        tmp_path,
        """
        optimizer = { type = "Adam", learning_rate = 0.01 }
        loss = { type = "BinaryCrossentropy", from_logits = true }
        metrics = [{ type = "BinaryAccuracy", threshold = 0.0 }]
        """,
        epochs=1,
    )
    import keras

    x = np.random.default_rng(2).normal(size=(64, 4)).astype("float32")
    np.savez(tmp_path / "data.npz", x=x, y=(x[:, :1] > 0).astype("float32"))
    s = started(load_config(path))
    try:
        finish(s)
        loss = s.model.loss
        assert (
            isinstance(loss, keras.losses.BinaryCrossentropy) and loss.get_config()["from_logits"]
        )
        assert float(s.model.optimizer.learning_rate.numpy()) == pytest.approx(0.01)
        logits = s.model.predict(x, verbose=0)
        labels = (x[:, :1] > 0).astype("float32")
        expected = float(keras.losses.BinaryCrossentropy(from_logits=True)(labels, logits))
        assert s.model.evaluate(x, labels, verbose=0, return_dict=True)["loss"] == pytest.approx(
            expected, rel=1e-4
        )
    finally:
        if not s.stopped.is_set():
            stop(s)


# --- the dashboard's recompile dialog and a headless script (the fake session) ------------------

RECOMPILE_SCRIPT = """
[[action]]
do = "recompile"
at_step = 20
optimizer = { type = "SGD", momentum = 0.9 }
learning_rate = { type = "ExponentialDecay", initial_learning_rate = 0.1, decay_steps = 5 }

[[action]]
do = "recompile"
at_step = 40

[[action]]
do = "recompile"
at_step = 60
optimizer = "adam"
learning_rate = 0.01

[[action]]
do = "quit"
"""


async def test_a_script_recompiles_with_tables_through_the_dialog(tmp_path):
    from weightwatch.tui.headless import run_headless

    from tests.tui.conftest import make_fake

    fake = make_fake(tmp_path / "run", rate=2000)
    script = tmp_path / "script.toml"
    script.write_text(
        RECOMPILE_SCRIPT.replace("decay_steps = 5", "decay_steps = 5, decay_rate = 0.5")
    )
    report = await run_headless(fake, load_script(script))
    calls = [c[1] for c in fake.calls if c[0] == "recompile"]
    schedule = {
        "type": "ExponentialDecay",
        "initial_learning_rate": 0.1,
        "decay_steps": 5,
        "decay_rate": 0.5,
    }
    assert calls == [({"type": "SGD", "momentum": 0.9}, schedule), (None, None), ("adam", 0.01)]
    assert [e["verdict"] for e in report["events"] if e["kind"] == "recompiled"] == [
        "optimizer_reset"
    ] * 3


async def test_the_dialog_takes_a_table_and_says_what_is_wrong_with_one(tmp_path):
    from textual.widgets import Input
    from weightwatch.tui.screens.dialogs import RecompileDialog

    from tests.tui.conftest import make_app, make_fake, running

    fake = make_fake(tmp_path / "run")
    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, fake)
        await pilot.press("o")
        dialog = app.screen
        assert isinstance(dialog, RecompileDialog)
        table = dialog.query_one("#recompile-table", Input)
        table.value = "{ momentum = 0.9 }"
        table.focus()
        await pilot.press("enter")
        assert 'optimizer: expected a table with a "type" key' in dialog.error_text
        table.value = '{type = "SGD", momentum = 0.9}'
        dialog.query_one("#recompile-lr", Input).value = "0.05"
        await pilot.press("enter")
        fake.boundary()
        await pilot.pause()
    assert ("recompile", ({"type": "SGD", "momentum": 0.9}, 0.05)) in fake.calls


def two_output_config(folder: Path, compile_text: str) -> Path:
    path = config_with(folder, compile_text, epochs=1)
    text = path.read_text().replace('"ww_test_models:mlp"', '"p1_user:two_outputs"')
    path.write_text(text.replace('path = "data.npz"', 'loader = "p1_user:two_loader"'))
    return path


@pytest.mark.parametrize(
    "text, expect",
    [
        (
            'loss = { prise = "mse", size = "mse" }',
            '[compile].loss.prise: the model has no output "prise"; its outputs are price, size '
            '(did you mean "price"?)',
        ),
        (
            'loss = "mse"\nmetrics = ["mae"]',
            "[compile].metrics: expected 2 entries, one per output (price, size) in order",
        ),
        ('loss = "mse"\nloss_weights = [1.0]', "[compile].loss_weights: expected 2 entries"),
    ],
    ids=["loss-key", "metrics-list", "weights-list"],
)
def test_check_names_per_output_keys_against_the_model(tmp_path, capsys, text, expect):
    rc, err = check_line(two_output_config(tmp_path, text), capsys)
    assert rc == 2 and "\n" not in err and expect in err, err


def test_loader_params_take_imported_objects(tmp_path, capsys):
    path = config_with(tmp_path, 'loss = "mse"', epochs=1)
    (tmp_path / "p1_data.py").write_text(
        "import numpy as np\n\n\ndef make(scale):\n"
        "    x = np.ones((32, 4), 'float32') * scale()\n    return x, x[:, :1]\n"
    )
    (tmp_path / "p1_scale.py").write_text("def three():\n    return 3.0\n")
    text = path.read_text().replace(
        'path = "data.npz"',
        'loader = "p1_data:make"\nparams = { scale = { import = "p1_scale:three" } }',
    )
    path.write_text(text)
    from weightwatch.engine.check import load_data

    x, y, _, _ = load_data(load_config(path))
    assert float(x[0, 0]) == 3.0 and load_config(path).data.params == {
        "scale": {"import": "p1_scale:three"}
    }  # the spec keeps the plain table


def test_check_script_makes_the_recompile_optimizer(tmp_path, capsys):
    config = config_with(tmp_path, 'loss = "mse"')
    script = tmp_path / "s.toml"
    script.write_text(
        '[[action]]\ndo = "recompile"\noptimizer = { type = "SGD", momentom = 0.9 }\n'
    )
    rc = main(["check", str(config), "--script", str(script)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert f'{script}: [[action]][1].optimizer.momentom: SGD does not take "momentom"' in err
    by_function = config_with(tmp_path / "f", 'function = "p1_user:by_hand"')
    script.write_text('[[action]]\ndo = "recompile"\noptimizer = "sgd"\n')
    rc = main(["check", str(by_function), "--script", str(script)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "[[action]][1].optimizer: the config compiles with [compile].function" in err
