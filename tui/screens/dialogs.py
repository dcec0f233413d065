"""Small dialogs: save a checkpoint, set the learning rate, rebuild, recompile."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Literal

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, OptionList, Static
from weightwatch.engine.compileforms import recompile_forms
from weightwatch.engine.errors import BadInput
from weightwatch.tui.screens.base import Dialog, error_line

NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
# Keras 3's built-in optimizers, by the name `keras.optimizers.get` takes.
OPTIMIZERS = (
    "adam",
    "adamw",
    "sgd",
    "rmsprop",
    "adagrad",
    "adadelta",
    "adamax",
    "nadam",
    "ftrl",
    "lion",
    "adafactor",
)


def parse_positive_float(text: str, what: str) -> float:
    """`text` as a number > 0, or ValueError with a one-line message."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{what}: expected a number > 0 such as 1e-3, received {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{what}: expected a number > 0 such as 1e-3, received {text!r}")
    return value


def buttons(
    ok_id: str, ok_label: str, variant: Literal["default", "error"] = "default"
) -> Horizontal:
    """The OK and Cancel buttons at the bottom of a dialog. The OK button is not drawn as
    highlighted (primary): only the focused button stands out, so focus can be seen."""
    return Horizontal(
        Button(ok_label, variant=variant, id=ok_id),
        Button("Cancel", id="cancel"),
        classes="dialog-buttons",
    )


class SimpleDialog(Dialog):
    """Enter in a field or the OK button submits `result()`; Cancel dismisses. `result()` raises
    ValueError (one line) while the fields are wrong; the error clears once they are fixed."""

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self.submit()

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.submit()

    def submit(self) -> None:
        try:
            value = self.result()
        except ValueError as exc:
            self.fail(str(exc))
            return
        self.dismiss(value)

    def problem(self) -> str | None:
        try:
            self.result()
        except ValueError as exc:
            return str(exc)
        return None

    def result(self) -> object:
        raise NotImplementedError


class SaveDialog(SimpleDialog):
    """Returns the checkpoint name to save under."""

    def __init__(self, default_name: str) -> None:
        super().__init__()
        self.default_name = default_name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Save checkpoint", classes="dialog-title")
            yield Static("Weights, optimizer state, RNG state, epoch and step, saved atomically.")
            yield Input(self.default_name, placeholder="name", id="save-name")
            yield error_line()
            yield buttons("save-ok", "Save")

    def result(self) -> str:
        name = self.query_one("#save-name", Input).value.strip()
        if not NAME.fullmatch(name):
            raise ValueError(f"name: expected letters, digits, '-', '_' and '.', received {name!r}")
        return name


