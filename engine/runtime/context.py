"""What a command handler works on: the parts of the training thread, typed, in one object.

Each part holds its own state: `state` the model and counters (model_state.py), `recorder`
events, telemetry and the run log, `mailbox` the thread boundary, `lineage` the segments and
verdicts. The context adds only what spans them: opening and closing a segment, and a state
change that the status snapshot shows at once.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checkpoints import CheckpointStore
from ..dispatcher import CallbackDispatcher
from ..events import SessionState
from ..lineage import Lineage
from ..mailbox import Mailbox
from ..specs import Config
from .model_state import ModelState
from .recorder import Recorder

RUNNING_LIKE = (SessionState.RUNNING, SessionState.HOLDING)


@dataclass
class Context:
    config: Config
    run_dir: Path
    mailbox: Mailbox
    lineage: Lineage
    store: CheckpointStore
    state: ModelState
    recorder: Recorder
    dispatcher: CallbackDispatcher
    default_checkpoint_name: Callable[[], str]  # the session's rule (step-000123)
    from_checkpoint: str | None = None
    loop: Any = None  # the TrainLoop (runtime/loop.py, imports Keras): made after start-up
    resume_state: SessionState = SessionState.RUNNING  # where a hold goes back to
    stop_future: Future | None = None  # the stop command's, resolved with the report
    retry: Future | None = None  # the future of a rebuild that retries a failed start
    peers: Any = None  # engine.peers.Peers in a run of several processes, else None

    @property
    def session_state(self) -> SessionState:
        return self.mailbox.state

    def running(self) -> bool:
        return self.mailbox.state in RUNNING_LIKE

    def set_state(self, state: SessionState, reason: str = "") -> None:
        self.mailbox.set_state(state, reason)

    def callback_names(self) -> list[str]:
        return [spec.label for spec in self.dispatcher.specs if spec.enabled]

    def open_segment(self, origin: str | None = None) -> tuple[str, dict]:
        """Training starts again here: the lineage judges it and opens a segment."""
        st = self.state
        fp = st.fingerprint()
        with self.mailbox.lock:
            verdict, detail = self.lineage.judge(fp, st.instance)
            seg = self.lineage.open(
                origin=origin or verdict,
                instance=st.instance,
                session_step=st.done,
                model_step=st.model_step(),
                fingerprint=fp,
                callbacks=self.callback_names(),
            )
        self.recorder.segment(seg)
        return origin or verdict, detail

    def close_segment(self, fingerprint: str | None = None) -> None:
        """End the open segment with the weights' fingerprint now, or with `fingerprint` (what
        they were before a transition that has already changed them)."""
        if self.lineage.current is None:
            return
        fp = fingerprint or self.state.fingerprint()
        with self.mailbox.lock:
            seg = self.lineage.close(self.state.done, fp)
        self.recorder.segment(seg)

    def verdict_after(self, kind: str) -> tuple[str, dict]:
        """After a transition (load, rebuild, ...): a new segment at once if training runs,
        else the transition's own verdict (the lineage decides both)."""
        if self.running():
            return self.open_segment()
        return self.lineage.verdict_alone(kind), {}
