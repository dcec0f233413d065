"""Load and validate a weightwatch config (TOML) into the frozen dataclasses of `specs`.

Every problem is a `ConfigError` whose message is one line naming the file, the key path, what
was expected and what was received, e.g.::

    config.toml: [data].batch_size: expected a positive integer, received "abc"

The TUI imports this module before TensorFlow loads, so it stays cheap: it imports neither
tensorflow, keras nor textual (a test checks `sys.modules`). The small TOML reading kit at the
top (`read_toml`, `TableReader`, the `Kind`s) is shared with `script.py`.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

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

# The keys of each table section; `[[callbacks]]` entries take any keyword argument.
SECTION_KEYS = {
    "run": ("name", "run_dir", "seed", "deterministic"),
    "model": ("builder", "params"),
    "compile": ("optimizer", "learning_rate", "loss", "metrics"),
    "data": ("path", "loader", "params", "batch_size", "validation_split", "shuffle"),
    "train": ("epochs", "steps_per_epoch"),
    "ui": ("refresh_hz", "chart_window"),
}
SECTIONS = ("run", "model", "compile", "data", "train", "callbacks", "ui")
REQUIRED_SECTIONS = ("model", "compile", "data", "train")
DATA_SUFFIXES = (".npz", ".csv")
_MISSING: Any = object()
_IMPORT_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_IDENT_RE = re.compile(r"^[A-Za-z_]\w*$")
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")


# --- the TOML reading kit (shared with script.py) -------------------------------------------


def show(value: Any) -> str:
    """Render a received value for a one-line message, TOML-like and at most ~60 characters."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value)  # quotes, and escapes newlines so the message stays one line
    elif isinstance(value, dict):
        return "a table"
    elif isinstance(value, list):
        text = "[" + ", ".join(show(item) for item in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ` (did you mean "x"?)` for the closest choice, or "" when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # TOML true is no integer


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


@dataclass(frozen=True)
class Kind:
    """What a value must be: a test, the phrase used after "expected", and a conversion."""

    expected: str
    accepts: Callable[[Any], bool]
    convert: Callable[[Any], Any] = lambda value: value


STRING = Kind("a non-empty string", lambda v: isinstance(v, str) and v.strip() != "")
BOOL = Kind("true or false", lambda v: isinstance(v, bool))
INT_GE0 = Kind("an integer >= 0", lambda v: _is_int(v) and v >= 0)
POS_INT = Kind("a positive integer", lambda v: _is_int(v) and v > 0)
SEED = Kind("an integer in [0, 4294967295]", lambda v: _is_int(v) and 0 <= v < 2**32)
POS_NUMBER = Kind("a positive number", lambda v: _is_number(v) and v > 0, float)
NUMBER_GE0 = Kind("a number >= 0", lambda v: _is_number(v) and v >= 0, float)
SPLIT = Kind("a number in [0, 1)", lambda v: _is_number(v) and 0 <= v < 1, float)
NUMBER_0_30 = Kind("a number in (0, 30]", lambda v: _is_number(v) and 0 < v <= 30, float)
TABLE = Kind("a table", lambda v: isinstance(v, dict), dict)
STR_LIST = Kind(
    "a list of strings",
    lambda v: isinstance(v, list) and all(STRING.accepts(item) for item in v),
    tuple,
)
IMPORT_PATH = Kind('"module:function"', lambda v: isinstance(v, str) and bool(_IMPORT_RE.match(v)))
CALLBACK_TYPE = Kind(
    'a Keras callback class name such as "EarlyStopping", or "module:Class"',
    lambda v: isinstance(v, str) and bool(_IDENT_RE.match(v) or _IMPORT_RE.match(v)),
)
# A run name becomes a folder under runs/, so it may not climb out of it.
NAME = Kind(
    'a name without "/" or "\\"',
    lambda v: STRING.accepts(v) and not re.search(r"[/\\]", v) and v not in (".", ".."),
)


class TableReader:
    """Reads typed keys from one TOML table and raises one-line errors that name the key path.

    Args:
        table: The parsed table.
        where: Its key path in messages: `[data]`, `[[action]][3]`, or "" for the document.
        file: The file named in messages.
        error: The exception class to raise.
    """

    def __init__(
        self, table: dict[str, Any], where: str, file: str, error: type[BadInput] = ConfigError
    ) -> None:
        self.table, self.where, self.file, self.error = table, where, file, error

    def path(self, key: str) -> str:
        """The key path of `key` in this table, as messages write it."""
        shown = key if _BARE_KEY_RE.match(key) else json.dumps(key)
        if not self.where:  # a section: [name], or [[name]] for an array of tables
            return f"[[{shown}]]" if isinstance(self.table.get(key), list) else f"[{shown}]"
        return f"{self.where}.{shown}" if key else self.where

    def fail(self, key: str, message: str) -> NoReturn:
        """Raise this reader's error about `key` ("" for the table itself)."""
        raise self.error(f"{self.file}: {self.path(key)}: {message}")

    def check_keys(self, allowed: Iterable[str]) -> None:
        """Reject the first key not in `allowed`, with a did-you-mean hint."""
        allowed = tuple(allowed)
        for key in self.table:
            if key not in allowed:
                what = "section" if not self.where else "key"
                self.fail(
                    key,
                    f"unknown {what}; expected one of {', '.join(allowed)}"
                    + did_you_mean(key, allowed),
                )

    def get(self, key: str, kind: Kind, default: Any = _MISSING) -> Any:
        """Return `table[key]` checked against `kind` and converted, or `default` if absent."""
        if key not in self.table:
            if default is _MISSING:
                self.fail(key, f"expected {kind.expected}, received nothing (it is required)")
            return default
        value = self.table[key]
        if not kind.accepts(value):
            self.fail(key, f"expected {kind.expected}, received {show(value)}")
        return kind.convert(value)

    def section(self, key: str) -> TableReader:
        """A reader for the sub-table `key` (empty when absent)."""
        value = self.get(key, TABLE, default={})
        return TableReader(value, self.path(key), self.file, self.error)


def read_toml(path: str | Path, error: type[BadInput]) -> str:
    """Read a TOML file's text; any failure is `error` with a one-line message naming `path`."""
    try:
        # utf-8-sig: a byte-order mark left by an editor is harmless, so it is not an error.
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except IsADirectoryError:
        raise error(f"{path}: expected a TOML file, received a folder") from None
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: expected UTF-8 text, received an undecodable byte at offset {exc.start}"
        ) from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None


