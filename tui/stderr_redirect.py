"""Keep TensorFlow's C++ logging off the screen while the app draws on the terminal.

TensorFlow's C++ code writes straight to file descriptor 2, which is also where Textual's Linux
driver draws: `LinuxDriver.__init__` takes `sys.__stderr__` as its output file, and the driver is
only created inside `App.run()`. So, before the app runs, we duplicate fd 2 and hand Textual that
duplicate as `sys.__stderr__` (and `sys.stderr`, so that an error printed after the app exits
still reaches the terminal), then point fd 2 itself at a log file. Everything is restored on exit,
exceptions included.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def redirect_stderr_to(path: Path) -> Iterator[TextIO]:
    """Send fd 2 to `path` (appending); yield the stream that still reaches the terminal."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    old_dunder, old_stderr = sys.__stderr__, sys.stderr
    for stream in (old_dunder, old_stderr):
        if stream is not None:
            stream.flush()
    encoding = getattr(old_dunder, "encoding", None) or "utf-8"
    terminal = os.fdopen(os.dup(2), "w", encoding=encoding, errors="backslashreplace")
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)
    os.close(log)
    sys.__stderr__ = sys.stderr = terminal  # type: ignore[misc]
    try:
        yield terminal
    finally:
        terminal.flush()
        os.dup2(terminal.fileno(), 2)
        sys.__stderr__, sys.stderr = old_dunder, old_stderr  # type: ignore[misc]
        terminal.close()
