"""The dashboard at 80x24, 120x40 and 200x60: every key reachable, nothing cut, charts that keep
room to plot, a banner that moves nothing, a footer in the first frame (issue 11)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.widgets import Header
from textual.widgets._footer import FooterKey
from weightwatch.engine.events import SessionState as S
from weightwatch.tui import demo
from weightwatch.tui.widgets.footer import Key, KeysFooter, plan_keys

from .conftest import NOW, make_app, make_fake, running, until
from .svgtext import svg_lines

FULL_80 = "p Pause c Callbacks s Save l Load r Rebuild o Recompile e LR ? Help q Quit"
SIZES = [(80, 24), (120, 40), (200, 60)]
THEMES = ["textual-dark", "catppuccin-latte"]
SNAPSHOT_RUN = Path("runs/snapshot")  # never written: the fake keeps everything in memory


@pytest.fixture(autouse=True)
def no_reading_pause(monkeypatch):
    monkeypatch.setattr(demo, "CAPTION_PAUSE_S", 0.0)


def lines(app) -> list[str]:
    return svg_lines(app.export_screenshot())


def footer_text(app) -> str:
    return lines(app)[-1].strip()


def tour_app(fake) -> demo.DemoApp:
    kw = {"clock": lambda: NOW + 150, "cursor_blink": False, "handle_signals": False}
    return demo.DemoApp(fake, gap=10, **kw)


async def reset_scene(pilot, fake) -> None:
    """150 steps, a rebuild (the longest banner), 40 more steps, all drawn."""
    await running(pilot, fake)
    fake.step(150)
    fake.pause()
    fake.boundary()
    fake.rebuild(3)
    fake.resume()
    fake.step(40)
    await pilot.pause()
    pilot.app.dashboard.tick(force=True)
    await pilot.pause()


def chart_rows(app) -> list[tuple[int, int]]:
    return [(c.region.y, c.region.height) for c in app.dashboard.query("#charts > *")]


# -- 80x24 ----------------------------------------------------------------------------------------


async def test_every_dashboard_key_is_in_the_footer_at_80x24(app, fake):
    async with app.run_test(size=(80, 24)) as pilot:
        await reset_scene(pilot, fake)
        assert footer_text(app) == FULL_80  # was cut after "o Recompile"
        keys = app.dashboard.query(FooterKey)
        assert max(k.region.right for k in keys) <= 80


async def test_footer_and_layout_follow_a_resize(app, fake):
    async with app.run_test(size=(120, 40)) as pilot:
        await reset_scene(pilot, fake)
        assert footer_text(app).startswith("p Pause/Resume  c Callbacks")
        assert app.dashboard.query_one(Header).display
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        assert footer_text(app) == FULL_80
        assert not app.dashboard.query_one(Header).display
        assert app.dashboard.query_one("#banner").region.height == 1
        await pilot.resize_terminal(200, 60)
        await pilot.pause(0.2)
        assert footer_text(app).startswith("p Pause/Resume  c Callbacks")
        assert app.dashboard.query_one("#banner").region.height == 3


async def test_the_tour_keeps_n_and_every_verdict_key_at_80x24(tmp_path):
    fake = make_fake(tmp_path / "run")
    app = tour_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: fake.status().state is not S.STARTING, pilot)
        fake.step(100)
        await until(lambda: "Held at step" in app.caption_text, pilot)
        await pilot.pause()
        text = footer_text(app)
        assert text.startswith("n Next p Pause c Callbacks s Save l Load r Rebuild")
        assert text.endswith("o Recompile ? Help q Quit")
        heights = [h for _, h in chart_rows(app)]
        assert min(heights) >= 8, heights  # 3 rows of plot at least, caption and all


async def test_status_line_and_charts_fit_80x24(app, fake):
    async with app.run_test(size=(80, 24)) as pilot:
        await reset_scene(pilot, fake)
        screen = lines(app)
        assert not app.dashboard.query_one(Header).display  # the first thing to go
        assert screen[0].startswith(" ● RUNNING   epoch ")
        assert screen[0].endswith("step 190   model step 40   480 steps/s")  # was "mo…"
        assert "callbacks: EarlyStopping (+1 off)" in screen[1] and "…" not in screen[1]
        assert "%" in screen[1]  # the epoch's bar moved to the second line
        assert "reset" in screen[2] and "rebuilt at step 150" in screen[2]
        assert min(h for _, h in chart_rows(app)) >= 8  # was one row of plot


# -- 120 columns ----------------------------------------------------------------------------------


async def test_nothing_is_cut_at_120_columns(app, fake):
    async with app.run_test(size=(120, 40)) as pilot:
        await reset_scene(pilot, fake)
        bar = app.dashboard.query_one("#status-bar")
        reason = "ready: press resume to train"
        bar.show(replace(fake.status(), state=S.PAUSED, message=reason, session_step=12_345))
        await pilot.pause()
        screen = lines(app)
        assert reason in screen[1] and "…" not in screen[1] + screen[2]
        assert "callbacks: EarlyStopping (+1 off)" in screen[2]
        assert footer_text(app).startswith("p Pause/Resume  c Callbacks  s Save")
        assert footer_text(app).endswith("e Set LR  ? Help  q Quit              ▏^p palette")


async def test_the_tour_footer_fits_120_columns(tmp_path):
    fake = make_fake(tmp_path / "run")
    app = tour_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: fake.status().state is not S.STARTING, pilot)
        fake.step(100)
        await until(lambda: "Held at step" in app.caption_text, pilot)
        await pilot.pause()
        text = footer_text(app)
        assert text.startswith("n Next x End tour p Pause/Resume c Callbacks")
        assert "e Set LR ? Help q Quit" in text and text.endswith("^p palette")


# -- what does not move, and what is there from the start -----------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_banner_moves_nothing_when_it_comes_and_goes(fake, size):
    app = make_app(fake)
    async with app.run_test(size=size) as pilot:
        await running(pilot, fake)
        banner = app.dashboard.query_one("#banner")
        banner.hide()  # the first verdict (fresh) has lingered
        await pilot.pause()
        before = chart_rows(app)
        row = banner.content_region.y
        assert lines(app)[row].strip().startswith("last verdict: ★ fresh")
        fake.step(30)
        fake.pause()
        fake.boundary()
        fake.rebuild(3)
        await until(lambda: banner.verdict == "reset", pilot)
        await pilot.pause()
        assert chart_rows(app) == before  # moved down two rows before
        assert lines(app)[row].strip().startswith("⚠ reset")
        banner.hide()
        await pilot.pause()
        assert chart_rows(app) == before
        assert lines(app)[row].strip() == "last verdict: ⚠ reset  ·  rebuilt at session step 30"


async def test_the_footer_is_in_the_first_frame(fake):
    app = make_app(fake)
    keys_per_frame: list[int] = []
    display = app._display

    def counted(screen, renderable) -> None:  # every frame the app draws
        keys_per_frame.append(len(app.screen.query(FooterKey)))
        display(screen, renderable)

    app._display = counted
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
    assert keys_per_frame and keys_per_frame[0] == 10  # 9 keys and the palette's; was 0


async def test_p_says_resume_in_the_short_footer_while_paused(app, fake):
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, fake)
        fake.pause()
        fake.boundary()
        await until(lambda: app.dashboard.query_one(KeysFooter).parked, pilot)
        await pilot.pause()
        assert footer_text(app).startswith("p Resume c Callbacks")


WIDTHS = [60, 64, 70, 76, 80, 84, 90, 96, 100, 106, 110, 116, 120, 130, 140, 160, 200, 240]


async def test_the_footer_never_overflows_at_any_width(tmp_path):
    """The plan's arithmetic against Textual's real drawing: at 18 widths, in the tour (its
    keys make the most), no key is cut or hidden under the palette's, and p, n, ? and q stay."""
    fake = make_fake(tmp_path / "run")
    app = tour_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: fake.status().state is not S.STARTING, pilot)
        fake.step(100)
        await until(lambda: "Held at step" in app.caption_text, pilot)
        for width in WIDTHS:
            await pilot.resize_terminal(width, 40)
            await until(lambda w=width: app.dashboard.query_one(KeysFooter)._width == w, pilot)
            await pilot.pause()
            keys = list(app.dashboard.query(FooterKey))
            palette = [k for k in keys if k.has_class("-command-palette")]
            limit = palette[0].region.x if palette else width
            plain = [k for k in keys if k not in palette]
            assert max(k.region.right for k in plain) <= limit, width
            assert {"p", "n", "question_mark", "q"} <= {k.key for k in plain}, width
            assert footer_text(app).startswith("n Next"), width


