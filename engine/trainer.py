"""The training thread: builds the model, runs `fit` in chunks, and applies commands at batch
boundaries. Imported only by `Session.run()` (it imports TensorFlow).

`fit` is ended early by raising `RestartFit` from a callback (runtime/flow.py). The next `fit`
starts at the session's own (epoch, step), which the deterministic feed can reproduce. The parts
it drives hold their own state: the mailbox (the thread boundary), `runtime.model_state` (model
and counters), `runtime.handlers` (the commands, on a typed `runtime.context.Context`) and
`runtime.startup` (start-up and retry). The recorder's part (events, telemetry flushes, rates,
the run log) is still here, below "telemetry".
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from .control_callback import ControlCallback  # noqa: E402
from .dispatcher import CallbackDispatcher  # noqa: E402
from .events import Event, Segment, SessionState  # noqa: E402
from .probe import SENTINEL  # noqa: E402
from .progress import RateWindow  # noqa: E402
from .report import build_report  # noqa: E402
from .runlog import RunLog  # noqa: E402
from .runtime import handlers, startup  # noqa: E402
from .runtime.context import Context  # noqa: E402
from .runtime.flow import Quit, RestartFit, one_line  # noqa: E402
from .runtime.model_state import ModelState  # noqa: E402
from .usercode import as_exception  # noqa: E402

FLUSH_SECONDS = 0.2
# Events after which the weights may differ from the last telemetry row.
NORM_MARK_KINDS = ("started", "checkpoint_loaded", "rebuilt", "recompiled")


class Trainer:
    """Owns the live model and everything TensorFlow; runs on the training thread."""

    def __init__(self, session) -> None:
        self.session = session
        self.mailbox = session.mailbox
        self.telemetry = session.telemetry
        self.state = ModelState(session.config, session.telemetry)
        self.state.before_probe_change = self.flush
        session._trainer = self.state  # live counters for status(); tests read it while parked
        self.ctx = Context(
            config=session.config,
            run_dir=session.run_dir,
            mailbox=session.mailbox,
            lineage=session.lineage,
            store=session.store,
            state=self.state,
            recorder=self,
            dispatcher=CallbackDispatcher(),
            default_checkpoint_name=session.default_checkpoint_name,
            from_checkpoint=session.from_checkpoint,
        )
        self.dispatcher = self.ctx.dispatcher
        self.feed: Any = None
        self.validation: tuple | None = None
        self.last_flush = time.perf_counter()
        self.rate = RateWindow()  # steps/s over the last ~2 s of training (engine/progress.py)
        self.train_seconds = 0.0
        self.train_steps = 0
        self.steps_per_s: float | None = None
        self.last_loss: float | None = None
        self.last_norm: float | None = None
        self.runlog = RunLog(session.run_dir, session.session_id, session.run_lock.notes)
        self.runlog.on_problem = self._logs_refused

    # The model state's, read often here.
    @property
    def model(self) -> Any:
        return self.state.model

    @property
    def done(self) -> int:
        return self.state.done

    @property
    def epoch(self) -> int:
        return self.state.epoch

    def model_step(self) -> int:
        return self.state.model_step()

    def norm(self) -> float:
        return self.state.norm()

    # ----- thread entry ------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self._start():  # parked in FAILED until a retry (runtime/startup.py)
                if not startup.wait_for_retry(self.ctx):
                    return
            self._loop()
        except Quit:
            pass
        finally:
            self._shutdown()

    def _start(self) -> bool:
        try:
            self.feed, self.validation = startup.prepare(self.ctx)
            startup.begin(self.ctx)
            self.mailbox.set_state(SessionState.RUNNING)
            self.publish()
            self.boundary("start")
        except Quit:
            raise
        except Exception as e:  # builder, data, callbacks or --from failed: nothing to train
            startup.failed_to_start(self.ctx, e)
            return False
        startup.started(self.ctx)
        return True

    def _loop(self) -> None:
        while True:
            try:
                if self.mailbox.state is SessionState.RUNNING:
                    self._train_until_interrupted()
                else:
                    self.boundary("idle")
            except RestartFit:
                continue
            except Quit:
                return

    def _train_until_interrupted(self) -> None:
        st = self.state
        if st.epoch >= st.target_epochs:
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
        if st.epoch >= st.target_epochs:
            self.finish("all epochs done")
        elif self.model.stop_training:
            self.finish("a callback stopped training")

    def _fit_chunk(self) -> None:
        """One `fit` call from the session's (epoch, step): the rest of a partial epoch, or
        whole epochs to the target."""
        st, spe = self.state, self.feed.steps_per_epoch
        if st.step_in_epoch >= spe:
            st.epoch, st.step_in_epoch = st.epoch + 1, 0
        start, skip = st.epoch, st.step_in_epoch
        end = start + 1 if skip else st.target_epochs
        ds = self.feed.dataset(start, skip, end)
        control = ControlCallback(self)
        self.ctx.params = {"verbose": 0, "epochs": end, "steps": spe}
        self.dispatcher.bind(self.model, self.ctx.params)
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
            if st.probe is not None and st.probe_base + st.probe.written > st.done:
                control.finish_batch()
            raise
        finally:
            self._account_time()

    # ----- per batch / per epoch (called by ControlCallback) -------------------------------
    def batch_done(self) -> None:
        st = self.state
        st.done += 1
        st.step_in_epoch += 1
        if st.done == self.mailbox.hold_step:
            self.mailbox.attention = True
        elif not (st.done & 31) and time.perf_counter() - self.last_flush > FLUSH_SECONDS:
            self.flush()

    def epoch_done(self, logs: dict) -> None:
        self.flush()
        st = self.state
        st.epoch += 1
        st.step_in_epoch = 0
        val = {k: float(v) for k, v in logs.items() if k.startswith("val_") and _finite(v)}
        if val:
            self.telemetry.append(float(st.done), **val)
        self.runlog.epoch(
            {
                "session_step": st.done,
                "epoch": st.epoch,
                "instance": st.instance,
                **{k: float(v) for k, v in logs.items() if _number(v)},
            }
        )
        self.publish()

    # ----- boundaries ----------------------------------------------------------------------
    def boundary(self, where: str) -> None:
        """Apply queued commands and holds; park while paused, holding or finished."""
        box = self.mailbox
        self.flush()
        self._check_holds(where)
        restart = False
        while True:
            cmd = box.pop()
            if cmd is not None:
                self._account_time()  # what a command takes (a save, a load) is not training
                restart |= handlers.apply(self.ctx, cmd)
                continue
            if box.state.parked or box.state is SessionState.FAILED:
                self._account_time()
                box.wait(0.5)
                self._check_holds(where)
                continue
            break
        self.rate.start(self.done)  # on again after a park or a command (else it counts on)
        if restart and where != "start":
            raise RestartFit

    def _check_holds(self, where: str) -> None:
        box, st = self.mailbox, self.state
        hits = box.take_holds("step", st.done)
        hits += box.take_holds("epoch", st.epoch, at_start=st.step_in_epoch == 0)
        if box.state is SessionState.FINISHED:
            hits += box.take_holds("finished", None)
        for hold in hits:
            if box.state is SessionState.RUNNING:
                self.ctx.resume_state = SessionState.RUNNING
                box.set_state(SessionState.HOLDING, f"held at {hold.kind} {hold.value}")
            elif box.state is SessionState.FINISHED:
                self.ctx.resume_state = SessionState.FINISHED
                box.set_state(SessionState.HOLDING, "held at finish")
            hold.future.set_result(st.done)

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
            self.epoch,
            self.state.instance,
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
        opt = getattr(self.model, "optimizer", None)
        if opt is not None and "model_step" not in extra:
            extra["model_step"] = self.model_step()
            lr = self.state.learning_rate()
            if lr is not None:
                extra.setdefault("learning_rate", lr)
        self.mailbox.update_status(
            epoch=self.epoch,
            epochs=self.state.target_epochs,
            step_in_epoch=self.state.step_in_epoch,
            steps_per_epoch=self.feed.steps_per_epoch,
            session_step=self.done,
            instance=self.state.instance,
            steps_per_s=self.steps_per_s,
            loss=self.last_loss,
            global_norm=self.last_norm,
            callbacks=tuple(self.dispatcher.specs),
            optimizer=type(opt).__name__ if opt is not None else "",  # "Adam", not "adam_1"
            **extra,
        )

    # ----- lineage and events --------------------------------------------------------------
    def segment(self, seg: Segment | None) -> None:
        self.runlog.segment(seg)

    def _mark_norms(self, norm: float | None) -> None:
        """Put the norms after a transition on the charts at once, at this very step: a reset
        or a load shows as a vertical jump before another batch has run."""
        probe = self.state.probe
        layers = {
            f"layer/{i}": float(
                np.sqrt(sum(float(np.sum(np.square(w.numpy()))) for w in layer.trainable_weights))
            )
            for i, layer in enumerate(probe.layers if probe is not None else ())
        }
        self.telemetry.append(float(self.done), global_norm=norm or 0.0, **layers)
        self.last_norm = norm

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
        if kind in NORM_MARK_KINDS and self.state.probe is not None:
            self._mark_norms(ev.norm_after)
        self.runlog.event(ev)
        self.mailbox.record_event(ev)
        if verdict is not None:
            self.mailbox.update_status(last_verdict=verdict)
        return ev

    def error(self, action: str, exc: BaseException, *, user_code: bool = False) -> Event:
        tb = "".join(traceback.format_exception(exc))
        path = self.ctx.run_dir / "errors.log"
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
        self.ctx.close_segment()
        self.mailbox.set_state(SessionState.PAUSED, f"paused: {one_line(exc)}")
        self.publish()

    def _diverged(self) -> None:
        """The loss went NaN/inf: the step was not applied; pause and point at the last good
        checkpoint."""
        self.flush()
        self.ctx.close_segment()
        saved = [c for c in self.ctx.store.list() if c.source == "weightwatch"]
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
        self.mailbox.set_state(SessionState.PAUSED, f"diverged at step {self.done + 1}{hint}")
        self.publish()

    def finish(self, reason: str) -> None:
        self.flush()
        self.ctx.close_segment()
        self.record("finished", detail={"reason": reason, "epoch": self.epoch})
        self.mailbox.set_state(SessionState.FINISHED, reason)
        self.publish()

    def _final(self) -> dict | None:
        """The report's `final`: where the model stands at the stop (None if never built)."""
        if self.model is None:
            return None
        self.flush()
        self.ctx.close_segment()
        self._account_time()
        self.record("quit", detail={"epoch": self.epoch})
        return {
            "model_step": self.model_step(),
            "epoch": self.epoch,
            "loss": self.last_loss,
            "global_norm": self.norm(),
            "fingerprint": self.state.fingerprint(),
        }

    def _shutdown(self) -> None:
        s, box = self.session, self.mailbox
        final = None
        try:
            final = self._final()
            self.dispatcher.end_all()
        finally:
            box.set_state(SessionState.STOPPED, "stopped")
            report = build_report(s, final=final, trainer=self)
            box.set_report(report)
            self.runlog.close()
            s.close()  # the run directory is free once `stopped` is set
            s.stopped.set()
            box.fail_pending()
            stop = self.ctx.stop_future
            if stop is not None and not stop.done():
                stop.set_result(report)


def _finite(v) -> bool:
    return _number(v) and bool(np.isfinite(float(v)))


def _number(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
