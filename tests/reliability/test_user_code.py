"""The user's own code raises: in the builder, the data loader and each callback hook.

Driven through the app (Textual pilot) against a real session: the error and its traceback are
shown (a dialog, a notification, the event log) and written to `errors.log`; the session stays
usable (callbacks can be edited, the model rebuilt, a failed start retried after the file is
fixed) and nothing already saved is lost.
"""

from __future__ import annotations

import sys

from weightwatch.engine.config import load_config
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.session import Session
from weightwatch.tui.screens.alerts import UserCodeFailed
from weightwatch.tui.screens.callbacks import CallbackEditor

from .conftest import SIZE, arm, check_report, faulty_config, real_app, text_of, until


async def shows_user_code_error(app, pilot, notes, words: str, action: str) -> None:
    """The dialog with the traceback, the notification and the event log all say `words`."""
    await until(
        lambda: (
            isinstance(app.screen, UserCodeFailed) and words in app.screen.event.detail["message"]
        ),
        pilot,
    )
    dialog = app.screen
    assert dialog.event.detail["action"] == action
    trace = dialog.event.detail["traceback"]
    assert trace.startswith("Traceback") and words in trace
    await until(lambda: "Traceback" in text_of(app), pilot)  # the dialog is drawn
    screen = text_of(app)
    assert "Your code raised" in screen and words in screen and "Traceback" in screen
    # the notification is a message of its own: on a loaded host the dialog can be drawn first
    await until(lambda: any(words in n for n in notes.of("error")), pilot)
    assert words in (app.run_dir / "errors.log").read_text()
    await pilot.press("escape")
    assert app.screen is app.dashboard
    shown = [e for e in app.dashboard.events if e.kind == "error"]  # the event log keeps it
    assert words in shown[-1].detail["message"] and " error " in text_of(app)


async def rebuild(app, pilot) -> None:
    await pilot.press("r")
    await pilot.pause()
    await pilot.press("enter")


async def test_callback_hooks_that_raise_pause_and_the_session_stays_usable(tmp_path, notes):
    config_path, module = faulty_config(
        tmp_path / "cb", epochs=3, callbacks=True, fail="on_train_begin"
    )
    session = Session(load_config(config_path))
    held = session.hold_at_step(0)
    app = real_app(session)
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        await until(held.done, pilot)
        await pilot.press("s")
        app.screen.query_one("#save-name").value = "before"
        await pilot.press("enter")
        await until(lambda: session.list_checkpoints(), pilot)
        saved = session.list_checkpoints()[0]
        session.release()
        await shows_user_code_error(app, pilot, notes, "boom in on_train_begin", "training")
        assert session.state is S.PAUSED and session.status().session_step == 0

        for hook, step in (("on_train_batch_end", 1), ("on_epoch_end", 4)):
            arm(config_path.parent, hook)
            await pilot.press("p")
            await shows_user_code_error(app, pilot, notes, f"boom in {hook}", "training")
            assert session.state is S.PAUSED and session.status().session_step == step
            assert sys.modules[module].Raiser.begun == 1  # on_train_begin retried, once

        await pilot.press("c")  # still armed: switch the callback off instead
        assert isinstance(app.screen, CallbackEditor)
        await pilot.press("space", "ctrl+s")
        await until(lambda: not session.status().callbacks[0].enabled, pilot)
        await pilot.press("p")
        await until(lambda: session.state is S.FINISHED, pilot)

        arm(config_path.parent, "builder")  # a rebuild whose builder raises changes nothing
        await rebuild(app, pilot)
        await shows_user_code_error(app, pilot, notes, "boom in the builder", "rebuild")
        assert session.status().instance == 1
        assert any("rebuild failed" in n for n in notes.of("error"))
        arm(config_path.parent, "")
        await rebuild(app, pilot)
        await until(lambda: session.status().instance == 2, pilot)
        await pilot.press("q")
        await until(lambda: app.finished.is_set(), pilot)
    report = app.report
    check_report(report)
    assert [c["name"] for c in report["checkpoints"]] == ["before"]
    (listed,) = session.store.list(verify=True)
    assert listed.loadable and listed.fingerprint == saved.fingerprint
    errors = [e["detail"]["action"] for e in report["events"] if e["kind"] == "error"]
    assert errors == ["training", "training", "training", "rebuild"]


BROKEN_BUILDER = "def build(units=8, inputs=4):\n    return keras.layers.Dens(units)\n"


async def test_a_builder_that_raises_at_start_can_be_fixed_and_retried(tmp_path, notes):
    config_path, module = faulty_config(tmp_path / "b")
    source = config_path.parent / f"{module}.py"
    good = source.read_text()
    source.write_text(good + "\n\n" + BROKEN_BUILDER)  # a typo in the user's builder
    session = Session(load_config(config_path))
    app = real_app(session)
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        await shows_user_code_error(app, pilot, notes, "no attribute 'Dens'", "start")
        assert session.state is S.FAILED
        assert any(
            "Training could not start" in n and "press r to retry" in n for n in notes.of("error")
        )
        await pilot.press("p")  # nothing else makes sense now, and says why
        assert "the session has failed" in notes.of("warning")[-1]
        await rebuild(app, pilot)  # the file is still broken: still FAILED, said again
        await until(lambda: isinstance(app.screen, UserCodeFailed), pilot)
        await pilot.press("escape")
        assert session.state is S.FAILED
        source.write_text(good)  # the fix
        await rebuild(app, pilot)
        await until(lambda: session.state is S.RUNNING or session.state is S.FINISHED, pilot)
        await until(lambda: session.state is S.FINISHED, pilot)
        await pilot.press("q")
        await until(lambda: app.finished.is_set(), pilot)
    report = app.report
    check_report(report)
    kinds = [e["kind"] for e in report["events"]]
    assert kinds == ["error", "error", "started", "finished", "quit"]
    assert report["segments"][0]["origin"] == "fresh" and report["final"]["epoch"] == 3


async def test_a_data_loader_that_raises_at_start_can_be_retried(tmp_path, notes):
    config_path, _ = faulty_config(tmp_path / "d", loader=True, fail="loader")
    session = Session(load_config(config_path))
    app = real_app(session)
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        await shows_user_code_error(app, pilot, notes, "boom in the loader", "start")
        assert session.state is S.FAILED
        arm(config_path.parent, "")
        await rebuild(app, pilot)
        await until(lambda: session.state is S.FINISHED, pilot)
        await pilot.press("q")
        await until(lambda: app.finished.is_set(), pilot)
    assert app.report["session_steps"] == 12
    check_report(app.report)
