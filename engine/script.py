"""Load and validate a headless script: a TOML list of `[[action]]` tables, run in order.

Each action names what to do in `do` and may wait for one trigger::

    [[action]]
    do = "save"
    at_step = 200
    name = "before-rebuild"

Every problem is a `ScriptError` with a one-line message naming the file and the key path, e.g.
`script.toml: [[action]][3].at_step: expected an integer >= 0, received -1`. Like `config.py`,
this module imports neither tensorflow, keras nor textual. Checks that need the config or Keras
(an epoch past the end, an optimizer name) are `check.check_script`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .checkpoints import check_name
from .commands import FILE_NAME, SCRIPT_COMMANDS, TABLES, script_args  # noqa: F401
from .compileforms import recompile_forms
from .config import callback_spec_from_table
from .errors import CheckpointError, ScriptError
from .tomlread import (
    INT_GE0,
    NUMBER_GE0,
    PATH,
    STR_LIST,
    STRING,
    Kind,
    TableReader,
    did_you_mean,
    parse_toml,
    read_toml,
    show,
)

TRIGGER_KEYS = ("at_step", "at_epoch", "when")
# Keys someone might write for the action's kind; they get a pointer to `do`.
# DESIGN.md names the actions but not the key that holds one: "do" is documented, and the
# spellings people reach for first are accepted too (exactly one per action).
KIND_KEYS = ("do", "action", "kind", "type")

SVG_PATH = Kind("a path ending in .svg", lambda v: STRING.accepts(v) and v.lower().endswith(".svg"))
KEYS = Kind("a non-empty list of key names", lambda v: STR_LIST.accepts(v) and len(v) > 0, list)
FINISHED = Kind('"finished"', lambda v: v == "finished")

# Each action's arguments: name -> (kind, required). Absent optional ones are None in `args`.
# The session's commands come from the registry (engine/commands.py); the last four are the
# script runner's own (keys, a screenshot, a pause in the script, the end).
ACTION_ARGS: dict[str, dict[str, tuple[Kind, bool]]] = {
    **{spec.name: script_args(spec) for spec in SCRIPT_COMMANDS},
    "press": {"keys": (KEYS, True)},
    "screenshot": {"path": (SVG_PATH, True)},
    "wait": {"seconds": (NUMBER_GE0, True)},
    "quit": {},
}


@dataclass(frozen=True)
class Trigger:
    """When an action runs: at a session step, when the model's epoch reaches N, or at the end."""

    kind: Literal["at_step", "at_epoch", "finished"]
    value: int | None = None  # None for "finished"


@dataclass(frozen=True)
class Action:
    """One `[[action]]`: `index` is 1-based, as in messages; `args` holds every declared
    argument of its kind (None where an optional one was left out)."""

    index: int
    kind: str
    trigger: Trigger | None
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """Its key path in messages: `[[action]][3]`."""
        return f"[[action]][{self.index}]"


@dataclass(frozen=True)
class Script:
    """A validated script; `path` is absolute."""

    path: Path
    actions: list[Action]


def load_script(path: str | Path) -> Script:
    """Read and validate a headless script.

    Args:
        path: The TOML file; messages name it exactly as given here.

    Raises:
        ScriptError: A one-line message naming the file and the key path.
    """
    file = str(path)
    top = TableReader(
        parse_toml(read_toml(path, ScriptError), file, ScriptError), "", file, ScriptError
    )
    top.check_keys(("action",))
    entries = top.table.get("action")
    if not isinstance(entries, list) or not entries:
        received = "nothing" if entries is None else show(entries)
        raise ScriptError(
            f"{file}: [[action]]: expected one or more [[action]] tables, received {received}"
        )
    folder = Path(path).absolute().parent
    actions = [_action(table, i, file, folder) for i, table in enumerate(entries, start=1)]
    return Script(path=Path(path).absolute(), actions=actions)


