"""One JAX `data_parallel` run over several local processes (`[run] processes = N`).

Process 0 is the session the person started (`weightwatch run`, any front end): it owns the
run directory, the dashboard, the checkpoints and the socket that viewers attach to. It starts
the other N-1 processes ("followers", `python -m weightwatch.engine.follower`) itself, before
JAX starts, with a coordinator on a free loopback port; every process then calls
`jax.distributed.initialize` and trains on one `keras.distribution.DataParallel` mesh over the
devices of all of them. A follower is headless: its run directory is a private temporary one
(nothing of it is kept), its output goes to `RUN_DIR/process-<i>.log`, written by process 0.

How every command lands at the same step everywhere (docs/scaling.md):

- Batch boundaries need no decision: every process runs the same loop over the same global
  batch order (`BatchFeed.order(seed, epoch)`) and feeds its own rows of each global batch
  (`BatchFeed.shard`); the gradient all-reduce inside each step keeps them in lock step.
- Before each batch every process reads the loop's `attention` through `agree`: one all-reduce
  (max) of a flag. Only process 0 receives commands, so its flag decides; the others' can be
  set by their own hooks (a hold has none). Agreed, every process enters the same boundary.
- At a boundary process 0 publishes each command it applies, in order, into the coordination
  service's key-value store (`ww/cmd/<n>`), then `go` when training goes on. A follower reads
  them in the same order and applies each the same way (`receive`); while process 0 is paused
  the followers wait on the store, never in a collective, so nothing hangs.
- Every process applies every command, a `save` too: Keras makes variables while it writes a
  file, and under a distribution across processes making a variable is a collective
  (`device_put` checks that every process puts the same value), so process 0 alone would wait
  for the others forever. A follower's file goes to its scratch directory. A `load` names the
  file by its absolute path (this machine's disk is shared; past one host it would be sent).
- A process that dies: the next collective raises in the survivors. Process 0 (with
  `jax_enable_recoverability`, so that JAX does not abort it) then stops cleanly with an
  `error` event naming the process, and writes its report; a follower prints one line and
  exits (if process 0 died, JAX aborts it).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .usercode import one_line

ENV = "WEIGHTWATCH_PEER"  # in a follower: "index/count/host:port"
HEARTBEAT_S = 10  # a dead peer is noticed by JAX's coordination service after this
WAIT_MS = 1000  # a follower's wait on the store, between checks that process 0 is alive
STOP_WAIT_S = 30.0  # process 0 waits this long for followers to leave at the end


class PeerLost(Exception):
    """A process of the run is gone (its message names it)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Peers:
    """This process's part in a run of several: its index, the agreement, the command relay."""

    def __init__(self, index: int, count: int, coordinator: str) -> None:
        self.index, self.count, self.coordinator = index, count, coordinator
        self.children: list[subprocess.Popen] = []  # process 0: the followers it started
        self.logs: list[Path] = []
        self._sent = 0  # process 0: commands published; a follower: read
        self._agree: Any = None
        self._sharding: Any = None
        self._flag: Any = None
        self._kv: Any = None
        self._parent = os.getppid()
        self.log0: Path | None = None  # process 0: where its own JAX and gloo lines go

    @property
    def leader(self) -> bool:
        return self.index == 0

    # ----- start-up ----------------------------------------------------------------------
    def spawn(self, config_path: Path, run_dir: Path, from_path: str | None) -> None:
        """Process 0: start the followers (before JAX starts here: `initialize` waits for all)."""
        for i in range(1, self.count):
            argv = [
                sys.executable,
                "-m",
                "weightwatch.engine.follower",
                str(config_path),
                "--peer",
                f"{i}/{self.count}/{self.coordinator}",
            ]
            if from_path:
                argv += ["--from", from_path]
            log = run_dir / f"process-{i}.log"
            env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONUNBUFFERED": "1"}
            env.pop(ENV, None)
            with open(log, "wb") as out:  # the child keeps its own descriptor
                child = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # the terminal's Ctrl+C is process 0's to handle
                )
            self.children.append(child)
            self.logs.append(log)

    def connect(self) -> None:
        """`jax.distributed.initialize` (every process; before JAX lists its devices)."""
        import inspect

        import jax

        with contextlib.suppress(AttributeError):  # CPU collectives across processes
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        # Without it JAX aborts a survivor (SIGABRT) once a dead peer misses its heartbeats;
        # with it process 0 outlives a dead follower and stops cleanly (docs/scaling.md).
        with contextlib.suppress(AttributeError):  # (a JAX without the flag: aborted, then)
            jax.config.update("jax_enable_recoverability", True)
        params = inspect.signature(jax.distributed.initialize).parameters
        kwargs: dict[str, Any] = {}
        for name, value in (
            ("heartbeat_timeout_seconds", HEARTBEAT_S),
            ("initialization_timeout", 120),
            ("shutdown_timeout_seconds", 20),
            ("coordinator_bind_address", self.coordinator),  # loopback only
        ):
            if name in params:
                kwargs[name] = value
        try:
            jax.distributed.initialize(
                coordinator_address=self.coordinator,
                num_processes=self.count,
                process_id=self.index,
                **kwargs,
            )
        except Exception as e:
            lost = self.lost(wait=0.5) if self.leader else None
            raise PeerLost(lost or f"the {self.count} processes did not connect: {e}") from e
        from jax._src import distributed

        self._kv = distributed.global_state.client

    def ready(self, mesh) -> None:
        """The agreement's collective, on the run's mesh (after the distribution is set)."""
        import jax
        import jax.numpy as jnp
        import numpy as np
        from jax.sharding import NamedSharding, PartitionSpec

        axis = mesh.axis_names[0]
        self._sharding = NamedSharding(mesh, PartitionSpec(axis))
        whole = NamedSharding(mesh, PartitionSpec())
        self._agree = jax.jit(jnp.max, out_shardings=whole)
        local = sum(1 for d in mesh.devices.flat if d.process_index == jax.process_index())
        self._flag = np.zeros(local, np.int32)
        # The first collective connects gloo, which says so on stdout ("[Gloo] Rank 0 is
        # connected to 1 peer ranks"), across the dashboard: into process 0's log instead.
        with _stdout_to(self.log0):
            self.agree(False)

    # ----- per batch ---------------------------------------------------------------------
    def agree(self, flag: bool) -> bool:
        """Every process's flag, reduced (max): the same answer on every process."""
        import jax

        self._flag[:] = 1 if flag else 0
        word = jax.make_array_from_process_local_data(self._sharding, self._flag)
        return bool(self._agree(word))

    # ----- at a boundary: the command relay ----------------------------------------------
    def publish(self, kind: str, args: dict | None = None) -> None:
        """Process 0: the next command every process applies at this boundary (`go`: none)."""
        text = json.dumps({"kind": kind, "args": args})  # TypeError before anything is sent
        self._kv.key_value_set(f"ww/cmd/{self._sent}", text)
        self._sent += 1

    def receive(self) -> tuple[str, dict]:
        """A follower: the next command process 0 published (waits for it)."""
        key = f"ww/cmd/{self._sent}"
        while True:
            try:
                text = self._kv.blocking_key_value_get(key, WAIT_MS)
                break
            except Exception as e:  # the wait timed out (process 0 paused), or it is gone
                if "DEADLINE" not in str(e).upper() or os.getppid() != self._parent:
                    raise PeerLost(f"process 0 is gone ({one_line(e)})") from e
        self._sent += 1
        message = json.loads(text)
        return message["kind"], message.get("args") or {}

    # ----- process 0: the others' health, and the end -----------------------------------
    def lost(self, wait: float = 0.0) -> str | None:
        """Process 0: "process 1 exited with code -9" when a follower has gone (waiting up to
        `wait` seconds for one to be seen gone); None while all live."""
        deadline = time.monotonic() + wait
        while True:
            for i, child in enumerate(self.children, start=1):
                code = child.poll()
                if code is not None:
                    return f"process {i} of {self.count} exited with code {code}"
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def close(self, timeout: float = STOP_WAIT_S) -> list[dict]:
        """Process 0: wait for the followers to leave (killed past `timeout`); how each ended."""
        deadline = time.monotonic() + timeout
        out: list[dict[str, Any]] = [{"index": 0, "pid": os.getpid(), "exit": None}]
        for i, child in enumerate(self.children, start=1):
            killed = False
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                killed = True
            out.append(
                {
                    "index": i,
                    "pid": child.pid,
                    "exit": child.returncode,
                    "killed": killed,
                    "log": self.logs[i - 1].name,
                }
            )
        return out


@contextlib.contextmanager
def _stdout_to(path: Path | None):
    """File descriptor 1 into `path` for a moment (None: left as it is)."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(path, "ab") as f:
            os.dup2(f.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def start(config, run_dir: Path, from_path: str | None) -> Peers | None:
    """This process's `Peers` for a config of several processes (None for one): process 0
    starts the others here; a follower knows its place from `ENV`."""
    count = config.run.processes
    if count <= 1:
        return None
    mine = os.environ.get(ENV)
    if mine:  # a follower (engine/follower.py set it)
        index, total, coordinator = mine.split("/", 2)
        return Peers(int(index), int(total), coordinator)
    peers = Peers(0, count, f"127.0.0.1:{free_port()}")
    peers.log0 = run_dir / "process-0.log"
    peers.spawn(config.path, run_dir, from_path)
    return peers
