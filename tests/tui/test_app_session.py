"""Pilot tests: callback editor, help, command palette, quitting, signals and internal errors."""

from __future__ import annotations

import json
import os
import signal
import threading

from weightwatch.engine.events import SessionState as S
from weightwatch.engine.specs import CallbackSpec
from weightwatch.tui.screens.callbacks import CallbackEditor
from weightwatch.tui.screens.error import ErrorScreen
from weightwatch.tui.screens.help import HelpScreen

from .conftest import make_app, running, until
from .svgtext import svg_text

SIZE = (120, 40)


async def test_callback_editor_toggles_removes_adds_and_applies(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(10)
        await pilot.press("c")
        editor = app.screen
        assert isinstance(editor, CallbackEditor)
        assert editor.query_one("#cb-type").value == "EarlyStopping"  # the highlighted one
        await pilot.press("down", "space")  # enable CSVLogger
        await pilot.press("up", "delete")  # remove EarlyStopping
        editor.query_one("#cb-type").value = "ReduceLROnPlateau"
        editor.query_one("#cb-args").text = 'monitor = "loss"\nfactor = 0.5'
        editor.query_one("#cb-add").focus()
        await pilot.press("enter")
        assert editor.error_text == ""
        await pilot.press("ctrl+s")
        assert app.screen is app.dashboard
        fake.boundary()
        await until(lambda: fake.status().callbacks != fake.config.callbacks, pilot)
        await pilot.pause()
        text = svg_text(app.export_screenshot())
        assert "10 callbacks_changed continued" in text
        assert "callbacks=CSVLogger,ReduceLROnPlateau" in text  # wrapped onto the next line
    ((name, (specs,)),) = [c for c in fake.calls if c[0] == "set_callbacks"]
    assert specs == [
        CallbackSpec("CSVLogger", True, {"filename": "log.csv"}),
        CallbackSpec("ReduceLROnPlateau", True, {"monitor": "loss", "factor": 0.5}),
    ]


async def test_an_invalid_callback_entry_shows_an_error_and_the_editor_stays(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        await pilot.press("c")
        editor = app.screen
        editor.query_one("#cb-type").value = "EarlyStopping"
        editor.query_one("#cb-args").text = "patience = "
        editor.query_one("#cb-add").focus()
        await pilot.press("enter")
        assert editor.error_text.startswith("callback editor: arguments: ")
        editor.query_one("#cb-type").value = ""
        editor.query_one("#cb-args").text = "patience = 2"
        await until(lambda: not editor.query_one("#cb-add").has_class("-active"), pilot)
        await pilot.press("enter")  # a button ignores a second press within 0.2 s
        assert "type: empty" in editor.error_text  # says why (tests/tui/test_dialogs.py)
        assert app.screen is editor and len(editor.specs) == 2
        await pilot.press("escape")
    assert not [c for c in fake.calls if c[0] == "set_callbacks"]


async def test_editing_arguments_in_place_updates_the_entry(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        await pilot.press("c")
        editor = app.screen
        assert editor.query_one("#cb-args").text == 'monitor = "loss"\npatience = 3'
        editor.query_one("#cb-args").text = "patience = 5, monitor = 'val_loss'"  # one line
        editor.query_one("#cb-update").focus()
        await pilot.press("enter", "ctrl+s")
    ((_, (specs,)),) = [c for c in fake.calls if c[0] == "set_callbacks"]
    assert specs[0] == CallbackSpec("EarlyStopping", True, {"patience": 5, "monitor": "val_loss"})


async def test_help_lists_keys_and_verdicts(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = svg_text(app.export_screenshot())
        for words in (
            "p        Pause/Resume",
            "r        Rebuild",
            "?        Help",
            "reset: new model instance, fresh weights - model step 0",
            "optimizer_reset: weights kept, optimizer state dropped",
        ):
            assert words in text
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_every_action_is_in_the_command_palette(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {
            "Pause / resume training",
            "Edit callbacks",
            "Save checkpoint",
            "Load checkpoint",
            "Rebuild model (fresh weights)",
            "Recompile with another optimizer",
            "Set learning rate",
            "Help: keys and verdicts",
            "Quit",
        } <= titles
        await pilot.press("ctrl+p", *"save c")
        await until(lambda: "Save checkpoint" in svg_text(app.export_screenshot()), pilot)
        await pilot.press("enter")
        await until(lambda: type(app.screen).__name__ == "SaveDialog", pilot)


async def test_quit_stops_the_session_and_writes_the_report_twice(fake, tmp_path):
    app = make_app(fake, report_path=tmp_path / "out" / "report.json")
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(12)
        await pilot.press("q")
        await until(lambda: app.finished.is_set(), pilot)
    assert fake.status().state is S.STOPPED
    written = json.loads((fake.run_dir / "report.json").read_text())
    assert written == json.loads((tmp_path / "out" / "report.json").read_text())
    assert written["session_steps"] == 12 and written["events"][-1]["kind"] == "quit"
    assert app.return_value == written and app.return_code == 0


async def test_sigterm_quits_like_q(fake):
    app = make_app(fake, handle_signals=True)
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        os.kill(os.getpid(), signal.SIGTERM)
        await until(lambda: app.finished.is_set(), pilot)
    assert (fake.run_dir / "report.json").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler removed again


async def test_an_exception_from_run_is_an_error_modal_and_the_app_stays(fake):
    def broken_run() -> None:
        raise RuntimeError("builder exploded")

    fake.run = broken_run
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, ErrorScreen), pilot)
        await pilot.pause()
        assert "RuntimeError: builder exploded" in svg_text(app.export_screenshot())
        await pilot.press("escape")
        assert app.screen is app.dashboard and app.is_running
        await pilot.press("q")
        await until(lambda: app.finished.is_set(), pilot)
    assert app.return_code == 1


async def test_listener_calls_from_another_thread_only_post_messages(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        worker = threading.Thread(target=lambda: (fake.step(30), fake.pause(), fake.step(1)))
        worker.start()
        worker.join()
        await until(lambda: "● PAUSED" in svg_text(app.export_screenshot()), pilot)
        assert [e.kind for e in app.dashboard.events] == ["started", "pause"]


async def test_an_event_that_arrives_before_the_dashboard_is_up_is_shown_once(app, fake):
    """A session stopped elsewhere at once (seen by an attached viewer under load): its events
    reach the app before the dashboard has composed. They are shown once, from the replay."""
    from weightwatch.tui.screens.dashboard import DashboardScreen

    early = DashboardScreen(fake, refresh_hz=4, chart_window=0)
    event = fake.record("quit", detail={"epoch": 0})
    early.add_event(event)  # not mounted: no EventLog yet, and no error
    assert early.events == []
    app.get_default_screen = lambda: setattr(app, "dashboard", early) or early
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        await pilot.pause()
        early.add_event(event)  # the message handled after the replay had it
        assert [e.kind for e in early.events].count("quit") == 1
        assert svg_text(app.export_screenshot()).count("quit") == 1
