"""The recorder: events, telemetry flushes, the rate of training, the run log, the status.

Everything the training thread writes down goes through here: events (to the session's list,
the listener and events.jsonl), the probe's rows (to the telemetry store and metrics.csv, in
one sync per flush), steps/s over a sliding window of training time (engine/progress.py), and
the status snapshot a front end polls. It runs on the training thread, between batches only.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

import numpy as np

from ..dispatcher import CallbackDispatcher
from ..events import Event, Segment
from ..mailbox import Mailbox
from ..progress import RateWindow
from ..runlog import RunLog
from ..telemetry import TelemetryStore
from .flow import one_line
from .model_state import ModelState

# Events after which the weights may differ from the last telemetry row.
NORM_MARK_KINDS = ("started", "checkpoint_loaded", "rebuilt", "recompiled", "weights_changed")


class Recorder:
    """What the training thread writes down (see module docstring)."""

    def __init__(
        self,
        state: ModelState,
        mailbox: Mailbox,
        telemetry: TelemetryStore,
        dispatcher: CallbackDispatcher,
        runlog: RunLog,
        run_dir: Path,
    ) -> None:
        self.state, self.mailbox, self.telemetry = state, mailbox, telemetry
        self.dispatcher = dispatcher
        self.run_dir = run_dir
        self.steps_per_epoch = 0  # the feed's, once it is made
        self.last_flush = time.perf_counter()
        self.rate = RateWindow()  # steps/s over the last ~2 s of training (engine/progress.py)
        self.train_seconds = 0.0
        self.train_steps = 0
        self.steps_per_s: float | None = None
        self.last_loss: float | None = None
        self.last_norm: float | None = None
        self.runlog = runlog
        self.runlog.on_problem = self.logs_refused

    # ----- telemetry -----------------------------------------------------------------------
    def flush(self) -> None:
        """Copy the probe's new rows into the store and metrics.csv (one sync)."""
        self.last_flush = time.perf_counter()
        if self.state.probe is None:
            return
        first, rows = self.state.probe.read_new()
        if not len(rows):
            return
        # Whole columns at once (numpy, one `%` per CSV row): this runs between two batches.
        steps = self.state.probe_base + first + 1 + np.arange(len(rows))
        norms = rows[:, 4:]
        columns = {"loss": rows[:, 0], "lr": rows[:, 1], "global_norm": rows[:, 2]}
        columns.update({f"layer/{i}": norms[:, i] for i in range(norms.shape[1])})
        self.telemetry.append_columns(steps.astype(np.float64), columns)
        self.runlog.metrics_block(
            self.state.probe.layer_names,
            steps,
            rows[:, 3],
            self.state.epoch,
            self.state.instance,
            np.delete(rows, 3, axis=1),
        )
        self.last_loss, self.last_norm = float(rows[-1][0]), float(rows[-1][2])
        self.measure_rate()
        self.publish(model_step=int(rows[-1][3]), learning_rate=float(rows[-1][1]))

    def measure_rate(self) -> None:
        """At a flush (never per batch): steps/s over the last ~2 s of training."""
        self.rate.mark(self.state.done)
        self.steps_per_s = self.rate.rate() or self.steps_per_s
        self.train_seconds, self.train_steps = self.rate.trained, self.rate.counted

    def account_time(self) -> None:
        """Training stops here for now (parked, a command, the end of `fit`): the time from
        now until it goes on is not training time."""
        self.rate.park(self.state.done)
        self.train_seconds, self.train_steps = self.rate.trained, self.rate.counted

    def publish(self, **extra) -> None:
        """Refresh the status snapshot. Between flushes (a transition, an epoch end) the model
        step and learning rate are read from the model: one small sync, at a boundary only."""
        opt = getattr(self.state.model, "optimizer", None)
        if opt is not None and "model_step" not in extra:
            extra["model_step"] = self.state.model_step()
            lr = self.state.learning_rate()
            if lr is not None:
                extra.setdefault("learning_rate", lr)
        self.mailbox.update_status(
            epoch=self.state.epoch,
            epochs=self.state.target_epochs,
            step_in_epoch=self.state.step_in_epoch,
            steps_per_epoch=self.steps_per_epoch,
            session_step=self.state.done,
            instance=self.state.instance,
            steps_per_s=self.steps_per_s,
            loss=self.last_loss,
            global_norm=self.last_norm,
            callbacks=tuple(self.dispatcher.specs),
            optimizer=self.state.optimizer_label(),  # "Adam", not "adam_1"; "(schedule)" too
            steps_per_execution=getattr(self.state.model, "steps_per_execution", 1) or 1,
            strategy=self.state.placement.strategy,
            replicas=self.state.placement.replicas,
            devices=self.state.placement.devices,
            backend=self.state.config.run.backend,
            **extra,
        )

    # ----- events and the run log --------------------------------------------------------------
    def segment(self, seg: Segment | None) -> None:
        if seg is not None:  # the lineage had no segment open to close
            self.runlog.segment(seg)

    def mark_norms(self, norm: float | None) -> None:
        """Put the norms after a transition on the charts at once, at this very step: a reset
        or a load shows as a vertical jump before another batch has run."""
        probe = self.state.probe
        layers = {
            f"layer/{i}": float(
                np.sqrt(sum(float(np.sum(np.square(w.numpy()))) for w in layer.trainable_weights))
            )
            for i, layer in enumerate(probe.layers if probe is not None else ())
        }
        self.telemetry.append(float(self.state.done), global_norm=norm or 0.0, **layers)
        self.last_norm = norm

    def record(
        self, kind: str, *, verdict=None, detail=None, norm_before=None, norm_after=None
    ) -> Event:
        ev = Event(
            kind=kind,
            session_step=self.state.done,
            model_step=self.state.model_step(),
            verdict=verdict,
            detail=dict(detail or {}),
            norm_before=norm_before,
            norm_after=norm_after
            if norm_after is not None
            else (self.state.norm() if self.state.model is not None else None),
        )
        if kind in NORM_MARK_KINDS and self.state.probe is not None:
            self.mark_norms(ev.norm_after)
        self.runlog.event(ev)
        self.mailbox.record_event(ev)
        if verdict is not None:
            self.mailbox.update_status(last_verdict=verdict)
        return ev

    def callback_effects(self, lineage, changes) -> None:
        """What the user's callbacks changed since the last boundary (runtime/effects.py):
        `weights_changed` (verdict `altered`, decided by the lineage) and `lr_changed` events,
        each naming the callback and hook."""
        for change, after in changes:
            if change.kind == "lr":
                detail = {"old": change.before, "new": after, "callback": change.callback}
                detail |= {"hook": change.hook, **change.where}
                self.record("lr_changed", detail=detail)
                self.publish(learning_rate=after)
                continue
            verdict, detail = lineage.altered(
                change.callback, change.hook, change.epoch, after[1], _best_epoch(change)
            )
            self.record(
                "weights_changed",
                verdict=verdict,
                detail=detail | change.where,
                norm_before=change.before[0],
                norm_after=after[0],
            )

    def error(self, action: str, exc: BaseException, *, user_code: bool = False) -> Event:
        tb = "".join(traceback.format_exception(exc))
        path = self.run_dir / "errors.log"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(f"--- {stamp} {action} (step {self.state.done})\n{tb}\n")
        except OSError:
            pass  # a full disk: the event below still carries the error (and the report)
        detail = {"action": action, "message": one_line(exc), "type": type(exc).__name__}
        if user_code:
            detail["traceback"] = tb
        return self.record("error", detail=detail)

    def logs_refused(self, problem: str) -> None:
        """The run directory refused a log write (a full disk, say): say so once, train on."""
        message = f"{problem}; training goes on and the logs catch up once they can be written"
        self.record("error", detail={"action": "write", "message": message})


def _best_epoch(change) -> int | None:
    """EarlyStopping(restore_best_weights=True) at the end of training put back the weights of
    its best epoch (1-based here); None for any other change."""
    import keras

    cb = change.source
    restoring = isinstance(cb, keras.callbacks.EarlyStopping) and cb.restore_best_weights
    if restoring and change.hook == "on_train_end" and cb.best_epoch is not None:
        return int(cb.best_epoch) + 1
    return None
