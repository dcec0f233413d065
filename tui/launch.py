"""Start a session from the command line: dashboard, headless script, or plain progress lines."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from weightwatch.engine.errors import BadInput

if TYPE_CHECKING:
    from weightwatch.engine.api import SessionAPI


def prepare(args, config_path: Path):
    """Everything that can be bad input, checked before any window opens (exit code 2)."""
    from weightwatch.engine.config import load_config

    from .cli import select_config_backend

    config = load_config(config_path)
    select_config_backend(config, config_path)  # before the training thread imports Keras
    script = None
    if getattr(args, "script", None):
        from weightwatch.engine.script import load_script

        script = load_script(args.script)
    run_dir = Path(args.run_dir).resolve() if getattr(args, "run_dir", None) else None
    where = "--run-dir" if run_dir else f"{config_path}: [run].run_dir"
    check_writable(run_dir or config.run.run_dir, where)
    if getattr(args, "report", None):
        report = Path(args.report)
        if report.is_dir():
            raise BadInput(f"--report {report}: a folder; give a file name such as report.json")
        check_writable(report.parent, f"--report {report}")
    ref = getattr(args, "from_checkpoint", None)
    if ref:
        check_from(ref, run_dir or config.run.run_dir)
    return config, script, run_dir, ref


def check_writable(folder: Path, where: str) -> None:
    """A folder the run will write into must exist or be creatable, and take a new file: found
    out now, not when the report is written at the end of a long run."""
    from weightwatch.engine.atomic import os_reason

    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".tmp-weightwatch-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise BadInput(f"{where}: cannot write in {folder} ({os_reason(e)})") from None


def check_from(ref: str, run_dir: Path) -> None:
    """--from must name a checkpoint in the run directory or a readable .weights.h5 file with
    finite weights (read with h5py: no TensorFlow, found before training starts)."""
    from weightwatch.engine.checkpoints import CheckpointStore, _problem

    store = CheckpointStore(run_dir, clean=False)
    path, manifest = store.resolve(ref)  # raises CheckpointError (BadInput) if absent
    if path.name.endswith(".keras"):
        raise BadInput(f"--from {ref}: a .keras archive; weightwatch loads .weights.h5 files")
    if not path.name.endswith(".weights.h5"):
        raise BadInput(f"--from {ref}: not a .weights.h5 file")
    problem = _problem(path, manifest.get("sha256") if manifest else None)
    if problem:
        raise BadInput(f"--from {ref}: {problem}")


def launch(args) -> int:
    from .cli import demo_config_path

    if not args.config and not args.script and not args.from_checkpoint and not args.plain:
        return launch_demo(args)  # no config: the guided tour on the built-in demo config
    config_path = Path(args.config) if args.config else demo_config_path()
    config, script, run_dir, ref = prepare(args, config_path)
    if getattr(args, "plain", False):
        return run_plain(config, run_dir, ref, args.report)
    if args.headless or script is not None:
        script = script or train_to_the_end(config_path)
        return run_headless_cli(config, script, run_dir, ref, args.report)
    return run_interactive(config, run_dir, ref, args.report)


def train_to_the_end(config_path: Path):
    """What `--headless` without `--script` does: train every epoch, then quit (the report is
    written as after any script)."""
    from weightwatch.engine.script import Action, Script, Trigger

    return Script(path=config_path, actions=[Action(1, "quit", Trigger("finished"))])


def launch_demo(args) -> int:
    from .demo import run_demo

    return run_demo(args)


def run_interactive(config, run_dir, ref, report) -> int:
    from weightwatch.engine.session import Session

    from .app import WeightwatchApp
    from .stderr_redirect import redirect_stderr_to

    session = Session(config, run_dir=run_dir, from_checkpoint=ref)
    app = WeightwatchApp(session=session, report_path=report)
    session.listener = app.session_listener
    with redirect_stderr_to(session.run_dir / "tensorflow.log"), own_loop() as loop:
        app.run(loop=loop)
    return leave_if_stuck(session, finish_message(session, report, app.internal_error))


def run_headless_cli(config, script, run_dir, ref, report) -> int:
    from weightwatch.engine.session import Session

    from .app import WeightwatchApp
    from .headless import run_app_headless
    from .stderr_redirect import redirect_stderr_to

    session = Session(config, run_dir=run_dir, from_checkpoint=ref)
    app = WeightwatchApp(session, script=script, report_path=report)
    with redirect_stderr_to(session.run_dir / "tensorflow.log"), own_loop() as loop:
        loop.run_until_complete(run_app_headless(app, script))
    return leave_if_stuck(session, finish_message(session, report, app.internal_error))


@contextmanager
def own_loop():
    """An event loop closed without `asyncio.run`'s wait for its executor's threads: the
    training thread runs there, and one stuck in user code (a callback that never returns) must
    not keep a quit from ending. The app writes the report before the loop closes."""
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()  # shuts the executor down without waiting


def leave_if_stuck(session: SessionAPI, code: int) -> int:
    """The exit code, or the end of the process now if the training thread did not stop (Python
    would wait for it at exit for ever). Everything is written by then."""
    stopped = getattr(session, "stopped", None)
    if stopped is None or stopped.wait(STUCK_GRACE_S):
        return code
    print(
        "weightwatch: training did not stop when asked (user code still running: see the last "
        "event in events.jsonl); ended without it",
        file=sys.stderr,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or EXIT_TRAINING_FAILED)


EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_TRAINING_FAILED = 0, 1, 2, 3
QUIT_TIMEOUT_S = 15.0  # as the app's: how long a quit waits for the training thread
STUCK_GRACE_S = 2.0


def finish_message(session: SessionAPI, report, internal_error: BaseException | None = None) -> int:
    """Name the run directory and what went wrong, and pick the exit code: 2 the start failed
    (bad input), 1 an internal error, 3 training ended in an error (the model or a callback
    raised, or the loss diverged, and it was not resumed), 1 a report left unwritten, else 0.
    A failed command or script action (a bad load) is an `error` event only: still 0."""
    from weightwatch.engine.report import training_error

    from .summary import run_summary

    unwritten = unwritten_reports(session, report)
    if failed_start(session) is None:  # a start that failed says why in one line, no summary
        print(run_summary(session.report(), session.run_dir, report, unwritten))
    print(f"weightwatch: run directory {session.run_dir}", flush=True)
    if unwritten:
        print(
            f"weightwatch: could not write the report to {', '.join(map(str, unwritten))}; "
            "events.jsonl and metrics.csv in the run directory hold the run",
            file=sys.stderr,
        )
    start_error = failed_start(session)
    if start_error is not None:
        print(f"weightwatch: could not start: {start_error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if internal_error is not None:
        print(f"weightwatch: internal error: {one_line(internal_error)}", file=sys.stderr)
        return EXIT_INTERNAL
    failed = training_error(session.events())
    if failed is not None:
        print(f"weightwatch: training ended in an error: {failed}", file=sys.stderr)
        return EXIT_TRAINING_FAILED
    return EXIT_INTERNAL if unwritten else EXIT_OK


def failed_start(session: SessionAPI) -> str | None:
    """The message of the start error, if the session never got going (a retry that started
    clears it)."""
    from weightwatch.engine.events import SessionState

    for event in reversed(session.events()):
        if event.kind == "started":
            return None
        if event.kind == "error" and event.detail.get("action") == "start":
            return str(event.detail.get("message"))
    if session.state is SessionState.FAILED:
        return session.status().message
    return None


def one_line(exc: BaseException) -> str:
    first = next(iter(str(exc).strip().splitlines()), "")
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def unwritten_reports(session: SessionAPI, report) -> list[Path]:
    """The report files that do not hold this session's final report (a full disk, say)."""
    final = session.report()
    paths = [session.run_dir / "report.json", *([Path(report)] if report else [])]
    unwritten = []
    for path in paths:
        try:
            written = json.loads(path.read_text(encoding="utf-8"))
            same = (written["session_steps"], len(written["events"])) == (
                final["session_steps"],
                len(final["events"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            same = False
        if not same:
            unwritten.append(path)
    return unwritten


def run_plain(config, run_dir, ref, report) -> int:
    """No screen: train to the end, one line per epoch; Ctrl+C / SIGTERM stop cleanly."""
    from weightwatch.engine.events import Event, SessionState, StateChanged
    from weightwatch.engine.report import write_report
    from weightwatch.engine.session import Session

    from .summary import plain_line

    done = threading.Event()

    def listen(msg) -> None:
        if isinstance(msg, Event) and msg.kind in (
            "started",
            "finished",
            "error",
            "diverged",
            "quit",
        ):
            extra = msg.detail.get("message") or msg.detail.get("reason") or ""
            print(
                f"[step {msg.session_step}] {msg.kind} {msg.verdict or ''} {extra}".rstrip(),
                flush=True,
            )
        elif isinstance(msg, StateChanged) and msg.state in (
            SessionState.FINISHED,
            SessionState.FAILED,
            SessionState.PAUSED,  # the model or a callback raised, or it diverged: nobody
            SessionState.STOPPED,  # here can resume it; the thread itself ended
        ):
            done.set()

    session = Session(config, run_dir=run_dir, from_checkpoint=ref, listener=listen)
    last_epoch = [-1]

    def progress() -> None:
        st = session.status()
        if st.epoch != last_epoch[0] and st.loss is not None:
            last_epoch[0] = st.epoch
            print(plain_line(st), flush=True)  # epoch counted from 1, steps/s, ETAs

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    from .cli import quiet_fd2

    with quiet_fd2():
        thread = session.start()
        while not (done.is_set() or stop.is_set()):
            progress()
            done.wait(0.1)  # often enough for a line per epoch of a small model
        progress()
        try:
            session.stop().result(timeout=QUIT_TIMEOUT_S)
        except TimeoutError:
            pass  # stuck in user code: the report below says what is known
        thread.join(timeout=STUCK_GRACE_S)
    final = session.report()
    for path in (session.run_dir / "report.json", *([Path(report)] if report else [])):
        try:
            write_report(final, path)
        except OSError:
            pass  # finish_message names every report that could not be written
    return leave_if_stuck(session, finish_message(session, report))
