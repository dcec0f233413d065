"""On screen: a callback's change of the weights (banner, marker) and what user code printed
(the `u` pane showing RUN_DIR/user.log)."""

from __future__ import annotations

from weightwatch.engine.config import load_config
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.session import Session
from weightwatch.tui.widgets.banner import VerdictBanner
from weightwatch.tui.widgets.charts import markers_for
from weightwatch.tui.widgets.event_log import EventLog
from weightwatch.tui.widgets.log_pane import UserLogPane

from tests.conftest import write_config
from tests.engine.test_callback_effects import EARLY_STOPPING, EFFECTS
from tests.fakes.fake_effects import callback_altered, callback_set_lr, user_print

from .conftest import make_app, running, until
from .svgtext import svg_text

SIZE = (120, 40)


def screen(app) -> str:
    return svg_text(app.export_screenshot())


def entries(app) -> list[str]:
    """The event log's entries, as plain text."""
    log = app.dashboard.query_one(EventLog)
    return [log.get_option_at_index(i).prompt.plain for i in range(log.option_count)]


async def test_the_banner_says_which_callback_altered_the_weights(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(3 * 60)  # 3 epochs of 60 batches
        event = callback_altered(fake, best_epoch=1)
        await until(lambda: app.dashboard.banner_event is event, pilot)
        await pilot.pause()
        text = screen(app)
        assert "altered: EarlyStopping restored the best weights at epoch 3 (best: epoch 1)" in text
        assert app.dashboard.query_one(VerdictBanner).verdict == "altered"
        assert [m.label for m in markers_for(fake.events()) if m.x == 180] == ["alt"]
        assert event.norm_before != event.norm_after


async def test_a_generic_change_and_a_callbacks_rate_are_named(app, fake):
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, fake)
        fake.step(6)
        callback_set_lr(fake, 5e-4)
        event = callback_altered(fake, callback="Doubler", hook="on_train_batch_end")
        await until(lambda: app.dashboard.banner_event is event, pilot)
        await pilot.pause()
        # at 80 columns the short form: still who did it
        banner = app.dashboard.query_one(VerdictBanner).text
        assert banner.startswith("✎ altered: Doubler in on_train_batch_end · step 6")
        (lr_entry,) = [e for e in entries(app) if " lr_changed " in e]
        assert "callback=ReduceLROnPlateau" in lr_entry and "new=0.0005" in lr_entry
        (altered_entry,) = [e for e in entries(app) if " weights_changed " in e]
        assert "epoch 1 batch 6" in altered_entry  # where in the epoch (60 batches each)


async def test_the_user_log_pane_shows_prints_after_its_key(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        user_print(fake, "builder says hello", "loaded 64 rows")
        pane = app.dashboard.query_one(UserLogPane)
        await pilot.pause(0.3)
        assert not pane.display and "builder says hello" not in screen(app)
        await pilot.press("u")
        await pilot.pause()
        assert pane.display
        text = screen(app)
        assert "builder says hello" in text and "loaded 64 rows" in text
        assert "user output (user.log)" in text
        user_print(fake, "epoch 1 done")  # printed while shown: the next tick reads it
        await until(lambda: "epoch 1 done" in pane.text, pilot)
        assert pane.text.splitlines() == ["builder says hello", "loaded 64 rows", "epoch 1 done"]
        assert pane.border_subtitle == "3 lines"
        await pilot.press("u")
        await pilot.pause()
        assert not pane.display and "builder says hello" not in screen(app)


async def test_the_first_print_is_announced_once_while_the_pane_is_hidden(app, fake):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await running(pilot, fake)
        hints = lambda: [n.message for n in app._notifications if "u shows it" in n.message]  # noqa: E731
        await pilot.pause(0.3)
        assert hints() == []  # nothing printed yet: no toast
        user_print(fake, "builder says hello")
        await until(lambda: hints(), pilot, timeout=10)
        assert hints() == ["Your code printed output (user.log): u shows it"]
        user_print(fake, "more")
        await pilot.pause(2.5)
        assert len(hints()) == 1  # once per session, not per line


async def test_end_to_end_early_stopping_banner_and_builder_print(tmp_path):
    """The real engine: a builder that prints, EarlyStopping that restores its best weights."""
    path = write_config(tmp_path / "cfg", epochs=6, extra=EARLY_STOPPING)
    (path.parent / "ww_effects.py").write_text(EFFECTS)
    path.write_text(path.read_text().replace("ww_test_models:mlp", "ww_effects:loud"))
    session = Session(load_config(path))
    app = make_app(session)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: session.state is S.FINISHED, pilot, timeout=120)
        await until(lambda: app.dashboard.banner_event is not None, pilot)
        await pilot.pause()
        changed = app.dashboard.banner_event
        assert changed.kind == "weights_changed" and changed.detail["callback"] == "EarlyStopping"
        assert changed.norm_before != changed.norm_after
        text = screen(app)
        assert "altered: EarlyStopping restored the best weights at epoch 2" in text
        assert "builder says hello" not in text
        await pilot.press("u")
        await pilot.pause()
        assert "builder says hello" in screen(app)
        await pilot.press("q")
        await until(lambda: app.finished.is_set(), pilot, timeout=60)
    assert "builder says hello" in (session.run_dir / "user.log").read_text()
