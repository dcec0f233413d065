"""Headless Chromium driven over the DevTools protocol (aiohttp's websocket client, which
textual-serve already brings): open a page, read what its terminal shows, take a screenshot.

The served page draws its terminal on a canvas (xterm.js with the WebGL/canvas renderer), so the
DOM holds no text. What the page's terminal shows is exactly the bytes the page received on its
websocket: Chromium reports each frame it received (`Network.webSocketFrameReceived`) and each
resize the page sent, and those bytes replayed through a terminal emulator (pyte) are the
screen the page drew. The screenshot is the page itself, for a person to look at.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp
import pyte

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        if found := shutil.which(name):
            return found
    return None


class Browser:
    """One headless Chromium with one page; `async with Browser(binary, profile) as b:`."""

    def __init__(self, binary: str, profile: Path, size: tuple[int, int] = (1400, 900)) -> None:
        self.binary, self.profile, self.size = binary, profile, size
        self.proc: subprocess.Popen | None = None
        self._ids = 0
        self._waiting: dict[int, asyncio.Future] = {}
        self.screen = pyte.Screen(80, 24)
        self._stream = pyte.ByteStream(self.screen)
        self.frames = 0

    async def __aenter__(self) -> Browser:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--headless=new",
                "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                f"--window-size={self.size[0]},{self.size[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = await asyncio.wait_for(asyncio.to_thread(self._devtools_url), 60)
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(url, max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        self.session_id = attached["sessionId"]
        await self.send("Network.enable", session=True)
        await self.send("Page.enable", session=True)
        return self

    def _devtools_url(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            if m := re.search(r"DevTools listening on (ws://\S+)", raw.decode(errors="replace")):
                return m.group(1)
        raise RuntimeError(f"chromium exited ({self.proc.wait()}) before DevTools listened")

    async def __aexit__(self, *exc) -> None:
        self._reader.cancel()
        await self._ws.close()
        await self._http.close()
        assert self.proc is not None
        self.proc.terminate()
        try:
            await asyncio.to_thread(self.proc.wait, 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    async def send(self, method: str, session: bool = False, **params) -> dict:
        self._ids += 1
        message: dict = {"id": self._ids, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session_id
        done = self._waiting[self._ids] = asyncio.get_running_loop().create_future()
        await self._ws.send_str(json.dumps(message))
        return await asyncio.wait_for(done, 30)

    async def _read(self) -> None:
        async for msg in self._ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._waiting:
                future = self._waiting.pop(data["id"])
                if "error" in data:
                    future.set_exception(RuntimeError(f"CDP: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
            else:
                self._event(data.get("method", ""), data.get("params", {}))

    def _event(self, method: str, params: dict) -> None:
        """The page's websocket, as the page saw it: its size, its resizes, its bytes."""
        if method == "Network.webSocketCreated":
            query = parse_qs(urlparse(params["url"]).query)
            if "width" in query and "height" in query:
                self.screen.resize(int(query["height"][0]), int(query["width"][0]))
        elif method == "Network.webSocketFrameSent":
            frame = params["response"]
            if frame["opcode"] == 1 and frame["payloadData"].startswith('["resize"'):
                size = json.loads(frame["payloadData"])[1]
                self.screen.resize(size["height"], size["width"])
        elif method == "Network.webSocketFrameReceived":
            frame = params["response"]
            if frame["opcode"] == 2:  # binary: the app's terminal output
                self._stream.feed(base64.b64decode(frame["payloadData"]))
                self.frames += 1

    def text(self) -> str:
        return "\n".join(self.screen.display)

    async def evaluate(self, expression: str):
        result = await self.send(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        return result["result"].get("value")

    async def press(self, key: str) -> None:
        """A key typed into the page's terminal (its hidden textarea takes the keys)."""
        await self.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
        code = {"windowsVirtualKeyCode": ord(key.upper()), "code": f"Key{key.upper()}"}
        for kind in ("keyDown", "keyUp"):
            extra = {"text": key, **code} if kind == "keyDown" else code
            await self.send("Input.dispatchKeyEvent", session=True, type=kind, key=key, **extra)

    async def screenshot(self, path: Path) -> Path:
        shot = await self.send("Page.captureScreenshot", session=True, format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
