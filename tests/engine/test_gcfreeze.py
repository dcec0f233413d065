"""The cycle collector is kept off the training's back (engine/runtime/gcfreeze.py): what is
alive when training starts is frozen, what a rebuild or recompile drops is collected at that
transition, and the session's end unfreezes."""

from __future__ import annotations

import gc
import weakref

from weightwatch.engine.config import load_config

from tests.conftest import write_config
from tests.engine.kit import T, finish, held_at, started


class Node:
    """Cyclic garbage: only the cycle collector frees it (refcounting cannot)."""

    def __init__(self) -> None:
        self.me = self


def test_frozen_while_training_collected_at_transitions_released_at_the_end(tmp_path):
    gc.unfreeze()
    cfg = load_config(write_config(tmp_path, epochs=40, n=64, batch=16))
    alive = [Node()]  # alive when training starts: frozen with everything else
    watched = weakref.ref(alive[0])
    session = started(cfg, hold=3, run_dir=tmp_path / "run")
    held_at(session, 3)
    assert gc.get_freeze_count() > 1000  # TensorFlow, Keras, the model: out of the walks
    alive.clear()  # dropped while frozen: no walk finds it, not even a full one
    gc.collect()
    assert watched() is not None
    assert session.rebuild().result(T) == "reset"
    assert watched() is None  # the rebuild collected what had been frozen and was dropped
    assert gc.get_freeze_count() > 1000  # and froze what lives on
    alive.append(Node())
    watched = weakref.ref(alive[0])
    gc.freeze()  # as if it had been alive at the last settle
    alive.clear()
    assert session.recompile(optimizer="sgd").result(T) == "optimizer_reset"
    assert watched() is None
    report = finish(session)
    assert report["final"]["epoch"] == 40
    assert gc.get_freeze_count() == 0  # a process running session after session collects each
