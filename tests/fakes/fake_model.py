"""What the fake trains instead of a model: a counter of batches, and numbers derived from it.

The loss and the weight norms follow from "batches these weights have seen", so a rebuild sets
the norm trace back to its initial level and a load puts back the checkpoint's value, as a real
model's would. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

from weightwatch.engine.specs import (
    CallbackSpec,
    CompileSpec,
    Config,
    DataSpec,
    ModelSpec,
    RunSpec,
    TrainSpec,
)
from weightwatch.tui.screens.dialogs import OPTIMIZERS as DIALOG_OPTIMIZERS

OPTIMIZERS = DIALOG_OPTIMIZERS  # what the recompile dialog offers: one list, no copy
# The optimizer's class name, as the engine's status carries it ("Adam", not Keras' "adam_1").
CLASS_NAMES = {name: name.capitalize() for name in OPTIMIZERS} | {
    "adamw": "AdamW",
    "sgd": "SGD",
    "rmsprop": "RMSprop",
}
LAYERS = ("dense", "dense_1", "dense_2")
LAYER_SHARE = (0.62, 0.71, 0.33)  # each layer's share of the global norm (squares sum to ~1)
STEPS_PER_S = 480.0  # fixed, so that snapshots are deterministic


def fake_config(
    run_dir: Path,
    *,
    epochs: int = 4,
    steps_per_epoch: int = 60,
    callbacks: tuple[CallbackSpec, ...] = (),
) -> Config:
    """A config the fake can run (nothing in it is ever imported)."""
    return Config(
        path=run_dir / "fake.toml",
        run=RunSpec(name="fake", run_dir=run_dir, seed=0),
        model=ModelSpec(builder="fake:model"),
        compile=CompileSpec(optimizer="adam", learning_rate=1e-3),
        data=DataSpec(),
        train=TrainSpec(epochs=epochs, steps_per_epoch=steps_per_epoch),
        callbacks=callbacks,
    )


@dataclass
class Weights:
    """What a real model's weights boil down to here."""

    instance: int = 1
    seed: int = 0
    trained: int = 0  # batches these weights have seen
    bump_at: int = -(10**9)  # `trained` when the optimizer state was last dropped

    def norm(self) -> float:
        start = 8.0 + 0.4 * (self.seed % 5)
        return start + 6.0 * (1.0 - math.exp(-self.trained / 120.0))

    def loss(self, session_step: int) -> float:
        base = 0.08 + 1.2 * math.exp(-self.trained / 60.0)
        bump = 0.35 * math.exp(-(self.trained - self.bump_at) / 12.0)  # Adam moments lost
        return base * (1.0 + 0.12 * math.sin(session_step * 0.7)) + bump

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.instance}:{self.seed}:{self.trained}".encode()).hexdigest()