def _action(table: Any, index: int, file: str, folder: Path) -> Action:
    where = f"[[action]][{index}]"
    if not isinstance(table, dict):
        raise ScriptError(f"{file}: {where}: expected a table, received {show(table)}")
    reader = TableReader(table, where, file, ScriptError)
    kind = _kind(reader)
    reader.check_keys((kind_key(reader.table), *TRIGGER_KEYS, *ACTION_ARGS[kind]))
    args = {
        name: reader.get(name, arg_kind) if required else reader.get(name, arg_kind, default=None)
        for name, (arg_kind, required) in ACTION_ARGS[kind].items()
    }
    return Action(index, kind, _trigger(reader), _finish_args(kind, args, reader, folder))


def kind_key(table: dict) -> str:
    """The key that names the action: "do" (or one of its accepted spellings)."""
    present = [key for key in KIND_KEYS if key in table]
    return present[0] if len(present) == 1 else "do"


def _kind(reader: TableReader) -> str:
    present = [key for key in KIND_KEYS if key in reader.table]
    if len(present) > 1:
        reader.fail(present[1], f'the action is already given by "{present[0]}"; use one key')
    key = kind_key(reader.table)
    kind = reader.get(key, STRING)
    if kind not in ACTION_ARGS:
        reader.fail(
            key,
            f"expected one of {', '.join(ACTION_ARGS)}, received {show(kind)}"
            + did_you_mean(kind, ACTION_ARGS),
        )
    return kind


def _trigger(reader: TableReader) -> Trigger | None:
    present = [key for key in TRIGGER_KEYS if key in reader.table]
    if len(present) > 1:
        reader.fail(
            "",
            "expected at most one trigger (at_step, at_epoch or when), received "
            + " and ".join(present),
        )
    if not present:
        return None
    if present[0] == "when":
        reader.get("when", FINISHED)
        return Trigger("finished", None)
    return Trigger(present[0], reader.get(present[0], INT_GE0))  # type: ignore[arg-type]


def find_load_file(ref: str, run_dir: Path, config_folder: Path) -> str:
    """Where a script's `load` of a relative path finds its file: in the run directory (a file
    the user's own ModelCheckpoint wrote there), then in the config's folder, as the picker
    lists them, so that a script works wherever it is run from. An absolute path, a name
    found nowhere, or a checkpoint name is returned as written (the picker then names it or
    says why it will not load). The path comes from the script (the user's own input), never
    from a file in the run directory."""
    path = Path(ref).expanduser()
    if path.is_absolute() or "\0" in ref:
        return ref
    for folder in (Path(run_dir), Path(config_folder)):
        candidate = folder / path
        if candidate.is_file():
            return str(candidate.absolute())
    return ref


def _finish_args(kind: str, args: dict[str, Any], reader: TableReader, folder: Path) -> dict:
    """Turn checked raw values into what the runner uses: callback specs, absolute paths."""
    if kind == "callbacks":
        args["set"] = [
            callback_spec_from_table(
                table, f"{reader.where}.set[{i}]", reader.file, error=ScriptError
            )
            for i, table in enumerate(args["set"], start=1)
        ]
    elif kind == "recompile":  # what [compile] takes, checked as config.py checks it
        recompile_forms(
            args["optimizer"], args["learning_rate"], reader.file, reader.where, ScriptError
        )
    elif kind == "save" and args["name"] is not None:
        try:  # the store's own rule (at most 100 characters), found now rather than mid-run
            check_name(args["name"])
        except CheckpointError:
            reader.fail(
                "name",
                f"expected a checkpoint name of at most 100 characters, received "
                f"{len(args['name'])} ({show(args['name'])})",
            )
    elif kind == "screenshot":
        if not PATH.accepts(args["path"]):
            reader.fail("path", f"expected {PATH.expected}, received {show(args['path'])}")
        args["path"] = folder / Path(args["path"]).expanduser()
    return args
