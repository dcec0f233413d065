"""What differs between Keras's backends, in one place (issue 16: the seam per backend).

The loop, the trainer and the handlers are backend-neutral; they ask this module the few
questions whose answers differ:

- `is_jax()`: Keras runs on JAX (picked once per process by `KERAS_BACKEND`, before Keras is
  first imported: engine/backend_env.py).
- `make_probe(model)`: the fused telemetry of the compiled step (engine/probe.py on
  TensorFlow, engine/jaxstep.py on JAX), with one interface.
- `stepper(model, to_numpy)`: the callable the loop calls once per execution, `step(iterator) ->
  logs`. On TensorFlow that is `model.train_function` itself; on JAX a `JaxStepper`
  (engine/jaxstep.py), which threads the state tuple through the steps as `fit` does.
- `sync(model)`: before anything reads the variables at a boundary (a save, a fingerprint,
  the epoch's metrics, a command): on JAX the state is written back into the variables (and the
  next step takes it out again); on TensorFlow there is nothing to do.
- `strategy_scope(model)`: the scope a model's optimizer is built in (TensorFlow's strategy).
- `distribute_strategy(model)`: what the feeds distribute with (None on JAX).
- `inside_trace()`: whether an assignment happens while a step is being traced.
"""

from __future__ import annotations

import contextlib
from typing import Any


def name() -> str:
    import keras

    return keras.backend.backend()


def is_jax() -> bool:
    return name() == "jax"


def make_probe(model) -> Any:
    if is_jax():
        from .jaxstep import JaxProbe

        return JaxProbe(model)
    from .probe import TelemetryProbe

    return TelemetryProbe(model)


def stepper(model, *, to_numpy: bool = True) -> Any:
    """`step(iterator) -> logs` for the model's current train function; `to_numpy`: the feed
    yields TensorFlow tensors, which a JAX step cannot take."""
    model.make_train_function()  # returns at once when it exists
    if is_jax():
        from .errors import BadInput
        from .jaxstep import JaxStepper

        if (model.steps_per_execution or 1) > 1:  # its inner steps would share one row
            raise BadInput(
                f"[compile].steps_per_execution = {model.steps_per_execution}: not built on "
                "the JAX backend yet (use 1, the default)"
            )

        return JaxStepper(model, to_numpy=to_numpy)
    return model.train_function


def set_random_seed(seed: int, *, tensorflow: bool = False) -> None:
    """`keras.utils.set_random_seed`, without importing TensorFlow on JAX only to seed it (that
    import is ~2.5 s of a JAX run's start-up, and a JAX run on arrays never loads it otherwise).
    TensorFlow is seeded where it is loaded already or where `tensorflow` says the run may use
    it (a loader may return a tf.data pipeline: its shuffles draw from the global seed)."""
    import sys

    import keras

    if not is_jax() or tensorflow or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    import random

    import numpy as np
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    # what keras.utils.set_random_seed does on JAX, less `tf.random.set_seed`
    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)


def sync(model) -> None:
    """The variables hold the model's state now (JAX: written back from the step's state)."""
    if model is not None and is_jax():
        model.jax_state_sync()


def strategy_scope(model) -> contextlib.AbstractContextManager:
    if is_jax():
        return contextlib.nullcontext()
    return model.distribute_strategy.scope()


def distribute_strategy(model) -> Any:
    """TensorFlow's strategy of `model` (the default one too); None on JAX."""
    if is_jax():
        return None
    return model.distribute_strategy


def inside_trace() -> bool:
    """True while a compiled step is being traced (its assignments are the step's own)."""
    if is_jax():
        from keras.src.backend.common.stateless_scope import in_stateless_scope

        return in_stateless_scope()
    import tensorflow as tf

    return tf.inside_function()


def numerics() -> dict[str, Any]:
    """The backend's own part of a resume record (for information: which backend wrote it)."""
    if is_jax():
        import jax

        return {"backend": "jax", "jax_version": jax.__version__}
    return {"backend": "tensorflow"}


def epoch_iterator(model, **kwargs):
    """The backend's `EpochIterator` for validation, as `fit` makes it."""
    if is_jax():
        from keras.src.backend.jax.trainer import JAXEpochIterator

        return JAXEpochIterator(**kwargs)
    from keras.src.backend.tensorflow.trainer import TFEpochIterator

    return TFEpochIterator(distribute_strategy=model.distribute_strategy, **kwargs)
