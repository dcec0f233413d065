"""What the user's code prints or logs on the training thread, kept in RUN_DIR/user.log.

In the dashboard, stdout belongs to Textual (it swaps `sys.stdout` for its own capture while the
app runs, and drops what is printed there unless it runs headless), so a builder's, loader's or
callback's `print()` was lost. `contextlib.redirect_stdout` would not do: it is process-wide, and
the UI thread's own output must stay Textual's. So the streams are wrapped, not replaced: a
`_Router` around whatever `sys.stdout` / `sys.stderr` is when training starts passes every write
on to it unchanged (the terminal in `--plain` runs, Textual's capture in the app, which echoes
it in headless runs: output stays where it went before) and also copies the writes made on a
session's training thread, or on a thread running its callbacks (`as_user_thread`), into that
session's user.log. The dashboard's log pane shows that file.

`logging` records reach the file the same way when a handler prints them to a wrapped stream
(`basicConfig`, Python's last-resort handler for warnings); `_UserLogHandler`, on the root
logger, writes the records of a training thread that no such handler prints (a handler made
before training started holds the stream of that time), and stands in for the last-resort
handler it displaces, so that nothing printed today goes unprinted.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

_SINKS: dict[int, UserLog] = {}  # thread ident -> the user.log its writes are copied to
_LOCK = threading.Lock()
_active = 0  # sessions capturing now (the routers go when the last one stops)


class UserLog:
    """RUN_DIR/user.log, opened on the first write (a run that prints nothing has none)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: TextIO | None = None
        self._lock = threading.Lock()
        self.failed = False  # a write failed (a full disk): the rest is dropped, training goes on

    def write(self, text: str) -> None:
        if not text or self.failed:
            return
        with self._lock:
            try:
                if self._file is None:
                    self._file = open(self.path, "a", encoding="utf-8", errors="backslashreplace")
                self._file.write(text)
                self._file.flush()  # the pane tails the file: a line shows once printed
            except (OSError, ValueError):
                self.failed = True

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                try:
                    self._file.close()
                except OSError:
                    pass
                self._file = None


class _Router:
    """A stream that passes everything to `inner` and copies a training thread's writes."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, text):
        sink = _SINKS.get(threading.get_ident())
        if sink is not None and isinstance(text, str):
            sink.write(text)
        return self._inner.write(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._inner.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding... are the stream's
        return getattr(self._inner, name)


class _UserLogHandler(logging.Handler):
    """Writes a training thread's records that no other handler prints to a wrapped stream."""

    def emit(self, record: logging.LogRecord) -> None:
        found, routed = _other_handlers(self, record)
        if not found:  # we displaced Python's last resort: do what it does
            last = logging.lastResort
            if last is not None and record.levelno >= last.level:
                last.handle(record)  # to sys.stderr: wrapped, so copied too
            return
        sink = _SINKS.get(record.thread or 0)
        if sink is not None and not routed:
            try:
                sink.write(self.format(record) + "\n")
            except Exception:  # noqa: BLE001 - a record that will not format is not ours to fix
                self.handleError(record)


_HANDLER = _UserLogHandler()


def _other_handlers(me: logging.Handler, record: logging.LogRecord) -> tuple[bool, bool]:
    """(any other handler takes the record, one of them prints it to a wrapped stream)."""
    found = routed = False
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        for h in logger.handlers:
            if h is me:
                continue
            found = True  # as Python counts them: whatever their level
            if record.levelno >= h.level and isinstance(getattr(h, "stream", None), _Router):
                routed = True
        logger = logger.parent if logger.propagate else None
    return found, routed


@contextmanager
def capture(path: Path) -> Iterator[UserLog]:
    """While inside, what this thread (and `as_user_thread` functions made here) prints or logs
    is also written to `path`."""
    global _active
    log = UserLog(path)
    ident = threading.get_ident()
    with _LOCK:
        _active += 1
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, _Router):
                setattr(sys, name, _Router(stream))
        root = logging.getLogger()
        if _HANDLER not in root.handlers:
            root.addHandler(_HANDLER)
        _SINKS[ident] = log
    try:
        yield log
    finally:
        with _LOCK:
            _SINKS.pop(ident, None)
            _active -= 1
            if not _active:
                _uninstall()
        log.close()


def _uninstall() -> None:
    """Take the routers and the handler away (only where nobody replaced them since)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, _Router):
            setattr(sys, name, stream._inner)
    logging.getLogger().removeHandler(_HANDLER)


@contextmanager
def not_user() -> Iterator[None]:
    """The engine's own code on a training thread (a listener printing progress lines in
    `--plain`): its output is not the user's and stays out of user.log."""
    ident = threading.get_ident()
    sink = _SINKS.pop(ident, None)
    try:
        yield
    finally:
        if sink is not None:
            _SINKS[ident] = sink


def as_user_thread(fn: Callable) -> Callable:
    """`fn`, run as this thread's user code wherever it runs (Keras's batch-end worker)."""
    sink = _SINKS.get(threading.get_ident())
    if sink is None:
        return fn

    def run(*args, **kwargs):
        ident = threading.get_ident()
        before = _SINKS.get(ident)
        _SINKS[ident] = sink
        try:
            return fn(*args, **kwargs)
        finally:
            if before is None:
                _SINKS.pop(ident, None)
            else:
                _SINKS[ident] = before

    return run
