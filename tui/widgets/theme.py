"""Colours come from the running app's theme, never hard-coded (they follow theme changes)."""

from __future__ import annotations

from rich.style import Style
from textual.app import App
from textual.color import Color
from weightwatch.engine import events as ev

# Theme variable for each verdict (app.tcss colours the banner with the same variables).
VERDICT_COLOURS = {
    ev.CONTINUED: "success",
    ev.RESTORED: "primary-lighten-2",
    ev.RESET: "error",
    ev.OPTIMIZER_RESET: "warning",
    ev.ALTERED: "accent",
    ev.FRESH: "secondary-lighten-2",
}
NEUTRAL = "foreground-darken-2"


def theme_color(app: App, variable: str) -> Color:
    """The theme's colour for a variable such as "error" (alpha flattened on the background)."""
    variables = app.theme_variables
    colour = Color.parse(variables.get(variable) or variables["foreground"])
    if colour.a < 1:
        colour = Color.parse(variables["background"]).blend(colour.with_alpha(1), colour.a)
    return colour


def theme_rgb(app: App, variable: str) -> tuple[int, int, int]:
    """An (r, g, b) tuple, as plotext takes it."""
    return theme_color(app, variable).rgb


def theme_style(app: App, variable: str, bold: bool = False) -> Style:
    """A Rich style in the theme's colour, for Rich renderables (RichLog, DataTable cells)."""
    return Style(color=theme_color(app, variable).rich_color, bold=bold)


def verdict_variable(verdict: str | None) -> str:
    return VERDICT_COLOURS.get(verdict or "", NEUTRAL)
