"""keras.io "Timeseries classification from scratch" (hfawaz), ported to weightwatch.

The original classifies FordA engine-noise series (length 500, one channel) with a fully
convolutional network: three Conv1D + BatchNormalization + ReLU blocks, global average pooling
and a softmax head, trained with `sparse_categorical_crossentropy`, `validation_split=0.2` and
three callbacks (ModelCheckpoint of the best val_loss, ReduceLROnPlateau, EarlyStopping). Here
the series are synthetic: class 1 carries a faint periodic burst that class 0 lacks. The
optimizer is SGD with Nesterov momentum and clipnorm (the original uses Adam), to show the
optimizer table.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers


def build(length: int = 500, num_classes: int = 2, filters: int = 64):
    """The FCN of the original: three conv blocks with BatchNormalization, GAP, softmax."""
    inputs = keras.Input((length, 1))
    x = inputs
    for _ in range(3):
        x = layers.Conv1D(filters=filters, kernel_size=3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def load(n: int = 400, length: int = 500, seed: int = 0):
    """(x, y): z-normalised series shaped (n, length, 1) and integer labels 0/1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    t = np.arange(length)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    burst = np.sin(t[None, :] * 0.3 + phase) * (np.sin(t[None, :] * 0.02) > 0.5)
    x = rng.normal(size=(n, length)) + 1.5 * burst * y[:, None]
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    return x[..., None].astype("float32"), y.astype("int32")
