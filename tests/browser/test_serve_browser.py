"""`weightwatch serve` for real: headless Chromium loads the page, its terminal shows the
dashboard's charts, and a screenshot of the page is kept (tests/browser/cdp.py says how the
page's terminal is read). Slow (a browser and a Textual app start): run with

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
