"""`weightwatch attach [RUN_DIR | tcp://HOST:PORT]`: the dashboard on a live detached session.

The same `WeightwatchApp` (screen, keys, dialogs, verdicts) on a `RemoteSession`. What differs
is leaving: `q` (and Ctrl+C, SIGTERM) detaches, and training goes on in the session process;
stopping the training is its own key, `X`, behind a confirmation, and writes the report as a
local quit does. `--headless --script F` performs a script's actions through the same keys; the
script's end detaches (its `--report` holds the session's report so far), a `quit` action in it
stops the training.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label, Static
from weightwatch.engine.errors import BadInput
from weightwatch.engine.events import SessionState as S
from weightwatch.tui.app import WeightwatchApp
from weightwatch.tui.screens.dashboard import BINDINGS as DASHBOARD_BINDINGS
from weightwatch.tui.screens.dashboard import DashboardScreen
from weightwatch.tui.screens.dialogs import SimpleDialog, buttons

if TYPE_CHECKING:
    from weightwatch.engine.remote.client import RemoteSession

DETACH_TIP = "Leave this viewer; training goes on (weightwatch attach RUN_DIR comes back)"
STOP_TIP = "Stop the training itself: asks first, then writes the report"
STOP_KEY = "X"
EXIT_GONE = 1


class StopDialog(SimpleDialog):
    """Asks before stopping the training that other viewers may be watching too."""

    AUTO_FOCUS = "#stop-ok"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Stop training?", classes="dialog-title")
            yield Static(
                "This stops the training itself (for every viewer) and writes the report. "
                "To leave it running, cancel and press q to detach."
            )
            yield buttons("stop-ok", "Stop training", variant="error")

    def result(self) -> bool:
        return True


class AttachedDashboard(DashboardScreen):
    """The dashboard, with `q` detaching and `X` stopping the training."""

    DEFAULT_CSS = """
    AttachedDashboard .gone { color: $error; text-style: bold; height: auto; padding: 0 1; }
    """
    BINDINGS = [
        Binding("q", "app.quit", "Detach", tooltip=DETACH_TIP, id="quit"),
        Binding(STOP_KEY, "app.stop_training", "Stop training…", tooltip=STOP_TIP, id="stop"),
    ]


# `?` lists the dashboard's keys with an attached viewer's q and X in place of the local quit.
HELP_KEYS = [b for b in DASHBOARD_BINDINGS if b.key != "q"] + AttachedDashboard.BINDINGS


class AttachedApp(WeightwatchApp):
    """`WeightwatchApp` on a live session in another process (see the module docstring)."""

    BINDINGS = [
        Binding(
            "ctrl+c",
            "quit",
            "Detach",
            show=False,
            priority=True,
            tooltip=DETACH_TIP,
            id="quit.ctrl_c",
        ),
        Binding(
            "ctrl+q",
            "quit",
            "Detach",
            show=False,
            priority=True,
            tooltip=DETACH_TIP,
            id="quit.ctrl_q",
        ),
    ]
    HELP_KEYS = HELP_KEYS
    STOP_KEYS = (STOP_KEY, "enter")  # what a script's `quit` presses (tui/headless.py)
    DASHBOARD = AttachedDashboard
    detached = False  # q: this viewer left, training goes on
    stopping = False  # X, confirmed: the training itself stops
    _quitting: bool

    async def action_quit(self) -> None:
        """Detach: the report so far goes to `--report` (if given); training goes on."""
        if self._quitting:
            return
        self._quitting = True
        self.detached = True
        if self.report_path is not None:
            self.write_final_report()
        self.finished.set()
        self.session.close()
        self.exit(self.report, return_code=0)

    @on(WeightwatchApp.TrainingStateChanged)
    def show_gone(self, message: WeightwatchApp.TrainingStateChanged) -> None:
        """A session that went away (its process killed, the connection lost) says so on the
        screen, once, in a line that stays: the status line alone showed only STOPPED."""
        lost = getattr(self.session, "lost", None)
        if message.change.state is S.STOPPED and lost and not self.dashboard.query(".gone"):
            line = Static(gone_line(self.session), id="session-gone", classes="gone")
            self.dashboard.mount(line, before=0)

    def action_stop_training(self) -> None:
        if self._quitting:
            return
        self.push_screen(StopDialog(), self._stop_confirmed)

    async def _stop_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self.stopping = True
            await WeightwatchApp.action_quit(self)  # stop, wait, write the report, exit

    def _write_report(self, report: dict) -> None:
        """`--report`; and, for a stop of a session in a local run directory, its report.json
        (the session process writes it too). A detach never writes report.json: that file
        says the session stopped cleanly."""
        paths = [self.report_path]
        if self.stopping and getattr(self.session, "kind", "") == "unix":
            paths.insert(0, self.run_dir / "report.json")
        self._save_report(report, paths)


def gone_line(session: RemoteSession) -> str:
    """What happened to a session this viewer lost: from the run directory's files when it is
    local (`describe_dead`: a process that ended without a clean stop, its pid and last step),
    with what to do next; over TCP, why the connection ended."""
    from weightwatch.engine.remote.locate import describe_dead

    dead = None
    if getattr(session, "kind", "") == "unix":
        try:
            dead = describe_dead(session.run_dir)
        except Exception:  # an unreadable run directory: say what the connection said
            dead = None
    if dead is None:
        return f"✖ Lost the session: {session.lost}"
    return f"✖ {dead[:1].upper()}{dead[1:]}. Its run directory is intact: {inspect_hint(session)}"


def inspect_hint(session: RemoteSession) -> str:
    return f"weightwatch inspect {session.run_dir}"


# -- the command ---------------------------------------------------------------------------------


def read_token(token_file: str | None) -> str | None:
    if token_file is None:
        return None
    try:
        return Path(token_file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--token-file {token_file}: cannot read it ({exc})") from None


def connect(address: str | None, token: str | None, viewer: str = "attach") -> RemoteSession:
    """The live session at `address` (default: this user's one live session);
    SessionUnreachable (one line) when there is none or it is gone."""
    from weightwatch.engine.remote.client import RemoteSession

    return RemoteSession(address or only_live_session(), token=token, viewer=viewer)


def only_live_session() -> str:
    """The run directory of this user's one live session, or SessionUnreachable (one line)."""
    from weightwatch.engine.remote.client import SessionUnreachable

    live = live_run_dirs()
    if len(live) == 1:
        return live[0]
    if not live:
        raise SessionUnreachable(
            "no live session to attach to (start one: weightwatch run CONFIG --detach)"
        )
    raise SessionUnreachable(
        f"{len(live)} live sessions; name one: weightwatch attach {' | '.join(live)}"
    )


def live_run_dirs() -> list[str]:
    """Run directories of `ps`'s registry entries whose process is alive (a dead one's entry
    stays behind until `ps` reports it)."""
    from weightwatch.engine.remote.locate import _alive
    from weightwatch.engine.remote.registry import entries

    try:
        return [e["run_dir"] for e in entries() if _alive(e["pid"])]
    except BadInput:  # a registry folder open to others: not one to trust
        return []


def attach_command(args) -> int:
    """`weightwatch attach`: the dashboard, or a headless script, on a live session."""
    script = None
    if args.headless or args.script:
        if not args.script:
            raise BadInput("attach --headless: give the actions to perform with --script FILE")
        from weightwatch.engine.script import load_script

        script = load_script(args.script)
    if args.report:
        from .launch import check_writable

        check_writable(Path(args.report).resolve().parent, f"--report {args.report}")
    from weightwatch.engine.remote.client import SessionUnreachable

    try:
        session = connect(args.address, read_token(args.token_file))
    except SessionUnreachable as exc:
        print(f"weightwatch: {exc}", file=sys.stderr)
        return EXIT_GONE
    app = AttachedApp(session, script=script, report_path=args.report)
    from .launch import own_loop

    with own_loop() as loop:
        if script is not None:
            from .headless import run_app_headless

            loop.run_until_complete(run_app_headless(app, script))
        else:
            app.run(loop=loop)
    session.close()
    return leave_message(app, session, args.address or str(session.run_dir))


def leave_message(app: AttachedApp, session: RemoteSession, address: str) -> int:
    if app.stopping:
        from .summary import run_summary

        print(run_summary(app.report or session.report(), session.run_dir, app.report_path, []))
        print(f"weightwatch: stopped; run directory {session.run_dir}")
        return 1 if app.internal_error else 0
    if session.lost:
        print(f"weightwatch: {session.status().message}", file=sys.stderr)
        return EXIT_GONE
    if session.state is S.STOPPED:  # stopped from elsewhere (another viewer, weightwatch stop)
        print(f"weightwatch: the session stopped; its report is in {session.run_dir}/report.json")
        return 1 if app.internal_error else 0
    print(f"weightwatch: detached; training goes on. Come back: weightwatch attach {address}")
    return 1 if app.internal_error else 0
