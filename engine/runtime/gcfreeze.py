"""Python's cycle collector, kept off the training's back.

A full collection walks every object the process holds (TensorFlow, Keras, the model, the
dashboard: ~300k objects) with the GIL held: 0.15-0.3 s in which neither the training thread
nor the screen moves, and a short job meets one or two of them (plain `fit` of the reference
MLP: one of 0.15 s in 12 epochs; the dashboard's thread met them in 2 of 5 whole-job runs).
Everything alive when training starts lives as long as the session, so it is frozen
(`gc.freeze()`: out of the collector's walks); the collector then only walks what training
makes since. What a transition drops (a rebuild's old model, a recompile's optimizer and
traced functions) is collected at that transition, which is rare and already takes a retrace:
unfreeze, collect, freeze again. The session's end unfreezes, so that a process running one
session after another (a test suite, a notebook) can collect each one's leftovers.
"""

from __future__ import annotations

import gc


def settle(collect: bool = False) -> None:
    """Freeze what is alive now; with `collect`, first collect what the transition dropped."""
    if collect:
        gc.unfreeze()
        gc.collect()
    gc.freeze()


def release() -> None:
    """The session ends: everything may be collected again."""
    gc.unfreeze()
