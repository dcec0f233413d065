"""The train step on Keras's JAX backend: the state threaded through the steps, and the probe.

On JAX a train step is a pure function, `train_function(state, iterator) -> (logs, state)`,
where the state is the tuple (trainable, non-trainable, optimizer, metrics variables' values).
`fit` takes the state out of the variables at an epoch's start (emptying them: the step
donates its input buffers), threads it through the epoch's steps, parks the latest in
`model._jax_state` after each (so that a callback reading `self.model` can write it back:
Keras's `Callback.model` calls `jax_state_sync()`), and writes it back at the epoch's end.
`JaxStepper` does the same per execution, and the loop writes the state back (`backend.sync`)
at every boundary, before anything reads a variable; the next step takes it out again.

The probe (`JaxProbe`) has `TelemetryProbe`'s interface (engine/probe.py) and its design: a
ring buffer of rows (loss, learning rate, global norm, optimizer step, one norm per layer;
float32: JAX computes in float32 unless x64 is on, which weightwatch never turns on for the
user's model) written inside the compiled step, and a counter. Nothing can be written into a
variable from inside a jitted step, so the ring, the counter and a flag travel as three more
elements of the state tuple (the wrapped `train_step` strips them before Keras's own step and
puts them back after); the step writes its row in place (the state is donated). Per step the
stepper only keeps the latest state; `read_new` fetches the new rows with one transfer.

The divergence sentinel: nothing can raise inside a jitted step, so the flag says "every step
so far was good". A step whose loss or resulting weights are not finite clears it, and from
then on every step keeps the state it was given (weights, optimizer, metrics and RNG stay those
of the last good step). The flag rides in the row too: the next read
(at most ~0.2 s or 32 steps later) keeps the rows before the first bad one and the stepper
raises the sentinel's error before the following step. So the session stops as on TensorFlow,
with the last good weights and no row of a step that did not count; only the session's step
counter has also counted the no-op steps between the bad one and the read.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .probe import COLUMNS, RING, SENTINEL

OK = 4  # the row's column for the flag (taken out by read_new: rows are COLUMNS + layers)
PROBE_ATTR = "_weightwatch_probe"
QUIET = threading.local()  # set while the state is written back: those assigns are no change


class JaxProbe:
    """`TelemetryProbe` on JAX (see the module docstring)."""

    def __init__(self, model, ring: int = RING) -> None:
        self.model = model
        self.layers = [layer for layer in model.layers if layer.trainable_weights]
        self.layer_names = [layer.name for layer in self.layers]
        self.ring_size = ring
        self.width = len(COLUMNS) + 1 + len(self.layers)  # the flag's column too (OK)
        self.lost = 0
        self._read = 0  # counter value up to which rows were read
        self.diverged = False
        self.extra: tuple = self.fresh_extra()  # (ring, counter, flag): the latest step's
        self._install()

    def fresh_extra(self, counter: int = 0) -> tuple:
        import jax
        import jax.numpy as jnp

        ring = jnp.zeros((self.ring_size, self.width), jnp.float32)
        extra = (ring, jnp.asarray(counter, jnp.int32), jnp.bool_(True))
        replicated = _replicated()
        return extra if replicated is None else tuple(jax.device_put(extra, replicated))

    def uninstall(self) -> None:
        names = ("train_step", "_update_metrics_variables", "make_train_function")
        for name in (*names, PROBE_ATTR, "jax_state_sync"):
            self.model.__dict__.pop(name, None)
        self.model.train_function = None

    def _install(self) -> None:
        import jax
        import jax.numpy as jnp
        from keras.src.backend.common.stateless_scope import StatelessScope

        model, probe = self.model, self
        original_step, original_update = model.train_step, model._update_metrics_variables
        ids = [id(v) for v in model.trainable_variables]
        groups = [[ids.index(id(w)) for w in layer.trainable_weights] for layer in self.layers]
        captured: dict = {}

        def update_metrics(metrics_variables, unscaled_loss, *args, **kwargs):
            captured["loss"] = unscaled_loss  # the batch's own loss (logs hold running means)
            return original_update(metrics_variables, unscaled_loss, *args, **kwargs)

        def train_step(state, data):
            *state, ring, count, good = state  # what the stepper carries (module docstring)
            captured.clear()
            logs, new = original_step(tuple(state), data)
            loss = captured.get("loss")
            if loss is None:  # a custom train_step: fall back to the running mean
                loss = logs.get("loss", 0.0) if isinstance(logs, dict) else 0.0
            loss = jnp.asarray(loss, jnp.float32)
            squares = jnp.stack([jnp.sum(jnp.square(jnp.asarray(v, jnp.float32))) for v in new[0]])
            layer_sq = jnp.stack([jnp.sum(squares[jnp.array(g)]) for g in groups])
            gnorm = jnp.sqrt(jnp.sum(squares))
            opt = model.optimizer
            with StatelessScope(state_mapping=list(zip(opt.variables, new[2], strict=True))):
                lr = jnp.asarray(opt.learning_rate, jnp.float32)
                step = jnp.asarray(opt.iterations.value, jnp.float32)
            ok = good & jnp.isfinite(loss) & jnp.isfinite(gnorm)
            new = jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, tuple(state))
            head = jnp.stack([loss, lr, gnorm, step, ok.astype(jnp.float32)])
            row = jnp.concatenate([head, jnp.sqrt(layer_sq)])
            ring = jax.lax.dynamic_update_slice(ring, row[None, :], (count % probe.ring_size, 0))
            return logs, (*new, ring, count + 1, ok)

        original_sync = model.jax_state_sync

        def quiet_sync():
            QUIET.on = True
            try:
                original_sync()
            finally:
                QUIET.on = False

        original_spec, original_make = model._get_state_sharding_spec, model.make_train_function

        def make_train_function(force=False):  # under a distribution the train step's state
            # has the ring, counter and flag too (replicated); evaluate's keeps Keras's four
            model._get_state_sharding_spec = lambda: (*original_spec(), *(_replicated(),) * 3)
            try:
                return original_make(force)
            finally:
                model.__dict__.pop("_get_state_sharding_spec", None)

        model.train_step = train_step
        model._update_metrics_variables = update_metrics
        model.make_train_function = make_train_function
        model.jax_state_sync = quiet_sync
        setattr(model, PROBE_ATTR, probe)
        model.train_function = None  # retrace with the probe inside

    def read_new(self) -> tuple[int, np.ndarray]:
        """Rows written since the last read, oldest first (one transfer for all of them): the
        0-based index of the first and the rows (float64, as TelemetryProbe's)."""
        import jax

        ring, counter, _ = self.extra
        count = int(counter)
        new = count - self._read
        if new <= 0:
            return count, np.zeros((0, self.width - 1))
        if new > self.ring_size:
            self.lost += new - self.ring_size
            new = self.ring_size
        out = np.asarray(jax.device_get(ring), dtype=np.float64)
        out = out[np.arange(count - new, count) % self.ring_size]
        self._read = count
        good = out[:, OK] > 0
        if not good.all():  # the first bad step and every no-op after it do not count
            self.diverged = True
            out = out[: int(np.argmin(good))]
        return count - new, np.delete(out, OK, axis=1)

    @property
    def written(self) -> int:
        return int(self.extra[1])


class JaxStepper:
    """`step(iterator) -> logs` for one model's JAX train function (see the module docstring)."""

    def __init__(self, model, *, to_numpy: bool = False) -> None:
        self.model = model
        self.fn = model.train_function
        self.probe: JaxProbe | None = getattr(model, PROBE_ATTR, None)
        self.state: Any = None
        self.to_numpy = to_numpy  # the feed yields TensorFlow tensors (a tf.data pipeline)
        from keras.src.distribution import distribution_lib

        self.spread = distribution_lib.distribution() is not None  # data_parallel
        self._source: Any = None
        self._wrapped: Any = None

    def __call__(self, iterator):
        model, probe = self.model, self.probe
        if probe is not None and probe.diverged:
            probe.diverged = False  # said once; a load and a resume train on
            probe.extra = probe.fresh_extra(int(probe.extra[1]))
            raise FloatingPointError(f"{SENTINEL} (JAX: found at the last telemetry read)")
        if self.state is None or getattr(model, "_jax_state_synced", True):
            # the variables hold the state (a boundary wrote it back, or a callback did)
            self.state = model._get_jax_state(
                trainable_variables=True,
                non_trainable_variables=True,
                optimizer_variables=True,
                metrics_variables=True,
                purge_model_variables=True,
            )
            if probe is not None:  # the probed step carries its ring, counter and flag
                self.state += probe.extra
            model._jax_state_synced = False
        if self.to_numpy or self.spread:  # one wrapper per source iterator (its layouts)
            if self._source is not iterator:
                self._source, self._wrapped = (
                    iterator,
                    _Batches(iterator, self.to_numpy, self.spread),
                )
            iterator = self._wrapped
        logs, state = self.fn(self.state, iterator)
        self.state = state
        # As `fit` sets it (a callback touching the model syncs from it), but into the
        # instance's dict: `Layer.__setattr__` would wrap it in a TrackedDict and walk every
        # array of the state into TrackedLists, each step (14 % of the training thread's time
        # under data_parallel, py-spy)
        model.__dict__["_jax_state"] = {
            "trainable_variables": state[0],
            "non_trainable_variables": state[1],
            "optimizer_variables": state[2],
            "metrics_variables": state[3],
        }
        if probe is not None:
            probe.extra = state[4:]
        if self.spread:  # one step in flight: with several, XLA's CPU all-reduce of 4 devices
            # on 2 cores deadlocked here (plain fit too: 3 of 4 threads met, aborted at 40 s)
            import jax

            jax.block_until_ready(state[0])
        return logs


class _Batches:
    """A TensorFlow iterator's batches as numpy arrays (what a jitted step takes); under a
    distribution each batch split across the devices, as `fit`'s JAXEpochIterator does (the
    layouts made once, from the first batch, as it makes them)."""

    def __init__(self, iterator, to_numpy: bool, spread: bool) -> None:
        self.iterator, self.to_numpy, self.spread = iterator, to_numpy, spread
        self.layouts: Any = None

    def __iter__(self):
        return self

    def __next__(self):
        import keras

        batch = next(self.iterator)
        if self.to_numpy:
            batch = keras.tree.map_structure(np.asarray, batch)
        if self.spread:
            from keras.src.backend.jax.trainer import _distribute_data
            from keras.src.distribution import distribution_lib

            if self.layouts is None:
                dist = distribution_lib.distribution()
                self.layouts = keras.tree.map_structure(
                    lambda d: None if d is None else dist.get_data_layout(d.shape).backend_layout,
                    batch,
                )
            batch = _distribute_data(batch, self.layouts)
        return batch


def _replicated():
    """A sharding that puts a whole array on every device of the distribution; None without."""
    from keras.src.distribution import distribution_lib

    distribution = distribution_lib.distribution()
    if distribution is None:
        return None
    from jax.sharding import NamedSharding, PartitionSpec

    return NamedSharding(distribution.device_mesh.backend_mesh, PartitionSpec())
