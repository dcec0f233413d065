"""The callback editor: toggle, remove, add and edit the session's Keras callbacks.

Add, Update and Apply check each entry inside the dialog the way the engine will (the class
exists, takes these arguments, and, for Keras's own classes, accepts their values); a wrong
entry shows its error next to the field, in the editor's words, and the dialog stays open with
every row as the user left it. If the session still refuses the list (a user class whose
constructor raises), the app opens the editor again with that list and the reason.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, Input, Label, SelectionList, Static, TextArea
from textual.widgets.selection_list import Selection
from weightwatch.engine.config import callback_spec_from_table
from weightwatch.engine.errors import BadInput
from weightwatch.engine.specs import CallbackSpec
from weightwatch.tui.screens.base import Dialog, DialogBody, error_line

WHERE = "callback editor"
FIELDS = ("type", "args")  # where an error shows: under the type field or the arguments


class EntryError(BadInput):
    """A wrong entry; `field` says which field the message belongs next to."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


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
        raise EntryError(f"{WHERE}: arguments: {exc}", "args") from None


def parse_entry(type_text: str, arguments: str, enabled: bool = True) -> CallbackSpec:
    """A `CallbackSpec` from the editor's fields; EntryError (one line) when they are wrong."""
    if not type_text.strip():
        raise EntryError(
            f"{WHERE}: type: empty; type a Keras callback class name such as EarlyStopping, "
            "or module:Class for your own",
            "type",
        )
    kwargs = parse_args(arguments)
    for key in ("type", "enabled"):
        if key in kwargs:
            raise EntryError(
                f"{WHERE}: arguments: {key!r} is not an argument; "
                "use the type field and the list's on/off",
                "args",
            )
    table = {"type": type_text.strip(), "enabled": enabled, **kwargs}
    try:
        return callback_spec_from_table(table, "entry", WHERE)
    except BadInput as exc:
        raise EntryError(str(exc).replace(f"{WHERE}: entry.", f"{WHERE}: "), "type") from None


def check_entry(spec: CallbackSpec) -> None:
    """Raise EntryError unless the engine would build this callback: the class exists and is a
    Keras callback, every argument is one it takes, and Keras's own classes (whose constructors
    only store and check their arguments) accept the values. User classes are not constructed
    here: their constructors may do anything, and the engine runs them once, on Apply."""
    from weightwatch.engine.callbacks import callback_class, check_kwargs, one_line

    try:
        cls = callback_class(spec.type, "type", WHERE, BadInput)
    except BadInput as exc:
        raise EntryError(str(exc), "type") from None
    try:
        check_kwargs(cls, spec, "arguments", WHERE, BadInput)
    except BadInput as exc:
        raise EntryError(str(exc), "args") from None
    if cls.__module__.startswith("keras."):
        try:
            cls(**spec.kwargs)
        except (TypeError, ValueError) as exc:
            raise EntryError(
                f"{WHERE}: arguments: {spec.label} rejected them ({one_line(exc)})", "args"
            ) from None


def editor_words(message: str) -> str:
    """The engine's message about `[[callbacks]][3]` of the config file, as the editor's row 3:
    the list came from the editor, not from the file."""
    return re.sub(r"^.*?\[\[callbacks\]\]\[(\d+)\](?::\s*|\.)?", r"row \1: ", message, count=1)


def summary(spec: CallbackSpec) -> str:
    inline = ", ".join(f"{k}={toml_value(v)}" for k, v in spec.kwargs.items())
    return f"{spec.type}({inline})"


