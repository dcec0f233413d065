"""The training thread: builds the model, trains it on one uninterrupted loop
(`runtime.loop.TrainLoop`, `fit`'s own epoch loop) and applies commands at batch boundaries.
Imported only by `Session.run()` (it imports TensorFlow).

The Trainer is the loop's `Driver`: the loop reads `attention` before each batch, reports each
batch and epoch, and hands the thread over at a boundary, where commands run and a pause parks;
then the same loop goes on, so the user's callbacks see one `fit`. The parts it drives hold
their own state: the mailbox (the thread boundary), `runtime.model_state` (model and counters),
`runtime.handlers` (the commands, on a typed `runtime.context.Context`), `runtime.startup`
(start-up and retry) and `runtime.recorder` (events, telemetry flushes, rates, the run log, the
status snapshot).
"""

from __future__ import annotations

import os
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from . import userlog  # noqa: E402
from .dispatcher import CallbackDispatcher  # noqa: E402
from .events import SessionState  # noqa: E402
from .probe import SENTINEL  # noqa: E402
from .report import build_report  # noqa: E402
from .runlog import RunLog  # noqa: E402
from .runtime import gcfreeze, handlers, relay, startup  # noqa: E402
from .runtime.context import Context  # noqa: E402
from .runtime.effects import Effects  # noqa: E402
from .runtime.flow import Quit, one_line  # noqa: E402
from .runtime.model_state import ModelState  # noqa: E402
from .runtime.recorder import Recorder  # noqa: E402
from .usercode import as_exception  # noqa: E402

FLUSH_SECONDS = 0.2


