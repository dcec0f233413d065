"""The report (DESIGN.md "Report (JSON)"), keys exactly as the contract writes them."""

from __future__ import annotations

import json
from pathlib import Path

from .atomic import json_safe, write_json

EVENT_KEYS = (
    "session_step",
    "model_step",
    "kind",
    "verdict",
    "detail",
    "norm_before",
    "norm_after",
)


def build_report(session, final: dict | None, trainer=None) -> dict:
    status = session.status()
    events = [{k: getattr(ev, k) for k in EVENT_KEYS} for ev in session.events()]
    segments = [seg.to_json() for seg in session.segments()]
    checkpoints = [
        {
            "name": c.name,
            "path": c.path,
            "model_step": c.model_step,
            "epoch": c.epoch,
            "fingerprint": c.fingerprint,
        }
        for c in session.store.list()
        if c.source == "weightwatch"
    ]
    steps_per_s = None
    if trainer is not None and trainer.train_seconds > 0:
        steps_per_s = trainer.train_steps / trainer.train_seconds
    elif status.steps_per_s is not None:
        steps_per_s = status.steps_per_s
    if final is None:
        final = {
            "model_step": status.model_step,
            "epoch": status.epoch,
            "loss": status.loss,
            "global_norm": status.global_norm,
            "fingerprint": None,
        }
    report = json_safe(
        {
            "session_steps": status.session_step,
            "segments": segments,
            "events": events,
            "checkpoints": checkpoints,
            "final": final,
            "throughput": {"steps_per_s": steps_per_s},
            "strategy": {
                "name": status.strategy,
                "replicas": status.replicas,
                "devices": list(status.devices),
            },
        }
    )
    assert isinstance(report, dict)
    return report


def write_report(report: dict, path: Path) -> None:
    """Atomically, so a reader never sees half a report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, json.loads(json.dumps(report, default=float)))


def training_error(events) -> str | None:
    """What ended training, if an error did: the message of the last `diverged` event or error
    raised while training (the model or a callback), unless training finished or was resumed
    after it. A refused command or a failed script action (a bad load) ends nothing: None."""
    for event in reversed(events):
        if event.kind in ("finished", "resume", "started"):
            return None
        if event.kind == "diverged" or (
            event.kind == "error" and event.detail.get("action") == "training"
        ):
            return str(event.detail.get("message") or event.kind)
    return None
