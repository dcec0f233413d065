"""Loss, learning rate and weight norms measured inside the compiled train step.

An eager norm after every batch costs a large share of a small model's steps/s (DESIGN.md). The
probe instead wraps the model's `train_step`, so the measurements are ops in the same compiled
graph, and writes one row per step into a ring-buffer variable. The training thread copies new rows
out a few times a second (one sync for many steps); nothing is converted per batch.
"""

from __future__ import annotations

import numpy as np

RING = 2048
COLUMNS = ("loss", "lr", "global_norm", "model_step")
# The divergence sentinel: a non-finite loss stops the step before gradients are applied (the
# weights stay those of the last good step); a step that leaves the weights non-finite stops right
# after it (the weights are then lost, and the session says so).
SENTINEL = "weightwatch: the loss is not finite"


class TelemetryProbe:
    """Fused per-step measurements for one model instance."""

    def __init__(self, model, ring: int = RING) -> None:
        import tensorflow as tf

        self.model = model
        self.layers = [layer for layer in model.layers if layer.trainable_weights]
        self.layer_names = [layer.name for layer in self.layers]
        width = len(COLUMNS) + len(self.layers)
        self.ring_size = ring
        self._ring = tf.Variable(tf.zeros([ring, width], tf.float64), trainable=False)
        self._counter = tf.Variable(tf.constant(0, tf.int64), trainable=False)
        self._read = 0  # counter value up to which rows were read
        self.lost = 0  # rows overwritten before they were read (should stay 0)
        self._install(tf)

    def uninstall(self) -> None:
        """Put the model's own train_step back (before a recompile installs a new probe)."""
        for name in ("train_step", "_compute_loss"):
            self.model.__dict__.pop(name, None)
        self.model.train_function = None

    def _install(self, tf) -> None:
        model, probe = self.model, self
        original_step = model.train_step
        original_loss = getattr(model, "_compute_loss", None)
        captured: dict = {}

        if original_loss is not None:

            def _compute_loss(*args, **kwargs):
                loss = tf.debugging.check_numerics(original_loss(*args, **kwargs), SENTINEL)
                captured["loss"] = loss
                return loss

            model._compute_loss = _compute_loss

        def train_step(data):
            captured.clear()
            logs = original_step(data)
            loss = captured.get("loss")
            if loss is None:  # a custom train_step: fall back to the running mean
                loss = logs.get("loss", 0.0) if isinstance(logs, dict) else 0.0
            probe._record(tf, loss)
            return logs

        model.train_step = train_step
        model.train_function = None  # retrace with the probe inside

    def _record(self, tf, loss) -> None:
        """One row per step: loss, lr, norms (float64: they are compared with numpy's).

        Under a `tf.distribute` strategy this runs once per replica (engine/devices.py): the
        loss Keras computes there is the replica's share (its mean scaled by 1/replicas), so
        the global batch's loss is their sum; the weights are mirrored, equal on every replica
        after the update, so replica 0's copy gives the norms, and only replica 0 writes."""
        f64 = tf.float64
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            loss = ctx.all_reduce(tf.distribute.ReduceOp.SUM, loss)
            if tf.get_static_value(ctx.replica_id_in_sync_group) != 0:
                return
        # Few ops (each costs the step a few microseconds): one l2_loss (sum of squares / 2)
        # per variable, one segment sum into layers.
        owners = [i for i, layer in enumerate(self.layers) for _ in layer.trainable_weights]
        if owners:
            halves = tf.stack(
                [
                    tf.nn.l2_loss(tf.cast(v.value, f64))
                    for layer in self.layers
                    for v in layer.trainable_weights
                ]
            )
            layer_sq = 2.0 * tf.math.unsorted_segment_sum(halves, owners, len(self.layers))
        else:
            layer_sq = tf.zeros([0], f64)
        opt = self.model.optimizer
        gnorm = tf.debugging.check_numerics(tf.sqrt(tf.reduce_sum(layer_sq)), SENTINEL)
        head = [tf.cast(loss, f64), tf.cast(opt.learning_rate, f64), gnorm]
        row = tf.concat([tf.stack(head + [tf.cast(opt.iterations, f64)]), tf.sqrt(layer_sq)], 0)
        i = self._counter % self.ring_size
        written = self._ring.scatter_nd_update(tf.reshape(i, [1, 1]), tf.reshape(row, [1, -1]))
        # The count follows the row: when a sentinel stops the step, neither happens (without the
        # dependency the counter could advance past a row never written: an all-zero step).
        with tf.control_dependencies([written]):
            self._counter.assign_add(1)

    def read_new(self) -> tuple[int, np.ndarray]:
        """Rows written since the last read, oldest first (one sync for all of them).

        Returns the 0-based index (steps this probe has seen) of the first row, and the rows.
        """
        count = int(self._counter.numpy())
        new = count - self._read
        if new <= 0:
            return count, np.zeros((0, self._ring.shape[1]))
        if new > self.ring_size:
            self.lost += new - self.ring_size
            new = self.ring_size
        ring = self._ring.numpy()
        idx = np.arange(count - new, count) % self.ring_size
        self._read = count
        return count - new, ring[idx]

    @property
    def written(self) -> int:
        return int(self._counter.numpy())