class Trainer:
    """Owns the live model and everything TensorFlow; runs on the training thread."""

    def __init__(self, session) -> None:
        self.session = session
        self.mailbox = session.mailbox
        self.telemetry = session.telemetry
        self.state = ModelState(session.config, session.telemetry)
        self.dispatcher = CallbackDispatcher()
        runlog = RunLog(session.run_dir, session.session_id, session.run_lock.notes)
        self.recorder = Recorder(
            self.state, self.mailbox, self.telemetry, self.dispatcher, runlog, session.run_dir
        )
        self.state.before_probe_change = self.recorder.flush
        self.ctx = Context(
            config=session.config,
            run_dir=session.run_dir,
            mailbox=session.mailbox,
            lineage=session.lineage,
            store=session.store,
            state=self.state,
            recorder=self.recorder,
            dispatcher=self.dispatcher,
            default_checkpoint_name=session.default_checkpoint_name,
            from_checkpoint=session.from_checkpoint,
        )
        self.feed: Any = None
        self._peers: Any = None  # ctx.peers once started (engine/peers.py)
        self.validation: tuple | None = None
        self.loop: Any = None  # the TrainLoop, made once the model and data are ready
        # What the user's callbacks do to the weights and the rate (runtime/effects.py)
        self.effects = Effects(self.mailbox, self._epochs_now)

    @property
    def attention(self) -> bool:
        """Read by the loop before every batch: anything to do at this boundary? In a run of
        several processes every process gets the same answer (engine/peers.py)."""
        peers = self._peers
        if peers is None:
            return self.mailbox.attention
        return peers.agree(self.mailbox.attention)

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
        # the user's prints and logs on this thread also go to RUN_DIR/user.log (userlog.py)
        with userlog.capture(self.session.run_dir / "user.log"):
            try:
                while not self._start():  # parked in FAILED until a retry (runtime/startup.py)
                    if self.ctx.config.run.processes > 1:
                        return  # every process failed the same way: no retry across them
                    if not startup.wait_for_retry(self.ctx):
                        return
                gcfreeze.settle()  # what lives now lives as long as the session
                self._loop()
            except Quit:
                pass
            finally:
                self._shutdown()

    def _start(self) -> bool:
        try:
            self.feed, self.validation = startup.prepare(self.ctx)
            self._peers = self.ctx.peers  # read before every batch: one attribute, not two
            self.recorder.steps_per_epoch = self.feed.steps_per_epoch
            startup.begin(self.ctx, self.feed)
            self.loop = self.ctx.loop = self._make_loop()
            self.mailbox.set_state(SessionState.RUNNING)
            self.recorder.publish()
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
            except Quit:
                return

    def _make_loop(self) -> Any:
        from .runtime.loop import TrainLoop

        st, spe = self.state, self.feed.steps_per_epoch
        if st.step_in_epoch >= spe:  # a checkpoint (--from) taken after an epoch's last batch
            st.epoch, st.step_in_epoch = st.epoch + 1, 0
        return TrainLoop(
            self.model,
            self.feed,
            epochs=st.target_epochs,
            callbacks=self.dispatcher.active,
            driver=self,
            validation=self.validation,
            validation_freq=self.ctx.config.train.validation_freq,
            initial_epoch=st.epoch,
            initial_step=st.step_in_epoch,
        )

    def _train_until_interrupted(self) -> None:
        st, loop = self.state, self.loop
        if st.epoch >= st.target_epochs:
            self.finish("all epochs done")
            return
        if loop.epochs != st.target_epochs:
            loop.set_epochs(st.target_epochs)
        self.recorder.rate.start(self.done, warm_up=True)  # start-up (tracing) is not speed
        try:
            loop.run()  # parks inside for a pause; returns at the target or a stop_training
        except Quit:
            raise
        except BaseException as e:  # a hook's sys.exit() is that hook's error: pause, say so
            relay.peer_failed(self, e)  # a process of several is gone: stop (raises Quit)
            if SENTINEL in str(e):
                self._diverged()
            else:
                self._user_code_failed(as_exception(e))
            return
        finally:
            self.recorder.account_time()
        self._callback_effects()  # on_train_end's (EarlyStopping's restore)
        if st.epoch >= st.target_epochs:
            self.finish("all epochs done")
        elif self.model.stop_training:
            self.finish("a callback stopped training", stopped_by=loop.callbacks.stopped_by)

    # ----- per batch / per epoch (the loop's Driver) --------------------------------------
    def batch_done(self, batches: int) -> None:
        st = self.state
        st.done += batches
        st.step_in_epoch += batches
        if st.done == self.mailbox.hold_step:
            self.mailbox.attention = True
        elif not (st.done & 31) and time.perf_counter() - self.recorder.last_flush > FLUSH_SECONDS:
            self.recorder.flush()

    def epoch_done(self, epoch: int, logs: dict, covers_from: int) -> None:
        self.recorder.flush()
        st = self.state
        st.epoch = epoch + 1
        st.step_in_epoch = 0
        val = {k: float(v) for k, v in logs.items() if k.startswith("val_") and _finite(v)}
        if val:
            self.telemetry.append(float(st.done), **val)
        self.recorder.runlog.epoch(
            {
                "session_step": st.done,
                "epoch": st.epoch,
                "instance": st.instance,
                # 0: the logs cover the whole epoch; k: the metrics were reset at batch k by a
                # load, rebuild or recompile, so they cover batches k to the epoch's end
                "covers_from": covers_from,
                **{k: float(v) for k, v in logs.items() if _number(v)},
            }
        )
        self.recorder.publish()

    # ----- boundaries ----------------------------------------------------------------------
    def boundary(self, where: str) -> None:
        """Apply queued commands and holds; park while paused, holding or finished."""
        peers = self.ctx.peers
        self.recorder.flush()
        self._callback_effects()
        if peers is not None and not peers.leader:
            relay.follow(self, peers)  # applies what process 0 applies here
        else:
            self._lead(where, peers)
        # on again after a park or a command (else it counts on); a recompile or rebuild
        # retraces the train step on the next batch, which is start-up, not speed
        self.recorder.rate.start(self.done, warm_up=self.model.train_function is None)

    def _lead(self, where: str, peers) -> None:
        """Commands and holds of this process (process 0 of several sends each on first)."""
        box = self.mailbox
        self._check_holds(where)
        while True:
            cmd = box.pop()
            if cmd is not None:
                # what a command takes (a save, a load) is not training time
                self.recorder.account_time()
                if peers is not None and not relay.send(self, peers, cmd):
                    continue
                handlers.apply(self.ctx, cmd)
                self._callback_effects()  # a joining callback's on_train_begin, say
                continue
            if box.state.parked or box.state is SessionState.FAILED:
                self.recorder.account_time()
                box.wait(0.5)
                if peers is not None and (lost := peers.lost()):
                    relay.stop_for_peer(self, lost)
                self._check_holds(where)
                continue
            break
        if peers is not None:
            peers.publish("go")

    def _callback_effects(self) -> None:
        """Record what the user's callbacks changed since the last boundary; watch the model
        the session has now (a rebuild or recompile made new variables)."""
        if self.model is None:
            return
        if self.effects.pending:
            self.recorder.callback_effects(self.ctx.lineage, self.effects.drain())
        self.effects.watch(self.model)

    def _epochs_now(self) -> tuple[int, int, int]:
        """(epoch in progress, 0-based; epochs finished; batches done in the epoch): where a
        callback's hook ran."""
        st = self.state
        in_progress = self.loop.epoch if self.loop is not None else st.epoch
        return in_progress, st.epoch, st.step_in_epoch

    def _check_holds(self, where: str) -> None:
        box, st = self.mailbox, self.state
        hits = box.take_holds("step", st.done)
        hits += box.take_holds("epoch", st.epoch, at_start=st.step_in_epoch == 0)
        if box.state is SessionState.FINISHED:
            hits += box.take_holds("finished", None)
        for hold in hits:
            if not hold.future.set_running_or_notify_cancel():
                continue  # cancelled by its viewer going away: nobody waits there
            if box.state is SessionState.RUNNING:
                self.ctx.resume_state = SessionState.RUNNING
                box.set_state(SessionState.HOLDING, f"held at {hold.kind} {hold.value}")
            elif box.state is SessionState.FINISHED:
                self.ctx.resume_state = SessionState.FINISHED
                box.set_state(SessionState.HOLDING, "held at finish")
            hold.future.set_result(st.done)

    def _user_code_failed(self, exc: Exception) -> None:
        """A callback or the model raised inside fit: pause, keep everything, say what."""
        self.recorder.error("training", exc, user_code=True)
        self.ctx.close_segment()
        self.mailbox.set_state(SessionState.PAUSED, f"paused: {one_line(exc)}")
        self.recorder.publish()

    def _diverged(self) -> None:
        """The loss went NaN/inf: the step was not applied; pause and point at the last good
        checkpoint."""
        self.recorder.flush()
        self.ctx.close_segment()
        saved = [c for c in self.ctx.store.list() if c.source == "weightwatch"]
        last = saved[-1].name if saved else None
        intact = all(np.isfinite(w).all() for w in self.model.get_weights())
        state = (
            "the weights are from the step before" if intact else "the weights are no longer finite"
        )
        self.recorder.record(
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
        self.recorder.publish()

    def finish(self, reason: str, stopped_by: str | None = None) -> None:
        self.recorder.flush()
        self.ctx.close_segment()
        detail: dict = {"reason": reason, "epoch": self.epoch}
        if stopped_by:  # the callback that set stop_training (at an epoch's end)
            detail["callback"] = stopped_by
        self.recorder.record("finished", detail=detail)
        self.mailbox.set_state(SessionState.FINISHED, reason)
        self.recorder.publish()

    def _final(self) -> dict | None:
        """The report's `final`: where the model stands at the stop (None if never built)."""
        if self.model is None:
            return None
        self.recorder.flush()
        self.ctx.close_segment()
        self.recorder.account_time()
        self.recorder.record("quit", detail={"epoch": self.epoch})
        return {
            "model_step": self.model_step(),
            "epoch": self.epoch,
            "loss": self.recorder.last_loss,
            "global_norm": self.norm(),
            "fingerprint": self.state.fingerprint(),
        }

    def _shutdown(self) -> None:
        s, box = self.session, self.mailbox
        final = None
        try:
            final = self._final()
            if self.loop is not None:
                self.loop.end()  # on_train_end, once, for the callbacks still active
                self._callback_effects()
        finally:
            self.effects.close()
            gcfreeze.release()
            peers = self.ctx.peers
            processes = peers.close() if peers is not None and peers.leader else None
            box.set_state(SessionState.STOPPED, "stopped")
            report = build_report(s, final=final, trainer=self.recorder)
            if processes is not None:
                report["processes"] = processes
            box.set_report(report)
            self.recorder.runlog.close()
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
