"""Child process for the kill -9 trials: a real session that saves after every batch.

Usage: python saver_child.py CONFIG RUN_DIR. Prints `ready` once the first save is done, then
keeps training one batch and saving (rotating over a few names, so saves also overwrite) until
it is killed.
"""

from __future__ import annotations

import itertools
import sys

from weightwatch.engine.config import load_config
from weightwatch.engine.session import Session

NAMES = ("a", "b", "c", "d")


def slow_disk(seconds: float = 0.02) -> None:
    """A disk whose fsync takes `seconds`. Saves are built in memory and reach the disk in one
    short write, so on a fast disk few random kills land while their files are on disk; a slow
    fsync (as on a busy or network disk) widens that window, so that the trials do test it."""
    import os
    import time

    real = os.fsync

    def fsync(fd: int) -> None:
        time.sleep(seconds)
        real(fd)

    os.fsync = fsync


def main(config_path: str, run_dir: str) -> None:
    slow_disk()
    session = Session(load_config(config_path), run_dir=run_dir)
    hold = session.hold_at_step(1)
    session.start()
    step = hold.result(120)
    for i in itertools.count():
        session.save(NAMES[i % len(NAMES)]).result(120)
        if i == 0:
            print("ready", flush=True)
        hold = session.hold_at_step(step + 1)  # registered while parked: race-free
        session.release()
        step = hold.result(120)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
