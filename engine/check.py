"""The deep checks of `weightwatch check`, and the helpers the engine reuses to act on a config.

`config.py` checks a config's shape without Keras; this module imports what the config names
(builder, loader, callback classes), reads the data, and has `trial.py` build the model, probe it
with two samples and train it for one batch with the callbacks. Every failure is a one-line
`ConfigError` (or `ScriptError`) naming the file and the key. Keras is imported inside the
functions, so importing this module stays cheap.

Only the `check` command: the training thread imports what it needs from where it lives
(callbacks.py, compilenames.py, usercode.py, datafiles.py). The names in `__all__` are
re-exported for the tests and benchmarks that import them from here.
"""

from __future__ import annotations

import math

from .callback_paths import check_paths
from .callbacks import make_callback
from .compilenames import check_compile, check_optimizer, check_recompile, make_optimizer
from .datafiles import ARRAY_NAMES, Arrays, load_data, read_data
from .devices import SPREAD
from .errors import ConfigError, ScriptError
from .feeds import make_feed
from .feeds_loader import Data, split
from .script import Action, Script
from .specs import Config
from .trial import check_model, trial_fit
from .usercode import display_path, ensure_on_path, one_line, resolve_import

# Re-exported: the engine and the tests import these from here.
__all__ = [
    "ARRAY_NAMES",
    "Arrays",
    "check_config",
    "check_optimizer",
    "check_script",
    "display_path",
    "ensure_on_path",
    "load_data",
    "make_callback",
    "make_optimizer",
    "one_line",
    "resolve_import",
]


# --- the whole config ---------------------------------------------------------------------------


def check_config(config: Config) -> list[str]:
    """Everything `weightwatch check` verifies beyond the config's shape.

    Imports the builder, checks the compile names, reads the data (arrays, a tf.data pipeline
    or a PyDataset), checks the batch arithmetic, builds and compiles the model and runs two
    samples (or a pipeline's first batch) through it and the compiled loss, instantiates every
    callback (disabled ones too: the callback editor can switch them on at any moment).

    Returns:
        One human-readable note per part, e.g. "data: 1000 samples, 32 batches per epoch".

    Raises:
        ConfigError: The first problem, in one line naming the file and the key.
    """
    file = display_path(config.path)
    ensure_on_path(config.folder)
    builder = resolve_import(config.model.builder, "[model].builder", file)
    if not callable(builder):
        raise ConfigError(
            f'{file}: [model].builder: expected "{config.model.builder}" to be a '
            f"function, received a {type(builder).__name__}"
        )
    notes = [check_compile(config, file)]
    data = read_data(config)
    if data.is_arrays:
        notes.append(_check_batches(config, file, data.samples(), data.x_val is not None))
        make_feed(config, split(data, config.data.validation_split), file)  # class_weight
    else:
        notes.append(_check_pipeline(config, file, data))
    model, note = check_model(config, builder, file, data)
    notes.append(note)
    check_paths(config.callbacks, config.run.run_dir, file, error=ConfigError)  # in run_dir
    for i, spec in enumerate(config.callbacks, start=1):
        make_callback(spec, file=file, index=i)
    names = [spec.label + ("" if spec.enabled else " (disabled)") for spec in config.callbacks]
    notes.append(f"callbacks: {', '.join(names) or 'none'}")
    notes.append(trial_fit(config, model, file, data, make_callback))
    strategy = config.run.strategy
    if strategy in SPREAD:  # the devices are known only where it runs
        where = ", ".join(config.run.devices) or (
            f"{config.run.cpu_devices} {'logical ' if strategy == 'mirrored' else ''}CPU devices"
            if config.run.cpu_devices
            else "every visible GPU (else the CPU)"
        )
        if config.run.processes > 1:
            where = f"{config.run.processes} processes, each on {where}"
        notes.append(f"strategy: {strategy} on {where} (the trial ran on one device)")
    return notes


def _check_pipeline(config: Config, file: str, data: Data) -> str:
    """A pipeline's length and the keys that go with it, as the session's feed sees them."""
    feed = make_feed(config, data, file)
    exact = "exact resume" if feed.exact_position else "resume at the start of an epoch's data"
    val = ""
    if data.validation is not None:  # the public kind, not tf.data's private class names
        import tensorflow as tf

        kind = "tf.data.Dataset" if isinstance(data.validation, tf.data.Dataset) else None
        val = f", validated on a {kind or type(data.validation).__name__}"
    return f"data: a {data.kind()}, {feed.steps_per_epoch} batches per epoch{val} ({exact})"


