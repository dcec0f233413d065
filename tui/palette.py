"""The command palette's system entries, in the app's words, and the keys `?` lists.

Textual's own entries did not fit this app: "Screenshot" saved into a Downloads folder that
may not exist ("Failed to save screenshot"), "Keys" opened a panel that Escape did not close,
"Quit" said "Quit the application as soon as possible" while quitting here stops training and
writes the report. Here: the screenshot goes into the run directory and the notification says
where; "Keys" is the help screen (`?`, Escape closes it); Quit says what it does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding

QUIT_HELP = "Stop training, write the report and exit"
SCREENSHOT_HELP = "Save an SVG of the screen into the run directory (screenshots/)"
REPLACED = ("Quit", "Keys", "Screenshot")  # Textual's entries that are ours here
PALETTE_KEY = Binding(
    "ctrl+p",
    "command_palette",
    "Palette",
    tooltip="Every action by name, also Theme and Screenshot",
)


def system_commands(
    app: Any, textual_commands: Iterable[SystemCommand], help_action: Callable[[], Any]
) -> Iterable[SystemCommand]:
    """Textual's entries with Quit, Keys and Screenshot replaced by the app's."""
    for command in textual_commands:
        if command.title not in REPLACED:
            yield command
    yield SystemCommand("Quit", QUIT_HELP, app.action_quit)
    yield SystemCommand("Keys", "Every key, and what each verdict means (?)", help_action)
    # After a moment: the palette is closed by then and the picture shows the dashboard.
    yield SystemCommand("Screenshot", SCREENSHOT_HELP, lambda: app.set_timer(0.1, app.screenshot))


def save_screenshot(app: Any, now: float) -> Path | None:
    """Write the screen as SVG into `<run dir>/screenshots/` and say where (or why not)."""
    folder = Path(app.run_dir) / "screenshots"
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d-%H%M%S")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"screen-{stamp}.svg"
        n = 1
        while path.exists():  # two in one second: keep both
            n += 1
            path = folder / f"screen-{stamp}-{n}.svg"
        path.write_text(app.export_screenshot(), encoding="utf-8")
    except OSError as exc:
        app.notify(f"Screenshot not saved: {folder}: {exc.strerror or exc}", severity="error")
        return None
    app.notify(f"Screenshot saved: {path}", title="Screenshot")
    return path


def help_bindings(app: App, *groups: list[Binding]) -> list[Binding]:
    """Every key for `?`: `groups` (the dashboard's, the charts'), then the app's own (Ctrl+C,
    and the tour's `n` and `x` while the tour lasts), then the palette's."""
    own: list[Binding] = []
    for cls in type(app).__mro__:  # the tour's first, Textual's last
        for binding in vars(cls).get("BINDINGS", []):
            if not isinstance(binding, Binding) or app.check_action(binding.action, ()) is False:
                continue
            if not any(b.key == binding.key for b in own):  # the app's over Textual's
                own.append(binding)
    return [*groups[0], *own, *[b for group in groups[1:] for b in group], PALETTE_KEY]
