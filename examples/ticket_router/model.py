"""The Keras functional API guide's ticket model (keras.io/guides/functional_api, "Models with
multiple inputs and outputs"), ported to weightwatch.

Three inputs (a ticket's title and body as word ids, its 12 binary tags) and two outputs: a
priority score (one logit) and the department (4 logits). The guide compiles it with
`RMSprop(1e-3)`, a loss per output, both `from_logits=True` (BinaryCrossentropy for priority,
CategoricalCrossentropy for department) and `loss_weights = {priority: 1.0, department: 0.2}`,
and fits it on dicts of arrays keyed by input and output name. The guide itself trains on
random data; so does this port, drawn from a seed.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers


def build(
    num_words: int = 10000,
    num_tags: int = 12,
    num_departments: int = 4,
    title_units: int = 128,
    body_units: int = 32,
):
    title = keras.Input(shape=(None,), name="title")
    body = keras.Input(shape=(None,), name="body")
    tags = keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.LSTM(title_units)(layers.Embedding(num_words, 64)(title))
    body_features = layers.LSTM(body_units)(layers.Embedding(num_words, 64)(body))
    x = layers.concatenate([title_features, body_features, tags])
    priority = layers.Dense(1, name="priority")(x)
    department = layers.Dense(num_departments, name="department")(x)
    return keras.Model(inputs=[title, body, tags], outputs=[priority, department])


def load(
    n: int = 320,
    num_words: int = 10000,
    num_tags: int = 12,
    num_departments: int = 4,
    title_len: int = 10,
    body_len: int = 100,
    seed: int = 0,
):
    """A dict whose `x` and `y` are dicts keyed by the model's input and output names."""
    rng = np.random.default_rng(seed)
    x = {
        "title": rng.integers(0, num_words, size=(n, title_len)).astype("int32"),
        "body": rng.integers(0, num_words, size=(n, body_len)).astype("int32"),
        "tags": rng.integers(0, 2, size=(n, num_tags)).astype("float32"),
    }
    y = {
        "priority": rng.random((n, 1)).astype("float32"),
        "department": rng.integers(0, 2, size=(n, num_departments)).astype("float32"),
    }
    return {"x": x, "y": y}
