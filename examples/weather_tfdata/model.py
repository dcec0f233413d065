"""keras.io "Timeseries forecasting for weather prediction" (Prabhanshu Attri, Yashika
Sharma, Kristi Takach, Falak Shah), ported to weightwatch.

The original normalises 7 Jena climate features, cuts windows with
`keras.utils.timeseries_dataset_from_array` (120 steps, one per hour) to predict the temperature
72 hours after each window, and trains LSTM(32) + Dense(1) with `Adam(learning_rate=0.001)` and
`mse`, with EarlyStopping and a ModelCheckpoint of the best val_loss. Here the weather is
synthetic (a daily cycle, a slow drift and noise, hourly), the windows shorter, and the loader
returns a `tf.data` pipeline: windows, `shuffle` (seeded), `batch`, `prefetch` for training, and
a batched one for validation, as `{ "train": ..., "validation": ... }`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

FEATURES = 7


def build(sequence_length: int = 120, units: int = 32):
    inputs = keras.Input(shape=(sequence_length, FEATURES))
    outputs = layers.Dense(1)(layers.LSTM(units)(inputs))
    return keras.Model(inputs, outputs)


def _weather(rng, hours: int) -> np.ndarray:
    t = np.arange(hours)[:, None]
    daily = np.sin(2 * np.pi * t / 24 + rng.uniform(0, 2 * np.pi, size=FEATURES))
    drift = np.cumsum(rng.normal(scale=0.05, size=(hours, FEATURES)), axis=0)
    series = daily + drift + rng.normal(scale=0.2, size=(hours, FEATURES))
    return ((series - series.mean(axis=0)) / series.std(axis=0)).astype("float32")


def _windows(series: np.ndarray, sequence_length: int, future: int):
    """Unbatched (window, temperature `future` hours after it) pairs; feature 1 is the
    temperature, as in the original's selection."""
    import tensorflow as tf

    targets = series[sequence_length + future - 1 :, 1:2]
    data = series[: len(targets)]
    return keras.utils.timeseries_dataset_from_array(
        data, targets, sequence_length=sequence_length, batch_size=None
    ).map(lambda x, y: (tf.ensure_shape(x, (sequence_length, FEATURES)), y))


def load(
    hours: int = 480,
    val_hours: int = 160,
    sequence_length: int = 24,
    future: int = 12,
    batch_size: int = 32,
    seed: int = 0,
):
    """{"train": shuffled, batched, prefetched windows; "validation": batched windows}."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    series = _weather(rng, hours + val_hours)
    train = _windows(series[:hours], sequence_length, future)
    val = _windows(series[hours:], sequence_length, future)
    train = train.shuffle(256, seed=seed).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return {"train": train, "validation": val.batch(batch_size)}
