"""Load and validate a weightwatch config (TOML) into the frozen dataclasses of `specs`.

Every problem is a `ConfigError` whose message is one line naming the file, the key path, what
was expected and what was received, e.g.::

    config.toml: [data].batch_size: expected a positive integer, received "abc"

The TUI imports this module before TensorFlow loads, so it stays cheap: it imports neither
tensorflow, keras nor textual (a test checks `sys.modules`). The TOML reading kit it shares with
`script.py` (`read_toml`, `TableReader`, the `Kind`s) is in `tomlread.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .backend_env import check_strategy, read_backend
from .compileforms import COMPILE_KEYS, check_values, parse_class_weight, parse_compile
from .devices import CPU_DEVICES, DEVICE_LIST, PROCESSES, STRATEGY, check_run_keys
from .errors import BadInput, ConfigError
from .specs import (
    CallbackSpec,
    CompileSpec,
    Config,
    DataSpec,
    ModelSpec,
    RunSpec,
    TrainSpec,
    UISpec,
)
from .tomlread import (  # noqa: F401  (show, did_you_mean: re-exported for older importers)
    BOOL,
    CALLBACK_TYPE,
    IMPORT_PATH,
    INT_GE0,
    NAME,
    NUMBER_0_30,
    PATH,
    POS_INT,
    POS_NUMBER,
    SEED,
    SPLIT,
    STR_LIST,
    STRING,
    TABLE,
    TableReader,
    did_you_mean,
    parse_toml,
    read_toml,
    show,
)
from .usercode import check_shadowing

# The keys of each table section; `[[callbacks]]` entries take any keyword argument.
SECTION_KEYS = {
    "run": (
        "name",
        "run_dir",
        "seed",
        "deterministic",
        "strategy",
        "devices",
        "cpu_devices",
        "processes",
        "backend",
    ),
    "model": ("builder", "params"),
    "compile": COMPILE_KEYS,
    "data": ("path", "loader", "params", "batch_size", "validation_split", "shuffle"),
    "train": ("epochs", "steps_per_epoch", "class_weight", "validation_freq"),
    "ui": ("refresh_hz", "chart_window"),
}
SECTIONS = ("run", "model", "compile", "data", "train", "callbacks", "ui")
REQUIRED_SECTIONS = ("model", "compile", "data", "train")
DATA_SUFFIXES = (".npz", ".csv")


# --- the config contract ------------------------------------------------------------------------


def load_config(path: str | Path) -> Config:
    """Read and validate a config file.

    Args:
        path: The TOML file; messages name it exactly as given here.

    Returns:
        The validated `Config`, with every path in it absolute.

    Raises:
        ConfigError: A one-line message naming the file and the key, for any problem.
    """
    return parse_config(read_toml(path, ConfigError), Path(path))


def parse_config(text: str, path: Path) -> Config:
    """Validate TOML text as if it had been read from `path`.

    Args:
        text: The TOML document.
        path: Where it came from: named in messages as given; its folder anchors relative paths.

    Raises:
        ConfigError: A one-line message naming the file and the key.
    """
    top = TableReader(parse_toml(text, str(path), ConfigError), "", str(path))
    _check_top_level(top)
    for name in REQUIRED_SECTIONS:
        if name not in top.table:
            top.fail(name, "missing required section")
    path = Path(path).absolute()
    config = Config(
        path=path,
        run=_run(top.section("run"), path),
        model=_model(top.section("model")),
        compile=_compile(top.section("compile")),
        data=_data(top.section("data"), path.parent),
        train=_train(top.section("train")),
        callbacks=_callbacks(top.table.get("callbacks", []), top.file),
        ui=_ui(top.section("ui")),
    )
    check_shadowing(config.folder, top.file)
    return config


def _check_top_level(top: TableReader) -> None:
    """Reject unknown sections; a stray key that belongs in a section says which one."""
    for key in top.table:
        homes = [name for name, keys in SECTION_KEYS.items() if key in keys]
        if key not in SECTIONS and homes:
            top.fail(
                key,
                f"unknown section; expected it inside [{homes[0]}] "
                f'(did you mean "[{homes[0]}].{key}"?)',
            )
    top.check_keys(SECTIONS)


def callback_spec_from_table(
    table: dict[str, Any], where: str, file: str | Path, *, error: type[BadInput] = ConfigError
) -> CallbackSpec:
    """Turn one callback table (`{type = "EarlyStopping", patience = 3}`) into a `CallbackSpec`.

    Used for `[[callbacks]]`, for a script's `callbacks.set` and by the UI's callback editor.
    Only the shape is checked: whether Keras accepts the arguments is `check.make_callback`'s
    job, since it needs Keras.

    Args:
        table: The TOML table: `type`, optional `enabled`, every other key a keyword argument.
        where: Its key path for messages, e.g. `[[callbacks]][2]`.
        file: The file named in messages.
        error: The exception class to raise (a script raises `ScriptError`).
    """
    if not isinstance(table, dict):
        raise error(
            f'{file}: {where}: expected a table such as {{type = "EarlyStopping"}}, '
            f"received {show(table)}"
        )
    reader = TableReader(table, where, str(file), error)
    for key, value in table.items():  # `{ import = "module:name" }` values are well formed
        check_values(value, reader.path(key), str(file), error)
    return CallbackSpec(
        type=reader.get("type", CALLBACK_TYPE),
        enabled=reader.get("enabled", BOOL, default=True),
        kwargs={key: value for key, value in table.items() if key not in ("type", "enabled")},
    )


def _run(reader: TableReader, path: Path) -> RunSpec:
    reader.check_keys(SECTION_KEYS["run"])
    name = reader.get("name", NAME, default=path.stem)
    run_dir = reader.get("run_dir", PATH, default=None)
    # An explicit run_dir is relative to the config, like every path in it; the default
    # follows the working directory so that runs/ lands where the person runs the command.
    resolved = path.parent / Path(run_dir).expanduser() if run_dir else Path.cwd() / "runs" / name
    run = RunSpec(
        name=name,
        run_dir=resolved,
        seed=reader.get("seed", SEED, default=0),
        deterministic=reader.get("deterministic", BOOL, default=False),
        strategy=reader.get("strategy", STRATEGY, default="default"),
        devices=reader.get("devices", DEVICE_LIST, default=()),
        cpu_devices=reader.get("cpu_devices", CPU_DEVICES, default=0),
        processes=reader.get("processes", PROCESSES, default=1),
        backend=read_backend(reader),  # the default follows KERAS_BACKEND: backend_env.py
    )
    check_strategy(run, reader.file)
    check_run_keys(run, reader.file)
    return run


def _model(reader: TableReader) -> ModelSpec:
    reader.check_keys(SECTION_KEYS["model"])
    return ModelSpec(
        builder=reader.get("builder", IMPORT_PATH),
        params=_params(reader),
    )


def _params(reader: TableReader) -> dict[str, Any]:
    """A `params` table: keyword arguments, `{ import = "module:name" }` values allowed."""
    params = reader.get("params", TABLE, default={})
    check_values(params, reader.path("params"), reader.file, reader.error)
    return params


def _compile(reader: TableReader) -> CompileSpec:
    return parse_compile(reader)  # the grammar: compileforms.py


def _data(reader: TableReader, folder: Path) -> DataSpec:
    reader.check_keys(SECTION_KEYS["data"])
    has_path, has_loader = "path" in reader.table, "loader" in reader.table
    if has_path == has_loader:
        reader.fail(
            "",
            "expected exactly one of path or loader, received "
            + ("both" if has_path else "neither"),
        )
    if has_path and "params" in reader.table:
        reader.fail(
            "params",
            "expected no params beside path (params go to a loader), "
            f"received {show(reader.table['params'])}",
        )
    return DataSpec(
        path=_data_path(reader, folder) if has_path else None,
        loader=reader.get("loader", IMPORT_PATH, default=None),
        params=_params(reader),
        batch_size=reader.get("batch_size", POS_INT, default=32),
        validation_split=reader.get("validation_split", SPLIT, default=0.0),
        shuffle=reader.get("shuffle", BOOL, default=True),
    )


def _data_path(reader: TableReader, folder: Path) -> Path:
    given = reader.get("path", PATH)
    if Path(given).suffix.lower() not in DATA_SUFFIXES:
        reader.fail("path", f"expected a .npz or .csv file, received {show(given)}")
    resolved = folder / Path(given).expanduser()
    if not resolved.is_file():
        reader.fail(
            "path", f"expected an existing file, received {show(given)} (nothing at {resolved})"
        )
    return resolved


def _train(reader: TableReader) -> TrainSpec:
    reader.check_keys(SECTION_KEYS["train"])
    return TrainSpec(
        epochs=reader.get("epochs", POS_INT),
        steps_per_epoch=reader.get("steps_per_epoch", POS_INT, default=None),
        class_weight=parse_class_weight(reader),
        validation_freq=reader.get("validation_freq", POS_INT, default=1),
    )


def _callbacks(entries: Any, file: str) -> tuple[CallbackSpec, ...]:
    if not isinstance(entries, list):
        raise ConfigError(
            f"{file}: [[callbacks]]: expected an array of tables written "
            f"[[callbacks]], received {show(entries)}"
        )
    return tuple(
        callback_spec_from_table(table, f"[[callbacks]][{i}]", file)
        for i, table in enumerate(entries, start=1)
    )


def _ui(reader: TableReader) -> UISpec:
    reader.check_keys(SECTION_KEYS["ui"])
    return UISpec(
        refresh_hz=reader.get("refresh_hz", NUMBER_0_30, default=4.0),
        chart_window=reader.get("chart_window", INT_GE0, default=0),
    )