class LearningRateDialog(SimpleDialog):
    """Returns the new learning rate (a float > 0)."""

    def __init__(self, current: float | None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Set learning rate", classes="dialog-title")
            yield Static(
                f"Current: {self.current:.3g}. Weights and optimizer state are kept."
                if self.current
                else "Weights and optimizer state are kept."
            )
            yield Input("", placeholder="e.g. 1e-4", id="lr-value")
            yield error_line()
            yield buttons("lr-ok", "Set")

    def result(self) -> float:
        return parse_positive_float(self.query_one("#lr-value", Input).value, "learning rate")


class MoreEpochsDialog(SimpleDialog):
    """A finished run asked to go on: how many more epochs (default the config's `[train]
    epochs`). Returns an int >= 1."""

    def __init__(self, default: int, done: int) -> None:
        super().__init__()
        self.default = default
        self.done = done

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Train more epochs?", classes="dialog-title")
            yield Static(
                f"All epochs are done ({self.done} trained). Training goes on with the same "
                "model and optimizer (verdict: continued) for as many more epochs as you say."
            )
            yield Input(str(self.default), placeholder="epochs", id="more-epochs")
            yield error_line()
            yield buttons("more-ok", "Train")

    def result(self) -> int:
        text = self.query_one("#more-epochs", Input).value.strip()
        if not re.fullmatch(r"\d+", text) or int(text) < 1:
            raise ValueError(f"epochs: expected a whole number >= 1 such as 5, received {text!r}")
        return int(text)


@dataclass(frozen=True)
class RebuildChoice:
    seed: int | None


class RebuildDialog(SimpleDialog):
    """Asks for confirmation (and an optional seed); returns a `RebuildChoice`."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -danger"):
            yield Label("Rebuild the model?", classes="dialog-title")
            yield Static(
                "This makes a NEW model instance with fresh random weights: everything "
                "learned so far is gone from the live model (checkpoints stay). "
                "Verdict: RESET, model step 0."
            )
            yield Input("", placeholder="seed (optional integer)", id="rebuild-seed")
            yield error_line()
            yield buttons("rebuild-ok", "Rebuild", variant="error")

    def result(self) -> RebuildChoice:
        text = self.query_one("#rebuild-seed", Input).value.strip()
        if text and not re.fullmatch(r"-?\d+", text):
            raise ValueError(f"seed: expected an integer or nothing, received {text!r}")
        return RebuildChoice(int(text) if text else None)


@dataclass(frozen=True)
class RecompileChoice:
    """What to recompile with, in the forms `[compile]` takes (plain data): an optimizer name or
    table (None: as the config says), and a rate: a number, a schedule table or None."""

    optimizer: str | dict | None
    learning_rate: float | dict | None


# The last entry of the list: the config's own [compile], afresh (a recompile without arguments).
AS_CONFIGURED = "as configured ([compile])"


def parse_toml_value(text: str, what: str) -> object:
    """A TOML value typed into a field (`{type = "SGD", momentum = 0.9}`), or ValueError."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        raise ValueError(
            f'{what}: expected a TOML value such as {{type = "SGD", momentum = 0.9}}, '
            f"received {text!r}"
        ) from None


class RecompileDialog(SimpleDialog):
    """Choose an optimizer (or type one as a TOML table) and optionally a learning rate (a number
    or a schedule table); returns a `RecompileChoice`."""

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current.split(" ")[0]  # "sgd (schedule)": the class name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Recompile with an optimizer", classes="dialog-title")
            yield Static(
                "Weights are kept; the optimizer state (e.g. Adam's moments) is "
                "dropped and the model step goes to 0. Verdict: optimizer_reset."
            )
            yield OptionList(*OPTIMIZERS, AS_CONFIGURED, id="recompile-optimizer")
            yield Input(
                "", placeholder='or a table: {type = "SGD", momentum = 0.9}', id="recompile-table"
            )
            yield Input(
                "", placeholder="learning rate (optional): 1e-3 or {type = ...}", id="recompile-lr"
            )
            yield error_line()
            yield buttons("recompile-ok", "Recompile")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = OPTIMIZERS.index(self.current) if self.current in OPTIMIZERS else 0

    @on(OptionList.OptionSelected)
    def optimizer_chosen(self) -> None:
        self.submit()

    @on(OptionList.OptionHighlighted)
    def optimizer_highlighted(self) -> None:
        self.recheck()

    def result(self) -> RecompileChoice:
        options = self.query_one(OptionList)
        table = self.query_one("#recompile-table", Input).value.strip()
        optimizer: str | dict | None
        if table:
            value = parse_toml_value(table, "optimizer")
            if not isinstance(value, str | dict):
                raise ValueError(f"optimizer: expected a name or a table, received {table!r}")
            optimizer = value
        elif options.highlighted is None:
            raise ValueError("optimizer: choose one from the list")
        else:
            optimizer = (OPTIMIZERS + (None,))[options.highlighted]
        lr_text = self.query_one("#recompile-lr", Input).value.strip()
        lr: float | dict | None = None
        if lr_text.startswith("{"):
            value = parse_toml_value(lr_text, "learning rate")
            lr = value if isinstance(value, dict) else None
        elif lr_text:
            lr = parse_positive_float(lr_text, "learning rate")
        try:  # the engine's own shape check (no Keras): a bad table says so here, in one line
            recompile_forms(optimizer, lr, "recompile", "", BadInput)
        except BadInput as exc:
            raise ValueError(str(exc).removeprefix("recompile: ")) from None
        return RecompileChoice(optimizer, lr)
