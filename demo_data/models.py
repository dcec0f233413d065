"""Model builders for the shipped demo configs.

Each builder is named in a config as ``"weightwatch.demo_data.models:<name>"`` and called with
the config's ``[model].params`` as keyword arguments. It returns an **uncompiled**
``keras.Model``: the engine compiles it from ``[compile]``, so that a "recompile" action can swap
the optimizer without rebuilding (and thereby resetting) the weights.

Keras is imported inside each builder, not at module level: only the training thread calls
these, and the UI must be able to import this package without paying for TensorFlow.
"""

from __future__ import annotations

from typing import Any


def reference_mlp(inputs: int = 10, hidden: int = 128, classes: int = 10) -> Any:
    """Builds the small MLP the seed article trains: Dense(relu) then Dense(softmax).

    Args:
        inputs: Number of input features.
        hidden: Units in the hidden layer.
        classes: Number of output classes (softmax units).

    Returns:
        An uncompiled ``keras.Model`` mapping ``(batch, inputs)`` to ``(batch, classes)``.
    """
    import keras

    x_in = keras.Input(shape=(inputs,), name="features")
    h = keras.layers.Dense(hidden, activation="relu", name="hidden")(x_in)
    out = keras.layers.Dense(classes, activation="softmax", name="output")(h)
    return keras.Model(x_in, out, name="reference_mlp")


def sensor_classifier(
    window: int = 32,
    channels: int = 3,
    classes: int = 4,
    filters: int = 16,
    dropout: float = 0.2,
) -> Any:
    """Builds a small 1-D convolutional classifier for windows of multichannel sensor data.

    Two convolutions with a pooling step between them see local shapes (a spike, a flat run)
    at two scales; global average pooling makes the head independent of the window length.
    The Dropout layer gives the demo a source of training-time randomness, which is what makes
    exact resume (saving the RNG state) worth showing.

    Args:
        window: Time steps per window.
        channels: Sensor channels per time step.
        classes: Number of output classes (softmax units).
        filters: Filters in the first convolution; the second uses twice as many.
        dropout: Dropout rate before the output layer.

    Returns:
        An uncompiled ``keras.Model`` mapping ``(batch, window, channels)`` to
        ``(batch, classes)``.
    """
    import keras

    x_in = keras.Input(shape=(window, channels), name="window")
    h = keras.layers.Conv1D(filters, 7, padding="same", activation="relu", name="conv1")(x_in)
    h = keras.layers.MaxPooling1D(2, name="pool1")(h)
    h = keras.layers.Conv1D(2 * filters, 5, padding="same", activation="relu", name="conv2")(h)
    h = keras.layers.GlobalAveragePooling1D(name="gap")(h)
    h = keras.layers.Dropout(dropout, name="dropout")(h)
    out = keras.layers.Dense(classes, activation="softmax", name="output")(h)
    return keras.Model(x_in, out, name="sensor_classifier")
