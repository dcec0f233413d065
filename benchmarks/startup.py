"""First frame: the real `weightwatch run` command in a pseudo-terminal (120x40), timed from the
moment it is launched to (a) the first frame of the dashboard on the terminal and (b) the status
line showing a trained step.

(a) is when the terminal has received the dashboard's first full frame: the status line's
starting text is on the screen. (b) is when a person sees that training has begun; the status line
refreshes at the UI rate (4 Hz), so (b) includes up to one refresh period.
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
import time
from pathlib import Path

from .common import DEMO, Row, median, run_dir

ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)")
FIRST_FRAME = b"importing TensorFlow"  # the status line's text until the session has started
STEP = re.compile(rb"(?<!model )step ([0-9][0-9,]*)")
LAUNCHES, QUICK_LAUNCHES = 3, 1
TIMEOUT_S = 120.0


def command(config: Path, folder: Path) -> list[str]:
    """The installed console script (what a person types), else the module."""
    script = Path(sys.executable).with_name("weightwatch")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "weightwatch.tui.cli"]
    return [*head, "run", str(config), "--run-dir", str(folder)]


def launch_once() -> tuple[float | None, float | None]:
    """Seconds from launch to the first frame, and to the first trained step on screen."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        command(DEMO / "reference.toml", run_dir("startup")),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    frame = step = None
    text = b""
    try:
        while step is None and time.perf_counter() - started < TIMEOUT_S:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                text += ANSI.sub(b"", os.read(master, 1 << 16))
            except OSError:  # the child closed the terminal
                break
            now = time.perf_counter() - started
            if frame is None and FIRST_FRAME in text:
                frame = now
            if frame is not None and any(
                int(m.replace(b",", b"")) > 0 for m in STEP.findall(text[-4096:])
            ):
                step = now
            text = text[-8192:]
    finally:
        _quit(proc, master)
    return frame, step


def _quit(proc: subprocess.Popen, master: int) -> None:
    """Press q (the report is written), then wait; terminate only if it does not go."""
    try:
        os.write(master, b"q")
        deadline = time.perf_counter() + 30
        while proc.poll() is None and time.perf_counter() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 1 << 16)
                except OSError:
                    break
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def main(quick: bool, rounds: int) -> list[Row]:
    del rounds
    got = [launch_once() for _ in range(QUICK_LAUNCHES if quick else LAUNCHES)]
    frames = [f for f, _ in got if f is not None]
    steps = [s for _, s in got if s is not None]
    frame, step = median(frames), median(steps)
    n = f"median of {len(got)} launches"
    return [
        Row(
            "startup.first_frame",
            f"launch to first frame drawn (real CLI in a pty), {n}",
            f"{frame:.2f} s" if frames else "never drawn",
            "",
            frame if frames else None,
            f"{frame:.2f} s" if frames else "-",
            "< 0.5 s",
            frame < 0.5 if frames else False,
        ),
        Row(
            "startup.first_step",
            f"launch to first trained step on screen, {n}",
            f"{step:.2f} s" if steps else "never seen",
            "",
            step if steps else None,
            f"{step:.2f} s" if steps else "-",
            "",
            None,
        ),
    ]
