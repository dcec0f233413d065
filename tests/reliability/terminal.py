"""The real `weightwatch` CLI in a pseudo-terminal, for tests that need the interactive app.

A thread keeps reading the terminal (a child blocks once the pty's buffer is full) and keeps the
text without escape sequences, so a test can wait for words to appear on the screen.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)")
KEYS = {"ctrl+c": b"\x03", "escape": b"\x1b", "enter": b"\r"}


class Terminal:
    """`weightwatch ARGS...` running in a 120x40 pty."""

    def __init__(self, *args: str, cwd: Path) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "weightwatch.tui.cli", *args],
            cwd=cwd,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.text = b""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                if not select.select([self.master], [], [], 0.1)[0]:
                    if self.proc.poll() is not None:
                        return
                    continue
                chunk = os.read(self.master, 1 << 16)
            except OSError:  # the child closed the terminal
                return
            if not chunk:
                return
            with self._lock:
                self.text = (self.text + ANSI.sub(b"", chunk))[-200_000:]

    def seen(self, words: str) -> bool:
        with self._lock:
            return words.encode() in self.text

    def wait_for(self, predicate, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"exited ({self.proc.returncode}) before {what}: {self.text[-2000:]!r}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {self.text[-2000:]!r}")
            time.sleep(0.05)

    def press(self, *keys: str) -> None:
        for key in keys:
            os.write(self.master, KEYS.get(key, key.encode()))
            time.sleep(0.05)

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 120) -> int:
        """The exit code; the process is killed if it does not exit in time."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            tail = self.text[-2000:]
            raise AssertionError(f"did not exit within {timeout} s: {tail!r}") from None
        finally:
            self._reader.join(5)
            os.close(self.master)
