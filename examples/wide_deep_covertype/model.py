"""keras.io "Structured data learning with Wide, Deep, and Cross networks" (Khalid Salama),
the Wide & Deep model, ported to weightwatch.

The original predicts the forest cover type (7 classes) from 10 numeric features and 2
categorical ones, fed as a DICT of named scalar inputs. Its wide part one-hot encodes the
categories and normalises everything with BatchNormalization; the deep part embeds them and runs
Dense + BatchNormalization + ReLU + Dropout blocks; both are concatenated into a softmax. It
compiles with `Adam(learning_rate=0.001)`, `SparseCategoricalCrossentropy` and
`SparseCategoricalAccuracy`. The original reads strings through StringLookup; here the synthetic
categories arrive already as integer ids (what StringLookup would output), so the model needs
no vocabulary.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers

NUMERIC = (
    "Elevation",
    "Aspect",
    "Slope",
    "Horizontal_Distance_To_Hydrology",
    "Vertical_Distance_To_Hydrology",
    "Horizontal_Distance_To_Roadways",
    "Hillshade_9am",
    "Hillshade_Noon",
    "Hillshade_3pm",
    "Horizontal_Distance_To_Fire_Points",
)
CATEGORICAL = {"Wilderness_Area": 4, "Soil_Type": 40}  # name -> number of values
NUM_CLASSES = 7


def _inputs() -> dict:
    inputs = {name: keras.Input(shape=(), name=name, dtype="float32") for name in NUMERIC}
    for name in CATEGORICAL:
        inputs[name] = keras.Input(shape=(), name=name, dtype="int32")
    return inputs


def _encode(inputs: dict, embed: bool):
    parts = []
    for name, tensor in inputs.items():
        if name not in CATEGORICAL:
            parts.append(keras.ops.expand_dims(tensor, -1))
        elif embed:
            size = CATEGORICAL[name]
            parts.append(layers.Embedding(size, int(math.sqrt(size)))(tensor))
        else:
            one_hot = layers.CategoryEncoding(CATEGORICAL[name], output_mode="one_hot")
            parts.append(one_hot(keras.ops.expand_dims(tensor, -1)))
    return layers.concatenate(parts)


def build(hidden_units: tuple[int, ...] = (32, 32), dropout: float = 0.1):
    """Wide & Deep over a dict of twelve named inputs."""
    inputs = _inputs()
    wide = layers.BatchNormalization()(_encode(inputs, embed=False))
    deep = _encode(inputs, embed=True)
    for units in hidden_units:
        deep = layers.Dense(units)(deep)
        deep = layers.BatchNormalization()(deep)
        deep = layers.ReLU()(deep)
        deep = layers.Dropout(dropout)(deep)
    merged = layers.concatenate([wide, deep])
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(merged)
    return keras.Model(inputs=inputs, outputs=outputs)


def _rows(rng, n: int):
    cover = rng.integers(0, NUM_CLASSES, size=n)
    x: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):
        shift = 0.6 * cover * (i % 3 == 0)  # a few features tell the cover type
        x[name] = (rng.normal(size=n) + shift).astype("float32")
    x["Wilderness_Area"] = ((cover + rng.integers(0, 2, size=n)) % 4).astype("int32")
    x["Soil_Type"] = ((cover * 5 + rng.integers(0, 5, size=n)) % 40).astype("int32")
    return x, cover.astype("int32")


def load(n: int = 480, n_val: int = 96, seed: int = 0):
    """A dict: `x` and `x_val` are dicts of arrays keyed by input name; `y` integer classes."""
    rng = np.random.default_rng(seed)
    x, y = _rows(rng, n)
    x_val, y_val = _rows(rng, n_val)
    return {"x": x, "y": y, "x_val": x_val, "y_val": y_val}
