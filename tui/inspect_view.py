"""`weightwatch inspect`: a run directory as readable tables, or JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path


def _fmt(v, spec: str = "") -> str:
    if v is None:
        return "-"
    return format(v, spec) if spec else str(v)


def inspect_command(run_dir: Path, as_json: bool = False) -> int:
    from weightwatch.engine.inspect import inspect_run

    data = inspect_run(run_dir)
    if as_json:
        print(json.dumps(data, indent=2, default=float))
        return 0
    print(f"run directory: {run_dir}")
    print(f"\ncheckpoints ({len(data['checkpoints'])})")
    # names whole (a script loads them by name): the column is as wide as the longest one
    width = max([24, *(len(c["name"]) for c in data["checkpoints"])])
    print(
        f"  {'name':{width}} {'step':>7} {'epoch':>5} {'loss':>9} {'norm':>9} {'fingerprint':12} "
        "loadable"
    )
    for c in data["checkpoints"]:
        ok = "yes" if c["loadable"] else f"NO ({c['problem']})"
        print(
            f"  {c['name']:{width}} {_fmt(c['model_step']):>7} {_fmt(c['epoch']):>5} "
            f"{_fmt(c['loss'], '.4g'):>9} {_fmt(c['global_norm'], '.4g'):>9} "
            f"{(c['fingerprint'] or '-')[:12]:12} {ok}"
        )
    print_callback_files(data["callback_files"])
    print(f"\nsegments ({len(data['segments'])})")
    for s in data["segments"]:
        end = _fmt(s["end_session_step"])
        print(
            f"  #{s['index']:<3} {s['origin']:16} instance {s['instance']:<3} steps "
            f"{s['start_session_step']}-{end}  model step {s['start_model_step']}  "
            f"{s['start_fingerprint'][:12]} -> {(s['end_fingerprint'] or '-')[:12]}  "
            f"[{', '.join(s['callbacks'])}]"
        )
    print(f"\nevents ({len(data['events'])})")
    for e in data["events"]:
        when = time.strftime("%H:%M:%S", time.localtime(e.get("time", 0)))
        verdict = f" -> {e['verdict']}" if e.get("verdict") else ""
        detail = e.get("detail") or {}
        extra = detail.get("message") or detail.get("name") or detail.get("checkpoint") or ""
        print(
            f"  {when} step {e['session_step']:>6} (model {e['model_step']:>6})  "
            f"{e['kind']}{verdict}  {extra}"
        )
    return 0


def print_callback_files(entries: list[dict]) -> None:
    """Every path a callback was given, and what is on disk there (absolute ones included)."""
    print(f"\ncallback files ({sum(len(e['files']) for e in entries)})")
    for e in entries:
        where = "" if e["inside_run_dir"] else "  [outside the run directory]"
        print(f"  {e['callback']} {e['key']} = {e['path']}{where}")
        for f in e["files"]:
            print(f"    {f['path']}  {f['size']} bytes")
        if not e["files"]:
            print("    (nothing there yet)")
