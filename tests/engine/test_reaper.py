"""Spent iterators are freed on the reaper thread, never on the caller's (engine/reaper.py)."""

from __future__ import annotations

import subprocess
import sys
import threading

from weightwatch.engine import reaper


class Spent:
    def __init__(self, freed: list, done: threading.Event) -> None:
        self.freed, self.done = freed, done

    def __del__(self) -> None:
        self.freed.append(threading.current_thread().name)
        self.done.set()


def test_a_released_object_is_freed_on_the_reaper_thread_and_the_holder_is_emptied():
    freed: list[str] = []
    for _ in range(3):
        done = threading.Event()
        holder = [Spent(freed, done)]
        reaper.release(holder)
        assert holder == []  # the caller keeps no reference
        assert done.wait(10)
    assert freed == ["weightwatch-reaper"] * 3
    assert sum(t.name == "weightwatch-reaper" for t in threading.enumerate()) == 1


def test_a_pipeline_feed_hands_each_spent_epoch_iterator_to_the_reaper(monkeypatch):
    import numpy as np
    import tensorflow as tf
    from weightwatch.engine.feeds import DatasetFeed

    released: list = []
    monkeypatch.setattr(reaper, "release", lambda holder: released.append(holder.pop()))
    x = np.arange(8, dtype="float32").reshape(8, 1)
    ds = tf.data.Dataset.from_tensor_slices((x, x)).shuffle(8, seed=1).batch(4).prefetch(2)
    feed = DatasetFeed(ds, steps_per_epoch=None)
    first = feed.iterator(None, 0, 0, 3)
    assert feed.iterator(None, 0, 0, 3) is first  # the same epoch: the same iterator
    second = feed.iterator(None, 1, 0, 3)
    assert second is not first
    # fit's unread end-of-epoch iterator, then the spent one
    assert len(released) == 2 and released[1] is first


EXITING = """
import sys, threading, time
from weightwatch.engine import reaper

class Slow:
    def __init__(self, n):
        self.n = n
    def __del__(self):
        time.sleep(0.2)  # as TensorFlow's teardown waits, without the GIL
        with open(sys.argv[1], "a") as f:
            f.write(f"{self.n} {threading.current_thread().name}\\n")

for n in range(4):
    reaper.release([Slow(n)])
# the process ends here, with the frees still in flight
"""


def test_the_frees_handed_over_finish_before_the_process_exits(tmp_path):
    """A daemon thread still freeing when the interpreter finalises is ended by a forced unwind;
    inside TensorFlow's C++ that aborted the process (exit 134, "FATAL: exception not
    rethrown") in half of the mirrored runs. At exit the reaper finishes its work first."""
    log = tmp_path / "freed.txt"
    done = subprocess.run([sys.executable, "-c", EXITING, str(log)], timeout=60)
    assert done.returncode == 0
    assert log.read_text().splitlines() == [f"{n} weightwatch-reaper" for n in range(4)]


def test_a_release_after_the_drain_frees_on_the_callers_thread(tmp_path):
    last = "# the process ends here, with the frees still in flight"
    code = EXITING.replace(last, "reaper.drain()\nreaper.release([Slow(9)])")
    log = tmp_path / "freed.txt"
    assert subprocess.run([sys.executable, "-c", code, str(log)], timeout=60).returncode == 0
    lines = log.read_text().splitlines()
    assert lines == [f"{n} weightwatch-reaper" for n in range(4)] + ["9 MainThread"]
