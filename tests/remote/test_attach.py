"""The attached dashboard (`weightwatch attach`) on a served fake: the same screen and keys as a
local run, `q` detaching while training goes on, `X` stopping it after a confirmation, a second
viewer seeing the first one's command, and the one-line exits when there is nothing to attach to.
"""

from __future__ import annotations

import json
import threading

import pytest
from weightwatch.engine.events import SessionState as S
from weightwatch.engine.remote.client import RemoteSession
from weightwatch.engine.remote.server import SessionServer
from weightwatch.tui.attach import AttachedApp, StopDialog, connect
from weightwatch.tui.cli import main

from tests.contracts import REPORT_KEYS
from tests.fakes.fake_session import FakeSession, fake_config
from tests.tui.conftest import until
from tests.tui.svgtext import svg_text

SIZE = (120, 40)
T = 30.0


@pytest.fixture
def served(tmp_path):
    """A fake training by itself (100 batches/s, 50 epochs of 60) behind a server."""
    session = FakeSession(fake_config(tmp_path / "run", epochs=50), rate=100.0)
    session.run_dir.mkdir(parents=True, exist_ok=True)
    server = SessionServer(session, session.run_dir).start()
    session.start()
    clients: list[RemoteSession] = []

    def viewer() -> RemoteSession:
        clients.append(RemoteSession(session.run_dir))
        return clients[-1]

    yield session, viewer
    for client in clients:
        client.close()
    server.close()
    session.stop()


def attached(client: RemoteSession, **kw) -> AttachedApp:
    return AttachedApp(client, cursor_blink=False, handle_signals=False, **kw)


def text(app) -> str:
    return svg_text(app.export_screenshot())


async def test_the_attached_dashboard_shows_the_sessions_status_and_charts(served):
    fake, viewer = served
    app = attached(viewer())
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: fake.status().session_step > 10, pilot, T)
        fake.pause().result(T)
        step = fake.status().session_step
        await until(lambda: "● PAUSED" in text(app), pilot, T)
        await until(lambda: app.session.telemetry.last_x() == step, pilot, T)
        app.dashboard.tick(force=True)
        await pilot.pause()
        screen = text(app)
        assert "waiting for the first training step" not in screen  # both charts plot
        assert "global weight norm (L2)" in screen and "loss" in screen
        assert app.session.telemetry.latest("loss") == fake.telemetry.latest("loss")
        assert "q Detach" in screen and "X Stop training…" in screen
        assert "Quit" not in screen
        await pilot.press("question_mark")
        await until(lambda: "Stop the training itself" in text(app), pilot, T)
        assert "Leave this viewer; training goes on" in text(app)
        assert "Stop training, write the report and exit" not in text(app)  # the local q's


async def test_a_key_in_one_viewer_is_the_same_event_in_another(served):
    fake, viewer = served
    first, second = attached(viewer()), viewer()
    async with first.run_test(size=SIZE) as pilot:
        await until(lambda: fake.status().state is S.RUNNING, pilot, T)
        await pilot.press("p")
        await until(lambda: fake.status().state is S.PAUSED, pilot, T)
        await until(lambda: "pause" in [e.kind for e in second.events()], pilot, T)
        here = [e for e in first.session.events() if e.kind == "pause"]
        there = [e for e in second.events() if e.kind == "pause"]
        assert here == there == [e for e in fake.events() if e.kind == "pause"]
        await until(lambda: second.state is S.PAUSED, pilot, T)


async def test_q_detaches_and_the_training_goes_on(served):
    fake, viewer = served
    app = attached(viewer())
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: fake.status().session_step > 5, pilot, T)
        await pilot.press("q")
        await until(lambda: app.finished.is_set(), pilot, T)
    assert app.detached and not app.stopping
    before = fake.status().session_step
    await until(lambda: fake.status().session_step > before + 5, None, T)
    assert fake.status().state is S.RUNNING
    assert not (fake.run_dir / "report.json").exists()  # a detach is not a stop
    assert [e.kind for e in fake.events()] == ["started"]


async def test_the_stop_key_asks_then_stops_with_the_report_written(served, tmp_path):
    fake, viewer = served
    app = attached(viewer(), report_path=tmp_path / "out" / "report.json")
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: fake.status().session_step > 5, pilot, T)
        await pilot.press("X")
        await pilot.pause()
        assert isinstance(app.screen, StopDialog)
        await pilot.press("escape")  # cancelled: nothing happens
        await pilot.pause()
        assert app.screen is app.dashboard and fake.status().state is S.RUNNING
        await pilot.press("X")
        await pilot.pause()
        await pilot.press("enter")
        await until(lambda: app.finished.is_set(), pilot, T)
    assert app.stopping and fake.state is S.STOPPED
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    assert written == json.loads((fake.run_dir / "report.json").read_text()) == fake.report()
    assert written["events"][-1]["kind"] == "quit"


