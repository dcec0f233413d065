"""Themes, help and the palette (issue 11): every key in `?`, wrapped under its column; `n` gone
once the tour is over; the palette's Screenshot, Keys and Quit in the app's terms; readable
colours from the theme on a light and a dark one."""

from __future__ import annotations

import pytest
from textual.color import Color
from textual.widgets import Input
from textual.widgets._footer import FooterKey
from weightwatch.engine.events import SessionState as S
from weightwatch.tui import demo
from weightwatch.tui.palette import QUIT_HELP
from weightwatch.tui.screens.help import HelpScreen
from weightwatch.tui.widgets.theme import theme_color

from .conftest import NOW, make_app, make_fake, running, until
from .svgtext import svg_lines

THEMES = ["textual-dark", "catppuccin-latte"]


@pytest.fixture(autouse=True)
def no_reading_pause(monkeypatch):
    monkeypatch.setattr(demo, "CAPTION_PAUSE_S", 0.0)


def help_lines(app) -> list[str]:
    return "\n".join(str(w.render()) for w in app.screen.query("HangingText")).splitlines()


# -- ? ------------------------------------------------------------------------------------------


async def test_help_lists_every_key(app, fake):
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, fake)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = {line.split()[0] for line in help_lines(app) if line.startswith("  ")}
        # space and ctrl+c were left out; the chart keys and ctrl+p are not in the footer
        assert {"space", "ctrl+c", "w", "+", "-", "g", "m", "ctrl+p"} <= keys
        assert {"p", "c", "s", "l", "r", "o", "e", "?", "q"} <= keys
        quits = [row.split(None, 2)[2] for row in help_lines(app) if " Quit " in row]
        assert len(quits) == 3 and set(quits) == {QUIT_HELP}  # q, ctrl+c, ctrl+q: our words


async def test_help_wraps_long_lines_under_their_column_at_80x24(app, fake):
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, fake)
        await pilot.press("question_mark")
        await pilot.pause()
        rows = help_lines(app)
        first = next(i for i, row in enumerate(rows) if "Pause training between" in row)
        column = rows[first].index("Pause training")
        more = rows[first + 1]
        assert more.strip() and not more.startswith("  p") and "resume it" in more
        assert len(more) - len(more.lstrip()) == column  # was column 0
        shown = svg_lines(app.export_screenshot())
        assert all(len(line) <= 80 for line in shown)


async def test_n_and_x_are_listed_and_offered_only_while_the_tour_lasts(tmp_path):
    fake = make_fake(tmp_path / "run")
    app = demo.DemoApp(
        fake, gap=10, clock=lambda: NOW + 150, cursor_blink=False, handle_signals=False
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: fake.status().state is not S.STARTING, pilot)
        fake.step(100)
        await until(lambda: "Held at step" in app.caption_text, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert any(row.split()[:2] == ["n", "Next"] for row in help_lines(app))
        await pilot.press("escape")
        await pilot.press("x")  # the tour is over
        await until(lambda: app.ended, pilot)
        await pilot.pause()
        footer = [k.key for k in app.dashboard.query(FooterKey)]
        assert "n" not in footer and "x" not in footer and "p" in footer
        await pilot.press("question_mark")
        await pilot.pause()
        assert not any(row.split()[:1] == ["n"] for row in help_lines(app))


# -- the command palette -------------------------------------------------------------------------


async def palette(pilot, words: str) -> None:
    """Open the palette, type `words`, run the first match."""
    await pilot.press("ctrl+p")
    await until(lambda: pilot.app.screen.query(Input), pilot)
    await pilot.press(*words)
    await pilot.pause(0.3)
    await pilot.press("enter")
    await pilot.pause(0.3)


async def test_palette_screenshot_goes_into_the_run_directory(app, fake, notes):
    async with app.run_test(size=(120, 40), message_hook=notes.hook) as pilot:
        await running(pilot, fake)
        await palette(pilot, "screenshot")
        folder = fake.run_dir / "screenshots"
        await until(lambda: folder.is_dir() and list(folder.glob("*.svg")), pilot)
        (shot,) = folder.glob("*.svg")
        assert "<svg" in shot.read_text() and "weightwatch" in shot.read_text()
        assert f"Screenshot saved: {shot}" in notes.of("information")


async def test_palette_screenshot_that_cannot_be_saved_says_why(app, fake, notes):
    async with app.run_test(size=(120, 40), message_hook=notes.hook) as pilot:
        await running(pilot, fake)
        fake.run_dir.mkdir(parents=True, exist_ok=True)
        (fake.run_dir / "screenshots").write_text("a file where the folder goes")
        assert app.screenshot() is None
        await pilot.pause()
        (error,) = notes.of("error")
        assert error.startswith(f"Screenshot not saved: {fake.run_dir / 'screenshots'}: ")


async def test_palette_keys_opens_the_help_and_escape_closes_it(app, fake):
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, fake)
        await palette(pilot, "keys")
        await until(lambda: isinstance(app.screen, HelpScreen), pilot)  # was a side panel
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.dashboard


