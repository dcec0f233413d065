"""RNG state and checkpoints on Keras's JAX backend: what an exact resume needs.

    KERAS_BACKEND=jax /tmp/jaxvenv/bin/python docs/scaling/jax_state.py

A small MLP with Dropout (the part of a model whose training-time randomness is state) shows:
1. where the RNG lives: Dropout's `SeedGenerator` state is a variable outside `model.weights`
   (the engine's `rng_variables`) but inside `model.non_trainable_variables`, so on JAX it is
   threaded through the jitted step with the weights and advances once per step;
2. whether `save_weights` / `load_weights` (`.weights.h5`) round-trip bit-exact into a fresh
   instance (weights and the built optimizer's slots), and whether the file holds the RNG state;
3. N steps + save + a fresh instance + load (+ the RNG state put back by hand) + M steps ==
   N+M uninterrupted steps, bit for bit; and what leaving the RNG state out does.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
REPO = Path(__file__).resolve().parents[2]
BATCH, N, M = 32, 60, 40

import keras  # noqa: E402
import numpy as np  # noqa: E402


def dropout_mlp(seed: int):
    keras.utils.set_random_seed(seed)
    x_in = keras.Input(shape=(10,), name="features")
    h = keras.layers.Dense(64, activation="relu", name="hidden")(x_in)
    h = keras.layers.Dropout(0.5, name="dropout")(h)
    out = keras.layers.Dense(10, activation="softmax", name="output")(h)
    model = keras.Model(x_in, out)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def fingerprint(arrays) -> str:
    h = hashlib.sha256()
    for w in arrays:
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:16]


def rng_variables(model) -> list:
    """engine/weights.py's definition: variables that are state but not weights."""
    weight_ids = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weight_ids]


def opt_state(model) -> list:
    return [np.asarray(v) for v in model.optimizer.variables]


def train(model, x, y) -> None:
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)


def main() -> None:
    print(f"keras {keras.__version__} ({keras.backend.backend()})")
    data = np.load(REPO / "demo_data" / "reference.npz")
    x, y = data["x"][: (N + M) * BATCH], data["y"][: (N + M) * BATCH]

    straight = dropout_mlp(1)
    rng = rng_variables(straight)
    ntv = {id(v) for v in straight.non_trainable_variables}
    print(
        f"1. rng variables: {[(v.path, v.dtype, tuple(v.shape)) for v in rng]}; in "
        f"non_trainable_variables (the JAX state tuple): {all(id(v) in ntv for v in rng)}"
    )
    before = [np.asarray(v) for v in rng]
    train(straight, x[: N * BATCH], y[: N * BATCH])
    after_n = [np.asarray(v) for v in rng]
    print(f"   state before {before[0].tolist()} after {N} steps {after_n[0].tolist()}")

    folder = Path(tempfile.mkdtemp())
    path = folder / "n.weights.h5"
    straight.save_weights(path)
    saved_w, saved_opt = straight.get_weights(), opt_state(straight)
    fresh = dropout_mlp(99)  # other initial weights: a load must replace all of them
    fresh.optimizer.build(fresh.trainable_variables)  # else load_weights skips the slots
    fresh.load_weights(path)
    w_ok = fingerprint(fresh.get_weights()) == fingerprint(saved_w)
    o_ok = fingerprint(opt_state(fresh)) == fingerprint(saved_opt)
    r_ok = fingerprint([np.asarray(v) for v in rng_variables(fresh)]) == fingerprint(after_n)
    print(
        f"2. load_weights into a fresh instance: weights bit-exact {w_ok}, optimizer slots "
        f"(iterations {int(np.asarray(fresh.optimizer.iterations))}) bit-exact {o_ok}, "
        f"RNG state restored by the file {r_ok}"
    )

    train(straight, x[N * BATCH :], y[N * BATCH :])  # the uninterrupted N+M
    for put_rng_back in (True, False):
        resumed = dropout_mlp(99)
        resumed.optimizer.build(resumed.trainable_variables)
        resumed.load_weights(path)
        if put_rng_back:
            for v, state in zip(rng_variables(resumed), after_n, strict=True):
                v.assign(state)
        train(resumed, x[N * BATCH :], y[N * BATCH :])
        same = fingerprint(resumed.get_weights()) == fingerprint(straight.get_weights())
        print(
            f"3. {N} + save + fresh instance + load{' + RNG state' if put_rng_back else ''} "
            f"+ {M} steps == {N + M} uninterrupted: {same}"
        )


if __name__ == "__main__":
    main()


# Output (2026-12-01, /tmp/jaxvenv; the same lines in the project's .venv plus jax 0.10.2):
# keras 3.15.1 (jax)
# 1. rng variables: [('seed_generator/seed_generator_state', 'uint32', (2,))]; in
#     non_trainable_variables (the JAX state tuple): True
#    state before [611178003, 0] after 60 steps [611178003, 60]
# 2. load_weights into a fresh instance: weights bit-exact True, optimizer slots (iterations 60)
#     bit-exact True, RNG state restored by the file False
# 3. 60 + save + fresh instance + load + RNG state + 40 steps == 100 uninterrupted: True
# 3. 60 + save + fresh instance + load + 40 steps == 100 uninterrupted: False
