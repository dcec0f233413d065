"""The cycle collector is kept off the training's back (engine/runtime/gcfreeze.py): what is
alive when training starts is frozen; a rebuild or recompile, which drops a model or an
optimizer, unfreezes so that the next collection frees them; the session's end unfreezes."""

from __future__ import annotations

import gc
import weakref

import pytest
from weightwatch.engine.config import load_config

from tests.conftest import write_config
from tests.engine.kit import T, finish, held_at, started


class Node:
    """Cyclic garbage: only the cycle collector frees it (refcounting cannot)."""

    def __init__(self) -> None:
        self.me = self


@pytest.mark.parametrize("transition", ["rebuild", "recompile"])
def test_frozen_while_training_released_by_a_transition_and_at_the_end(tmp_path, transition):
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
    if transition == "rebuild":
        assert session.rebuild().result(T) == "reset"
    else:
        assert session.recompile(optimizer="sgd").result(T) == "optimizer_reset"
    assert gc.get_freeze_count() == 0  # what the transition dropped is collectable again
    gc.collect()
    assert watched() is None
    report = finish(session)
    assert report["final"]["epoch"] == 40
    assert gc.get_freeze_count() == 0
