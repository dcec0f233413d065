"""Pilot tests: dialogs keep the user's work (issue 11, "Dialogs keep the user's work").

Each test drives the app around the fake session through keys and clicks, and checks what the
dialog shows, what was (or was not) sent to the session and what the session logged.
"""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.widgets import Button, Input, SelectionList, TextArea
from weightwatch.engine.errors import BadInput
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.specs import CallbackSpec
from weightwatch.tui.screens.callbacks import CallbackEditor, editor_words
from weightwatch.tui.screens.dialogs import MoreEpochsDialog, RecompileDialog, SaveDialog
from weightwatch.tui.screens.picker import CheckpointPicker

from .conftest import CALLBACKS, make_app, make_fake, running, until
from .svgtext import svg_text

SIZE = (120, 40)


def screen(app) -> str:
    return svg_text(app.export_screenshot())


def commands(fake) -> list[str]:
    return [name for name, _ in fake.calls if not name.startswith("hold")]


async def click(pilot, selector: str) -> None:
    """Click a button, waiting out the 0.2 s in which a button ignores a second press."""
    button = pilot.app.screen.query_one(selector, Button)
    await until(lambda: not button.has_class("-active"), pilot)
    await pilot.click(selector)
    await pilot.pause()


async def open_editor(pilot, fake) -> CallbackEditor:
    await running(pilot, fake)
    fake.step(10)
    await pilot.press("c")
    editor = pilot.app.screen
    assert isinstance(editor, CallbackEditor)
    return editor


def fields(editor: CallbackEditor, type_text: str, args: str) -> None:
    editor.query_one("#cb-type", Input).value = type_text
    editor.query_one(TextArea).text = args


def line(editor, selector: str) -> str:
    """The text of an error line, or "" when it is hidden."""
    widget = editor.query_one(selector)
    return str(widget.render()) if widget.display else ""


# -- 1. the callback editor checks entries in the dialog and keeps every edit ----------------


async def test_an_unknown_callback_is_refused_on_add_next_to_the_type_field(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fake)
        fields(editor, "NoSuchCallback", "")
        await click(pilot, "#cb-add")
        assert app.screen is editor and editor.specs == list(CALLBACKS)  # nothing added
        message = line(editor, "#cb-type-error")
        assert message.startswith(
            'callback editor: type: expected a Keras callback class name, received "NoSuchCallback"'
        )
        assert ".toml" not in message and "[[callbacks]]" not in message
        fields(editor, "EarlyStoping", "")
        await click(pilot, "#cb-add")
        assert 'did you mean "EarlyStopping"' in line(editor, "#cb-type-error")
        assert "NoSuchCallback" in screen(app) or "EarlyStoping" in screen(app)
    assert "set_callbacks" not in commands(fake)


async def test_add_with_an_empty_name_says_why(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fake)
        fields(editor, "  ", "patience = 2")
        await click(pilot, "#cb-add")
        assert line(editor, "#cb-type-error") == (
            "callback editor: type: empty; type a Keras callback class name such as "
            "EarlyStopping, or module:Class for your own"
        )
        assert editor.specs == list(CALLBACKS)


async def test_a_wrong_argument_is_refused_next_to_the_arguments(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fake)
        fields(editor, "EarlyStopping", "patiense = 2")
        await click(pilot, "#cb-add")
        message = line(editor, "#cb-args-error")
        assert message.startswith(
            "callback editor: arguments.patiense: unknown argument of EarlyStopping"
        )
        assert 'did you mean "patience"' in message and not line(editor, "#cb-type-error")
        fields(editor, "ModelCheckpoint", 'filepath = "best.keras"\nsave_freq = "often"')
        await click(pilot, "#cb-add")  # Keras's constructor refuses the value
        assert line(editor, "#cb-args-error").startswith(
            "callback editor: arguments: ModelCheckpoint rejected them (Unrecognized save_freq"
        )
        assert editor.specs == list(CALLBACKS)
        fields(editor, "ReduceLROnPlateau", "patience = 2")  # fixed: the error clears as typed
        await pilot.pause()
        assert not line(editor, "#cb-args-error") and not editor.error_text
        await click(pilot, "#cb-add")
        assert [s.type for s in editor.specs] == ["EarlyStopping", "CSVLogger", "ReduceLROnPlateau"]


