"""`weightwatch` command line: run, check, demo, inspect.

Startup stays light (no TensorFlow): bad input is reported in a fraction of a second, and the
dashboard draws its first frame before the training thread imports TensorFlow.
Exit codes: 0 success, 2 bad input (one line naming the file and key), 1 internal error, 3
training ended in an error (see `launch.finish_message`).
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from weightwatch.engine.errors import BadInput

from . import detach

EPILOG = """examples:
  weightwatch run                      the built-in demo config, live
  weightwatch run config.toml          your own run
  weightwatch run config.toml --headless --script steps.toml --report report.json
  weightwatch check config.toml        validate a config (and --script) without training
  weightwatch demo                     the guided tour: continue, restore, reset, optimizer reset
  weightwatch demo --autoplay 2        the same tour by itself, for a screencast recorder
  weightwatch inspect runs/NAME        checkpoints, segments and events of a run
"""


def demo_config_path(name: str = "reference.toml") -> Path:
    from importlib import resources  # ~10 ms, only when the demo config is used

    return Path(str(resources.files("weightwatch.demo_data").joinpath(name)))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="weightwatch",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Drive a Keras training run live and see whether your weights continued, "
        "were restored, or were reset.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="train with the live dashboard")
    run.add_argument("config", nargs="?", help="config TOML (default: the built-in demo)")
    _run_options(run)
    detach.add_run_options(run)  # --detach, --listen (tui/detach.py)
    run.add_argument(
        "--plain", action="store_true", help="no dashboard: one progress line per epoch (logs, CI)"
    )
    chk = sub.add_parser("check", help="validate a config (and a headless script)")
    chk.add_argument("config")
    chk.add_argument("--script", help="headless script TOML to validate too")
    demo = sub.add_parser("demo", help="the guided tour of the four verdicts")
    demo.add_argument("--headless", action="store_true", help="run the tour without a screen")
    demo.add_argument(
        "--autoplay",
        type=_seconds,
        metavar="SECONDS",
        help="run the live tour by itself: each step SECONDS after training holds, then quit "
        "and write the report (for screencasts: asciinema rec -c 'weightwatch demo --autoplay 2')",
    )
    demo.add_argument("--report", help="write the report JSON here")
    demo.add_argument("--screenshots", help="folder for one SVG per step")
    demo.add_argument("--run-dir", dest="run_dir", help="run directory")
    ins = sub.add_parser("inspect", help="checkpoints, segments and events of a run directory")
    ins.add_argument("run_dir")
    ins.add_argument("--json", action="store_true", help="machine-readable output")
    _serve_parser(sub)
    detach.add_parsers(sub)  # stop, ps
    _attach_parser(sub)
    return p


def _attach_parser(sub) -> None:
    att = sub.add_parser("attach", help="the dashboard on a live session (run --detach)")
    att.add_argument(
        "address", nargs="?", help="RUN_DIR or tcp://HOST:PORT (default: your one live session)"
    )
    att.add_argument("--token-file", help="the TCP token (RUN_DIR/.session/token, copied)")
    att.add_argument("--headless", action="store_true", help="no screen: perform --script")
    att.add_argument("--script", help="headless script TOML: actions to perform")
    att.add_argument("--report", help="write the report JSON here")


def _serve_parser(sub) -> None:
    srv = sub.add_parser("serve", help="the attached dashboard in a browser (each tab a viewer)")
    srv.add_argument("run_dir", help="run directory of a live session (run --detach)")
    srv.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, received {text!r}")
    return value


def _run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--headless", action="store_true", help="no screen (CI, scripts)")
    run.add_argument("--script", help="headless script TOML: actions to perform")
    run.add_argument("--report", help="write the report JSON here")
    run.add_argument(
        "--from",
        dest="from_checkpoint",
        metavar="CHECKPOINT",
        help="start from this checkpoint (name in the run dir, or a path)",
    )
    run.add_argument("--run-dir", dest="run_dir", help="run directory (default runs/NAME)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        args = build_parser().parse_args(["run", *(argv or sys.argv[1:])])
    try:
        return COMMANDS[args.command](args)
    except BadInput as e:
        print(f"weightwatch: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `weightwatch inspect RUN | head`: the reader left, that is fine
        sys.stdout = None  # type: ignore[assignment]  # no flush error at exit either
        return 0


@contextmanager
def quiet_fd2():
    """TensorFlow's C++ start-up chatter goes straight to fd 2; keep it off the terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    sys.stderr.flush()
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def select_config_backend(config, file) -> str:
    """`KERAS_BACKEND` from the config's `[run] backend`, before anything imports Keras (the
    training thread, a trial, a detached session's child): engine/backend_env.py."""
    from weightwatch.engine.backend_env import select_backend

    return select_backend(config.run, str(file))


def cmd_check(args) -> int:
    from weightwatch.engine.config import load_config

    config = load_config(args.config)
    script = None
    if args.script:
        from weightwatch.engine.script import load_script

        script = load_script(args.script)
    select_config_backend(config, args.config)
    if config.run.backend == "jax":  # the trial below imports Keras, hence JAX: say it plainly
        from weightwatch.engine.backend_env import require_jax

        require_jax(str(args.config))
    from weightwatch.engine.check import check_config, check_script  # may import Keras: after

    with quiet_fd2():
        notes = check_config(config)
        if script is not None:
            notes += check_script(script, config)
    for line in notes:
        print(line)
    print(f"{args.config}: OK")
    return 0


def cmd_inspect(args) -> int:
    from .inspect_view import inspect_command

    return inspect_command(Path(args.run_dir), as_json=args.json)


def cmd_run(args) -> int:
    if args.detach:
        return detach.run_detached(args)
    from .launch import launch

    return launch(args)


def cmd_demo(args) -> int:
    from .launch import launch_demo

    return launch_demo(args)


def cmd_serve(args) -> int:
    from .serve import serve_command

    return serve_command(args)


COMMANDS = {"run": cmd_run, "check": cmd_check, "inspect": cmd_inspect, "demo": cmd_demo}
COMMANDS["serve"] = cmd_serve
COMMANDS["stop"] = detach.stop


def cmd_ps(args) -> int:
    from .ps import ps

    return ps(args)


COMMANDS["ps"] = cmd_ps


def cmd_attach(args) -> int:
    from .attach import attach_command

    return attach_command(args)


COMMANDS["attach"] = cmd_attach

if __name__ == "__main__":
    sys.exit(main())
