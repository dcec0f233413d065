"""The callback editor: toggle, remove, add and edit the session's Keras callbacks.

Entries are validated in the dialog with the same function the config loader uses for
`[[callbacks]]` tables; an invalid entry shows a one-line error and the dialog stays open.
Whether Keras accepts the arguments is only known when the engine builds the callback: a
rejection there comes back as a notification and the callbacks stay as they were.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, SelectionList, Static, TextArea
from textual.widgets.selection_list import Selection
from weightwatch.engine.config import callback_spec_from_table
from weightwatch.engine.errors import BadInput
from weightwatch.engine.specs import CallbackSpec
from weightwatch.tui.screens.base import Dialog, error_line

WHERE = "callback editor"


def toml_value(value: Any) -> str:
    """A TOML literal for a value read from TOML (strings, numbers, booleans, arrays, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # TOML spells inf and nan the way Python does
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))  # a TOML basic string


def args_text(spec: CallbackSpec) -> str:
    """The spec's keyword arguments as `key = value` lines."""
    return "\n".join(f"{key} = {toml_value(value)}" for key, value in spec.kwargs.items())


def parse_args(text: str) -> dict[str, Any]:
    """`key = value` lines, or one line of `key = value, key = value`, as a dict."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if "\n" not in text.strip():
            try:
                return tomllib.loads(f"_ = {{{text}}}")["_"]
            except tomllib.TOMLDecodeError:
                pass
        raise BadInput(f"{WHERE}: arguments: {exc}") from None


def parse_entry(type_text: str, arguments: str, enabled: bool = True) -> CallbackSpec:
    """A `CallbackSpec` from the editor's fields; BadInput (one line) when they are wrong."""
    kwargs = parse_args(arguments)
    for key in ("type", "enabled"):
        if key in kwargs:
            raise BadInput(
                f"{WHERE}: arguments: {key!r} is not an argument; "
                "use the type field and the checkbox"
            )
    table = {"type": type_text.strip(), "enabled": enabled, **kwargs}
    return callback_spec_from_table(table, "entry", WHERE)


def summary(spec: CallbackSpec) -> str:
    inline = ", ".join(f"{k}={toml_value(v)}" for k, v in spec.kwargs.items())
    return f"{spec.type}({inline})"


class CallbackEditor(Dialog[list[CallbackSpec]]):
    """Returns the full list of callbacks (disabled ones with `enabled=False`)."""

    BINDINGS = [
        Binding(
            "delete",
            "remove",
            "Remove",
            tooltip="Remove the highlighted callback",
            id="callbacks.remove",
        ),
        Binding(
            "ctrl+s", "apply", "Apply", tooltip="Apply the list and close", id="callbacks.apply"
        ),
    ]

    def __init__(self, specs: list[CallbackSpec]) -> None:
        super().__init__()
        self.specs = list(specs)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide"):
            yield Label("Callbacks", classes="dialog-title")
            yield Static(
                "space: enable/disable · delete: remove · highlight one to edit it. "
                "Callbacks never touch the weights: the verdict stays 'continued'."
            )
            yield SelectionList[int](id="cb-list")
            yield Input("", placeholder="type: EarlyStopping, or module:Class", id="cb-type")
            yield TextArea("", id="cb-args", soft_wrap=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add", id="cb-add")
                yield Button("Update", id="cb-update")
                yield Button("Remove", id="cb-remove")
            yield error_line()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Apply", variant="primary", id="cb-apply")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.refill()
        if not getattr(self.app, "cursor_blink", True):
            self.query_one(TextArea).cursor_blink = False

    def refill(self, highlight: int | None = None) -> None:
        """Show `self.specs` in the list."""
        listing = self.query_one(SelectionList)
        listing.clear_options()
        listing.add_options(
            [Selection(summary(spec), i, spec.enabled) for i, spec in enumerate(self.specs)]
        )
        if self.specs:
            listing.highlighted = min(highlight or 0, len(self.specs) - 1)

    @property
    def highlighted(self) -> int | None:
        return self.query_one(SelectionList).highlighted

    @on(SelectionList.SelectionHighlighted)
    def edit_highlighted(self, event: SelectionList.SelectionHighlighted) -> None:
        spec = self.specs[event.selection.value]
        self.query_one("#cb-type", Input).value = spec.type
        self.query_one(TextArea).text = args_text(spec)

    @on(SelectionList.SelectedChanged)
    def sync_enabled(self, event: SelectionList.SelectedChanged) -> None:
        selected = set(event.selection_list.selected)
        self.specs = [replace(s, enabled=i in selected) for i, s in enumerate(self.specs)]

    def entry(self, enabled: bool = True) -> CallbackSpec | None:
        """The fields as a spec, or None after showing why they are wrong."""
        try:
            spec = parse_entry(
                self.query_one("#cb-type", Input).value, self.query_one(TextArea).text, enabled
            )
        except BadInput as exc:
            self.fail(str(exc))
            return None
        self.error_text = ""
        self.query_one(".dialog-error").display = False
        return spec

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "cb-add": self.action_add,
            "cb-update": self.action_update,
            "cb-remove": self.action_remove,
            "cb-apply": self.action_apply,
            "cancel": self.action_cancel,
        }
        actions[event.button.id or "cancel"]()

    def action_add(self) -> None:
        spec = self.entry()
        if spec is not None:
            self.specs.append(spec)
            self.refill(len(self.specs) - 1)

    def action_update(self) -> None:
        index = self.highlighted
        if index is None:
            self.fail("nothing to update: highlight a callback first (or use Add)")
            return
        spec = self.entry(self.specs[index].enabled)
        if spec is not None:
            self.specs[index] = spec
            self.refill(index)

    def action_remove(self) -> None:
        index = self.highlighted
        if index is not None:
            del self.specs[index]
            self.refill(index)

    def action_apply(self) -> None:
        self.dismiss(list(self.specs))
