"""Headless script loading: every action kind, triggers, and a corpus of bad scripts.

Each bad fixture starts with `# key: <key path>` and `# expect: <text in the message>`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from weightwatch.engine.errors import ScriptError
from weightwatch.engine.script import Action, Trigger, load_script
from weightwatch.engine.specs import CallbackSpec

SCRIPTS = Path(__file__).parents[1] / "fixtures" / "scripts"
BAD = sorted(SCRIPTS.glob("bad_*.toml"))


@pytest.fixture(autouse=True)
def in_fixtures(monkeypatch):
    monkeypatch.chdir(SCRIPTS)


def test_good_script_reads_every_action_kind():
    script = load_script("good.toml")

    assert script.path == SCRIPTS / "good.toml"
    assert [action.index for action in script.actions] == list(range(1, 13))
    assert script.actions == [
        Action(1, "pause", Trigger("at_step", 3), {}),
        Action(2, "screenshot", None, {"path": SCRIPTS / "shots" / "paused.svg"}),
        Action(
            3,
            "callbacks",
            None,
            {
                "set": [
                    CallbackSpec("EarlyStopping", True, {"patience": 2}),
                    CallbackSpec("TerminateOnNaN", False, {}),
                ]
            },
        ),
        Action(4, "resume", None, {}),
        Action(5, "save", Trigger("at_step", 5), {"name": "step-5.a"}),
        Action(6, "set_lr", None, {"value": 0.01}),
        Action(7, "rebuild", Trigger("at_epoch", 1), {"seed": 4}),
        Action(8, "load", None, {"checkpoint": "step-5.a"}),
        Action(9, "recompile", None, {"optimizer": "sgd", "learning_rate": 0.1}),
        Action(10, "press", None, {"keys": ["p", "ctrl+s"]}),
        Action(11, "wait", None, {"seconds": 0.5}),
        Action(12, "quit", Trigger("finished", None), {}),
    ]
    assert script.actions[2].where == "[[action]][3]"


def test_optional_arguments_are_none_and_numbers_widen(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[[action]]\ndo = "save"\n[[action]]\ndo = "rebuild"\n'
        '[[action]]\ndo = "recompile"\noptimizer = "adam"\n'
        '[[action]]\ndo = "wait"\nseconds = 2\nat_step = 0\n'
    )
    actions = load_script(path).actions
    assert [action.args for action in actions] == [
        {"name": None},
        {"seed": None},
        {"optimizer": "adam", "learning_rate": None},
        {"seconds": 2.0},
    ]
    assert isinstance(actions[3].args["seconds"], float)
    assert actions[3].trigger == Trigger("at_step", 0)


def test_bad_corpus_is_large_enough():
    assert len(BAD) >= 5


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_script_fails_in_one_line_naming_file_and_key(path):
    key_line, expect_line = path.read_text().splitlines()[:2]
    key, expect = key_line.removeprefix("# key: "), expect_line.removeprefix("# expect: ")
    with pytest.raises(ScriptError) as caught:
        load_script(path.name)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path.name}: {key}: ")
    assert expect in message


def test_missing_script_and_non_table_actions(tmp_path):
    with pytest.raises(ScriptError) as caught:
        load_script("gone.toml")
    assert str(caught.value) == "gone.toml: file not found"
    (tmp_path / "s.toml").write_text('action = ["pause"]\n')
    with pytest.raises(ScriptError) as caught:
        load_script(tmp_path / "s.toml")
    assert str(caught.value).endswith('s.toml: [[action]][1]: expected a table, received "pause"')


def test_action_kind_key_accepts_common_spellings(tmp_path):
    from weightwatch.engine.script import load_script

    p = tmp_path / "s.toml"
    p.write_text(
        '[[action]]\naction = "save"\nname = "a"\n[[action]]\nkind = "pause"\n'
        '[[action]]\ntype = "resume"\n[[action]]\ndo = "quit"\n'
    )
    script = load_script(p)
    assert [a.kind for a in script.actions] == ["save", "pause", "resume", "quit"]
    assert script.actions[0].args["name"] == "a"


def test_save_names_are_held_to_the_stores_rule_when_the_script_loads(tmp_path):
    """A name the checkpoint store would refuse mid-run (over 100 characters) is refused now."""
    path = tmp_path / "s.toml"
    path.write_text(f'[[action]]\ndo = "save"\nname = "{"n" * 100}"\n')
    assert load_script(path).actions[0].args["name"] == "n" * 100
    path.write_text(f'[[action]]\ndo = "save"\nname = "{"n" * 101}"\n')
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert str(caught.value).startswith(
        f"{path}: [[action]][1].name: expected a checkpoint name of at most 100 characters, "
        "received 101 ("
    )
