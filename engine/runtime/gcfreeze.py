"""Python's cycle collector, kept off the training's back.

A full collection walks every object the process holds (TensorFlow, Keras, the model, the
dashboard: ~300k objects) with the GIL held: 0.15-0.3 s in which neither the training thread
nor the screen moves, and a short job meets one or two of them (plain `fit` of the reference
MLP: one of 0.15 s in 12 epochs; the dashboard's thread met them in 2 of 5 whole-job runs).
Everything alive when training starts lives as long as the session, so it is frozen
(`gc.freeze()`: out of the collector's walks); the collector then only walks what training
makes since. A rebuild or recompile drops a model or an optimizer and its traced functions,
which may be frozen: it unfreezes, and the collector goes back to its usual walks (the next
one frees them). The session's end unfreezes too, so that a process running one session after
another (a test suite, a notebook) collects each one's leftovers.

Never `gc.collect()` here: on the training thread, an explicit collection runs the finalizers
of whatever garbage the process holds (another session's, a closed event loop's), and one that
waits for a lock held by a thread waiting on this one hangs both (it did, in the test suite).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Freeze what is alive now (training starts)."""
    gc.freeze()


def release() -> None:
    """A transition dropped what may be frozen, or the session ends: everything may be
    collected again."""
    gc.unfreeze()
