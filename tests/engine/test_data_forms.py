"""Every `[data] loader` result form trains as `model.fit` trains it, and `check` passes it.

Each session's epoch logs (epochs.jsonl) are compared with plain `model.fit` on the same data
and the same initial weights (shuffle = false, or the pipeline's own seeded shuffle), number for
number. A shuffling tf.data pipeline resumes exactly through the feed's position interface.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

import keras
import pytest
import tensorflow as tf
from weightwatch.engine.check import check_config
from weightwatch.engine.config import load_config
from weightwatch.engine.errors import CommandRejected, ConfigError
from weightwatch.engine.session import Session

from .kit import T, finish, held_at, started, stop

SEED, N, BATCH, EPOCHS = 3, 32, 8, 2

USER = """
import keras
import numpy as np
import tensorflow as tf

N, BATCH = 32, 8


def arrays():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(N, 3)).astype("float32")
    b = rng.normal(size=(N, 2)).astype("float32")
    y = (a.sum(axis=1, keepdims=True) - b[:, :1]).astype("float32")
    labels = (y[:, 0] > 0).astype("float32")  # 1-D binary labels, as keras-io's examples
    return a, b, y, labels


def two_inputs():
    a_in, b_in = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    h = keras.layers.Concatenate()([a_in, b_in])
    return keras.Model({"a": a_in, "b": b_in}, keras.layers.Dense(1, name="out")(h))


def two_outputs():
    x = keras.Input((3,))
    h = keras.layers.Dense(4, activation="relu")(x)
    return keras.Model(x, [keras.layers.Dense(1, name="p")(h), keras.layers.Dense(2, name="q")(h)])


def dense():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                             keras.layers.Dense(1)])


def mlp(inputs=3, act=None):
    return keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(4, activation="relu"),
                             keras.layers.Dropout(0.2), keras.layers.Dense(1, activation=act)])


def dict_x():
    a, b, y, _ = arrays()
    return {"x": {"a": a, "b": b}, "y": y}


def list_y():
    a, b, y, _ = arrays()
    return {"x": a, "y": [y, b], "x_val": a[:8], "y_val": [y[:8], b[:8]]}


