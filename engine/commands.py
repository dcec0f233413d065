"""Every command the session takes, named once: its arguments, its handler, its place in the UI.

A command is what a front end asks of the training thread (`Session.save(...)`, a script's
`do = "save"`, the `s` key). This table is the one place that names it:

- `method`: the `Session` method that submits it (tests check each one exists, with `args`);
- `args`: its arguments, with the `tomlread.Kind` a script's value must be, and the script's key
  where it differs from the argument's name (`load`'s `checkpoint`, `callbacks`' `set`);
- `handler`: the function in `engine/runtime/handlers.py` that applies it on the training thread
  (on a `runtime.context.Context`), resolved by name there;
- `opens_segment`: training goes on afterwards in a new lineage segment (a load, rebuild,
  recompile, callback edit, or a resume), on the same training loop;
- `logs_errors`: a refusal is also an `error` event (a failed save is worth a line in the log; a
  pause that came too late is not);
- `ui`: the key, footer label, palette title and tooltip the dashboard shows (`tui/bindings.py`).

Adding a command: a `CommandSpec` here, its handler in `runtime/handlers.py`, and a dialog in
`tui/screens/dialogs.py` if it needs input. This module imports neither Keras nor Textual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .tomlread import PATH, POS_NUMBER, SEED, STRING, Kind

FILE_NAME = Kind(
    'a file name of letters, digits, "-", "_" and "." (not starting with ".")',
    lambda v: isinstance(v, str) and bool(re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", v)),
)
TABLES = Kind(
    'a list of callback tables such as [{type = "EarlyStopping"}]',
    lambda v: isinstance(v, list),
)
ANY = Kind("anything", lambda v: True)
# A recompile takes what `[compile]` takes (compileforms.py checks the inside of a table).
OPTIMIZER = Kind(
    'an optimizer name such as "sgd" or a table such as {type = "SGD", momentum = 0.9}',
    lambda v: STRING.accepts(v) or isinstance(v, dict),
)
RATE = Kind(
    'a positive number or a schedule table such as {type = "ExponentialDecay", ...}',
    lambda v: POS_NUMBER.accepts(v) or isinstance(v, dict),
    lambda v: v if isinstance(v, dict) else float(v),
)


@dataclass(frozen=True)
class Arg:
    name: str  # the keyword of the Session method and of the handler
    kind: Kind = ANY
    required: bool = False
    script_key: str | None = None  # the key in a script's [[action]], if not `name`
    in_script: bool = True  # a script may give it

    @property
    def key(self) -> str:
        return self.script_key or self.name


@dataclass(frozen=True)
class UiEntry:
    """How the dashboard offers a command: key, footer label, palette title, tooltip."""

    key: str
    label: str
    title: str
    tooltip: str
    action: str  # the app's action (`app.<action>`): pause and resume share one
    slot: int  # its place in the footer, left to right


@dataclass(frozen=True)
class CommandSpec:
    name: str
    method: str
    handler: str
    args: tuple[Arg, ...] = ()
    opens_segment: bool = False
    logs_errors: bool = False
    script: bool = True  # a script may ask for it (`do = name`)
    ui: UiEntry | None = None

    def arg(self, name: str) -> Arg:
        return next(a for a in self.args if a.name == name)


def _ui(key: str, label: str, title: str, tooltip: str, action: str, slot: int) -> UiEntry:
    return UiEntry(key, label, title, tooltip, action, slot)


# In the order a script's error message lists them.
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "pause",
        "pause",
        "pause",
        ui=_ui(
            "p",
            "Pause/Resume",
            "Pause / resume training",
            "Pause training between batches, or resume it",
            "toggle_pause",
            0,
        ),
    ),
    CommandSpec(
        "resume", "resume", "resume", (Arg("epochs", in_script=False),), opens_segment=True
    ),
    CommandSpec(
        "save",
        "save",
        "save",
        (Arg("name", FILE_NAME),),
        logs_errors=True,
        ui=_ui("s", "Save", "Save checkpoint", "Save a checkpoint", "save", 2),
    ),
    CommandSpec(
        "load",
        "load",
        "load",
        (Arg("ref", PATH, True, script_key="checkpoint"),),
        opens_segment=True,
        logs_errors=True,
        ui=_ui("l", "Load", "Load checkpoint", "Load a checkpoint (restores weights)", "load", 3),
    ),
    CommandSpec(
        "rebuild",
        "rebuild",
        "rebuild",
        (Arg("seed", SEED),),
        opens_segment=True,
        logs_errors=True,
        ui=_ui(
            "r",
            "Rebuild",
            "Rebuild model (fresh weights)",
            "New model, fresh weights (a reset)",
            "rebuild",
            4,
        ),
    ),
    CommandSpec(
        "recompile",
        "recompile",
        "recompile",
        (Arg("optimizer", OPTIMIZER), Arg("learning_rate", RATE)),
        opens_segment=True,
        logs_errors=True,
        ui=_ui(
            "o",
            "Recompile",
            "Recompile with another optimizer",
            "New optimizer: weights kept, optimizer state dropped",
            "recompile",
            5,
        ),
    ),
    CommandSpec(
        "callbacks",
        "set_callbacks",
        "set_callbacks",
        (Arg("specs", TABLES, True, script_key="set"),),
        opens_segment=True,
        logs_errors=True,
        ui=_ui(
            "c",
            "Callbacks",
            "Edit callbacks",
            "Edit, toggle, add or remove callbacks",
            "callbacks",
            1,
        ),
    ),
    CommandSpec(
        "set_lr",
        "set_lr",
        "set_lr",
        (Arg("value", POS_NUMBER, True),),
        logs_errors=True,
        ui=_ui("e", "Set LR", "Set learning rate", "Change the learning rate", "set_lr", 6),
    ),
    CommandSpec("release", "release", "release", script=False),
    CommandSpec("stop", "stop", "stop", script=False),
    CommandSpec(
        "note_error", "note_error", "note_error", (Arg("message"), Arg("detail")), script=False
    ),
)

BY_NAME: dict[str, CommandSpec] = {c.name: c for c in COMMANDS}
SCRIPT_COMMANDS: tuple[CommandSpec, ...] = tuple(c for c in COMMANDS if c.script)


def script_args(spec: CommandSpec) -> dict[str, tuple[Kind, bool]]:
    """A script action's keys: key -> (kind, required)."""
    return {a.key: (a.kind, a.required) for a in spec.args if a.in_script}


def command(name: str) -> CommandSpec:
    """The spec of a command; a name not in the table is a bug (KeyError names it)."""
    return BY_NAME[name]
