"""What the engine's own loop needs on Keras's JAX backend, tried on the reference MLP.

    KERAS_BACKEND=jax /tmp/jaxvenv/bin/python docs/scaling/jax_loop.py [--reps 5]

On JAX `model.make_train_function()` makes `train_function(state, iterator) -> (logs, state)`:
a pure function of the state tuple (trainable, non-trainable, optimizer, metrics variables, as
lists of jax arrays), jitted with `donate_argnums=0` (the arrays passed in are consumed). `fit`
(keras/src/backend/jax/trainer.py) takes the state out of the variables once
(`_get_jax_state(..., purge_model_variables=True)` sets every variable's value to None), threads
it through the steps, parks it in `model._jax_state` after each step and writes it back
(`jax_state_sync()`) at the epoch's end; a callback that reads `self.model` syncs it early
(`Callback.model` calls `jax_state_sync()`), and `fit` then takes the state out again
(`_jax_state_synced`). `OwnLoop` below does exactly that, with a boundary between two batches.

What it shows (each line printed is checked, not assumed):
1. the own loop gives the same weights (SHA-256 fingerprint) as `fit` over the same batches;
2. a pause at a boundary (state written back, weights read, 0.2 s parked, state taken out
   again) changes nothing, nor does a callback that reads the weights mid-epoch; the pause
   lands at the next boundary (no batch is dispatched after the request is seen);
3. loss, learning rate, global and per-layer norms computed inside the jitted step (returned
   beside the logs, taken out before callbacks see the logs) leave the weights bit-identical
   and match numpy's float64 norm; rows are read every 32 steps with one `jax.device_get`;
4. steps/s and CPU ms/step, interleaved repetitions, medians: `fit`, the own loop, the own loop
   with the fused row, the own loop with an eager numpy norm after every batch.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import threading
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
REPO = Path(__file__).resolve().parents[2]
BATCH, SEED, READ_EVERY = 32, 7, 32
STATE_KEYS = (
    "trainable_variables",
    "non_trainable_variables",
    "optimizer_variables",
    "metrics_variables",
)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402


def reference_mlp(inputs: int = 10, hidden: int = 128, classes: int = 10):
    """weightwatch.demo_data.models.reference_mlp, copied (this venv has no weightwatch)."""
    x_in = keras.Input(shape=(inputs,), name="features")
    h = keras.layers.Dense(hidden, activation="relu", name="hidden")(x_in)
    out = keras.layers.Dense(classes, activation="softmax", name="output")(h)
    return keras.Model(x_in, out, name="reference_mlp")


def build():
    keras.utils.set_random_seed(SEED)
    model = reference_mlp()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def fingerprint(model) -> str:
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:16]


def epoch_arrays(data, epoch: int):
    """The engine's deterministic order: default_rng([seed, epoch]).permutation(n)."""
    idx = np.random.default_rng([SEED, epoch]).permutation(len(data["x"]))
    return data["x"][idx], data["y"][idx]


def batches(x, y):
    for i in range(0, len(x) - BATCH + 1, BATCH):
        # numpy slices, as fit's JAXEpochIterator hands them over on CPU (no distribution): the
        # jitted step takes them as they are; a jax.device_put per batch cost 0.19 ms (cProfile),
        # as much as the step itself
        yield (x[i : i + BATCH], y[i : i + BATCH])