# -- the footer's plan, as arithmetic -----------------------------------------------------------


def key(action: str, display: str, label: str, short: str | None = None) -> Key:
    return Key(action, display, display, label, short or label, True, "")


KEYS = [
    key("app.toggle_pause", "p", "Pause/Resume", "Pause"),
    key("app.callbacks", "c", "Callbacks"),
    key("app.save", "s", "Save"),
    key("app.load", "l", "Load"),
    key("app.rebuild", "r", "Rebuild"),
    key("app.recompile", "o", "Recompile"),
    key("app.set_lr", "e", "Set LR", "LR"),
    key("app.help", "?", "Help"),
    key("app.quit", "q", "Quit"),
]
PALETTE = key("command_palette", "^p", "palette")


@pytest.mark.parametrize(
    "width, compact, short, left_out, palette",
    [
        (200, False, False, [], True),
        (100, True, False, [], True),
        (80, True, True, [], False),
        (70, True, True, ["e"], False),
        (40, True, True, ["e", "o", "l", "s", "c"], False),
    ],
)
def test_footer_plan_shortens_then_leaves_out_the_least_needed(
    width, compact, short, left_out, palette
):
    plan = plan_keys(list(reversed(KEYS)), PALETTE, width)  # any order in: display order out
    assert (plan.compact, plan.short, plan.palette) == (compact, short, palette)
    assert [k.display for k in plan.keys] == [k.display for k in KEYS if k.display not in left_out]
    assert {"p", "?", "q"} <= {k.display for k in plan.keys}  # never left out


@settings(max_examples=500, deadline=None)
@given(
    width=st.integers(10, 300),
    chosen=st.lists(st.sampled_from(KEYS), unique=True),
    with_palette=st.booleans(),
)
def test_footer_plan_fits_or_keeps_only_what_must_stay(width, chosen, with_palette):
    palette = PALETTE if with_palette else None
    plan = plan_keys(chosen, palette, width)
    used = sum(k.width(plan.compact, plan.short) for k in plan.keys)
    used += palette.width(plan.compact, False) + 2 if plan.palette and palette else 0
    kept = {k.action for k in plan.keys}
    must = {k.action for k in chosen} & {"app.toggle_pause", "app.help", "app.quit"}
    assert must <= kept  # p, ? and q are never left out
    assert used <= width or kept == must  # it fits, or nothing more could go


# -- snapshots: three sizes, a dark and a light theme ---------------------------------------------


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard_snapshot(snap_compare, size, theme):
    fake = make_fake(SNAPSHOT_RUN)

    async def run_before(pilot) -> None:
        pilot.app.theme = theme
        await reset_scene(pilot, fake)

    assert snap_compare(make_app(fake), terminal_size=size, run_before=run_before)
