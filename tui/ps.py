"""`weightwatch ps [--json]`: the detached sessions this user started, live or dead.

From the registry (engine/remote/registry.py): each live session is asked for its status and
viewers over its socket; one that does not answer is described from its run directory's files
(locate.describe_dead), so a session killed with `kill -9` is one line saying so.
"""

from __future__ import annotations

import json
from pathlib import Path


def ps(args) -> int:
    from weightwatch.engine.remote.registry import entries

    rows = [row for row in map(row_of, entries()) if row is not None]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(
            "weightwatch: no detached sessions (start one with `weightwatch run CONFIG --detach`)"
        )
        return 0
    for row in rows:
        print(line_of(row))
    return 0


def row_of(entry: dict) -> dict | None:
    """What ps shows of one registry entry: asked live, or described from the run directory;
    None (and the entry removed) once another session has taken that run directory."""
    from weightwatch.engine.remote.blocking import Blocking, Unreachable
    from weightwatch.engine.remote.locate import describe_dead, lock_holder
    from weightwatch.engine.remote.registry import unregister

    run_dir = Path(entry["run_dir"])
    row = {"run_dir": str(run_dir), "pid": entry["pid"], "listen": entry.get("listen")}
    try:
        link = Blocking(run_dir, viewer="ps", timeout=3.0)
        try:
            if link.hello.get("pid") != entry["pid"]:  # another session serves there now
                unregister(Path(entry["entry"]))
                return None
            status = link.ask("read", what="status")
            viewers = [v for v in link.ask("read", what="viewers") if v.get("viewer") != "ps"]
        finally:
            link.close()
    except Exception as e:  # Unreachable, a refusal, a bad folder: say what the files say
        try:
            dead = describe_dead(run_dir)
        except Exception:
            dead = None
        if dead is None:
            why = "starting or not answering" if isinstance(e, Unreachable) else str(e)
            return {**row, "state": "unknown", "problem": why}
        holder = lock_holder(run_dir)
        if (holder is not None and holder != entry["pid"]) or "stopped cleanly" in dead:
            unregister(Path(entry["entry"]))  # a later session's run directory now: not news
            return None
        return {**row, "state": "dead", "problem": dead}
    return {
        **row,
        "state": status.get("state"),
        "epoch": status.get("epoch"),
        "epochs": status.get("epochs"),
        "step": status.get("session_step"),
        "viewers": len(viewers),
        "viewer_names": [v.get("viewer") for v in viewers],
    }


def line_of(row: dict) -> str:
    from weightwatch.engine.progress import epoch_shown
    from weightwatch.engine.runlock import shown

    where = shown(Path(row["run_dir"]))
    if "problem" in row:
        pid = f" (pid {row['pid']})" if row["state"] != "dead" else ""
        return f"{where}  {row['state']}{pid}: {row['problem']}"
    epoch, epochs = row.get("epoch") or 0, row.get("epochs") or 0
    viewers = row.get("viewers", 0)
    return (
        f"{where}  {row['state']}  epoch {epoch_shown(epoch, epochs)}/{epochs}"
        f"  step {row.get('step') or 0:,}  {viewers} viewer{'s' if viewers != 1 else ''}"
        f"  pid {row['pid']}" + (f"  tcp {row['listen']}" if row.get("listen") else "")
    )
