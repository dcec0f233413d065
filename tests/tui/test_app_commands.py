"""Pilot tests: each key binding and its dialog drive the session, and the screen says so."""

from __future__ import annotations

from weightwatch.engine.errors import CheckpointError
from weightwatch.engine.events import SessionState as S
from weightwatch.tui.screens.dialogs import RebuildDialog, SaveDialog
from weightwatch.tui.screens.picker import CheckpointPicker

from .conftest import running, until
from .svgtext import svg_text

SIZE = (120, 40)


def screen(app) -> str:
    return svg_text(app.export_screenshot())


def commands(fake) -> list[str]:
    return [name for name, _ in fake.calls if not name.startswith("hold")]


async def test_p_pauses_at_the_next_boundary_and_space_resumes(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(25)
        await pilot.press("p")
        assert fake.status().state is S.RUNNING  # queued: lands at the next batch boundary
        fake.step(3)
        await until(lambda: "● PAUSED" in screen(app), pilot)
        assert fake.status().session_step == 25  # paused exactly where the command landed
        await pilot.press("space")
        await until(lambda: fake.status().state is S.RUNNING, pilot)
        await pilot.pause()
        text = screen(app)
        assert "● RUNNING" in text
        assert "25 resume continued" in text  # the event log
        assert (
            "continued: same model instance, same optimizer - training goes on  ·  resume at "
            "session step 25" in text
        )  # the banner
    assert commands(fake) == ["pause", "resume", "stop"]


async def test_save_dialog_is_prefilled_and_saves_under_the_typed_name(app, fake, notes):
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        await running(pilot, fake)
        fake.step(40)
        await pilot.press("s")
        assert isinstance(app.screen, SaveDialog)
        field = app.screen.query_one("#save-name")
        assert field.value == "step-000040"
        field.value = ""
        await pilot.press(*"before-reset", "enter")
        assert app.screen is app.dashboard
        fake.boundary()
        await until(lambda: notes.of("information"), pilot)
        assert notes.of("information") == ["Saved checkpoint before-reset."]
        assert [c.name for c in fake.list_checkpoints()] == ["before-reset"]
        await pilot.pause()
        assert "40 checkpoint_saved name=before-reset" in screen(app)


async def test_escape_closes_every_dialog_and_changes_nothing(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(5)
        fake.save("a")
        fake.boundary()
        for key in "scrloe":
            await pilot.press(key)
            assert app.screen is not app.dashboard, key
            await pilot.press("escape")
            assert app.screen is app.dashboard, key
        fake.step(1)
    assert commands(fake) == ["save", "stop"]
    assert [e.kind for e in fake.events()] == ["started", "checkpoint_saved", "quit"]


async def test_an_invalid_name_keeps_the_save_dialog_open_with_a_one_line_error(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        await pilot.press("s")
        app.screen.query_one("#save-name").value = ""
        await pilot.press(*"a/b", "enter")
        assert isinstance(app.screen, SaveDialog)
        assert "name: expected letters, digits" in app.screen.error_text
        assert "received 'a/b'" in screen(app)
    assert "save" not in commands(fake)


async def test_rebuild_confirmed_with_a_seed_shows_a_reset_everywhere(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(120)
        norm_before = fake.status().global_norm
        await pilot.press("r")
        assert isinstance(app.screen, RebuildDialog)
        await pilot.press(*"7", "enter")
        fake.step(10)
        await until(
            lambda: (
                app.dashboard.banner_event is not None
                and app.dashboard.banner_event.verdict == "reset"
            ),
            pilot,
        )
        app.dashboard.tick(force=True)
        await pilot.pause()
        text = screen(app)
        assert (
            "⚠ reset: new model instance, fresh weights - model step 0  ·  rebuilt at session "
            "step 120  ·  norm 11.8 → 8.8" in text
        )
        assert "120 rebuilt reset seed=7" in text
        assert app.query_one("#banner").has_class("-reset")
        norm_chart = app.query_one("#norm-chart")
        assert [m.label for m in norm_chart.markers] == ["RESET"]
        ys = norm_chart.traces[0].ys
        assert max(ys) > norm_before - 0.1 and ys[-1] < norm_before - 2  # the trace jumps back
    assert ("rebuild", (7,)) in fake.calls


async def test_load_picks_from_the_picker_with_a_preview(app, fake, notes):
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        await running(pilot, fake)
        fake.step(30)
        fake.save("early")
        fake.step(30)
        fake.save("late")
        fake.step(5)
        await pilot.press("l")
        assert isinstance(app.screen, CheckpointPicker)
        preview = str(app.screen.query_one("#checkpoint-preview").render())
        assert "late" in preview and "model step     60" in preview
        assert "saved          2 min ago" in preview and "optimizer in?  yes" in preview
        await pilot.press("up")
        assert "model step     30" in str(app.screen.query_one("#checkpoint-preview").render())
        await pilot.press("enter")
        fake.boundary()
        await until(lambda: any("Loaded early" in n for n in notes.of("information")), pilot)
        assert fake.status().model_step == 30
        assert app.dashboard.banner_event.verdict == "restored"


async def test_load_with_no_checkpoints_warns_and_offers_the_path_field(app, fake, notes, tmp_path):
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        await running(pilot, fake)
        await pilot.press("l")
        assert notes.of("warning") == [
            "No checkpoints in this run yet: type the path of a .weights.h5 file."
        ]
        assert app.focused is app.screen.query_one("#load-path")
        await pilot.press(*"x.h5", "enter")
        assert app.screen.error_text == "x.h5: no such file"
        other = tmp_path / "other.weights.h5"
        other.write_bytes(b"\x89HDF\r\n\x1a\nnot really")  # HDF5's signature: only a load can tell
        app.screen.query_one("#load-path").value = str(other)
        await pilot.press("enter")
        fake.boundary()
        await until(lambda: notes.of("error"), pilot)
        assert "no checkpoint of that name" in notes.of("error")[0]  # the engine's one line
        assert fake.status().model_step == 0 and app.screen is app.dashboard


async def test_recompile_chooses_an_optimizer_and_learning_rate(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(50)
        await pilot.press("o")
        await pilot.press("down", "down")  # adam -> adamw -> sgd
        app.screen.query_one("#recompile-lr").value = "0.05"
        app.screen.query_one("#recompile-lr").focus()
        await pilot.press("enter")
        fake.boundary()
        await until(lambda: fake.status().optimizer == "SGD", pilot)  # the class name
        await pilot.pause()
        assert fake.status().model_step == 0 and fake.status().learning_rate == 0.05
        assert (
            "optimizer_reset: weights kept, optimizer state dropped - model step 0  ·  "
            "recompiled at session step 50" in screen(app)
        )
    assert ("recompile", ("sgd", 0.05)) in fake.calls


async def test_learning_rate_dialog_validates_inside_the_dialog(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        await pilot.press("e")
        await pilot.press(*"-1", "enter")
        assert "learning rate: expected a number > 0" in app.screen.error_text
        app.screen.query_one("#lr-value").value = "2e-4"
        await pilot.press("enter")
        fake.boundary()
        await until(lambda: fake.status().learning_rate == 2e-4, pilot)
        await pilot.pause()
        assert "lr_changed old=0.001 new=0.0002" in screen(app)
    assert [c for c in fake.calls if c[0] == "set_lr"] == [("set_lr", (2e-4,))]


async def test_keys_while_starting_only_warn(tmp_path, notes):
    from .conftest import make_app, make_fake

    fake = make_fake(tmp_path)
    app = make_app(fake)
    app.train = lambda: None  # the session never leaves STARTING
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        await pilot.press(*"pscrloe")
        assert app.screen is app.dashboard
        assert len(notes.of("warning")) == 7
        assert all("still starting" in w for w in notes.of("warning"))
    assert commands(fake) == ["stop"]


async def test_a_failed_command_is_an_error_notification_and_nothing_changes(app, fake, notes):
    def disk_full(name):
        raise CheckpointError(f"{name}: cannot write checkpoints/{name}.weights.h5: disk full")

    fake.inject("save", disk_full)
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        await running(pilot, fake)
        fake.step(20)
        await pilot.press("s", "enter")
        fake.boundary()
        await until(lambda: notes.of("error"), pilot)
        assert notes.of("error") == [
            "step-000020: cannot write checkpoints/step-000020.weights.h5: disk full"
        ]
        assert fake.status().state is S.RUNNING and fake.list_checkpoints() == []
        assert app.screen is app.dashboard and app.is_running


async def test_resume_after_the_last_epoch_trains_another_round(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(240)  # all 4 epochs: FINISHED
        await until(lambda: "● FINISHED" in screen(app), pilot)
        await pilot.press("p", "enter")  # how many more epochs? the default: the config's
        await until(lambda: fake.status().state is S.RUNNING, pilot)
        assert fake.status().epochs == 8
