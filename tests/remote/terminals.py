"""`weightwatch attach` in a pseudo-terminal, read back through pyte: a viewer as a person runs
one, which a test can kill, hang up (close its terminal, then SIGHUP) and read."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pyte

from .fuzzkit import Raw, frame

COLS, ROWS = 120, 40
T = 60.0
ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\x1b\][^\x07]*\x07")


class Viewer:
    """`python -m weightwatch.tui.cli attach RUN_DIR` on a 120x40 terminal of its own."""

    def __init__(self, run_dir: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "weightwatch.tui.cli", "attach", str(run_dir)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,  # its own session, this terminal its controlling one
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.raw = b""
        self.screen = pyte.Screen(COLS, ROWS)
        self._stream = pyte.ByteStream(self.screen)
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return  # the other side closed (EIO), or we closed the master
            if not data:
                return
            with self._lock:
                self.raw += data
                self._stream.feed(data)

    def text(self) -> str:
        with self._lock:
            return "\n".join(self.screen.display)

    def shows(self, wanted: str, timeout: float = T) -> None:
        deadline = time.monotonic() + timeout
        while wanted not in self.text():
            assert self.proc.poll() is None, f"the viewer ended: {self.output_lines()}"
            assert time.monotonic() < deadline, f"the viewer never showed {wanted!r}"
            time.sleep(0.05)

    def output_lines(self) -> list[str]:
        """What it printed after leaving the full screen (its closing line), as plain lines."""
        self._reader.join(timeout=5)
        with self._lock:
            tail = self.raw.rsplit(b"\x1b[?1049l", 1)[-1].decode(errors="replace")
        return [ln.strip() for ln in ANSI.sub("", tail).replace("\r", "").split("\n") if ln.strip()]

    def press(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def hang_up(self) -> None:
        """Its terminal goes away (the master closed), then SIGHUP, as sshd does on a drop."""
        os.close(self.master)
        self.master = -1
        try:
            os.kill(self.proc.pid, signal.SIGHUP)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(T)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


def steps_of(run_dir: Path) -> int:
    """The session step a live session reports over its socket."""
    from weightwatch.engine.remote.locate import socket_path

    conn = Raw(socket_path(run_dir))
    try:
        conn.send(frame({"op": "read", "id": 1, "what": "status"}))
        return conn.reply(1)["result"]["session_step"]
    finally:
        conn.close()