async def test_palette_quit_says_what_it_does_and_writes_the_report(app, fake):
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, fake)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert commands["Quit"].help == QUIT_HELP  # not "Quit the application as soon as ..."
        assert [c.title for c in app.get_system_commands(app.screen)].count("Quit") == 1
        await palette(pilot, "quit")
        await until(lambda: app.finished.is_set(), pilot)
    assert (fake.run_dir / "report.json").is_file()


# -- colours from the theme, readable on light and dark -------------------------------------------


def contrast(a: Color, b: Color) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    hi, lo = sorted((_lum(a), _lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _lum(c: Color) -> float:
    def ch(v: int) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = c.rgb
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)


def colours(widget) -> tuple[Color, Color]:
    style = widget.rich_style
    return Color.from_rich_color(style.color), Color.from_rich_color(style.bgcolor)


BANNER_BACKGROUND = {
    "continued": "success-muted",
    "restored": "primary-muted",
    "reset": "error",
    "optimizer_reset": "warning-muted",
}


@pytest.mark.parametrize("theme", THEMES)
async def test_banner_status_footer_and_help_are_readable_in_the_theme(app, fake, theme):
    async with app.run_test(size=(120, 40)) as pilot:
        app.theme = theme
        await running(pilot, fake)
        fake.step(20)
        await pilot.pause()
        banner = app.dashboard.query_one("#banner")
        for verdict, variable in BANNER_BACKGROUND.items():
            banner.verdict = verdict
            await pilot.pause()
            fg, bg = colours(banner)
            assert bg.rgb == theme_color(app, variable).rgb  # the theme's, nothing fixed
            assert contrast(fg, bg) >= 3.0, (verdict, fg, bg)
        banner.hide()
        await pilot.pause()
        assert contrast(*colours(banner)) >= 3.0  # the muted "last verdict" line
        assert contrast(*colours(app.dashboard.query_one("#status-bar"))) >= 4.5
        for key in app.dashboard.query(FooterKey):
            assert contrast(*colours(key)) >= 4.5
        await pilot.press("question_mark")
        await pilot.pause()
        for text in app.screen.query("HangingText"):
            assert contrast(*colours(text)) >= 4.5
        await pilot.press("escape", "s")  # a dialog: its text and its field
        await until(lambda: app.screen.query(Input), pilot)
        await pilot.pause()
        for widget in [*app.screen.query(".dialog Static"), *app.screen.query(Input)]:
            assert contrast(*colours(widget)) >= 4.5, widget


@pytest.mark.parametrize("theme", THEMES)
async def test_panel_frames_and_titles_show_on_the_theme(app, fake, theme):
    async with app.run_test(size=(120, 40)) as pilot:
        app.theme = theme
        await running(pilot, fake)
        await pilot.pause()
        for panel in app.dashboard.query("#layers, #event-log"):
            _, background = colours(panel)
            edge = panel.styles.border_top[1]
            edge = background.blend(edge.with_alpha(1), edge.a)
            assert contrast(edge, background) >= 1.8  # $panel-lighten-2 was 1.08 on latte
            title = panel.styles.border_title_color
            title = background.blend(title.with_alpha(1), title.a)
            assert contrast(title, background) >= 3.0


def test_help_snapshot_light_80x24(snap_compare, tmp_path):
    fake = make_fake(tmp_path / "run")

    async def run_before(pilot) -> None:
        pilot.app.theme = "catppuccin-latte"
        await running(pilot, fake)
        fake.step(60)
        await pilot.pause()
        pilot.app.dashboard.tick(force=True)
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(fake), terminal_size=(80, 24), run_before=run_before)