async def test_a_failed_apply_keeps_every_row_and_field_as_the_user_left_them(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fake)
        fields(editor, "ReduceLROnPlateau", "patience = 2")
        await click(pilot, "#cb-add")
        editor.query_one(SelectionList).highlighted = 0
        await pilot.pause()
        fields(editor, "EarlyStopping", 'monitor = "loss"\npatience = 9')  # not Updated yet
        await click(pilot, "#cb-apply")
        assert app.screen is editor  # stays open
        assert "not in the list yet: press Update or Add first" in line(editor, "#cb-error")
        assert [s.type for s in editor.specs] == ["EarlyStopping", "CSVLogger", "ReduceLROnPlateau"]
        assert editor.query_one(TextArea).text.endswith("patience = 9")  # the typing is kept
        assert "set_callbacks" not in commands(fake)
        await click(pilot, "#cb-update")
        await click(pilot, "#cb-apply")
        assert app.screen is app.dashboard
        fake.boundary()
        await until(lambda: fake.status().callbacks[0].kwargs["patience"] == 9, pilot)
    sent = [args[0] for name, args in fake.calls if name == "set_callbacks"]
    assert [[(s.type, s.kwargs) for s in specs] for specs in sent] == [
        [
            ("EarlyStopping", {"monitor": "loss", "patience": 9}),
            ("CSVLogger", {"filename": "log.csv"}),
            ("ReduceLROnPlateau", {"patience": 2}),
        ]
    ]


async def test_apply_checks_every_row_and_shows_the_bad_one(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fake)
        # A row that got past Add (a check that changed since, say): Apply still refuses it.
        editor.specs.append(CallbackSpec("NoSuchCallback", True, {}))
        editor.refill(0)
        await pilot.pause()
        await click(pilot, "#cb-apply")
        assert app.screen is editor and len(editor.specs) == 3
        assert editor.highlighted == 2
        assert line(editor, "#cb-type-error").startswith(
            'row 3: callback editor: type: expected a Keras callback class name, received "NoSuch'
        )
        assert editor.query_one("#cb-type", Input).value == "NoSuchCallback"
    assert "set_callbacks" not in commands(fake)


async def test_a_list_the_session_refuses_reopens_the_editor_with_the_edits(app, fake, notes):
    def refuse(specs):
        raise BadInput("sensors.toml: [[callbacks]][3].filepath: cannot write there")

    fake.inject("set_callbacks", refuse)
    async with app.run_test(size=SIZE, message_hook=notes.hook) as pilot:
        editor = await open_editor(pilot, fake)
        fields(editor, "ReduceLROnPlateau", "patience = 2")
        await click(pilot, "#cb-add")
        edited = list(editor.specs)
        await click(pilot, "#cb-apply")
        fake.boundary()
        await until(lambda: isinstance(app.screen, CallbackEditor), pilot)
        again = app.screen
        await pilot.pause()
        assert again is not editor and again.specs == edited
        assert line(again, "#cb-error") == (
            "the session refused this list: row 3: filepath: cannot write there"
        )
        assert notes.of("error") == []  # said once, inside the editor, not in a toast


def test_the_engines_words_about_the_config_become_the_editors_rows():
    assert editor_words("sensors.toml: [[callbacks]][3].type: expected a Keras callback") == (
        "row 3: type: expected a Keras callback"
    )
    assert editor_words("/a/b.toml: [[callbacks]][2]: ModelCheckpoint rejected its args") == (
        "row 2: ModelCheckpoint rejected its args"
    )
    assert editor_words("callbacks failed: boom") == "callbacks failed: boom"


