"""The user-output pane: what the user's builder, loader and callbacks printed or logged.

The engine copies that output to RUN_DIR/user.log (engine/userlog.py); this pane shows the file,
read from where it was left off, at the dashboard's pace and only while the pane is shown (while
hidden, one stat() every 2 s until the user's code first prints: a toast then says `u` shows
it). One key (`u`) shows and hides it; it opens below the event log.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual.binding import Binding
from textual.widgets import Log

USER_LOG = "user.log"
READ_LIMIT = 256 * 1024  # bytes per read: a first look at a long log starts near its end
MAX_LINES = 2000
HINT_PERIOD = 2.0  # seconds between looks for a first line while the pane is hidden
EMPTY = "nothing printed yet"

BINDING = Binding(
    "u",
    "toggle_user_log",
    "User output",
    show=False,  # the footer has no room left at 120 columns; `?` lists it
    tooltip="Show or hide what the builder, loader and callbacks printed (RUN_DIR/user.log)",
    id="user_log",
)


class UserLogPane(Log):
    """Tails RUN_DIR/user.log while shown (`pull`, from the dashboard's tick)."""

    DEFAULT_CSS = """
    UserLogPane {
        height: 1fr;
        border: round $foreground 40%;
        border-title-color: $foreground 75%;
        border-subtitle-color: $foreground 60%;
    }
    """

    def __init__(self, run_dir: Path, **kwargs) -> None:
        super().__init__(max_lines=MAX_LINES, auto_scroll=True, **kwargs)
        self.path = Path(run_dir) / USER_LOG
        self._offset = 0  # bytes of the file already shown
        self._partial = b""  # a line printed without its newline yet
        self._hinted = False  # told the user once that there is output to see
        self._next_look = 0.0  # monotonic time of the next stat() while hidden

    def on_mount(self) -> None:
        self.border_title = f"user output ({USER_LOG})"
        self.border_subtitle = EMPTY
        self.display = False

    def toggle(self) -> bool:
        """Show or hide; returns whether it is shown now."""
        self.display = not self.display
        if self.display:
            self.pull()
        return bool(self.display)

    def pull(self) -> None:
        """Add the lines written since the last pull (complete lines only)."""
        if not self.display:
            self._hint_once()
            return
        try:
            size = self.path.stat().st_size
            if size < self._offset:  # a new file (another session on this run directory)
                self._offset, self._partial = 0, b""
                self.clear()
            if size == self._offset:
                return
            start = max(self._offset, size - READ_LIMIT)
            with open(self.path, "rb") as f:
                f.seek(start)
                data = f.read(size - start)
        except OSError:
            return  # no file yet: nothing has been printed
        if start > self._offset:
            self._partial = b""
        self._offset = start + len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        if lines:
            self.write_lines([line.decode("utf-8", "replace") for line in lines])
            n = self.line_count
            self.border_subtitle = f"{n} line{'' if n == 1 else 's'}"

    def _hint_once(self) -> None:
        """The pane is hidden: the first time the user's code prints, say where to see it (a
        stat() every HINT_PERIOD seconds until then, nothing after)."""
        now = time.monotonic()
        if self._hinted or now < self._next_look:
            return
        self._next_look = now + HINT_PERIOD
        try:
            printed = self.path.stat().st_size > 0
        except OSError:
            return
        if printed:
            self._hinted = True
            self.app.notify(f"Your code printed output ({USER_LOG}): u shows it", timeout=6)

    @property
    def text(self) -> str:
        """Every line shown, for tests and screenshots."""
        return "\n".join(self.lines)
