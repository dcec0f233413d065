"""The loop never frees a spent `tf.data` iterator on the training thread (engine/reaper.py).

Freeing an autotuned pipeline's iterator waits for TensorFlow's autotuning thread; with the
dashboard live, after the training thread had waited in a slow `on_epoch_end` (or sat paused),
the end of the run waited 10-20 s in `TrainLoop.end` for it (measured: resume -> finished 10.4 s
for 25 batches after a 30 s pause, 0.07-0.11 s with the reaper)."""

from __future__ import annotations

import tensorflow as tf
from weightwatch.engine import reaper

from .hook_trace_kit import EPOCHS, SPE, looped


def _released(monkeypatch) -> list:
    released: list = []
    monkeypatch.setattr(reaper, "release", lambda holder: released.append(holder.pop()))
    return released


def _iterator(obj) -> bool:
    return isinstance(obj, tf.distribute.DistributedIterator | tf.data.Iterator)


def test_the_iterator_of_a_finished_run_goes_to_the_reaper(monkeypatch):
    released = _released(monkeypatch)
    loop, rec, _ = looped()
    loop.run()
    assert loop.epoch == EPOCHS
    assert loop._it is None  # the loop keeps no reference to it
    # one iterator serves every epoch: it is let go once, at the end, off the thread
    assert len(released) == 1 and _iterator(released[0])
    assert rec.trace[-1][0] == "train_end"


def test_a_move_to_another_position_hands_the_old_iterator_over(monkeypatch):
    released = _released(monkeypatch)
    loop, _, driver = looped({("batch", 1, 3): lambda loop: loop.model_changed(epoch=0, step=2)})
    loop.run()
    # the old one (the loop's reference and the batch loop's own, each handed over), then the
    # iterator from the new position, at the end
    assert all(_iterator(it) for it in released)
    assert len({id(it) for it in released}) == 2 and released[0] is not released[-1]
    # the epoch moved to went on where the move put it, and the run ended as planned
    assert loop.epoch == EPOCHS and driver.batches == SPE + 3 + (SPE - 2) + SPE * (EPOCHS - 1)


def test_with_steps_per_execution_each_epochs_iterator_goes_to_the_reaper(monkeypatch):
    released = _released(monkeypatch)
    loop, _, _ = looped()
    loop.model.compile("adam", "categorical_crossentropy", steps_per_execution=2)
    loop.run()
    # one iterator an epoch (an execution stops at the epoch's end), each let go off the thread
    assert len(released) == EPOCHS and all(_iterator(it) for it in released)
    assert len({id(it) for it in released}) == EPOCHS