def _check_batches(config: Config, file: str, n: int, has_val: bool) -> str:
    """Keras trains on the first floor(n * (1 - split)) samples; steps must fit in them."""
    data, steps = config.data, config.train.steps_per_epoch
    if has_val and data.validation_split > 0:
        raise ConfigError(
            f"{file}: [data].validation_split: expected 0 when the data brings "
            f"x_val and y_val (Keras would ignore the split), received "
            f"{data.validation_split:g}"
        )
    n_train = math.floor(n * (1.0 - data.validation_split))
    if n_train == 0:
        raise ConfigError(
            f"{file}: [data].validation_split: expected a split that leaves "
            f"training samples, received {data.validation_split:g} "
            f"(0 of {n} samples left)"
        )
    batches = math.ceil(n_train / data.batch_size)
    if steps is not None and steps > batches:
        raise ConfigError(
            f"{file}: [train].steps_per_epoch: expected at most {batches} "
            f"({n_train} training samples in batches of {data.batch_size}), "
            f"received {steps}"
        )
    split = f" ({n_train} for training, {n - n_train} for validation)" if n_train < n else ""
    per_epoch = f", {steps} steps per epoch" if steps else ""
    return (
        f"data: {n} samples{split}, {batches} batches of {data.batch_size} per epoch"
        f"{per_epoch}{', plus validation data' if has_val else ''}"
    )


# --- a script against its config ----------------------------------------------------------------


def check_script(script: Script, config: Config) -> list[str]:
    """Semantic checks of a script that need its config (and Keras, for names and callbacks).

    Checks that `at_epoch` does not pass `[train].epochs`, that `at_step` triggers never go
    back (session steps only grow, so an earlier step would never come), that nothing follows
    `quit`, that recompile names a Keras optimizer, and that callback sets instantiate.

    Returns:
        One note summarising the script.

    Raises:
        ScriptError: The first problem, in one line naming the script and the action.
    """
    file = display_path(script.path)
    last_step: tuple[int, str] | None = None
    quit_at: str | None = None
    for action in script.actions:
        if quit_at:
            raise ScriptError(
                f'{file}: {action.where}: expected no action after "quit" '
                f'({quit_at}), received "{action.kind}"'
            )
        last_step = _check_trigger(action, last_step, config, file)
        _check_action_args(action, file, config)
        quit_at = action.where if action.kind == "quit" else None
    kinds = ", ".join(action.kind for action in script.actions)
    return [f"script: {len(script.actions)} actions ({kinds})"]


def _check_trigger(
    action: Action, last_step: tuple[int, str] | None, config: Config, file: str
) -> tuple[int, str] | None:
    trigger = action.trigger
    if trigger is None or trigger.value is None:
        return last_step
    epochs = config.train.epochs
    if trigger.kind == "at_epoch" and trigger.value > epochs:
        raise ScriptError(
            f"{file}: {action.where}.at_epoch: expected at most {epochs} "
            f"([train].epochs of {config.path.name}), received {trigger.value}"
        )
    if trigger.kind != "at_step":
        return last_step
    k = config.compile.steps_per_execution
    if k > 1 and trigger.value % k:  # the step inside an execution never is a boundary
        raise ScriptError(
            f"{file}: {action.where}.at_step: expected a multiple of {k} ([compile]."
            f"steps_per_execution of {config.path.name}: a batch boundary every {k} batches), "
            f"received {trigger.value}"
        )
    if last_step and trigger.value < last_step[0]:
        raise ScriptError(
            f"{file}: {action.where}.at_step: expected a step >= {last_step[0]} "
            f"(the trigger of {last_step[1]}; session steps never go back), "
            f"received {trigger.value}"
        )
    return trigger.value, action.where


def _check_action_args(action: Action, file: str, config: Config) -> None:
    run_dir = config.run.run_dir
    if action.kind == "recompile":
        check_recompile(action.args, config, action.where, file)
    elif action.kind == "callbacks":
        at = f"{action.where}.set"  # relative paths stay inside the run directory
        check_paths(action.args["set"], run_dir, file, lambda i: f"{at}[{i}]", ScriptError)
        for i, spec in enumerate(action.args["set"], start=1):
            make_callback(
                spec, file=file, index=i, where=f"{action.where}.set[{i}]", error=ScriptError
            )
