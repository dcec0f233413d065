"""Keras callbacks whose effect is known, for tests that run against the engine and the fake
alike (tests/conformance): the engine runs them; the fake, which runs no callbacks, does what
they do when one of them is active (`fake_effects.epoch_ended`), by the name of its class."""

from __future__ import annotations

import keras


class HalveWeightsAtFirstEpochEnd(keras.callbacks.Callback):
    """Halves every weight in on_epoch_end of the first epoch (as a restore would move them)."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.model.set_weights([w * 0.5 for w in self.model.get_weights()])


class HalveRateAtFirstEpochEnd(keras.callbacks.Callback):
    """Halves the learning rate in on_epoch_end of the first epoch (as ReduceLROnPlateau does)."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.model.optimizer.learning_rate = rate / 2
