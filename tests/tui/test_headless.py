"""Headless scripts run through the same keys and dialogs, with exact triggers."""

from __future__ import annotations

import json
import textwrap

from weightwatch.engine.script import load_script
from weightwatch.tui.headless import run_headless

from .conftest import make_fake
from .svgtext import svg_text

SCRIPT = """
[[action]]
do = "save"
at_step = 30
name = "early"

[[action]]
do = "rebuild"
at_step = 60
seed = 4

[[action]]
do = "screenshot"
path = "shots/after-reset.svg"

[[action]]
do = "load"
at_step = 90
checkpoint = "early"

[[action]]
do = "load"
checkpoint = "nope"

[[action]]
do = "callbacks"
at_epoch = 2
set = [{type = "CSVLogger", filename = "x.csv"}, {type = "EarlyStopping", enabled = false}]

[[action]]
do = "set_lr"
value = 0.0005

[[action]]
do = "recompile"
optimizer = "sgd"
learning_rate = 0.01

[[action]]
do = "quit"
when = "finished"
"""


def write_script(tmp_path, text: str):
    path = tmp_path / "script.toml"
    path.write_text(textwrap.dedent(text))
    return load_script(path)


async def test_a_script_lands_every_action_at_its_exact_step(tmp_path):
    fake = make_fake(tmp_path / "run", rate=2000)
    report = await run_headless(
        fake, write_script(tmp_path, SCRIPT), report_path=tmp_path / "report.json"
    )
    events = [(e["session_step"], e["kind"], e["verdict"]) for e in report["events"]]
    assert events[:8] == [
        (0, "started", "fresh"),
        (30, "checkpoint_saved", None),
        (60, "rebuilt", "reset"),
        (90, "checkpoint_loaded", "restored"),
        (90, "error", None),
        (180, "callbacks_changed", "continued"),
        (180, "lr_changed", None),
        (180, "recompiled", "optimizer_reset"),
    ]
    assert events[-2:] == [(300, "finished", None), (300, "quit", None)]
    error = report["events"][4]["detail"]
    assert error == {
        "message": "[[action]][5] load: nope: no such file",
        "action": 5,
        "kind": "load",
    }  # refused in the picker: neither a checkpoint nor a file
    assert json.loads((tmp_path / "report.json").read_text()) == report
    calls = [c for c in fake.calls if c[0] in ("save", "rebuild", "set_callbacks", "recompile")]
    assert calls[:2] == [("save", ("early",)), ("rebuild", (4,))]  # typed into the dialogs
    callbacks = calls[2][1][0]
    assert [(c.type, c.enabled, c.kwargs) for c in callbacks] == [
        ("CSVLogger", True, {"filename": "x.csv"}),
        ("EarlyStopping", False, {}),
    ]
    assert calls[3] == ("recompile", ("sgd", 0.01))
    shot = svg_text((tmp_path / "shots" / "after-reset.svg").read_text())
    assert "● HOLDING" in shot and "rebuilt at session step 60" in shot


async def test_a_trigger_that_cannot_be_reached_is_an_error_and_the_script_goes_on(tmp_path):
    script = write_script(
        tmp_path,
        """
        [[action]]
        do = "pause"
        at_step = 10

        [[action]]
        do = "save"
        at_step = 20

        [[action]]
        do = "resume"

        [[action]]
        do = "save"
        name = "after"
    """,
    )
    fake = make_fake(tmp_path / "run", rate=2000)
    report = await run_headless(fake, script)
    kinds = [(e["session_step"], e["kind"]) for e in report["events"]]
    assert kinds[:4] == [(0, "started"), (10, "pause"), (10, "error"), (10, "resume")]
    assert kinds[4][1] == "checkpoint_saved"  # untriggered: right after the resume
    assert report["checkpoints"][0]["name"] == "after"
    message = report["events"][2]["detail"]["message"]
    assert message == (
        "[[action]][2] save: at_step = 20 was never reached: training is paused at session step 10"
    )
    assert kinds[-1][1] == "quit"  # the runner quits after the last action
