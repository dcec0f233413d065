"""What the command line prints: a `--plain` progress line, and the run summary on quit.

The summary is made from the report alone (the dict `report.json` holds), so the interactive
run, `--headless`, `--plain` and the tour print the same thing for the same run.
"""

from __future__ import annotations

import math
from pathlib import Path

from weightwatch.engine.progress import duration, epoch_shown, eta_seconds

MAX_VERDICTS = 8  # a long session (many pauses) lists the first ones and says how many more


def plain_line(status) -> str:
    """One `--plain` line: the epoch counted from 1, as the dashboard and Keras count it."""
    rate = f"  {status.steps_per_s:,.0f} steps/s" if status.steps_per_s else ""
    epoch_eta, run_eta = eta_seconds(status)
    eta = f"  ETA epoch {duration(epoch_eta)}, run {duration(run_eta)}" if run_eta else ""
    return (
        f"epoch {epoch_shown(status.epoch, status.epochs)}/{status.epochs}"
        f"  step {status.session_step}  loss {number(status.loss, 5)}"
        f"  norm {number(status.global_norm, 5)}{rate}{eta}"
    )


def number(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if math.isfinite(value) else str(value)


def run_summary(report: dict, run_dir: Path, extra_report=None, unwritten=()) -> str:
    """A few lines: steps and time, final loss and norm, the verdicts in order, the checkpoints
    this session wrote, and where the report is."""
    lines = [steps_line(report), final_line(report.get("final") or {})]
    events = report.get("events") or []
    verdicts = [f"{e['verdict']} {e['session_step']:,}" for e in events if e.get("verdict")]
    if verdicts:
        more = len(verdicts) - MAX_VERDICTS
        shown = " → ".join(verdicts[:MAX_VERDICTS]) + (f" → … (+{more} more)" if more > 0 else "")
        lines.append(f"verdicts (at session step): {shown}")
    saved = [
        str((e.get("detail") or {}).get("name", "?"))
        for e in events
        if e.get("kind") == "checkpoint_saved"
    ]
    lines.append(f"checkpoints written: {len(saved)}" + (f" ({', '.join(saved)})" if saved else ""))
    paths = [Path(run_dir) / "report.json", *([Path(extra_report)] if extra_report else [])]
    written = [str(p) for p in paths if p not in {Path(u) for u in unwritten}]
    lines.append(f"report: {', '.join(written)}" if written else "report: not written")
    return "\n".join(f"weightwatch: {line}" for line in lines)


def steps_line(report: dict) -> str:
    steps = report.get("session_steps") or 0
    rate = (report.get("throughput") or {}).get("steps_per_s")
    if not steps or not rate or not math.isfinite(rate):
        return f"{steps:,} steps trained"
    return f"{steps:,} steps trained in {duration(steps / rate)} ({rate:,.0f} steps/s)"


def final_line(final: dict) -> str:
    loss, norm = final.get("loss"), final.get("global_norm")
    done = final.get("epoch") or 0  # epochs completed (the status line counts the one in progress)
    where = (
        f"model step {final.get('model_step') or 0:,}, {done} epoch{'' if done == 1 else 's'} done"
    )
    return f"final: loss {number(loss, 4)}, weight norm {number(norm, 4)} ({where})"
