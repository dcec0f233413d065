"""The dashboard's keys, palette entries and help rows, made from the command registry.

Each session command the dashboard offers has its key, footer label, palette title and tooltip
in `engine/commands.py`; this module only adds the keys that are the UI's own (space as a second
pause key, `?` and `q`) and lays them out in the footer's order.
"""

from __future__ import annotations

from textual.binding import Binding
from weightwatch.engine.commands import COMMANDS, UiEntry

HELP_TITLE = "Help: keys and verdicts"
UI_KEYS = [
    Binding(
        "question_mark",
        "app.help",
        "Help",
        key_display="?",
        tooltip="Keys and what each verdict means",
        id="help",
    ),
    Binding("q", "app.quit", "Quit", tooltip="Stop training, write the report and exit", id="quit"),
]


def _offered() -> list[tuple[str, UiEntry]]:
    entries = [(spec.name, spec.ui) for spec in COMMANDS if spec.ui is not None]
    return sorted(entries, key=lambda entry: entry[1].slot)


def _binding(name: str, ui: UiEntry, key_display: str | None = None) -> Binding:
    return Binding(
        ui.key, f"app.{ui.action}", ui.label, key_display=key_display, tooltip=ui.tooltip, id=name
    )


def dashboard_bindings() -> list[Binding]:
    """The dashboard's keys: the commands in footer order, then help and quit."""
    bindings = []
    for name, ui in _offered():
        if name != "pause":
            bindings.append(_binding(name, ui))
            continue
        # The footer shows "p" alone; space, the key people press first to stop, is a second.
        bindings.append(_binding(name, ui, key_display=ui.key))
        bindings.append(
            Binding(
                "space",
                f"app.{ui.action}",
                ui.label,
                show=False,
                tooltip=ui.tooltip,
                id="pause.space",
            )
        )
    return [*bindings, *UI_KEYS]


def palette_entries() -> list[tuple[str, str, str]]:
    """(action, title, tooltip) for each dashboard action in the command palette."""
    entries = [(f"app.{ui.action}", ui.title, ui.tooltip) for _, ui in _offered()]
    return [*entries, ("app.help", HELP_TITLE, "Keys and what each verdict means")]


BINDINGS = dashboard_bindings()
