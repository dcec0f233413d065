"""What a run directory holds, read from the files alone (no TensorFlow, no live session)."""

from __future__ import annotations

from pathlib import Path

from .callback_paths import callback_files
from .checkpoints import CheckpointStore
from .errors import BadInput
from .runlog import read_run


def inspect_run(run_dir: Path) -> dict:
    """{checkpoints (with `loadable`), segments, events} of the latest session in `run_dir`, and
    `callback_files`: for every path callbacks were given (any session), the files there now."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise BadInput(f"{run_dir}: no such run directory")
    if not (run_dir / "events.jsonl").exists() and not (run_dir / "checkpoints").is_dir():
        raise BadInput(f"{run_dir}: not a weightwatch run directory (no events.jsonl)")
    store = CheckpointStore(run_dir, clean=False)
    checkpoints = []
    for c in store.list(verify=True):
        checkpoints.append(
            {
                "name": c.name,
                "path": c.path,
                "source": c.source,
                "model_step": c.model_step,
                "epoch": c.epoch,
                "loss": c.loss,
                "global_norm": c.global_norm,
                "fingerprint": c.fingerprint,
                "has_optimizer": c.has_optimizer,
                "data_exact": c.data_exact,  # False: a resume starts the epoch's data again
                "created": c.created,
                "loadable": bool(c.loadable),
                "problem": c.problem,
            }
        )
    events, segments = read_run(run_dir)
    return {
        "checkpoints": checkpoints,
        "segments": segments,
        "events": events,
        "callback_files": callback_files(run_dir),
    }