class Probe:
    """Fused telemetry: one row per step (loss, lr, global norm, iterations, layer norms),
    computed inside the jitted train step from the state it returns. The per-batch loss is
    the one `train_step` hands to `_update_metrics_variables` (outside `value_and_grad`,
    so it is a plain value of the jitted trace)."""

    KEY = "_weightwatch_row"

    def __init__(self, model) -> None:
        self.model = model
        layers = [la for la in model.layers if la.trainable_weights]
        ids = {id(v): i for i, la in enumerate(layers) for v in la.trainable_weights}
        self.owners = np.array([ids[id(v)] for v in model.trainable_variables])
        self.n_layers = len(layers)
        self.rows: list = []
        captured: dict = {}
        update_metrics, step = model._update_metrics_variables, model.train_step

        def _update_metrics_variables(metrics_variables, unscaled_loss, *args):
            captured["loss"] = unscaled_loss
            return update_metrics(metrics_variables, unscaled_loss, *args)

        def train_step(state, data):
            logs, state = step(state, data)
            logs = dict(logs)
            logs[self.KEY] = self._row(captured.pop("loss"), state)
            return logs, state

        model._update_metrics_variables = _update_metrics_variables
        model.train_step = train_step
        model.train_function = None  # retrace with the probe inside

    def _row(self, loss, state):
        trainable, _, optimizer_vars, _ = state
        sq = jnp.stack([jnp.sum(jnp.square(v)) for v in trainable])
        layer_sq = jax.ops.segment_sum(sq, self.owners, num_segments=self.n_layers)
        opt = self.model.optimizer
        with keras.StatelessScope(
            state_mapping=list(zip(opt.variables, optimizer_vars, strict=True))
        ):
            lr = keras.ops.convert_to_tensor(opt.learning_rate)
            it = keras.ops.convert_to_tensor(opt.iterations)
        head = jnp.stack([loss, lr, jnp.sqrt(jnp.sum(layer_sq)), it.astype(loss.dtype)])
        return jnp.concatenate([head, jnp.sqrt(layer_sq)])

    def take(self, logs) -> dict:
        self.rows.append(logs.pop(self.KEY))  # a device array: no sync here
        if len(self.rows) >= READ_EVERY:
            self.read()
        return logs

    def read(self) -> np.ndarray:
        rows, self.rows = jax.device_get(self.rows), []  # one sync for all of them
        self.last = np.stack(rows) if rows else getattr(self, "last", None)
        return self.last


class OwnLoop:
    """`fit`'s state handling around our own per-batch loop, with a boundary."""

    def __init__(self, model, probe: Probe | None = None, eager_norm: bool = False) -> None:
        self.model, self.probe, self.eager_norm = model, probe, eager_norm
        self.attention = False  # another thread sets it; read once per batch
        self.on_boundary = None
        self.dispatched = 0
        self.norms: list = []

    def _take_state(self):
        return self.model._get_jax_state(
            trainable_variables=True,
            non_trainable_variables=True,
            optimizer_variables=True,
            metrics_variables=True,
            purge_model_variables=True,
        )

    def sync(self) -> None:
        """Write the state back into the variables (before anything reads them)."""
        self.model.jax_state_sync()

    def run(self, data, callbacks=()):
        model = self.model
        first = next(batches(*data))
        model._symbolic_build(data_batch=first)  # optimizer and metrics variables, as fit
        model.make_train_function()
        fn = model.train_function
        cbs = keras.callbacks.CallbackList(list(callbacks), model=model)
        cbs.on_train_begin()  # starts the executor of async-safe hooks, as in fit
        model._jax_state_synced = True
        logs = {}
        for i, batch in enumerate(batches(*data)):
            if self.attention:
                self.sync()
                self.on_boundary(self, i)
            if model._jax_state_synced:  # first batch, a boundary, or a callback synced
                state = self._take_state()
                model._jax_state_synced = False
            logs, state = fn(state, iter((batch,)))
            self.dispatched += 1
            model._jax_state = dict(zip(STATE_KEYS, state, strict=True))  # as fit does
            if self.probe is not None:
                logs = self.probe.take(logs)
            if self.eager_norm:  # the cost DESIGN.md warns about: a sync every batch
                a = [np.asarray(v, np.float64) for v in state[0]]
                self.norms.append(float(np.sqrt(sum(float(np.vdot(w, w)) for w in a))))
            cbs.on_train_batch_end(i, logs)
        self.sync()
        cbs.on_train_end()
        if self.probe is not None:
            self.probe.read()
        return logs


def fit_epochs(model, data, epochs: int) -> None:
    for e in range(epochs):
        model.fit(*epoch_arrays(data, e), batch_size=BATCH, epochs=1, shuffle=False, verbose=0)


def loop_epochs(loop: OwnLoop, data, epochs: int, callbacks=()) -> None:
    for e in range(epochs):
        loop.run(epoch_arrays(data, e), callbacks)


