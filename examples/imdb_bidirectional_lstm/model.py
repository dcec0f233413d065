"""keras.io "Bidirectional LSTM on IMDB" (fchollet), ported to weightwatch.

The original embeds integer word ids (20000 words, reviews cut to 200), runs two stacked
Bidirectional(LSTM(64)) layers and a sigmoid head, compiled with Adam and `binary_crossentropy`
on 1-D 0/1 labels. Here the reviews are synthetic sequences of word ids in which a few "positive"
and "negative" words carry the label; vocabulary, length and width are parameters so that it
trains in seconds. Each review also gets a sample weight (short reviews count less), passed with
the loader's dict form (`sample_weight`, `sample_weight_val`).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers


def build(max_features: int = 20000, maxlen: int = 200, embed: int = 128, units: int = 64):
    """Embedding + two Bidirectional LSTMs + a sigmoid unit, as in the original."""
    inputs = keras.Input(shape=(maxlen,), dtype="int32")
    x = layers.Embedding(max_features, embed)(inputs)
    x = layers.Bidirectional(layers.LSTM(units, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(units))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def _reviews(rng, n: int, max_features: int, maxlen: int):
    labels = rng.integers(0, 2, size=n)
    ids = rng.integers(10, max_features, size=(n, maxlen))
    lengths = rng.integers(maxlen // 4, maxlen + 1, size=n)
    marker = np.where(labels == 1, 2, 3)  # word 2 reads "great", word 3 "awful"
    hits = rng.random((n, maxlen)) < 0.15
    ids = np.where(hits, marker[:, None], ids)
    pad = np.arange(maxlen)[None, :] < (maxlen - lengths)[:, None]  # pre-padding, as pad_sequences
    ids = np.where(pad, 0, ids).astype("int32")
    weights = (0.5 + 0.5 * lengths / maxlen).astype("float32")
    return ids, labels.astype("float32"), weights


def load(
    n: int = 320, n_val: int = 64, max_features: int = 20000, maxlen: int = 200, seed: int = 0
):
    """A dict: x/y, their sample weights, and a validation set with its own weights."""
    rng = np.random.default_rng(seed)
    x, y, w = _reviews(rng, n, max_features, maxlen)
    x_val, y_val, w_val = _reviews(rng, n_val, max_features, maxlen)
    return {
        "x": x,
        "y": y,
        "sample_weight": w,
        "x_val": x_val,
        "y_val": y_val,
        "sample_weight_val": w_val,
    }