def test_attach_to_nothing_or_to_a_dead_session_is_one_line_exit_1(tmp_path, capsys):
    run_dir = tmp_path / "gone"
    run_dir.mkdir()
    events = {"type": "event", "kind": "checkpoint_saved", "session_step": 1200}
    (run_dir / "events.jsonl").write_text(json.dumps(events) + "\n")
    (run_dir / "session.lock").write_text(json.dumps({"pid": 2**22 + 7}))
    assert main(["attach", str(run_dir)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "ended without a clean stop at session step 1,200" in err
    assert "(last event: checkpoint_saved)" in err
    assert main(["attach", str(tmp_path / "nothing")]) == 1
    assert capsys.readouterr().err == (
        f"weightwatch: no session in {tmp_path / 'nothing'}: no such run directory\n"
    )


def test_attach_without_a_run_dir_takes_the_one_live_session_else_lists_them(
    served, tmp_path, monkeypatch, capsys
):
    fake, _ = served
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert main(["attach"]) == 1
    assert capsys.readouterr().err == (
        "weightwatch: no live session to attach to (start one: weightwatch run CONFIG --detach)\n"
    )
    from weightwatch.engine.remote import registry

    registry.register(fake.run_dir, None)  # this process: alive
    session = connect(None, None)
    try:
        assert session.run_dir == fake.run_dir.resolve() and session.state is not S.STOPPED
    finally:
        session.close()
    other = registry.registry_dir() / "1.json"  # pid 1 is alive too: two live sessions
    other.write_text(json.dumps({"run_dir": "/runs/other", "pid": 1, "started": 2e9}))
    assert main(["attach"]) == 1
    err = capsys.readouterr().err
    listed = f"weightwatch attach {fake.run_dir} | /runs/other"
    assert err == f"weightwatch: 2 live sessions; name one: {listed}\n"


ATTACH_SCRIPT = """
[[action]]
do = "save"
at_step = 150
name = "mid"

[[action]]
do = "set_lr"
at_step = 200
value = 0.0005
"""


def attach_headless(tmp_path, run_dir, script: str) -> tuple[int, dict]:
    (tmp_path / "script.toml").write_text(script)
    report = tmp_path / "attached-report.json"
    argv = ["attach", str(run_dir), "--headless", "--script", str(tmp_path / "script.toml")]
    code = main([*argv, "--report", str(report)])
    return code, json.loads(report.read_text())


async def test_attach_headless_runs_a_script_and_detaches_with_the_run_headless_report(
    tmp_path, capsys
):
    from weightwatch.engine.script import load_script
    from weightwatch.tui.headless import run_headless

    local = FakeSession(fake_config(tmp_path / "local", epochs=50), rate=2000.0)
    (tmp_path / "script.toml").write_text(ATTACH_SCRIPT)
    expected = await run_headless(local, load_script(tmp_path / "script.toml"))
    fake = FakeSession(fake_config(tmp_path / "run", epochs=50), rate=100.0)
    fake.run_dir.mkdir(parents=True)
    server = SessionServer(fake, fake.run_dir).start()
    fake.start()
    try:
        import asyncio

        code, report = await asyncio.to_thread(
            attach_headless, tmp_path, fake.run_dir, ATTACH_SCRIPT
        )
        assert code == 0
        assert set(report) == set(expected) == REPORT_KEYS
        landed = [(e["session_step"], e["kind"]) for e in report["events"]]
        assert landed == [(0, "started"), (150, "checkpoint_saved"), (200, "lr_changed")]
        assert [(e["session_step"], e["kind"]) for e in expected["events"]][:3] == landed
        assert "detached; training goes on" in capsys.readouterr().out
        before = fake.status().session_step
        await until(lambda: fake.status().session_step > before, None, T)  # it goes on
        assert fake.state is S.RUNNING and not (fake.run_dir / "report.json").exists()
        assert fake.status().learning_rate == 0.0005
    finally:
        server.close()
        fake.stop()


def test_a_scripts_quit_stops_the_attached_session_with_the_report_written(served, tmp_path):
    fake, _ = served
    script = '[[action]]\ndo = "quit"\nat_step = 120\n'
    code, report = attach_headless(tmp_path, fake.run_dir, script)
    assert code == 0 and fake.state is S.STOPPED
    assert report == fake.report() == json.loads((fake.run_dir / "report.json").read_text())
    assert [(e["session_step"], e["kind"]) for e in report["events"]][-1] == (120, "quit")


def test_a_viewer_whose_session_is_stopped_elsewhere_says_so_when_it_leaves(
    served, tmp_path, capsys
):
    fake, _ = served
    script = '[[action]]\ndo = "wait"\nseconds = 0.5\n'  # stopped by `weightwatch stop` meanwhile
    threading.Timer(0.2, fake.stop).start()
    code, _ = attach_headless(tmp_path, fake.run_dir, script)
    assert code == 0 and fake.state is S.STOPPED
    out = capsys.readouterr().out.splitlines()
    assert (
        out[-1] == f"weightwatch: the session stopped; its report is in {fake.run_dir}/report.json"
    )


async def test_a_viewer_whose_session_process_died_says_so_on_the_screen(tmp_path):
    import subprocess

    fake = FakeSession(fake_config(tmp_path / "run", epochs=50), rate=100.0)
    fake.run_dir.mkdir(parents=True)
    server = SessionServer(fake, fake.run_dir).start()
    fake.start()
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs: the session process, as a kill -9 leaves it
    app = attached(RemoteSession(fake.run_dir))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: "● RUNNING" in text(app), pilot, T)
            assert not app.dashboard.query(".gone")
            (fake.run_dir / "session.lock").write_text(json.dumps({"pid": gone.pid}))
            server.close()  # its connections end and its socket is gone, as after a kill -9
            await until(lambda: app.dashboard.query(".gone"), pilot, T)
            await pilot.pause()
            line = str(app.dashboard.query_one("#session-gone").render())
            assert f"process {gone.pid} ended without a clean stop" in line
            assert line.endswith(f"Its run directory is intact: weightwatch inspect {fake.run_dir}")
            screen = " ".join(text(app).split())
            assert f"process {gone.pid} ended without a clean stop" in screen
            assert "● STOPPED" in screen and "steps/s" in screen and "0 steps/s" not in screen
            assert app.session.status().steps_per_s is None  # a lost session trains no more
            assert len(app.dashboard.query(".gone")) == 1  # said once
    finally:
        server.close()
        fake.stop()
