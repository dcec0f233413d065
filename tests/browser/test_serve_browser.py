"""`weightwatch serve` for real: headless Chromium loads the page, its terminal shows the
dashboard's charts, and a screenshot of the page is kept under the test's tmp dir
(tests/browser/cdp.py says how the page's terminal is read). The first test serves a dashboard
over a FakeSession directly (textual-serve's machinery alone); the second runs the real
`weightwatch serve RUN_DIR` on a live session (a FakeSession behind a SessionServer in its own
process): two tabs are two `attach` viewers of it, and `p` typed in one shows PAUSED in both.
Slow (browsers and Textual apps start): run with

    .venv/bin/pytest -m slow tests/browser

It skips, saying why, where no Chromium binary is found (`apt-get install -y chromium`).
"""

from __future__ import annotations

import asyncio
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("textual_serve")
pytest.importorskip("pyte")

from tests.browser.cdp import Browser, find_chromium  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TITLES = ("loss", "global weight norm (L2)")
T = 90  # seconds: a cold Chromium and Textual on 2 shared cores

SERVE = """
import sys
from weightwatch.tui.serve import make_server, run_server
command, port = sys.argv[1], int(sys.argv[2])
sys.exit(run_server(make_server(command, "127.0.0.1", port, "weightwatch test"), "127.0.0.1", port))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = T) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened on port {port}")


def serving(command: str, port: int) -> subprocess.Popen:
    """textual-serve (tui/serve.py's make_server) running `command` for each tab."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, command, str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_listening(port, proc)
    return proc


async def page_shows(browser: Browser, url: str, wanted: tuple[str, ...]) -> str:
    """Load `url` and wait until the page's terminal shows every string of `wanted`."""
    await browser.send("Page.navigate", session=True, url=url)
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        text = browser.text()
        drawn = await browser.evaluate("document.body.classList.contains('-first-byte')")
        if drawn and all(w in text for w in wanted):
            return text
        await asyncio.sleep(0.2)
    raise AssertionError(f"the page never showed {wanted}; it showed:\n{browser.text()}")


def fake_viewer_command(run_dir: Path) -> str:
    """A dashboard over a self-training FakeSession (no session process, no TensorFlow)."""
    parts = [sys.executable, "-m", "tests.browser.fake_viewer", str(run_dir)]
    return " ".join(shlex.quote(p) for p in parts)


@pytest.fixture
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no chromium binary on PATH (apt-get install -y chromium)")
    return binary


@pytest.mark.slow
async def test_served_dashboard_shows_the_charts_in_chromium(chromium, tmp_path):
    port = free_port()
    server = serving(fake_viewer_command(tmp_path / "run"), port)
    try:
        async with Browser(chromium, tmp_path / "profile") as browser:
            text = await page_shows(browser, f"http://127.0.0.1:{port}/", TITLES)
            shot = await browser.screenshot(tmp_path / "served.png")
    finally:
        server.terminate()
        server.wait(T)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a drawn dashboard, not a blank page
    assert browser.frames > 0
    assert "weightwatch" in text.lower() or "epoch" in text.lower()


def session_process(run_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.browser.fake_session_server", str(run_dir)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def weightwatch_serve(run_dir: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "weightwatch.tui.cli", "serve", str(run_dir), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_listening(port, proc)
    return proc


def viewers_of(run_dir: Path) -> list[str]:
    from weightwatch.engine.remote.locate import socket_path

    from tests.remote.terminals import Raw, frame

    conn = Raw(socket_path(run_dir))
    try:
        conn.send(frame({"op": "read", "id": 1, "what": "viewers"}))
        return [v["viewer"] for v in conn.reply(1)["result"]]
    finally:
        conn.close()


async def until(predicate, what: str) -> None:
    deadline = time.monotonic() + T
    while not predicate():
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_two_tabs_are_two_viewers_of_one_session_and_a_key_in_one_shows_in_both(
    chromium, tmp_path
):
    run_dir = tmp_path / "run"
    session = session_process(run_dir)
    port = free_port()
    server = weightwatch_serve(run_dir, port)
    url = f"http://127.0.0.1:{port}/"
    try:
        async with Browser(chromium, tmp_path / "a") as a, Browser(chromium, tmp_path / "b") as b:
            await page_shows(a, url, TITLES)
            await page_shows(b, url, TITLES)
            await until(lambda: viewers_of(run_dir).count("attach") == 2, "two attach viewers")
            await a.press("p")  # pause, typed into tab A
            await until(lambda: "PAUSED" in b.text(), "tab B shows the pause")
            assert "pause" in b.text() and "PAUSED" in a.text()
            shot = await b.screenshot(tmp_path / "tab-b-paused.png")
        await until(lambda: "attach" not in viewers_of(run_dir), "closed tabs detach")
    finally:
        server.terminate()
        server.wait(T)
        session.stdin.close()
        session.wait(T)
    assert shot.stat().st_size > 20_000