def check_exactness(data) -> None:
    a = build()
    fit_epochs(a, data, 2)
    b = build()
    loop_epochs(OwnLoop(b), data, 2)
    print(
        f"1. fit {fingerprint(a)} == own loop {fingerprint(b)}: {fingerprint(a) == fingerprint(b)}"
    )

    c = build()
    paused = OwnLoop(c)
    seen: dict = {}

    def at_boundary(loop, i):
        seen["at"], seen["dispatched"] = i, loop.dispatched
        seen["fp"] = fingerprint(loop.model)  # a read at the boundary: the synced weights
        time.sleep(0.2)  # parked
        loop.attention = False

    paused.on_boundary = at_boundary

    def request():  # from another thread, as a front end's pause would come
        seen["requested_at"] = paused.dispatched
        paused.attention = True

    class Reader(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 20:
                seen["reader"] = fingerprint(self.model)  # Callback.model syncs the state
            if batch == 40 and "requested_at" not in seen:
                threading.Timer(0.002, request).start()

    loop_epochs(paused, data, 2, callbacks=[Reader()])
    ok = fingerprint(c) == fingerprint(b)
    late = seen["at"] - seen["requested_at"]
    print(
        f"2. a pause asked after {seen['requested_at']} batches parked at boundary {seen['at']} "
        f"({late} batch(es) later; {seen['dispatched']} dispatched when parked), 0.2 s; a "
        f"callback read the weights at batch 20: {fingerprint(c)} == {fingerprint(b)}: {ok}"
    )

    d = build()
    probe = Probe(d)
    loop_epochs(OwnLoop(d, probe), data, 2)
    row = probe.last[-1]
    w = [np.asarray(v, np.float64) for v in d.get_weights()]
    exact = float(np.sqrt(sum(float(np.vdot(v, v)) for v in w)))
    print(
        f"3. with the fused row: {fingerprint(d)} == {fingerprint(b)}: "
        f"{fingerprint(d) == fingerprint(b)}; last row loss {row[0]:.5f} lr {row[1]:.5f} "
        f"norm {row[2]:.6f} (numpy float64 {exact:.6f}, rel diff {abs(row[2] - exact) / exact:.1e})"
        f" iterations {int(row[3])} layers {np.round(row[4:], 4).tolist()}"
    )


def speeds(data, reps: int) -> None:
    variants = {}

    def variant(name):
        def deco(run):
            variants[name] = run
            return run

        return deco

    @variant("fit")
    def _(state, d):
        state["m"].fit(*d, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)

    @variant("own loop")
    def _(state, d):
        state.setdefault("loop", OwnLoop(state["m"])).run(d)

    @variant("own loop + fused row")
    def _(state, d):
        if "loop" not in state:
            state["loop"] = OwnLoop(state["m"], Probe(state["m"]))
        state["loop"].run(d)

    @variant("own loop + eager norm")
    def _(state, d):
        state.setdefault("loop", OwnLoop(state["m"], eager_norm=True)).run(d)

    d = epoch_arrays(data, 0)
    n = len(d[0]) // BATCH
    states = {name: {"m": build()} for name in variants}
    for name, run in variants.items():
        run(states[name], d)  # trace and compile outside the clock
    rows: dict = {name: [] for name in variants}
    for _ in range(reps):
        for name, run in variants.items():
            t = (time.perf_counter(), time.process_time())
            run(states[name], d)
            float(keras.ops.convert_to_tensor(states[name]["m"].trainable_variables[0])[0, 0])
            rows[name].append(
                (n / (time.perf_counter() - t[0]), 1000 * (time.process_time() - t[1]) / n)
            )
    base = statistics.median(r[0] for r in rows["fit"])
    print(f"4. one epoch ({n} steps, batch {BATCH}) per rep, {reps} reps interleaved, medians:")
    for name, r in rows.items():
        sps, cpu = statistics.median(v[0] for v in r), statistics.median(v[1] for v in r)
        print(f"   {name:<22} {sps:7.0f} steps/s ({sps / base:4.2f}x fit)  {cpu:5.2f} CPU ms/step")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    print(f"jax {jax.__version__}, keras {keras.__version__} ({keras.backend.backend()})")
    data = dict(np.load(REPO / "demo_data" / "reference.npz"))
    check_exactness(data)
    speeds(data, args.reps)


if __name__ == "__main__":
    main()


# Output (2026-12-01, two runs of --reps 7 in /tmp/jaxvenv, then one of --reps 5 in the project's
#     .venv plus jax 0.10.2 (PYTHONPATH=/tmp/jaxonly): the same fingerprint in every process):
# jax 0.10.2, keras 3.15.1 (jax)
# 1. fit 7471737ca2ffc026 == own loop 7471737ca2ffc026: True
# 2. a pause asked after 59 batches parked at boundary 60 (1 batch(es) later; 60 dispatched when
#     parked), 0.2 s; a callback read the weights at batch 20: 7471737ca2ffc026 ==
#     7471737ca2ffc026: True
# 3. with the fused row: 7471737ca2ffc026 == 7471737ca2ffc026: True; last row loss 1.23652 lr
#     0.00100 norm 9.000107 (numpy float64 9.000106, rel diff 1.1e-07) iterations 320 layers
#     [5.984600067138672, 6.722099781036377]
# 4. one epoch (160 steps, batch 32) per rep, 7 reps interleaved, medians:
#    fit                       5075 steps/s (1.00x fit)   0.17 CPU ms/step
#    own loop                  5592 steps/s (1.10x fit)   0.15 CPU ms/step
#    own loop + fused row      5472 steps/s (1.08x fit)   0.17 CPU ms/step
#    own loop + eager norm     5967 steps/s (1.18x fit)   0.16 CPU ms/step
# jax 0.10.2, keras 3.15.1 (jax)
# 1. fit 7471737ca2ffc026 == own loop 7471737ca2ffc026: True
# 2. a pause asked after 71 batches parked at boundary 72 (1 batch(es) later; 72 dispatched when
#     parked), 0.2 s; a callback read the weights at batch 20: 7471737ca2ffc026 ==
#     7471737ca2ffc026: True
# 3. with the fused row: 7471737ca2ffc026 == 7471737ca2ffc026: True; last row loss 1.23652 lr
#     0.00100 norm 9.000107 (numpy float64 9.000106, rel diff 1.1e-07) iterations 320 layers
#     [5.984600067138672, 6.722099781036377]
# 4. one epoch (160 steps, batch 32) per rep, 7 reps interleaved, medians:
#    fit                       6014 steps/s (1.00x fit)   0.20 CPU ms/step
#    own loop                  8000 steps/s (1.33x fit)   0.17 CPU ms/step
#    own loop + fused row      6851 steps/s (1.14x fit)   0.20 CPU ms/step
#    own loop + eager norm     7248 steps/s (1.21x fit)   0.18 CPU ms/step
#
# project .venv + jax
# jax 0.10.2, keras 3.15.1 (jax)
# 1. fit 7471737ca2ffc026 == own loop 7471737ca2ffc026: True
# 2. a pause asked after 60 batches parked at boundary 60 (0 batch(es) later; 60 dispatched when
#     parked), 0.2 s; a callback read the weights at batch 20: 7471737ca2ffc026 ==
#     7471737ca2ffc026: True
# 3. with the fused row: 7471737ca2ffc026 == 7471737ca2ffc026: True; last row loss 1.23652 lr
#     0.00100 norm 9.000107 (numpy float64 9.000106, rel diff 1.1e-07) iterations 320 layers
#     [5.984600067138672, 6.722099781036377]
# 4. one epoch (160 steps, batch 32) per rep, 5 reps interleaved, medians:
#    fit                       5419 steps/s (1.00x fit)   0.19 CPU ms/step
#    own loop                  7441 steps/s (1.37x fit)   0.17 CPU ms/step
#    own loop + fused row      6610 steps/s (1.22x fit)   0.19 CPU ms/step
#    own loop + eager norm     6065 steps/s (1.12x fit)   0.17 CPU ms/step