def weighted():
    a, _, y, _ = arrays()
    w = np.tile(np.array([1.0, 0.0], "float32"), N // 2)  # every other sample counts for 0
    return {"x": a, "y": y, "sample_weight": w}


def binary():
    a, _, _, labels = arrays()
    return a, labels


def dataset(shuffle=True):
    a, _, y, _ = arrays()
    ds = tf.data.Dataset.from_tensor_slices((a, y))
    if shuffle:
        ds = ds.shuffle(N, seed=11)
    return ds.batch(BATCH)


def train_and_validation():
    a, _, y, _ = arrays()
    return {"train": dataset(), "validation": tf.data.Dataset.from_tensor_slices(
        (a[:8], y[:8])).batch(4)}


def generator():
    a, _, y, _ = arrays()
    def batches():
        for i in range(0, N, BATCH):
            yield a[i:i + BATCH], y[i:i + BATCH]
    return tf.data.Dataset.from_generator(batches, output_signature=(
        tf.TensorSpec([None, 3], tf.float32), tf.TensorSpec([None, 1], tf.float32)))


class Batches(keras.utils.PyDataset):
    def __init__(self):
        super().__init__()
        self.a, _, self.y, _ = arrays()

    def __len__(self):
        return N // BATCH

    def __getitem__(self, i):
        return self.a[i * BATCH:(i + 1) * BATCH], self.y[i * BATCH:(i + 1) * BATCH]


def pydataset():
    return Batches()


def forever():
    return dataset().repeat()


def bad_keys():
    a, _, y, _ = arrays()
    return {"x": a, "y": y, "weights": y}
"""


def _config(
    folder: Path,
    builder: str,
    loader: str,
    *,
    extra: str = "",
    epochs=EPOCHS,
    loss="mse",
    shuffle=False,
    train="",
    data="",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "forms_user.py").write_text(USER)
    text = f"""
        [run]
        name = "forms"
        run_dir = "run"
        seed = {SEED}
        deterministic = true
        [model]
        builder = "forms_user:{builder}"
        [compile]
        optimizer = "adam"
        loss = "{loss}"
        {extra}
        [data]
        loader = "forms_user:{loader}"
        batch_size = {BATCH}
        shuffle = {str(shuffle).lower()}
        {data}
        [train]
        epochs = {epochs}
        {train}
    """
    path = folder / "config.toml"
    path.write_text(textwrap.dedent(text))
    return path


def _user(folder: Path):
    import importlib
    import sys

    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("forms_user")
    finally:
        sys.path.remove(str(folder))


def _epoch_logs(session: Session) -> list[dict]:
    lines = (Path(session.run_dir) / "epochs.jsonl").read_text().splitlines()
    skip = {"session_step", "epoch", "instance", "covers_from", "session"}
    return [{k: v for k, v in json.loads(line).items() if k not in skip} for line in lines]


def _engine_logs(path: Path) -> list[dict]:
    s = started(load_config(path))
    finish(s)
    return _epoch_logs(s)


def _plain_fit(
    user, builder: str, compile_kw: dict | None = None, data=None, **fit_kw
) -> list[dict]:
    """Plain `fit` as a script writes it: seed, make the data (`data()`: fit's keyword
    arguments; a pipeline takes its shuffle seeds then), seed, build, compile, fit."""
    if data is not None:
        keras.utils.set_random_seed(SEED)  # the engine seeds before it calls the loader
        fit_kw |= data()
    keras.utils.set_random_seed(SEED)  # and before it calls the builder
    model = getattr(user, builder)()
    model.compile(optimizer="adam", **(compile_kw or {"loss": "mse"}))
    logs: list[dict] = []
    keep = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, epoch_logs: logs.append(
            {k: float(v) for k, v in epoch_logs.items()}
        )
    )
    model.fit(epochs=EPOCHS, verbose=0, callbacks=[keep], **fit_kw)
    return logs


def _same(engine: list[dict], plain: list[dict]) -> None:
    assert len(engine) == len(plain) == EPOCHS
    for mine, theirs in zip(engine, plain, strict=True):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert mine[key] == pytest.approx(theirs[key], rel=1e-6, abs=1e-7), key


def test_two_input_model_with_x_as_a_dict_trains_like_fit(tmp_path):
    path = _config(tmp_path, "two_inputs", "dict_x")
    user = _user(tmp_path)
    data = user.dict_x()
    assert any("trial: one batch trained" in n for n in check_config(load_config(path)))
    plain = _plain_fit(
        user, "two_inputs", x=data["x"], y=data["y"], batch_size=BATCH, shuffle=False
    )
    _same(_engine_logs(path), plain)


def test_two_output_model_with_y_as_a_list_trains_and_validates_like_fit(tmp_path):
    path = _config(tmp_path, "two_outputs", "list_y")
    user = _user(tmp_path)
    d = user.list_y()
    check_config(load_config(path))
    plain = _plain_fit(
        user,
        "two_outputs",
        x=d["x"],
        y=d["y"],
        batch_size=BATCH,
        shuffle=False,
        validation_data=(d["x_val"], d["y_val"]),
    )
    engine = _engine_logs(path)
    assert {"p_loss", "q_loss", "val_loss", "val_q_loss"} <= engine[0].keys()
    _same(engine, plain)


def test_sample_weights_that_zero_half_the_samples_change_the_loss_as_fits_do(tmp_path):
    path = _config(tmp_path / "w", "mlp", "weighted")
    user = _user(tmp_path / "w")
    d = user.weighted()
    check_config(load_config(path))
    plain = _plain_fit(
        user,
        "mlp",
        x=d["x"],
        y=d["y"],
        sample_weight=d["sample_weight"],
        batch_size=BATCH,
        shuffle=False,
    )
    weighted = _engine_logs(path)
    _same(weighted, plain)
    unweighted = _plain_fit(user, "mlp", x=d["x"], y=d["y"], batch_size=BATCH, shuffle=False)
    assert weighted[0]["loss"] != pytest.approx(unweighted[0]["loss"], rel=1e-3)


def test_class_weight_becomes_per_sample_weights_as_in_fit(tmp_path):
    path = _config(
        tmp_path,
        "mlp",
        "binary",
        loss="binary_crossentropy",
        train='class_weight = { "0" = 1.0, "1" = 5.0 }',
    )
    user = _user(tmp_path)
    x, labels = user.binary()
    notes = check_config(load_config(path))  # 1-D labels against a (n, 1) output: as fit
    assert any(n.startswith("trial: one batch trained") for n in notes)
    plain = _plain_fit(
        user,
        "mlp",
        {"loss": "binary_crossentropy"},
        x=x,
        y=labels,
        batch_size=BATCH,
        shuffle=False,
        class_weight={0: 1.0, 1: 5.0},
    )
    _same(_engine_logs(path), plain)


def test_binary_crossentropy_with_1d_labels_passes_check(tmp_path):
    path = _config(tmp_path, "mlp", "binary", loss="binary_crossentropy")
    notes = check_config(load_config(path))
    assert notes[-1].startswith("trial: one batch trained")
    assert "output shape (1,)" in " ".join(notes)


def test_a_shuffling_dataset_with_validation_and_validation_freq_trains_like_fit(tmp_path):
    path = _config(tmp_path, "mlp", "train_and_validation", train="validation_freq = 2")
    user = _user(tmp_path)
    notes = check_config(load_config(path))
    assert "data: a tf.data.Dataset, 4 batches per epoch" in " ".join(notes)
    assert "(exact resume)" in " ".join(notes)

    def data():
        d = user.train_and_validation()
        return {"x": d["train"], "validation_data": d["validation"]}

    plain = _plain_fit(user, "mlp", data=data, validation_freq=2)
    engine = _engine_logs(path)
    assert "val_loss" not in engine[0] and "val_loss" in engine[1]
    _same(engine, plain)


@pytest.mark.parametrize("loader", ["generator", "pydataset"])
def test_generator_and_pydataset_train_like_fit_and_say_their_position_is_not_exact(
    tmp_path, loader
):
    # fit on a pipeline of unknown length makes one more step call per epoch that finds no
    # data (and still moves the step's stateful parts); the engine counts a pass first, so it
    # trains as fit does on the same pipeline told its length
    path = _config(tmp_path, "mlp", loader)
    user = _user(tmp_path)
    notes = " ".join(check_config(load_config(path)))
    assert "resume at the start of an epoch's data" in notes

    def data():
        made = getattr(user, loader)()
        if loader == "generator":
            made = made.apply(tf.data.experimental.assert_cardinality(N // BATCH))
        return {"x": made}

    plain = _plain_fit(user, "mlp", data=data, shuffle=False)
    _same(_engine_logs(path), plain)


def test_steps_per_execution_trains_like_fit_with_boundaries_every_n_batches(tmp_path):
    path = _config(tmp_path, "mlp", "dataset", extra="steps_per_execution = 2")
    user = _user(tmp_path)
    check_config(load_config(path))
    s = started(load_config(path), hold=3)  # not a boundary: 2 batches per execution
    with pytest.raises(CommandRejected, match="step 3 has already passed"):
        held_at(s, 3)
    assert s.status().steps_per_execution == 2
    finish(s)
    compiled = {"loss": "mse", "steps_per_execution": 2}
    plain = _plain_fit(user, "mlp", compiled, data=lambda: {"x": user.dataset()})
    _same(_epoch_logs(s), plain)


@pytest.mark.parametrize(
    ("loader", "train", "data", "expect"),
    [
        ("bad_keys", "", "", 'to return a dict with "x" and "y"'),
        ("forever", "", "", "[train].steps_per_epoch: expected a number of steps for a dataset"),
        ("dataset", "steps_per_epoch = 3", "", "[train].steps_per_epoch: expected a divisor of 4"),
        ("weighted", 'class_weight = { "0" = 2.0 }', "", "[train].class_weight: expected no"),
        ("dataset", "", "validation_split = 0.25", "[data].validation_split: expected 0 with a"),
    ],
)
def test_a_loader_form_fit_would_refuse_is_one_line_naming_the_key(
    tmp_path, loader, train, data, expect
):
    config = load_config(_config(tmp_path, "mlp", loader, train=train, data=data))
    with pytest.raises(ConfigError) as info:
        check_config(config)
    message = str(info.value)
    assert message.startswith("config.toml: ") or "config.toml: " in message
    assert expect in message and "\n" not in message


def test_the_status_line_says_a_boundary_comes_every_k_batches():
    from weightwatch.engine.events import SessionState, Status
    from weightwatch.tui.widgets.status import describe

    status = Status(SessionState.RUNNING, 0, 2, 2, 4, 2, 2, 1, 0.001, 50.0, 1.0, 2.0)
    assert "boundary every" not in describe(status).plain
    k4 = describe(replace(status, steps_per_execution=4)).plain
    assert "boundary every 4 batches" in k4.split("\n")[1]


def test_a_script_trigger_inside_an_execution_is_refused_by_check(tmp_path):
    from weightwatch.engine.check import check_script
    from weightwatch.engine.errors import ScriptError
    from weightwatch.engine.script import load_script

    config = load_config(_config(tmp_path, "mlp", "dataset", extra="steps_per_execution = 2"))
    (tmp_path / "script.toml").write_text(
        '[[action]]\nat_step = 4\ndo = "save"\n[[action]]\nat_step = 5\ndo = "quit"\n'
    )
    with pytest.raises(
        ScriptError, match=r"\[\[action\]\]\[2\]\.at_step: expected a multiple of 2"
    ):
        check_script(load_script(tmp_path / "script.toml"), config)


# --- the data position of a shuffling pipeline -----------------------------------------------


def _stream(feed, strategy, epoch: int, step: int, count: int, moved: bool) -> list:
    """`count` batches from (epoch, step), asking the feed for its iterator as the loop does."""
    out = []
    for _ in range(count):
        it = feed.iterator(strategy, epoch, step, epoch + 1, moved=moved)
        out.append(next(it)[0].numpy().tobytes())
        moved, step = False, step + 1
        if step == feed.steps_per_epoch:
            epoch, step = epoch + 1, 0
    return out


def test_a_restored_pipeline_position_gives_the_batches_of_an_uninterrupted_iterator(tmp_path):
    from weightwatch.engine.feeds import DatasetFeed

    user = _user(tmp_path)
    strategy = tf.distribute.get_strategy()
    straight = DatasetFeed(user.dataset(), steps_per_epoch=None)
    assert straight.exact_position and straight.steps_per_epoch == 4
    assert straight.first_batch(0)[0].shape == (1, 3)  # shapes only: no iterator, no seeds
    first = _stream(straight, strategy, 0, 0, 6, True)  # epoch 0 and half of epoch 1
    assert first == _stream(
        DatasetFeed(user.dataset(), steps_per_epoch=None), strategy, 0, 0, 6, True
    )
    state = straight.position_state()
    rest = _stream(straight, strategy, 1, 2, 10, False)  # to the middle of epoch 4
    resumed = DatasetFeed(user.dataset(), steps_per_epoch=None)  # a new pipeline, as a restart
    resumed.restore_position(state, 1, 2)
    assert _stream(resumed, strategy, 1, 2, 10, True) == rest
    # epoch 1 is a reshuffled pass: the same batches in another order than epoch 0
    assert sorted(first[:4]) != first[:4] or first[:4] != rest[2:6]
    fresh = DatasetFeed(user.dataset(), steps_per_epoch=None)
    fresh.restore_position(None, 1, 2)  # no state: a new pass, the epoch's trained part skipped
    assert _stream(fresh, strategy, 1, 2, 2, True) == first[2:4]


def test_a_generator_pipeline_has_no_exact_position(tmp_path):
    from weightwatch.engine.feeds import DatasetFeed, PyDatasetFeed

    user = _user(tmp_path)
    gen = DatasetFeed(user.generator(), steps_per_epoch=None)
    assert gen.steps_per_epoch == 4 and not gen.exact_position
    _stream(gen, tf.distribute.get_strategy(), 0, 0, 1, True)
    assert gen.position_state() is None
    py = PyDatasetFeed(user.pydataset(), steps_per_epoch=None, shuffle=False)
    assert not py.exact_position and py.position_state() is None
    py.restore_position(None, 0, 3)  # the pass again, the 3 trained batches skipped
    batch = _stream(py, tf.distribute.get_strategy(), 0, 3, 1, True)[0]
    assert batch == user.pydataset()[3][0].tobytes()
    py.close()


def test_two_epochs_save_mid_epoch_and_a_new_session_from_it_equal_four_epochs(tmp_path):
    """Through the checkpoint file (P3 carries the feed's position_state in it)."""
    path = _config(tmp_path / "a", "mlp", "dataset", epochs=4)
    straight = started(load_config(path))
    final = finish(straight)["final"]["fingerprint"]
    first = Session(load_config(_config(tmp_path / "b", "mlp", "dataset", epochs=4)))
    hold = first.hold_at_step(10)  # 2 epochs of 4 batches and 2 batches of the third
    first.start()
    hold.result(T)
    info = first.save("cut").result(T)
    stop(first)
    second = started(  # another run directory: what the resume needs is in the file
        load_config(_config(tmp_path / "c", "mlp", "dataset", epochs=4)),
        from_checkpoint=info.path,
    )
    report = finish(second)
    assert report["session_steps"] == 6
    assert report["final"]["fingerprint"] == final


def test_a_generator_resumes_at_its_epochs_start_and_skips_what_that_epoch_trained(tmp_path):
    """Not exact in general (a new pass); a generator that yields the same batches each pass
    then gives the uninterrupted run's weights, Dropout included (the RNG is in the file)."""
    straight = started(load_config(_config(tmp_path / "a", "mlp", "generator", epochs=3)))
    final = finish(straight)["final"]["fingerprint"]
    first = Session(load_config(_config(tmp_path / "b", "mlp", "generator", epochs=3)))
    hold = first.hold_at_step(6)  # epoch 1, 2 of its 4 batches done
    first.start()
    hold.result(T)
    info = first.save("cut").result(T)
    stop(first)
    assert info.data_exact is False
    second = started(
        load_config(_config(tmp_path / "c", "mlp", "generator", epochs=3)),
        from_checkpoint=info.path,
    )
    report = finish(second)
    assert report["events"][0]["detail"].get("data_position") == "start of epoch"
    assert report["session_steps"] == 6 and report["final"]["fingerprint"] == final
