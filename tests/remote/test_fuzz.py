"""Fuzz the session protocol against a live server (docs/protocol.md, issue 14): random bytes,
truncated and oversized frames, unknown ops, wrong types, and random well-formed requests, each
on its own connection, from fixed seeds (tests/remote/fuzzkit.py builds the cases).

After every case: the bad frame got one ProtocolError and a closed connection (a well-formed one
its reply and an open connection), a well-behaved second viewer still gets correct replies and
its pushes in order, the session trains on (steps only grow), nothing raised on the server's
loop or any thread, and a halting method with a bogus argument never reached the session. The
fast test serves a FakeSession; the slow one a real Session, whose events.jsonl must parse line
by line and whose every listed checkpoint must load afterwards.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from weightwatch.engine.remote.server import SessionServer

from tests.fakes.fake_session import FakeSession, fake_config

from .fuzzkit import HALTING, Case, Raw, cases, frame

SEEDS = (11, 23, 37)
CASES_PER_SEED = 120  # 360 cases in the default run, a few seconds
T = 30.0


class Live:
    """A server around `session`, training on its own thread, plus a watching viewer."""

    def __init__(self, session, run_dir: Path) -> None:
        self.session = session
        self.thread_errors: list[str] = []
        self._hook = threading.excepthook
        threading.excepthook = lambda a: self.thread_errors.append(f"{a.thread}: {a.exc_value!r}")
        self.server = SessionServer(session, run_dir).start()
        self.loop_errors: list[str] = []
        self.server._loop.set_exception_handler(
            lambda loop, ctx: self.loop_errors.append(str(ctx.get("exception") or ctx))
        )
        self.training = session.start()
        self.watcher = Raw(self.server.socket)
        self.watcher.send(frame({"op": "subscribe", "id": 0}))
        assert self.watcher.reply(0)["ok"]
        self.rid, self.steps, self.pushes = 1, 0, []

    def status(self) -> dict:
        """A `read status` from the well-behaved viewer (pushes met on the way are kept)."""
        rid, self.rid = self.rid, self.rid + 1
        self.watcher.send(frame({"op": "read", "id": rid, "what": "status"}))
        while True:
            msg = self.watcher.frame()
            assert msg is not None, "the well-behaved viewer was disconnected"
            if "push" in msg:
                self.pushes.append(msg)
            elif msg.get("id") == rid:
                assert msg["ok"], msg
                return msg["result"]

    def check(self, where: str) -> None:
        status = self.status()
        assert status["session_step"] >= self.steps, where
        self.steps = status["session_step"]
        assert status["state"] in ("running", "paused", "finished", "starting"), (where, status)
        assert not self.loop_errors, (where, self.loop_errors)
        assert not self.thread_errors, (where, self.thread_errors)
        assert self.training.is_alive(), where

    def close(self) -> None:
        threading.excepthook = self._hook
        self.watcher.close()
        self.server.close()
        self.session.stop().result(T)


def play(address: Path, case: Case) -> list[dict]:
    """Send one case on a fresh connection; the frames it got back before the server closed
    (bad cases) or the reply to it (good ones, then a status read proves the line still open)."""
    conn = Raw(address)
    try:
        conn.send(case.data)
        if case.bad:
            conn.end_writing()  # a truncated frame ends here, as a viewer killed mid-write
            frames = []
            while (msg := conn.frame()) is not None:
                frames.append(msg)
            return frames
        assert case.rid is not None
        got = conn.reply(case.rid)
        conn.send(frame({"op": "read", "id": case.rid + 10**6, "what": "status"}))
        assert conn.reply(case.rid + 10**6)["ok"], "the connection did not stay usable"
        return [got]
    finally:
        conn.close()


def check_case(case: Case, frames: list[dict], where: str) -> None:
    if case.bad:
        errors = [f for f in frames if f.get("ok") is False]
        assert len(frames) <= 1 and len(errors) == len(frames), (where, frames)
        if frames:
            assert frames[0]["error"]["type"] == "ProtocolError", (where, frames)
            assert "\n" not in frames[0]["error"]["message"], where
        else:  # nothing back is allowed only where no byte of a header arrived
            assert case.data == b"", (where, frames)
        return
    (got,) = frames
    assert got["id"] == case.rid, where
    if not got["ok"]:
        assert got["error"]["type"] in ("BadInput", "CommandRejected"), (where, got)
        assert "\n" not in got["error"]["message"], where
    if case.halting:
        assert got["ok"] is False and got["error"]["type"] == "BadInput", (where, got)


def fuzz(live: Live, seed: int, n: int) -> None:
    for k, case in enumerate(cases(seed, n)):
        where = f"seed {seed} case {k} ({case.name})"
        check_case(case, play(live.server.socket, case), where)
        live.check(where)


def pushes_in_order(pushes: list[dict]) -> None:
    indexes = [m["index"] for m in pushes if m["push"] == "event"]
    assert indexes == list(range(indexes[0], indexes[0] + len(indexes))) if indexes else True


@pytest.fixture
def fake_live(tmp_path):
    session = FakeSession(fake_config(tmp_path / "run", epochs=100_000), rate=300.0)
    live = Live(session, tmp_path / "run")
    yield live
    live.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzzed_frames_never_reach_a_fake_session(fake_live, seed):
    live = fake_live
    deadline = time.monotonic() + T
    while live.status()["session_step"] == 0:  # training has begun
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first = live.status()["session_step"]
    fuzz(live, seed, CASES_PER_SEED)
    time.sleep(0.05)
    live.check(f"seed {seed}: after every case")
    assert live.steps > first, "the session stopped training under the fuzz"
    halted = [name for name, _ in live.session.calls if name in HALTING]
    assert halted == [], f"a refused halting call reached the session: {halted}"
    pushes_in_order(live.pushes)


@pytest.mark.slow
def test_fuzzed_frames_never_reach_a_real_session(tmp_path):
    from weightwatch.engine.config import load_config
    from weightwatch.engine.session import Session

    from tests.conftest import write_config

    config = load_config(write_config(tmp_path / "c", epochs=1_000_000))
    session = Session(config, run_dir=tmp_path / "run")
    live = Live(session, tmp_path / "run")
    try:
        deadline = time.monotonic() + 120
        while live.status()["session_step"] < 5:
            assert time.monotonic() < deadline, "the real session never trained"
            time.sleep(0.1)
        saved = [session.save(f"fz{i}").result(T).name for i in range(2)]
        for seed in SEEDS:
            fuzz(live, seed, 100)
        live.check("after every case")
        assert live.steps > 5
        pushes_in_order(live.pushes)
    finally:
        live.close()
    check_run_dir(tmp_path / "run", saved)


def check_run_dir(run: Path, saved: list[str]) -> None:
    """The reliability invariants: events.jsonl parses line by line, each line complete, and
    every listed checkpoint (the saved ones among them) loads and matches its fingerprint."""
    from weightwatch.engine.checkpoints import CheckpointStore
    from weightwatch.engine.runlog import read_run

    text = (run / "events.jsonl").read_text()
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]  # every line whole JSON
    assert all(isinstance(r, dict) for r in records)
    kinds = [e["kind"] for e in read_run(run)[0]]
    assert kinds[0] == "started" and kinds[-1] == "quit", kinds
    listed = {c.name: c for c in CheckpointStore(run, clean=False).list(verify=True)}
    assert set(saved) <= set(listed), (saved, sorted(listed))
    for c in listed.values():
        assert c.source == "weightwatch" and c.loadable, (c.name, c.problem)