def parse_toml(text: str, file: str, error: type[BadInput]) -> dict[str, Any]:
    """Parse TOML; a syntax error becomes `error` naming the line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's message ends in "(at line L, column C)" or "(at end of document)".
        message = str(exc).splitlines()[0]
        found = re.search(r"\s*\(at (line \d+, column \d+|end of document)\)$", message)
        where = found.group(1) if found else "somewhere"
        reason = message[: found.start()] if found else message
        raise error(f"{file}: {where}: invalid TOML ({reason})") from None


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
    return Config(
        path=path,
        run=_run(top.section("run"), path),
        model=_model(top.section("model")),
        compile=_compile(top.section("compile")),
        data=_data(top.section("data"), path.parent),
        train=_train(top.section("train")),
        callbacks=_callbacks(top.table.get("callbacks", []), top.file),
        ui=_ui(top.section("ui")),
    )


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
    return CallbackSpec(
        type=reader.get("type", CALLBACK_TYPE),
        enabled=reader.get("enabled", BOOL, default=True),
        kwargs={key: value for key, value in table.items() if key not in ("type", "enabled")},
    )


def _run(reader: TableReader, path: Path) -> RunSpec:
    reader.check_keys(SECTION_KEYS["run"])
    name = reader.get("name", NAME, default=path.stem)
    run_dir = reader.get("run_dir", STRING, default=None)
    # An explicit run_dir is relative to the config, like every path in it; the default
    # follows the working directory so that runs/ lands where the person runs the command.
    resolved = path.parent / Path(run_dir).expanduser() if run_dir else Path.cwd() / "runs" / name
    return RunSpec(
        name=name,
        run_dir=resolved,
        seed=reader.get("seed", SEED, default=0),
        deterministic=reader.get("deterministic", BOOL, default=False),
    )


def _model(reader: TableReader) -> ModelSpec:
    reader.check_keys(SECTION_KEYS["model"])
    return ModelSpec(
        builder=reader.get("builder", IMPORT_PATH),
        params=reader.get("params", TABLE, default={}),
    )


def _compile(reader: TableReader) -> CompileSpec:
    reader.check_keys(SECTION_KEYS["compile"])
    return CompileSpec(
        optimizer=reader.get("optimizer", STRING, default="adam"),
        learning_rate=reader.get("learning_rate", POS_NUMBER, default=None),
        loss=reader.get("loss", STRING),
        metrics=reader.get("metrics", STR_LIST, default=()),
    )


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
        params=reader.get("params", TABLE, default={}),
        batch_size=reader.get("batch_size", POS_INT, default=32),
        validation_split=reader.get("validation_split", SPLIT, default=0.0),
        shuffle=reader.get("shuffle", BOOL, default=True),
    )


def _data_path(reader: TableReader, folder: Path) -> Path:
    given = reader.get("path", STRING)
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
