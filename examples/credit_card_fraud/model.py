"""keras.io "Imbalanced classification: credit card fraud detection" (fchollet), ported.

The original normalises 30 transaction features, trains a 3x256 Dense network with Dropout(0.3)
and a sigmoid head with `Adam(1e-2)` and `binary_crossentropy`, reports six confusion metrics
(FalseNegatives ... Recall, each with a short name), weighs the rare class up with
`class_weight = {0: 1/count0, 1: 1/count1}` and writes a checkpoint every epoch. Here the
transactions are synthetic (about 4 % fraud, shifted in a few features) and the network is
narrower; the class weights are those the original's formula gives for this data, scaled so
that class 0 weighs 1.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers


def build(features: int = 30, units: int = 256, dropout: float = 0.3):
    return keras.Sequential(
        [
            keras.Input(shape=(features,)),
            layers.Dense(units, activation="relu"),
            layers.Dense(units, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(units, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def load(n: int = 512, features: int = 30, fraud_rate: float = 0.04, seed: int = 0):
    """(x, y, x_val, y_val): standardised with the training set's statistics, as the
    original does; labels shaped (n, 1) as its `targets` array."""
    rng = np.random.default_rng(seed)
    total = n + n // 4
    y = (rng.random(total) < fraud_rate).astype("float32")
    x = rng.normal(size=(total, features))
    x[:, :4] += 2.0 * y[:, None]  # fraud moves a few features
    x_train, x_val = x[:n], x[n:]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    return (
        x_train.astype("float32"),
        y[:n, None],
        x_val.astype("float32"),
        y[n:, None],
    )
