"""Lineage: segments of training and the verdict for each time training starts again.

A verdict is computed from what happened since the previous segment ended (loads, rebuilds,
recompiles, callback edits, folded in order) and confirmed against fingerprints: `continued` and
`optimizer_reset` require the same weights as the previous end, `restored` requires the weights of
the loaded checkpoint, `reset` a new model instance.

`altered` is the verdict of a change nobody asked the session for: a user's callback changed the
weights between two batches (`altered`, below). Training goes on in the same segment (it never
stopped); the event says which callback, in which hook, and the weights it left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import ALTERED, CONTINUED, FRESH, OPTIMIZER_RESET, RESET, RESTORED, Segment

# A transition's verdict on its own: what its event says while training is parked. The segment
# that opens when training starts again folds every pending transition into one (`judge`).
VERDICT_ALONE = {
    "load": RESTORED,
    "rebuild": RESET,
    "recompile": OPTIMIZER_RESET,
    "callbacks": CONTINUED,
}


@dataclass
class Transition:
    kind: str  # "load", "rebuild", "recompile", "callbacks"
    detail: dict = field(default_factory=dict)


class Lineage:
    """Segments so far, and the transitions waiting to be judged."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.pending: list[Transition] = []

    @property
    def current(self) -> Segment | None:
        seg = self.segments[-1] if self.segments else None
        return seg if seg is not None and seg.end_session_step is None else None

    def note(self, kind: str, **detail) -> None:
        self.pending.append(Transition(kind, detail))

    def verdict_alone(self, kind: str) -> str:
        """The verdict of the transition `kind` while training is parked (VERDICT_ALONE)."""
        return VERDICT_ALONE[kind]

    def altered(
        self,
        callback: str,
        hook: str,
        epoch: int,
        fingerprint: str | None,
        best_epoch: int | None = None,
    ) -> tuple[str, dict]:
        """The verdict and detail of weights a user's callback changed between two batches.

        `epoch` (1-based) is the epoch the hook ran in, for the words; `best_epoch` (1-based):
        the callback restored the weights of that epoch (EarlyStopping with
        `restore_best_weights`), which the words then say."""
        if best_epoch is not None:
            message = (
                f"{callback} restored the best weights at epoch {epoch} (best: epoch {best_epoch})"
            )
        else:
            message = f"{callback} changed the weights in {hook} at epoch {epoch}"
        detail: dict = {
            "callback": callback,
            "hook": hook,
            "fingerprint": fingerprint,
            "message": message,
        }
        if best_epoch is not None:
            detail["best_epoch"] = best_epoch
        return ALTERED, detail

    def judge(self, fingerprint: str, instance: int) -> tuple[str, dict]:
        """Fold the pending transitions into one verdict for training that starts now."""
        weights, optimizer, loaded = "same", "same", None
        for t in self.pending:
            if t.kind == "load":
                weights, loaded = "restored", t.detail
                if t.detail.get("optimizer_restored"):
                    optimizer = "restored"
            elif t.kind == "rebuild":
                weights, optimizer, loaded = "reset", "fresh", None
            elif t.kind == "recompile":
                optimizer = "fresh"
        prev = self.segments[-1] if self.segments else None
        detail: dict = {}
        if weights == "restored" and loaded is not None:
            verdict = RESTORED
            detail = {
                "checkpoint": loaded.get("checkpoint"),
                "optimizer_restored": optimizer == "restored",
            }
        elif weights == "reset":
            verdict = RESET
        elif optimizer == "fresh":
            verdict = OPTIMIZER_RESET
        else:
            verdict = CONTINUED
        if prev is None:
            return (verdict if verdict == RESTORED else FRESH), detail
        if verdict in (CONTINUED, OPTIMIZER_RESET) and fingerprint != prev.end_fingerprint:
            detail["weights_changed_outside_training"] = True
        if verdict == RESET and instance == prev.instance:
            detail["same_instance"] = True
        return verdict, detail

    def open(
        self,
        *,
        origin: str,
        instance: int,
        session_step: int,
        model_step: int,
        fingerprint: str,
        callbacks: list[str],
    ) -> Segment:
        seg = Segment(
            index=len(self.segments),
            origin=origin,
            instance=instance,
            start_session_step=session_step,
            start_model_step=model_step,
            start_fingerprint=fingerprint,
            callbacks=callbacks,
        )
        self.segments.append(seg)
        self.pending.clear()
        return seg

    def close(self, session_step: int, fingerprint: str) -> Segment | None:
        seg = self.current
        if seg is not None:
            seg.end_session_step = session_step
            seg.end_fingerprint = fingerprint
        return seg
