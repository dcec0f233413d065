"""A follower process of a run over several processes (engine/peers.py): started by process 0,
never by hand.

    python -m weightwatch.engine.follower CONFIG --peer I/N/HOST:PORT [--from FILE]

It trains the same config headless on its own rows of every batch, applies the commands that
process 0 relays, and keeps nothing: its run directory is a temporary one, removed at the end.
Its output (this module's lines, TensorFlow's and JAX's) is `RUN_DIR/process-I.log` of process
0. The last line says how it ended: `process I: stopped at step S, weights <sha256>`. Exit 0
when process 0 stopped it, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="weightwatch.engine.follower")
    parser.add_argument("config")
    parser.add_argument("--peer", required=True, help="I/N/HOST:PORT (set by process 0)")
    parser.add_argument("--from", dest="from_checkpoint", default=None)
    args = parser.parse_args(argv)
    from .peers import ENV

    os.environ[ENV] = args.peer
    index = args.peer.split("/", 1)[0]
    from .backend_env import select_backend
    from .config import load_config

    config = load_config(args.config)
    select_backend(config.run, args.config)
    from .session import Session

    scratch = tempfile.mkdtemp(prefix=f"weightwatch-process-{index}-")
    code = 1
    try:
        session = Session(config, run_dir=scratch, from_checkpoint=args.from_checkpoint)
        try:
            session.run()
        except Exception as e:  # process 0 gone while this one waited for its next command
            print(f"process {index}: stopping: {e}", flush=True)
            return 1
        report = session.report()
        final = report.get("final") or {}
        events = report.get("events") or []
        stopped = bool(events) and events[-1].get("kind") == "quit"
        print(
            f"process {index}: stopped at step {final.get('model_step')}, "
            f"weights {final.get('fingerprint')}",
            flush=True,
        )
        code = 0 if stopped else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
