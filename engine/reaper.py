"""Spent `tf.data` iterators freed off the training thread.

Freeing the iterator of a pipeline with an autotuned stage (`prefetch(AUTOTUNE)`, how most
pipelines end) stops its autotuning thread, and that waits for an optimization pass in flight:
on the 2-core host it took 0.25-1.2 s in about one epoch of six (the reference job's pipeline
met it 1-3 times in 12 epochs: 0.5-1.5 s of a 7 s job), against 0.5 ms otherwise, and not once
with autotuning off. `fit` frees each epoch's iterator on its training thread and waits; a feed
hands its spent iterators to one daemon thread here instead, whose `del` waits in TensorFlow's
C++ without the GIL while training goes on.

Only an iterator nothing reads again comes here: its teardown changes no state a later
iterator of the same dataset sees (an `iter()` draws a reshuffling dataset's seeds when it is
made, never when it is freed).

At exit the thread frees what is left before the interpreter finalises: a daemon thread that
comes back from TensorFlow's C++ after that is ended by a forced unwind, which TensorFlow's
`catch (...)` swallows, and the process aborts ("FATAL: exception not rethrown", exit 134,
after the report was written: half of the mirrored runs did until this drain).
"""

from __future__ import annotations

import atexit
import queue
import threading
from typing import Any

_lock = threading.Lock()
_queue: queue.SimpleQueue | None = None
_thread: threading.Thread | None = None
_closed = False
_STOP = object()


def release(holder: list[Any]) -> None:
    """Free the one object in `holder` (which the caller empties: no other reference may be
    left) on the reaper thread."""
    global _queue, _thread
    with _lock:
        if not _closed:
            if _queue is None:
                _queue = queue.SimpleQueue()
                _thread = threading.Thread(
                    target=_reap, args=(_queue,), name="weightwatch-reaper", daemon=True
                )
                _thread.start()
                atexit.register(drain)
            _queue.put(holder.pop())
            return
    holder.pop()  # exiting: freed here, outside the lock (a teardown may release in turn)


def drain() -> None:
    """Free everything handed over so far and end the thread (at exit; later releases free
    inline)."""
    global _closed
    with _lock:
        _closed = True
        if _queue is None or _thread is None:
            return
        _queue.put(_STOP)
    _thread.join()


def _reap(spent: queue.SimpleQueue) -> None:
    while True:
        item = spent.get()
        if item is _STOP:
            return
        del item  # the last reference: the iterator's teardown runs here
