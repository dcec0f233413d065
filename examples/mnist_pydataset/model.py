"""The Keras guide "Training & evaluation with the built-in methods" (fchollet), its MNIST MLP
fed by a `keras.utils.PyDataset`, ported to weightwatch.

The guide's `get_compiled_model()` is a functional MLP (784 "digits" -> Dense 64 -> Dense 64 ->
10 softmax "predictions") compiled with `RMSprop(learning_rate=1e-3)`,
`SparseCategoricalCrossentropy` and `SparseCategoricalAccuracy`; its `ExamplePyDataset` serves
batches by index (`__len__`, `__getitem__`), and `fit` takes one for training and one as
`validation_data`. Here the digits are synthetic. Python code makes each batch, so a resume
cannot be exact: weightwatch says "data position: start of epoch" and the epoch's batches are
drawn again.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers


def build(units: int = 64, features: int = 784):
    inputs = keras.Input(shape=(features,), name="digits")
    x = layers.Dense(units, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(units, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


class DigitBatches(keras.utils.PyDataset):
    """The guide's ExamplePyDataset: batch `idx` is rows idx*b .. (idx+1)*b."""

    def __init__(self, x, y, batch_size: int, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx: int):
        rows = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        return self.x[rows], self.y[rows]


def _digits(rng, n: int, features: int, prototypes: np.ndarray):
    y = rng.integers(0, 10, size=n)
    x = prototypes[y] + rng.normal(scale=0.3, size=(n, features))
    return x.astype("float32"), y.astype("int32")


def load(n: int = 320, n_val: int = 64, features: int = 784, batch_size: int = 32, seed: int = 0):
    """{"train": a PyDataset of (x, y) batches, "validation": another}."""
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((10, features)) > 0.8).astype("float32")
    x, y = _digits(rng, n, features, prototypes)
    x_val, y_val = _digits(rng, n_val, features, prototypes)
    return {
        "train": DigitBatches(x, y, batch_size),
        "validation": DigitBatches(x_val, y_val, batch_size),
    }
