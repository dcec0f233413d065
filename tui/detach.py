"""`weightwatch run CONFIG --detach`, `weightwatch stop RUN_DIR` (the session process's side).

`run --detach` checks everything `run` checks (exit 2 before anything starts), spawns the session
process (`weightwatch.engine.remote.daemon`, in a new session: a closed terminal or a dropped SSH
connection does not reach it), waits until it answers `hello` and has loaded its model, and
prints where it is and how to attach. `stop` asks the session to stop, waits for its report and
for the process to end, and prints the run summary. `ps` is in tui/ps.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from weightwatch.engine.errors import BadInput, CommandRejected

START_TIMEOUT_S = 600.0  # TensorFlow's import and a model build on a busy machine
STARTING_NOTE_S = 1.0  # say "starting…" once the wait is longer than this
STOP_TIMEOUT_S = 120.0  # a stop lands at the next boundary: one batch (a long one, maybe)
EXIT_TIMEOUT_S = 30.0  # then the report is written and the process ends
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_run_options(run) -> None:
    run.add_argument(
        "--detach",
        action="store_true",
        help="train in a background process; attach to it with `weightwatch attach RUN_DIR`",
    )
    run.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="with --detach: also listen on TCP (loopback by default; for an SSH port-forward), "
        "with a token in RUN_DIR/.session/token",
    )


def add_parsers(sub) -> None:
    stop = sub.add_parser("stop", help="stop a detached session: it writes its report")
    stop.add_argument("run_dir")
    ps = sub.add_parser("ps", help="the detached sessions you started, live or dead")
    ps.add_argument("--json", action="store_true", help="machine-readable output")


# ----- run --detach ----------------------------------------------------------------------------


def run_detached(args) -> int:
    from weightwatch.engine.remote.daemon import parse_listen

    from .cli import demo_config_path
    from .launch import prepare

    for flag in ("headless", "plain", "script", "report"):
        if getattr(args, flag, None):
            raise BadInput(f"--detach: does not combine with --{flag} (attach --headless does)")
    config_path = Path(args.config) if args.config else demo_config_path()
    config, _, run_dir, ref = prepare(args, config_path)
    listen = parse_listen(args.listen)  # a bad --listen is bad input, now
    if listen is not None and listen[0] not in LOOPBACK:
        print(
            f"weightwatch: warning: listening on {listen[0]}, not loopback: anyone who can reach "
            "the port and has the token can steer this run",
            file=sys.stderr,
        )
    run_dir = Path(run_dir or config.run.run_dir).resolve()
    command = [sys.executable, "-m", "weightwatch.engine.remote.daemon", str(config_path)]
    command += ["--run-dir", str(run_dir)]
    command += ["--from", ref] if ref else []
    command += ["--listen", args.listen] if args.listen else []
    log_path = run_dir / "session.log"
    with open(log_path, "ab") as log:
        offset = log.tell()
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own session: SIGHUP of this terminal never reaches it
            env=env,
        )
    return wait_started(child, run_dir, log_path, offset, args.listen)


def wait_started(child, run_dir: Path, log_path: Path, offset: int, listen) -> int:
    """Exit 0 once the session answers and left STARTING; the child's own line and exit code if
    it ended first; 2 (and the session stopped) if its model could not be built."""
    from weightwatch.engine.remote.blocking import Blocking, Unreachable

    began, said = time.monotonic(), False
    while time.monotonic() - began < START_TIMEOUT_S:
        code = child.poll()
        if code is not None:
            line = last_line(log_path, offset) or f"the session process ended (exit code {code})"
            print(
                line if line.startswith("weightwatch:") else f"weightwatch: {line}", file=sys.stderr
            )
            return code or 1
        try:
            link = Blocking(run_dir, viewer="run --detach", timeout=5.0)
            status = link.ask("read", what="status")
        except (Unreachable, CommandRejected, BadInput):
            status = None
        if status is not None and status.get("state") != "starting":
            return started(link, status, run_dir, child.pid, listen)
        if status is not None:
            link.close()
        if not said and time.monotonic() - began > STARTING_NOTE_S:
            print("weightwatch: starting… (loading TensorFlow and building the model)", flush=True)
            said = True
        time.sleep(0.2)
    print(f"weightwatch: the session did not start in {START_TIMEOUT_S:.0f} s; see {log_path}")
    return 1


def started(link, status: dict, run_dir: Path, pid: int, listen) -> int:
    from weightwatch.engine.runlock import shown

    if status.get("state") == "failed":
        print(f"weightwatch: could not start: {status.get('message')}", file=sys.stderr)
        try:
            link.ask("call", method="stop", timeout=STOP_TIMEOUT_S)
        except Exception:
            pass
        link.close()
        return 2
    link.close()
    where = shown(run_dir)
    print(f"weightwatch: session running in {where} (pid {pid}), log {where}/session.log")
    print(f"  attach:  weightwatch attach {where}")
    print(f"  stop:    weightwatch stop {where}")
    if listen:
        address = link.hello.get("listen") if isinstance(link.hello, dict) else None
        print(
            f"  remote:  weightwatch attach tcp://{address or listen}"
            f" --token-file {where}/.session/token"
        )
    return 0


def read_report(path: Path) -> dict | None:
    import json

    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def last_line(path: Path, offset: int) -> str:
    """The last non-empty line the child wrote to session.log (its one-line error)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read()[-8192:].decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


# ----- stop ------------------------------------------------------------------------------------


def stop(args) -> int:
    from weightwatch.engine.remote.address import describe_gone
    from weightwatch.engine.remote.blocking import Blocking, TimedOut, Unreachable

    from .summary import run_summary

    run_dir = Path(args.run_dir).resolve()
    try:
        link = Blocking(run_dir, viewer="stop")
    except Unreachable:
        print(f"weightwatch: {describe_gone(run_dir)}", file=sys.stderr)
        return 1
    print("weightwatch: stopping at the next batch boundary…", flush=True)
    try:
        report = link.ask("call", method="stop", timeout=STOP_TIMEOUT_S)
        ended = link.wait_closed(EXIT_TIMEOUT_S)  # report.json written, socket removed
    except TimedOut:
        print(
            f"weightwatch: the session did not stop within {STOP_TIMEOUT_S:.0f} s (user code "
            f"still running?); it stops at its next batch boundary; see {run_dir}/session.log",
            file=sys.stderr,
        )
        return 1
    except Unreachable:
        report, ended = None, True  # it ended while we asked: report.json says how
    finally:
        link.close()
    written = read_report(run_dir / "report.json")
    report = written or report
    if not isinstance(report, dict):
        print(f"weightwatch: {describe_gone(run_dir)}", file=sys.stderr)
        return 1
    print(run_summary(report, run_dir))
    print(f"weightwatch: run directory {run_dir}")
    if not ended:
        print("weightwatch: the session process has not ended yet", file=sys.stderr)
    return 0 if written is not None else 1
