"""keras.io "Simple MNIST convnet" (fchollet), ported to weightwatch.

The original trains two Conv2D/MaxPooling2D blocks, Dropout(0.5) and a softmax head on MNIST
with `categorical_crossentropy`, Adam and `validation_split=0.1`. Here the images are synthetic
(each class a fixed random pattern of lit pixels plus noise), small enough to train in seconds,
and a `LearningRateScheduler` (a plain function, given to the config by `{ import = ... }`)
halves the learning rate after the first epoch.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers


def build(num_classes: int = 10, image_size: int = 28, dropout: float = 0.5):
    """The original's Sequential convnet; `image_size` shrinks it for a quick run."""
    return keras.Sequential(
        [
            keras.Input(shape=(image_size, image_size, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(dropout),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


def load(n: int = 400, num_classes: int = 10, image_size: int = 28, seed: int = 0):
    """Images in [0, 1] shaped (n, size, size, 1) and one-hot labels, as the original's
    `to_categorical(y)`; the same seed gives the same arrays."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((num_classes, image_size, image_size)) > 0.8
    labels = rng.integers(0, num_classes, size=n)
    noise = rng.random((n, image_size, image_size)) * 0.5
    x = np.clip(prototypes[labels] * 0.7 + noise, 0.0, 1.0).astype("float32")[..., None]
    y = keras.utils.to_categorical(labels, num_classes).astype("float32")
    return x, y


BASE_LR = 0.001  # Adam's default, which the config keeps


def halve_after_first_epoch(epoch: int, lr: float) -> float:
    """The schedule `LearningRateScheduler` calls at each epoch's start.

    A function of the epoch alone, not of `lr`: a run resumed in the middle of an epoch calls
    `on_epoch_begin` for that epoch again (as Keras's BackupAndRestore does), and `lr * 0.5`
    would halve the restored rate a second time.
    """
    return BASE_LR if epoch < 1 else BASE_LR * 0.5