def prompt(spec: CallbackSpec) -> Content:
    """A row of the list: on/off in words (not only the checkbox's colour), then the call."""
    return Content(f"{'on ' if spec.enabled else 'off'}  {summary(spec)}")


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

    def __init__(
        self,
        specs: list[CallbackSpec],
        refused: str = "",
        check: Callable[[CallbackSpec], None] = check_entry,
    ) -> None:
        super().__init__()
        self.specs = list(specs)
        self.refused = refused  # why the session refused this list last time, or ""
        self.error_field: str | None = None  # the field the error on show is about
        self.check = check

    def compose(self) -> ComposeResult:
        # Scrolls: at 80x24 the buttons are below the fold, and Tab scrolls to them.
        with DialogBody(classes="dialog -wide", id="cb-dialog"):
            yield Label("Callbacks", classes="dialog-title")
            yield Static(
                "space: on/off · delete: remove · highlight a row to edit it · "
                "weights stay untouched"
            )
            yield SelectionList[int](id="cb-list")
            yield Input("", placeholder="type: EarlyStopping, or module:Class", id="cb-type")
            yield error_line("cb-type-error")
            yield TextArea("", id="cb-args", soft_wrap=True)
            yield error_line("cb-args-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add", id="cb-add")
                yield Button("Update", id="cb-update")
                yield Button("Remove", id="cb-remove")
            yield error_line("cb-error")
            with Horizontal(classes="dialog-buttons", id="cb-apply-row"):
                yield Button("Apply", id="cb-apply")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.refill()
        if not getattr(self.app, "cursor_blink", True):
            self.query_one(TextArea).cursor_blink = False
        if self.refused:
            self.fail(f"the session refused this list: {editor_words(self.refused)}")

    def refill(self, highlight: int | None = None) -> None:
        """Show `self.specs` in the list (an empty list empties the fields too)."""
        listing = self.query_one(SelectionList)
        listing.clear_options()
        listing.add_options(
            [Selection(prompt(spec), i, spec.enabled) for i, spec in enumerate(self.specs)]
        )
        if self.specs:
            listing.highlighted = min(highlight or 0, len(self.specs) - 1)
        else:
            self.query_one("#cb-type", Input).value = ""
            self.query_one(TextArea).text = ""

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
        for i, spec in enumerate(self.specs):
            event.selection_list.replace_option_prompt_at_index(i, prompt(spec))

    # -- errors, next to the field they are about ---------------------------------------------

    def fail(self, message: str, field: str | None = None) -> None:
        self.clear_error()
        self.error_text = message
        self.error_field = field
        line = self.query_one(f"#cb-{field}-error" if field in FIELDS else "#cb-error", Static)
        line.update(message)
        line.display = True
        # In a small terminal the dialog scrolls: bring the error and what it is about in view.
        near = self.query_one(f"#cb-{field}" if field in FIELDS else "#cb-apply-row")
        self.call_after_refresh(self.show_error, line, near)

    def show_error(self, line: Static, near: Widget, again: bool = True) -> None:
        """Scroll once the error line is laid out. The first refresh after it appears may still
        see the old scroll size (a wrapped error then left the buttons below the fold, about 1
        run in 5): scroll again a moment later, when the size has settled."""
        if again:
            self.set_timer(0.1, lambda: self.show_error(line, near, again=False))
        body = self.query_one(DialogBody)
        body.scroll_to_widget(line, animate=False)
        body.scroll_to_widget(near, animate=False)

    def checked(self, enabled: bool = True) -> CallbackSpec:
        """The fields as a checked spec; EntryError when they are wrong."""
        spec = parse_entry(
            self.query_one("#cb-type", Input).value, self.query_one(TextArea).text, enabled
        )
        self.check(spec)
        return spec

    def entry(self, enabled: bool = True) -> CallbackSpec | None:
        """The fields as a spec, or None after showing why they are wrong."""
        try:
            spec = self.checked(enabled)
        except EntryError as exc:
            self.fail(str(exc), exc.field)
            return None
        self.clear_error()
        return spec

    def recheck(self) -> None:
        """An error about the fields clears once they are fixed (Apply's row errors too);
        one about the list (the session's refusal, an edit not added) stays until Apply."""
        if not self.error_text or self.error_field not in FIELDS:
            return
        try:
            self.checked()
        except EntryError as exc:
            if f"{exc}" not in self.error_text:
                self.fail(str(exc), exc.field)
            return
        self.clear_error()

    # -- buttons and keys ---------------------------------------------------------------------

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

    def unsaved_edit(self) -> bool:
        """Whether the fields hold something that is not the highlighted row (Apply would
        silently drop it)."""
        type_text = self.query_one("#cb-type", Input).value.strip()
        index = self.highlighted
        if index is None:
            return bool(type_text or self.query_one(TextArea).text.strip())
        spec = self.specs[index]
        try:
            kwargs = parse_args(self.query_one(TextArea).text)
        except EntryError:
            return True
        return (type_text, kwargs) != (spec.type, spec.kwargs)

    def action_apply(self) -> None:
        """Check every row; on any error stay open with everything as it is."""
        if self.unsaved_edit():
            self.fail(
                "this edit is not in the list yet: press Update or Add first (or reselect the row)"
            )
            return
        for index, spec in enumerate(self.specs):
            try:
                self.check(spec)
            except EntryError as exc:
                self.refill(index)  # the row's fields show, the error beside them
                self.fail(f"row {index + 1}: {exc}", exc.field)
                return
        self.dismiss(list(self.specs))
