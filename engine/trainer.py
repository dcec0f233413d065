"""The training thread: builds the model, runs `fit` in chunks, and applies commands at batch
boundaries. Imported only by `Session.run()` (it imports TensorFlow).

`fit` is ended early by raising `_RestartFit` from a callback: unlike `stop_training`, that skips
the validation pass and `on_epoch_end`, so a load, rebuild, recompile or callback edit lands at
exactly the batch boundary where it was asked for. The next `fit` starts at the session's own
(epoch, step), which the deterministic feed can reproduce.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from . import restart, transitions  # noqa: E402
from .check import check_optimizer, ensure_on_path, load_data, make_optimizer, resolve_import
from .check import one_line as check_one_line  # noqa: E402
from .control_callback import ControlCallback  # noqa: E402
from .data import BatchFeed  # noqa: E402
from .dispatcher import CallbackDispatcher  # noqa: E402
from .errors import BadInput  # noqa: E402
from .events import Event, SessionState  # noqa: E402
from .probe import SENTINEL, TelemetryProbe  # noqa: E402
from .progress import RateWindow  # noqa: E402
from .runlog import RunLog  # noqa: E402
from .trial import check_val_shapes  # noqa: E402
from .usercode import UserCodeExit, as_exception, call_builder, display_path  # noqa: E402
from .weights import fingerprint, global_norm, model_step  # noqa: E402

FLUSH_SECONDS = 0.2
# Events after which the weights may differ from the last telemetry row.
NORM_MARK_KINDS = ("started", "checkpoint_loaded", "rebuilt", "recompiled")


class RestartFit(Exception):
    """Raised at a batch boundary to end the current `fit` without validation or epoch end."""


class Quit(Exception):
    """Raised at a batch boundary when the session stops."""


class Trainer:
    """Owns the live model and everything TensorFlow; runs on the training thread."""

    def __init__(self, session) -> None:
        self.session = session
        session._trainer = self  # live counters for status(); tests read it while parked
        self.config = session.config
        self.model: Any = None
        self.probe: TelemetryProbe | None = None
        self.probe_base = 0  # session step at which the current probe started counting
        self.instance = 0
        self.done = 0  # session steps: batches trained in this session
        self.epoch = 0  # the model's epoch counter (completed epochs)
        self.step_in_epoch = 0
        self.target_epochs = self.config.train.epochs
        self.last_flush = time.perf_counter()
        self.rate = RateWindow()  # steps/s over the last ~2 s of training (engine/progress.py)
        self.train_seconds = 0.0
        self.train_steps = 0
        self.steps_per_s: float | None = None
        self.last_loss: float | None = None
        self.last_norm: float | None = None
        self.stop_future = None
        self.dispatcher = CallbackDispatcher()
        self.params: dict = {}
        self.runlog = RunLog(session.run_dir, session.session_id, session.run_lock.notes)
        self.runlog.on_problem = self._logs_refused
        self.retry = None  # the future of a rebuild that retries a failed start

    # ----- thread entry ------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self._start():  # parked in FAILED until a retry (see restart.py)
                if not restart.wait_for_retry(self):
                    return
            self._loop()
        except Quit:
            pass
        finally:
            self._shutdown()

    def _start(self) -> bool:
        try:
            self._setup()
        except Quit:
            raise
        except Exception as e:  # builder, data, callbacks or --from failed: nothing to train
            restart.failed_to_start(self, e)
            return False
        restart.started(self)
        return True

    def _setup(self) -> None:
        s, cfg = self.session, self.config
        ensure_on_path(cfg.folder)
        if cfg.run.deterministic:
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        x, y, xv, yv = load_data(cfg)
        if xv is None and cfg.data.validation_split > 0:
            cut = int(len(x) * (1 - cfg.data.validation_split))
            x, y, xv, yv = x[:cut], y[:cut], x[cut:], y[cut:]
        file = display_path(cfg.path)
        check_val_shapes(cfg, file, (x, y, xv, yv))  # else Keras fails at the first epoch's end
        self.validation = (xv, yv) if xv is not None else None
        self.feed = BatchFeed(
            x,
            y,
            batch_size=cfg.data.batch_size,
            seed=cfg.run.seed,
            shuffle=cfg.data.shuffle,
            steps_per_epoch=cfg.train.steps_per_epoch,
        )
        self.builder = resolve_import(cfg.model.builder, "[model].builder", file)
        check_optimizer(cfg.compile.optimizer, "[compile].optimizer", file)
        self.model = self.build_model(cfg.run.seed, name_key=True)
        self.instance = 1
        entries = transitions.make_entries(list(cfg.callbacks), file, s.run_dir)
        self.dispatcher.replace(entries, self.model, None)
        origin = "fresh"
        if s.from_checkpoint:
            transitions.load_checkpoint(self, s.from_checkpoint)
            origin = "restored"
        self.open_segment(origin)
        self.record(
            "started",
            verdict=origin,
            detail={
                "instance": self.instance,
                "seed": cfg.run.seed,
                "epochs": self.target_epochs,
                "from": s.from_checkpoint,
                "run_dir": str(s.run_dir),
                "callback_paths": transitions.recorded_paths(cfg.callbacks, s.run_dir),
            },
        )
        s._set_state(SessionState.RUNNING)
        self.publish()
        self.boundary("start")

    def _loop(self) -> None:
        s = self.session
        while True:
            try:
                if s.state is SessionState.RUNNING:
                    self._train_until_interrupted()
                else:
                    self.boundary("idle")
            except RestartFit:
                continue
            except Quit:
                return

    def _train_until_interrupted(self) -> None:
        if self.epoch >= self.target_epochs:
            self.finish("all epochs done")
            return
        try:
            self._fit_chunk()
        except (RestartFit, Quit):
            raise
        except BaseException as e:  # a hook's sys.exit() is that hook's error: pause, say so
            if SENTINEL in str(e):
                self._diverged()
            else:
                self._user_code_failed(as_exception(e))
            return
        if self.epoch >= self.target_epochs:
            self.finish("all epochs done")
        elif self.model.stop_training:
            self.finish("a callback stopped training")

    def _fit_chunk(self) -> None:
        """One `fit` call from the session's (epoch, step): the rest of a partial epoch, or
        whole epochs to the target."""
        spe = self.feed.steps_per_epoch
        if self.step_in_epoch >= spe:
            self.epoch, self.step_in_epoch = self.epoch + 1, 0
        start, skip = self.epoch, self.step_in_epoch
        end = start + 1 if skip else self.target_epochs
        ds = self.feed.dataset(start, skip, end)
        control = ControlCallback(self)
        self.params = {"verbose": 0, "epochs": end, "steps": spe}
        self.dispatcher.bind(self.model, self.params)
        callbacks = [self.dispatcher, control] if self.dispatcher.active else [control]
        self.rate.start(self.done, warm_up=True)  # fit's start-up (tracing) is not speed
        try:
            self.model.fit(
                ds,
                epochs=end,
                initial_epoch=start,
                steps_per_epoch=spe - skip,
                validation_data=self.validation,
                callbacks=callbacks,
                verbose=0,
                shuffle=False,
            )
        except (RestartFit, Quit):
            raise
        except BaseException:  # SystemExit too (a hook's sys.exit); the caller says what
            # Count the batch only if it trained: the probe writes its row at the end of the
            # step, so an error inside it (TensorFlow's, or tracing a model that cannot take
            # the data) leaves none, while a callback that raised after the batch finds it.
            if self.probe is not None and self.probe_base + self.probe.written > self.done:
                control.finish_batch()
            raise
        finally:
            self._account_time()

    # ----- per batch / per epoch (called by ControlCallback) -------------------------------
    def batch_done(self) -> None:
        self.done += 1
        self.step_in_epoch += 1
        s = self.session
        if self.done == s.hold_step:
            s.attention = True
        elif not (self.done & 31) and time.perf_counter() - self.last_flush > FLUSH_SECONDS:
            self.flush()

    def epoch_done(self, logs: dict) -> None:
        self.flush()
        self.epoch += 1
        self.step_in_epoch = 0
        val = {k: float(v) for k, v in logs.items() if k.startswith("val_") and _finite(v)}
        if val:
            self.session.telemetry.append(float(self.done), **val)
        self.runlog.epoch(
            {
                "session_step": self.done,
                "epoch": self.epoch,
                "instance": self.instance,
                **{k: float(v) for k, v in logs.items() if _number(v)},
            }
        )
        self.publish()

    # ----- boundaries ----------------------------------------------------------------------
    def boundary(self, where: str) -> None:
        """Apply queued commands and holds; park while paused, holding or finished."""
        s = self.session
        self.flush()
        self._check_holds(where)
        restart = False
        while True:
            cmd = s._pop_command()
            if cmd is not None:
                self._account_time()  # what a command takes (a save, a load) is not training
                restart |= transitions.apply(self, cmd)
                continue
            if s.state.parked or s.state is SessionState.FAILED:
                self._account_time()
                s._wait(0.5)
                self._check_holds(where)
                continue
            break
        self.rate.start(self.done)  # on again after a park or a command (else it counts on)
        if restart and where != "start":
            raise RestartFit

    def _check_holds(self, where: str) -> None:
        s = self.session
        hits = s._take_holds("step", self.done)
        hits += s._take_holds("epoch", self.epoch, at_start=self.step_in_epoch == 0)
        if s.state is SessionState.FINISHED:
            hits += s._take_holds("finished", None)
        for hold in hits:
            if s.state is SessionState.RUNNING:
                self.resume_state = SessionState.RUNNING
                s._set_state(SessionState.HOLDING, f"held at {hold.kind} {hold.value}")
            elif s.state is SessionState.FINISHED:
                self.resume_state = SessionState.FINISHED
                s._set_state(SessionState.HOLDING, "held at finish")
            hold.future.set_result(self.done)

    # ----- telemetry -----------------------------------------------------------------------
    def flush(self) -> None:
        """Copy the probe's new rows into the store and metrics.csv (one sync)."""
        self.last_flush = time.perf_counter()
        if self.probe is None:
            return
        first, rows = self.probe.read_new()
        if not len(rows):
            return
        # Whole columns at once (numpy, one `%` per CSV row): this runs between two batches.
        steps = self.probe_base + first + 1 + np.arange(len(rows))
        norms = rows[:, 4:]
        columns = {"loss": rows[:, 0], "lr": rows[:, 1], "global_norm": rows[:, 2]}
        columns.update({f"layer/{i}": norms[:, i] for i in range(norms.shape[1])})
        self.session.telemetry.append_columns(steps.astype(np.float64), columns)
        self.runlog.metrics_block(
            self.probe.layer_names,
            steps,
            rows[:, 3],
            self.epoch,
            self.instance,
            np.delete(rows, 3, axis=1),
        )
        self.last_loss, self.last_norm = float(rows[-1][0]), float(rows[-1][2])
        self._measure_rate()
        self.publish(model_step=int(rows[-1][3]), learning_rate=float(rows[-1][1]))

    def _measure_rate(self) -> None:
        """At a flush (never per batch): steps/s over the last ~2 s of training."""
        self.rate.mark(self.done)
        self.steps_per_s = self.rate.rate() or self.steps_per_s
        self.train_seconds, self.train_steps = self.rate.trained, self.rate.counted

    def _account_time(self) -> None:
        """Training stops here for now (parked, a command, the end of `fit`): the time from
        now until it goes on is not training time."""
        self.rate.park(self.done)
        self.train_seconds, self.train_steps = self.rate.trained, self.rate.counted

    def publish(self, **extra) -> None:
        """Refresh the status snapshot. Between flushes (a transition, an epoch end) the model
        step and learning rate are read from the model: one small sync, at a boundary only."""
        s = self.session
        opt = getattr(self.model, "optimizer", None)
        if opt is not None and "model_step" not in extra:
            extra["model_step"] = self.model_step()
            lr: Any = getattr(opt, "_learning_rate", None)
            if hasattr(lr, "numpy"):
                extra.setdefault("learning_rate", float(lr.numpy()))
        s._update_status(
            epoch=self.epoch,
            epochs=self.target_epochs,
            step_in_epoch=self.step_in_epoch,
            steps_per_epoch=self.feed.steps_per_epoch,
            session_step=self.done,
            instance=self.instance,
            steps_per_s=self.steps_per_s,
            loss=self.last_loss,
            global_norm=self.last_norm,
            callbacks=tuple(self.dispatcher.specs),
            optimizer=type(opt).__name__ if opt is not None else "",  # "Adam", not "adam_1"
            **extra,
        )

    # ----- model -------------------------------------------------------------------------
    def build_model(self, seed: int, *, name_key: bool = False):
        keras.utils.set_random_seed(seed)
        model = call_builder(self.builder, self.config, name_key=name_key)
        if not isinstance(model, keras.Model):  # the words `check` uses
            raise BadInput(
                f"{display_path(self.config.path)}: [model].builder: expected "
                f'"{self.config.model.builder}" to return a keras.Model, received a '
                f"{type(model).__name__}"
            )
        self.compile(model, self.config.compile.optimizer, self.config.compile.learning_rate)
        return model

    def compile(self, model, optimizer: str, learning_rate: float | None) -> None:
        opt = make_optimizer(optimizer, learning_rate)  # "lamb" too, which get() does not know
        c = self.config.compile
        if self.probe is not None and self.probe.model is model:
            self.flush()
            self.probe.uninstall()
        model.compile(optimizer=opt, loss=c.loss, metrics=list(c.metrics) or None)
        self.probe = TelemetryProbe(model)
        self.probe_base = self.done
        self.session.telemetry.set_layer_names(self.probe.layer_names)

    # ----- lineage and events --------------------------------------------------------------
    def fingerprint(self) -> str:
        return fingerprint(self.model)

    def norm(self) -> float:
        return global_norm(self.model)

    def model_step(self) -> int:
        return model_step(self.model)

    def open_segment(self, origin: str | None = None) -> tuple[str, dict]:
        s = self.session
        fp = self.fingerprint()
        with s._lock:
            verdict, detail = s.lineage.judge(fp, self.instance)
            seg = s.lineage.open(
                origin=origin or verdict,
                instance=self.instance,
                session_step=self.done,
                model_step=self.model_step(),
                fingerprint=fp,
                callbacks=self.callback_names(),
            )
        self.runlog.segment(seg)
        return origin or verdict, detail

    def close_segment(self) -> None:
        s = self.session
        if s.lineage.current is None:
            return
        fp = self.fingerprint()
        with s._lock:
            seg = s.lineage.close(self.done, fp)
        self.runlog.segment(seg)

    def _mark_norms(self, norm: float | None) -> None:
        """Put the norms after a transition on the charts at once, at this very step: a reset
        or a load shows as a vertical jump before another batch has run."""
        layers = {
            f"layer/{i}": float(
                np.sqrt(sum(float(np.sum(np.square(w.numpy()))) for w in layer.trainable_weights))
            )
            for i, layer in enumerate(self.probe.layers if self.probe is not None else ())
        }
        self.session.telemetry.append(float(self.done), global_norm=norm or 0.0, **layers)
        self.last_norm = norm

    def callback_names(self) -> list[str]:
        return [spec.label for spec in self.dispatcher.specs if spec.enabled]

    def record(
        self, kind: str, *, verdict=None, detail=None, norm_before=None, norm_after=None
    ) -> Event:
        ev = Event(
            kind=kind,
            session_step=self.done,
            model_step=self.model_step(),
            verdict=verdict,
            detail=dict(detail or {}),
            norm_before=norm_before,
            norm_after=norm_after
            if norm_after is not None
            else (self.norm() if self.model is not None else None),
        )
        if kind in NORM_MARK_KINDS and self.probe is not None:
            self._mark_norms(ev.norm_after)
        self.runlog.event(ev)
        self.session._record_event(ev)
        if verdict is not None:
            self.session._update_status(last_verdict=verdict)
        return ev

    def error(self, action: str, exc: BaseException, *, user_code: bool = False) -> Event:
        tb = "".join(traceback.format_exception(exc))
        path = self.session.run_dir / "errors.log"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(f"--- {stamp} {action} (step {self.done})\n{tb}\n")
        except OSError:
            pass  # a full disk: the event below still carries the error (and the report)
        detail = {"action": action, "message": one_line(exc), "type": type(exc).__name__}
        if user_code:
            detail["traceback"] = tb
        return self.record("error", detail=detail)

    def _logs_refused(self, problem: str) -> None:
        """The run directory refused a log write (a full disk, say): say so once, train on."""
        message = f"{problem}; training goes on and the logs catch up once they can be written"
        self.record("error", detail={"action": "write", "message": message})

    def _user_code_failed(self, exc: Exception) -> None:
        """A callback or the model raised inside fit: pause, keep everything, say what."""
        self.error("training", exc, user_code=True)
        self.close_segment()
        self.session._set_state(SessionState.PAUSED, f"paused: {one_line(exc)}")
        self.publish()

    def _diverged(self) -> None:
        """The loss went NaN/inf: the step was not applied; pause and point at the last good
        checkpoint."""
        self.flush()
        self.close_segment()
        saved = [c for c in self.session.store.list() if c.source == "weightwatch"]
        last = saved[-1].name if saved else None
        intact = all(np.isfinite(w).all() for w in self.model.get_weights())
        state = (
            "the weights are from the step before" if intact else "the weights are no longer finite"
        )
        self.record(
            "diverged",
            detail={
                "batch": self.done + 1,
                "last_good_checkpoint": last,
                "weights_finite": intact,
                "message": f"loss or weights not finite at batch {self.done + 1}; {state}"
                + (f"; load {last!r} to go back" if last else ""),
            },
        )
        hint = f" - press l to load {last}" if last else ""
        self.session._set_state(SessionState.PAUSED, f"diverged at step {self.done + 1}{hint}")
        self.publish()

    def finish(self, reason: str) -> None:
        self.flush()
        self.close_segment()
        self.record("finished", detail={"reason": reason, "epoch": self.epoch})
        self.session._set_state(SessionState.FINISHED, reason)
        self.publish()

    def _shutdown(self) -> None:
        from .report import build_report

        s = self.session
        final = None
        try:
            if self.model is not None:
                self.flush()
                self.close_segment()
                self._account_time()
                self.record("quit", detail={"epoch": self.epoch})
                final = {
                    "model_step": self.model_step(),
                    "epoch": self.epoch,
                    "loss": self.last_loss,
                    "global_norm": self.norm(),
                    "fingerprint": self.fingerprint(),
                }
            self.dispatcher.end_all()
        finally:
            s._set_state(SessionState.STOPPED, "stopped")
            report = build_report(s, final=final, trainer=self)
            with s._lock:
                s._report = report
            self.runlog.close()
            s.close()  # the run directory is free once `stopped` is set
            s.stopped.set()
            _fail_pending(s)
            if self.stop_future is not None and not self.stop_future.done():
                self.stop_future.set_result(report)


def _fail_pending(session) -> None:
    from .errors import CommandRejected

    while (cmd := session._pop_command()) is not None:
        if cmd.kind == "stop":
            cmd.future.set_result(None)
        elif not cmd.future.done():
            cmd.future.set_exception(CommandRejected("the session has stopped"))
    with session._lock:
        holds, session._holds = session._holds, []
    for hold in holds:
        if not hold.future.done():
            hold.future.set_exception(CommandRejected("the session has stopped"))


def _finite(v) -> bool:
    return _number(v) and bool(np.isfinite(float(v)))


def _number(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def one_line(exc: BaseException) -> str:
    """`check.one_line` (Keras/TF noise stripped), with the exception type for user code."""
    first = check_one_line(exc)
    plain = isinstance(exc, (BadInput, UserCodeExit))  # "called sys.exit(5)" says it all
    return first if plain else f"{type(exc).__name__}: {first}"
