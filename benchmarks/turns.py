"""The child's side of a lockstep round (benchmarks/lockstep.py): the runs of one round are alive
at once and take turns with the machine, one epoch each, so that epoch e of every kind runs within
a few seconds of the others' and the host's swings hit every side alike.

A run waits for its turn before its clock starts (`take`), hands the machine on at every epoch's
end (`Turn`, a callback with only `on_epoch_end`, given to plain `fit` and to the engine alike)
and says when it is done (`finish`). The time it waits, and the CPU its process used meanwhile
(the dashboard's status refresh, idle threads), are taken out of its own timing and reported.
"""

from __future__ import annotations

import os
import time

import keras


class Turns:
    """Turn-taking over two pipe ends: `r` for the coordinator's "go", `w` for the replies."""

    def __init__(self, r: int, w: int) -> None:
        self.r, self.w = r, w
        self.waited = 0.0  # wall seconds spent waiting for a turn after the first
        self.waited_cpu = 0.0  # CPU seconds this process used meanwhile
        self.turns = 0
        self.segments: list[float] = []  # wall seconds of each turn
        self._began = 0.0

    def ready(self) -> None:
        os.write(self.w, b"r")

    def take(self) -> None:
        if os.read(self.r, 1) != b"g":
            raise RuntimeError("the lockstep coordinator went away")
        self.turns += 1
        self._began = time.perf_counter()

    def pass_on(self) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.segments.append(wall - self._began)
        os.write(self.w, b"d")
        self.take()
        self.waited += time.perf_counter() - wall
        self.waited_cpu += time.process_time() - cpu

    def finish(self) -> None:
        self.segments.append(time.perf_counter() - self._began)
        os.write(self.w, b"e")


TURNS: Turns | None = None  # the child sets it before training


class Turn(keras.callbacks.Callback):
    """Hands the machine on at every epoch's end (only an epoch-level hook: Keras's batch-level
    dispatch stays as it is without callbacks)."""

    def on_epoch_end(self, epoch, logs=None):
        if TURNS is not None:
            TURNS.pass_on()