async def test_on_and_off_are_said_in_words(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await open_editor(pilot, fake)
        text = screen(app)
        assert 'on   EarlyStopping(monitor="loss", patience=3)' in text
        assert 'off  CSVLogger(filename="log.csv")' in text
        app.screen.query_one(SelectionList).focus()
        await pilot.press("home", "space")  # switch EarlyStopping off
        text = screen(app)
        assert 'off  EarlyStopping(monitor="loss", patience=3)' in text
        assert [s.enabled for s in app.screen.specs] == [False, False]


async def test_the_ok_button_is_drawn_like_the_others_until_it_has_focus(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, fake)
        apply, cancel = editor.query_one("#cb-apply"), editor.query_one("#cancel")
        assert not apply.has_focus and not cancel.has_focus
        assert apply.styles.background == cancel.styles.background
        apply.focus()
        await pilot.pause()
        assert apply.styles.background != cancel.styles.background


# -- 2. the picker refuses a file that is not a weights file, inline, logging nothing ----------


async def test_the_picker_refuses_a_non_weights_file_inline_and_logs_nothing(app, fake, tmp_path):
    notes_file = tmp_path / "notes.txt"
    notes_file.write_text("hello")
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(b"PK\x03\x04zip")
    fake_weights = tmp_path / "fake.weights.h5"
    fake_weights.write_bytes(b"not hdf5 at all")
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(20)
        fake.save("a")
        await pilot.press("l")
        picker = app.screen
        assert isinstance(picker, CheckpointPicker)
        field = picker.query_one("#load-path", Input)
        expected = {
            notes_file: "not a .weights.h5 file",
            keras_file: "not a .weights.h5 file",
            fake_weights: "not an HDF5 file",
            tmp_path: "not a file",
            tmp_path / "missing.weights.h5": "no such file",
        }
        for path, words in expected.items():
            field.value = str(path)
            field.focus()
            await pilot.press("enter")
            assert app.screen is picker, path
            assert picker.error_text.startswith(f"{path}: {words}"), picker.error_text
            assert line(picker, ".dialog-error") == picker.error_text  # shown in the dialog
        field.value = ""  # fixed (back to the list): the error goes
        await pilot.pause()
        assert not picker.error_text
        fake.boundary()
        await pilot.pause()
        app.dashboard.tick(force=True)
        assert [m.label for m in app.query_one("#norm-chart").markers] == ["save"]  # no err
    assert "load" not in commands(fake)
    assert [e.kind for e in fake.events()] == ["started", "checkpoint_saved", "quit"]


# -- 3. an error clears once the field is fixed -----------------------------------------------


async def test_a_recompile_error_clears_once_the_field_is_fixed(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        await pilot.press("o")
        dialog = app.screen
        assert isinstance(dialog, RecompileDialog)
        lr = dialog.query_one("#recompile-lr", Input)
        lr.focus()
        await pilot.press(*"abc", "enter")
        assert "learning rate: expected a number > 0" in dialog.error_text
        error = dialog.query_one(".dialog-error")
        assert error.display
        await pilot.press("backspace")
        assert "received 'ab'" in dialog.error_text  # still wrong: the error follows it
        lr.value = "0.05"
        await pilot.pause()
        assert dialog.error_text == "" and not error.display  # fixed: gone, nothing submitted
        assert app.screen is dialog and "recompile" not in commands(fake)


# -- 4. keys typed while a dialog opens do not land in it -------------------------------------


async def test_keys_typed_in_the_same_instant_as_the_opening_key_are_not_typed_in(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(40)
        first, second = events.Key("s", "s"), events.Key("s", "s")  # `s s` in one burst
        app._driver.send_message(first)
        await pilot.pause()  # the dialog is up before the second key is handled
        app._driver.send_message(second)
        await pilot.pause()
        assert isinstance(app.screen, SaveDialog)
        assert app.screen.query_one("#save-name", Input).value == "step-000040"
        await pilot.press("end", *"-b")  # typed after it opened: lands as usual
        assert app.screen.query_one("#save-name", Input).value == "step-000040-b"
        await pilot.press("enter")
        fake.boundary()
        await until(lambda: fake.list_checkpoints(), pilot)
        assert [c.name for c in fake.list_checkpoints()] == ["step-000040-b"]


# -- 5. p on a finished run asks how many more epochs ------------------------------------------


async def test_p_on_a_finished_run_asks_how_many_more_epochs(app, fake):
    async with app.run_test(size=SIZE) as pilot:
        await running(pilot, fake)
        fake.step(240)  # all 4 epochs: FINISHED
        await until(lambda: fake.status().state is S.FINISHED, pilot)
        await pilot.press("p")
        dialog = app.screen
        assert isinstance(dialog, MoreEpochsDialog)
        field = dialog.query_one("#more-epochs", Input)
        assert field.value == "4"  # the config's [train] epochs
        assert "All epochs are done (4 trained)" in screen(app)
        await pilot.press("escape")  # nothing is added by itself
        assert app.screen is app.dashboard and fake.status().state is S.FINISHED
        await pilot.press("space")
        app.screen.query_one("#more-epochs", Input).value = "0"
        await pilot.press("enter")
        assert "epochs: expected a whole number >= 1" in app.screen.error_text
        app.screen.query_one("#more-epochs", Input).value = "2"
        await pilot.press("enter")
        await until(lambda: fake.status().state is S.RUNNING, pilot)
        assert fake.status().epochs == 6
    assert ("resume", (2,)) in fake.calls and commands(fake).count("resume") == 1


# -- 7. at 80x24 the buttons are reachable: the dialogs scroll ---------------------------------


def visible(app, widget) -> bool:
    """Whether the whole widget is on the screen (not clipped by its scrolling dialog)."""
    shown = widget.region.intersection(app.screen.find_widget(widget).visible_region)
    return shown == widget.region and app.screen.region.contains_region(widget.region)


async def tab_to(pilot, selector: str, limit: int = 12):
    target = pilot.app.screen.query_one(selector)
    for _ in range(limit):
        if target.has_focus:
            return target
        await pilot.press("tab")
    raise AssertionError(f"tab never reached {selector}")


async def test_at_80x24_tab_scrolls_the_editor_and_the_picker_to_their_buttons(fake):
    app = make_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await running(pilot, fake)
        fake.step(30)
        fake.save("a")
        for key, buttons in (("c", ("#cb-add", "#cb-apply", "#cancel")), ("l", ("#load-ok",))):
            await pilot.press(key)
            for selector in buttons:
                button = await tab_to(pilot, selector)
                await pilot.pause()
                assert visible(app, button), (key, selector)
                assert str(button.label) in screen(app)
            await pilot.press("escape")
            assert app.screen is app.dashboard


# -- snapshots: the callback editor after a failed Apply, edits still there ---------------------

SNAP_RUN_DIR = Path("runs/snapshot")  # never written: the fake keeps everything in memory


def failed_apply():
    fake = make_fake(SNAP_RUN_DIR)

    async def run_before(pilot) -> None:
        await running(pilot, fake)  # no steps: no chart behind the dialog (charts have theirs)
        await pilot.press("c")
        editor = pilot.app.screen
        fields(editor, "ReduceLROnPlateau", 'monitor = "loss"\npatience = 2')
        await click(pilot, "#cb-add")
        editor.query_one(SelectionList).highlighted = 0
        await pilot.pause()
        fields(editor, "EarlyStopping", 'monitor = "loss"\npatience = 9')
        editor.query_one("#cb-apply").focus()
        await pilot.press("enter")
        assert pilot.app.screen is editor and editor.error_text
        # A pressed button stays lit for Textual's 0.2 s "active" effect: the snapshot is of
        # the settled dialog, not of a moment inside that effect (it flaked 2 in 6).
        await pilot.pause(0.4)

    return make_app(fake), run_before


def test_callback_editor_after_a_failed_apply_80x24(snap_compare):
    app, run_before = failed_apply()
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_callback_editor_after_a_failed_apply_120x40(snap_compare):
    app, run_before = failed_apply()
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
