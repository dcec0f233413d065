"""The footer: Textual's, with its keys in the first frame and labels that fit the terminal.

Textual's Footer composes nothing until the screen signals its bindings, which in this app comes
about a second after the first frame (TensorFlow's import holds the GIL meanwhile). And it never
shortens anything: at 80 columns the keys after `o Recompile` were simply cut off. Here the keys
are laid out for the width: full labels, then Textual's compact spacing, then short labels, then
the least needed keys are left out (in DROP_ORDER; `?` lists every key, so none is lost).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

PALETTE = "command_palette"  # stands for the palette key on the right
# Where each key goes (the tour's keys first: a class watches for `n`); unlisted ones go last.
DISPLAY_ORDER = (
    "next_stop",
    "end_tour",
    "app.toggle_pause",
    "app.callbacks",
    "app.save",
    "app.load",
    "app.rebuild",
    "app.recompile",
    "app.set_lr",
    "app.help",
    "app.quit",
)
# Left out first when even short labels do not fit. Never left out: p, n, ? and q.
DROP_ORDER = (
    PALETTE,
    "app.set_lr",
    "end_tour",
    "app.recompile",
    "app.load",
    "app.save",
    "app.callbacks",
    "app.rebuild",
)
SHORT = {"app.set_lr": "LR", "end_tour": "End", "app.toggle_pause": "Pause"}
RESUME = "Resume"  # the short label of p while training is parked: what p does then


@dataclass(frozen=True)
class Key:
    """One key as the footer shows it."""

    action: str
    key: str
    display: str
    label: str
    short: str
    enabled: bool
    tooltip: str

    def width(self, compact: bool, short: bool) -> int:
        """Cells it takes (FooterKey's padding: " k label " wide, "k label" + margin compact)."""
        label = self.short if short else self.label
        return len(self.display) + len(label) + (2 if compact else 3)


@dataclass(frozen=True)
class Plan:
    compact: bool
    short: bool
    keys: tuple[Key, ...]
    palette: bool


def plan_keys(keys: list[Key], palette: Key | None, width: int) -> Plan:
    """The first layout that fits `width`: full labels, compact spacing, short labels, then
    keys left out in DROP_ORDER."""
    keys = sorted(keys, key=_place)

    def fits(plan: Plan) -> bool:
        used = sum(k.width(plan.compact, plan.short) for k in plan.keys)
        if plan.palette and palette is not None:
            used += palette.width(plan.compact, False) + 2  # its border and right padding
        return used <= width

    for compact, short in ((False, False), (True, False), (True, True)):
        plan = Plan(compact, short, tuple(keys), palette is not None)
        if fits(plan):
            return plan
    shown, with_palette = list(keys), palette is not None
    for action in DROP_ORDER:
        if action == PALETTE:
            with_palette = False
        else:
            shown = [k for k in shown if k.action != action]
        plan = Plan(True, True, tuple(shown), with_palette)
        if fits(plan):
            return plan
    return plan


def _place(key: Key) -> int:
    return DISPLAY_ORDER.index(key.action) if key.action in DISPLAY_ORDER else len(DISPLAY_ORDER)


class KeysFooter(Footer):
    """The dashboard's footer (see the module docstring). `parked`: training is paused or
    finished, so the short label of p says "Resume"."""

    parked: reactive[bool] = reactive(False, recompose=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # Ready from the start: the screen's bindings are known when the footer mounts.
        self.set_reactive(Footer._bindings_ready, True)
        self._width = 0
        self._shown: tuple[Plan, Key | None] | None = None  # what the last compose laid out

    def keys(self) -> tuple[list[Key], Key | None]:
        """The keys to show, one per action (the first key bound to it), and the palette's."""
        active = self.screen.active_bindings
        keys: dict[str, Key] = {}
        for _, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in keys:
                keys[binding.action] = self._key(binding, enabled, tooltip)
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            found = active.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                palette = self._key(found.binding, found.enabled, found.tooltip)
        return list(keys.values()), palette

    def _key(self, binding: Binding, enabled: bool, tooltip: str) -> Key:
        short = SHORT.get(binding.action, binding.description)
        if binding.action == "app.toggle_pause" and self.parked:
            short = RESUME
        return Key(
            binding.action,
            binding.key,
            self.app.get_key_display(binding),
            binding.description,
            short,
            enabled,
            tooltip or binding.tooltip or binding.description,
        )

    def planned(self) -> tuple[Plan, Key | None]:
        keys, palette = self.keys()
        return plan_keys(keys, palette, self.app.size.width), palette

    def bindings_changed(self, screen) -> None:
        """Textual's Footer recomposes at every bindings signal (three in the first tenth of a
        second as focus settles, while the training thread starts): ~15 ms of the UI thread
        each. Only a change in what it shows needs one."""
        if self.is_attached and screen is self.screen and self.planned() == self._shown:
            return
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        keys, palette = self.keys()
        self._width = self.app.size.width
        plan = plan_keys(keys, palette, self._width)
        self._shown = (plan, palette)
        self.compact = plan.compact
        yield from self._footer_keys(plan.keys, plan.short)
        if plan.palette and palette is not None:
            yield FooterKey(
                palette.key,
                palette.display,
                palette.label,
                palette.action,
                classes="-command-palette",
                disabled=not palette.enabled,
                tooltip=palette.tooltip,
            )

    @staticmethod
    def _footer_keys(keys: Iterable[Key], short: bool) -> Iterator[FooterKey]:
        for key in keys:
            yield FooterKey(
                key.key,
                key.display,
                key.short if short else key.label,
                key.action,
                disabled=not key.enabled,
                tooltip=key.tooltip,
            ).data_bind(compact=Footer.compact)

    def on_resize(self, event: events.Resize) -> None:
        if self.app.size.width != self._width:
            self.call_after_refresh(self.recompose)
