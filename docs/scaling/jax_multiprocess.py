"""JAX across processes on this machine: `jax.distributed.initialize` with a coordinator on
127.0.0.1, two local processes standing in for two hosts.

    KERAS_BACKEND=jax /tmp/jaxvenv/bin/python docs/scaling/jax_multiprocess.py [SCENARIO ...]

The launcher starts both processes for each scenario (a free loopback port each time; the
coordinator binds 127.0.0.1 only, and gloo uses the hostname's address, 127.0.0.1 here), waits
with a time limit, and prints what each process said, its exit code and JAX's last log lines; a
process still running at the limit is killed and said to be. Scenarios:
- `psum`:  a global mesh over the devices of both processes; a global array made from each
  process's own values (`jax.make_array_from_process_local_data`); a jitted sum over it (the
  cross-process collective); every process prints the replicated result.
- `fit`:   `keras.distribution.DataParallel` over all global devices, the reference MLP fitted
  for one epoch, each process feeding its half of every global batch of 32; each process prints
  the fingerprint of its weights (they must agree). `fit1` (run by the launcher, one process
  with as many local devices as both had) says whether they equal a one-process run.
- `agree`: how a command lands at the same step on every process: each step is a collective
  (the stand-in for the gradient all-reduce) that also carries a control word (max over
  processes); process 0 alone receives "pause" (as from its viewer) and puts it in its word at
  step 25; every process reads step t-1's word at boundary t and parks there. While parked no
  step runs, so the resume goes through the coordination service's key-value store (process 0
  sets `resume/1` after 1 s; the others block on it). Then the cost of reading the word,
  interleaved: no read, lag 1 (waits for step t-1), lag 2.
- `die`:   a process exits (os._exit) at step 20 of a collective loop; what the other one sees
  (the error text), after how long, and how it ends.
Knobs (environment): WW_LOCAL_DEVICES (CPU devices per process, 1 by default: with 2, several
steps in flight hang, see docs/scaling.md), WW_SYNC_STEPS=1 (`fit` reads each batch's loss, so
one step is in flight at a time), WW_RECOVERABLE=1 (`jax_enable_recoverability`), WW_DYING (the
process that exits in `die`, 1 by default).
"""

from __future__ import annotations

import inspect
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
REPO = Path(__file__).resolve().parents[2]
PROCS, LOCAL = 2, int(os.environ.get("WW_LOCAL_DEVICES", "1"))
LIMITS = {"psum": 90, "fit": 60, "agree": 90, "die": 200, "fit1": 120}


def say(pid, *parts) -> None:
    print(f"[p{pid}]", *parts, flush=True)


def init(pid: int, port: int) -> None:
    import jax

    jax.config.update("jax_num_cpu_devices", LOCAL)
    try:
        default = jax.config.jax_cpu_collectives_implementation
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        say(pid, f"jax {jax.__version__}; cpu collectives: default {default!r}, using 'gloo'")
    except AttributeError:
        say(pid, f"jax {jax.__version__}; no jax_cpu_collectives_implementation in this JAX")
    if os.environ.get("WW_RECOVERABLE"):  # let survivors outlive a dead process (default off)
        jax.config.update("jax_enable_recoverability", True)
        say(pid, "jax_enable_recoverability = True")
    kwargs = {}
    params = inspect.signature(jax.distributed.initialize).parameters
    if "heartbeat_timeout_seconds" in params:  # a dead peer is noticed sooner (default 100 s)
        kwargs["heartbeat_timeout_seconds"] = 10
    if "initialization_timeout" in params:
        kwargs["initialization_timeout"] = 60
    if "shutdown_timeout_seconds" in params:  # the exit barrier waits for every process
        kwargs["shutdown_timeout_seconds"] = 20
    if "coordinator_bind_address" in params:  # else it binds every interface, not loopback only
        kwargs["coordinator_bind_address"] = f"127.0.0.1:{port}"
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}", num_processes=PROCS, process_id=pid, **kwargs
    )
    say(
        pid,
        f"process {jax.process_index()}/{jax.process_count()}: {jax.device_count()} "
        f"devices, {jax.local_device_count()} local {jax.local_devices()}",
    )


def global_mesh():
    import jax
    import numpy as np

    return jax.sharding.Mesh(np.array(jax.devices()), ("batch",))


def psum(pid: int) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import NamedSharding, PartitionSpec

    sharding = NamedSharding(global_mesh(), PartitionSpec("batch"))
    local = np.arange(LOCAL, dtype=np.float32) + 10 * pid  # p0: 0, 1; p1: 10, 11
    arr = jax.make_array_from_process_local_data(sharding, local)
    total = jax.jit(jnp.sum, out_shardings=NamedSharding(global_mesh(), PartitionSpec()))(arr)
    want = sum(float(np.sum(np.arange(LOCAL) + 10 * p)) for p in range(PROCS))
    say(pid, f"global shape {arr.shape}, sum over both processes = {float(total)} (want {want})")


def reference_mlp():
    import keras

    x_in = keras.Input(shape=(10,), name="features")
    h = keras.layers.Dense(128, activation="relu", name="hidden")(x_in)
    out = keras.layers.Dense(10, activation="softmax", name="output")(h)
    return keras.Model(x_in, out, name="reference_mlp")


def fit_dp(pid: int | None) -> None:
    """pid None: the one-process reference (4 local devices, whole global batches)."""
    import hashlib

    import keras
    import numpy as np

    data = np.load(REPO / "demo_data" / "reference.npz")
    x, y, gb = data["x"], data["y"], 32
    if pid is not None:  # this process's half of every global batch, in order
        rows = np.concatenate(
            [np.arange(i, i + gb // PROCS) + pid * gb // PROCS for i in range(0, len(x), gb)]
        )
        x, y, batch = x[rows], y[rows], gb // PROCS
    else:
        batch = gb
    dist = keras.distribution.DataParallel(devices=keras.distribution.list_devices("cpu"))
    # Keras shards only tf.data itself ("with auto-sharding enabled, the data must be provided as
    # a `tf.data.Dataset`"); these arrays are already this process's part of each global batch
    dist.auto_shard_dataset = False
    keras.utils.set_random_seed(7)  # the same initial weights in every process
    t = time.perf_counter()
    with dist.scope():
        model = reference_mlp()
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        # WW_SYNC_STEPS=1: a per-batch hook that reads the loss, so one step is in flight at a time
        cbs = [
            keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: float(logs["loss"]))
        ]
        cbs = cbs if os.environ.get("WW_SYNC_STEPS") else []
        hist = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=cbs)
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    say(
        pid if pid is not None else "-",
        f"fit: {len(x) // batch} steps in "
        f"{time.perf_counter() - t:.1f} s, loss {hist.history['loss'][-1]:.5f}, "
        f"fingerprint {h.hexdigest()[:16]}",
    )


def agree(pid: int) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax._src import distributed  # the coordination service's key-value store
    from jax.sharding import NamedSharding, PartitionSpec

    mesh = global_mesh()
    shard = NamedSharding(mesh, PartitionSpec("batch"))
    whole = NamedSharding(mesh, PartitionSpec())
    kv = distributed.global_state.client

    def step(w, data, control):
        # the stand-in train step: a cross-process mean, and the control word's max
        return w + jnp.mean(data), jnp.max(control)

    step = jax.jit(step, out_shardings=(whole, whole))

    def run(steps: int, lag: int | None, pause_at: int | None):
        w = jax.device_put(jnp.zeros(()), whole)
        words, parked = [], None
        t0 = time.perf_counter()
        for t in range(steps):
            if lag is not None and t >= lag and parked is None and int(words[t - lag]) == 1:
                parked = t
                say(
                    pid,
                    f"parked at boundary {t} (process 0 put the pause in its word of step "
                    f"{pause_at}, read with lag {lag})",
                )
                if pid == 0:  # its viewer resumes after 1 s; while parked no step carries it
                    time.sleep(1.0)
                    kv.key_value_set("resume/1", "go")
                else:  # the others wait on the key-value store, not in a collective
                    kv.blocking_key_value_get("resume/1", 30_000)
                say(pid, f"resumed at boundary {t}")
            word = 1 if (pid == 0 and t == pause_at) else 0  # only process 0's viewer asked
            data = jax.make_array_from_process_local_data(shard, np.full(LOCAL, t, np.float32))
            ctl = jax.make_array_from_process_local_data(shard, np.full(LOCAL, word, np.int32))
            w, c = step(w, data, ctl)
            words.append(c)
        float(w)
        return steps / (time.perf_counter() - t0), parked, float(w)

    run(5, None, None)  # compile
    sps, parked, w = run(60, 1, 25)
    say(pid, f"finished 60 steps, w = {w}, parked at {parked}")
    for lag in (None, 1, 2, None, 1, 2):  # what reading the word costs (interleaved)
        sps, _, _ = run(300, lag, None)
        say(pid, f"300 steps, control word read with lag {lag}: {sps:.0f} steps/s")


def die(pid: int) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import NamedSharding, PartitionSpec

    shard = NamedSharding(global_mesh(), PartitionSpec("batch"))
    total = jax.jit(jnp.sum, out_shardings=NamedSharding(global_mesh(), PartitionSpec()))
    t0, dying = None, int(os.environ.get("WW_DYING", "1"))  # which process exits
    for t in range(200):
        if pid == dying and t == 20:
            say(pid, "exiting now (os._exit(3)) at step 20")
            os._exit(3)
        if t == 20:
            t0 = time.perf_counter()
        arr = jax.make_array_from_process_local_data(shard, np.ones(LOCAL, np.float32))
        try:
            float(total(arr))
        except Exception as e:  # what the survivor sees
            say(
                pid,
                f"step {t}: {type(e).__name__} after {time.perf_counter() - t0:.1f} s: "
                f"{str(e).splitlines()[0][:400]}",
            )
            break
    else:
        say(pid, "ran 200 steps with no error (the peer's death went unnoticed)")
    say(pid, "leaving (the exit barrier comes next)")


def child(pid: int, port: int, scenario: str) -> None:
    init(pid, port)
    {"psum": psum, "fit": fit_dp, "agree": agree, "die": die}[scenario](pid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(scenario: str) -> None:
    print(f"== {scenario}", flush=True)
    limit = LIMITS[scenario]
    if scenario == "fit1":  # one process, 4 local devices, no jax.distributed
        code = (
            f"import jax; jax.config.update('jax_num_cpu_devices', {PROCS * LOCAL}); "
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import jax_multiprocess as m; m.fit_dp(None)"
        )
        cmds = [[sys.executable, "-c", code]]
    else:
        port = free_port()
        cmds = [
            [sys.executable, __file__, "child", str(i), str(port), scenario] for i in range(PROCS)
        ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    procs = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for c in cmds
    ]
    t0 = time.perf_counter()
    for i, p in enumerate(procs):
        try:
            out, _ = p.communicate(timeout=max(1, limit - (time.perf_counter() - t0)))
            status = f"exit {p.returncode}"
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            status = f"killed after {limit} s (still running)"
        lines = [ln for ln in out.splitlines() if ln.strip() and not ln.startswith("[Gloo]")]
        ours = [ln for ln in lines if ln.startswith("[p")]  # every line the script printed
        theirs = [ln for ln in lines if not ln.startswith(("[p", "    @"))]  # JAX's own, last few
        print(f"-- process {i}: {status}, {time.perf_counter() - t0:.1f} s")
        for ln in ours + (["   (JAX/XLA, last lines:)"] + theirs[-6:] if theirs else []):
            print("   " + ln[:700])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    for scenario in sys.argv[1:] or ["psum", "fit", "fit1", "agree", "die"]:
        launch(scenario)


if __name__ == "__main__":
    main()


# Output (2026-12-01, jax 0.10.2, jaxlib 0.10.2, keras 3.15.1, /tmp/jaxvenv):
#
# default: all scenarios, 1 CPU device per process
# == psum
# -- process 0: exit 0, 2.4 s
#    [p0] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p0] process 0/2: 2 devices, 1 local [CpuDevice(id=0)]
#    [p0] global shape (2,), sum over both processes = 10.0 (want 10.0)
# -- process 1: exit 0, 2.5 s
#    [p1] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p1] process 1/2: 2 devices, 1 local [CpuDevice(id=2048)]
#    [p1] global shape (2,), sum over both processes = 10.0 (want 10.0)
# == fit
# -- process 0: exit 0, 8.5 s
#    [p0] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p0] process 0/2: 2 devices, 1 local [CpuDevice(id=0)]
#    [p0] fit: 160 steps in 5.1 s, loss 1.96391, fingerprint 4f8d1b4a3dcfa887
# -- process 1: exit 0, 8.6 s
#    [p1] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p1] process 1/2: 2 devices, 1 local [CpuDevice(id=2048)]
#    [p1] fit: 160 steps in 5.1 s, loss 1.96391, fingerprint 4f8d1b4a3dcfa887
# == fit1
# -- process 0: exit 0, 3.2 s
#    [p-] fit: 160 steps in 1.7 s, loss 1.96391, fingerprint 4f8d1b4a3dcfa887
# == agree
# -- process 0: exit 0, 3.8 s
#    [p0] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p0] process 0/2: 2 devices, 1 local [CpuDevice(id=0)]
#    [p0] parked at boundary 26 (process 0 put the pause in its word of step 25, read with lag 1)
#    [p0] resumed at boundary 26
#    [p0] finished 60 steps, w = 1770.0, parked at 26
#    [p0] 300 steps, control word read with lag None: 2031 steps/s
#    [p0] 300 steps, control word read with lag 1: 2418 steps/s
#    [p0] 300 steps, control word read with lag 2: 2362 steps/s
#    [p0] 300 steps, control word read with lag None: 2530 steps/s
#    [p0] 300 steps, control word read with lag 1: 2211 steps/s
#    [p0] 300 steps, control word read with lag 2: 2305 steps/s
# -- process 1: exit 0, 3.8 s
#    [p1] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p1] process 1/2: 2 devices, 1 local [CpuDevice(id=2048)]
#    [p1] parked at boundary 26 (process 0 put the pause in its word of step 25, read with lag 1)
#    [p1] resumed at boundary 26
#    [p1] finished 60 steps, w = 1770.0, parked at 26
#    [p1] 300 steps, control word read with lag None: 2026 steps/s
#    [p1] 300 steps, control word read with lag 1: 2381 steps/s
#    [p1] 300 steps, control word read with lag 2: 2362 steps/s
#    [p1] 300 steps, control word read with lag None: 2530 steps/s
#    [p1] 300 steps, control word read with lag 1: 2191 steps/s
#    [p1] 300 steps, control word read with lag 2: 2305 steps/s
# == die
# -- process 0: exit -6, 11.9 s
#    [p0] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p0] process 0/2: 2 devices, 1 local [CpuDevice(id=0)]
#    [p0] step 20: ValueError after 0.0 s: UNKNOWN: Gloo all-reduce failed:
#        [external/gloo/gloo/transport/tcp/pair.cc:538] Read error [127.0.0.1]:18338: Connection
#        reset by peer
#    [p0] leaving (the exit barrier comes next)
#       (JAX/XLA, last lines:)
#    The tasks have crashed. Check the task logs for an earlier error, or scheduler events (e.g.
#        preemption, eviction) to debug further.
#        [type.googleapis.com/tensorflow.CoordinationServiceError='']
#    F1201 16:23:03.562343   26312 client.h:80] Terminating process because the JAX distributed
#        service detected fatal errors. This most likely indicates that another task died; see the
#        other task logs for more details. Disable Python buffering, i.e. `python -u`, to be sure
#        to see all the previous output. absl::Status: INTERNAL: Failed to disconnect from
#        coordination service with status: INTERNAL: Shutdown barrier has failed.
#    Barrier result: 'INTERNAL: Barrier failed because: task is set to ERROR: UNAVAILABLE: Task 1
#        heartbeat timeout. This indicates that the remote task has failed, got preempted, or
#        crashed unexpectedly. Check the task logs for an earlier error or scheduler events (e.g.
#        preemption, eviction) to debug further.
#        [type.googleapis.com/tensorflow.CoordinationServiceError='']. Barrier Id:
#        Shutdown::7360964345159483602::0, Task: 1
#        [type.googleapis.com/tensorflow.BarrierError='\n\x1dShutdown::7360964345159483602']
#        [type.googleapis.com/tensorflow.CoordinationServiceError='']
#    RPC: /xla.coordination.CoordinationService/ShutdownTask
#        [type.googleapis.com/tensorflow.CoordinationServiceError='']Proceeding with agent
#        shutdown anyway. This is usually caused by an earlier error during execution. Check the
#        logs of (a) this task, (b) the leader (usually slice 0 task 0) and (c) the scheduler
#        (e.g. preemption, eviction) for an earlier error to debug further.
#        [type.googleapis.com/tensorflow.CoordinationServiceError='']
#    E1201 16:23:03.562551   26328 coordination_service_agent.cc:289] Polled an error from
#        coordination service (this can be an error from this or another task).
#    *** Check failure stack trace: ***
# -- process 1: exit 3, 11.9 s
#    [p1] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p1] process 1/2: 2 devices, 1 local [CpuDevice(id=2048)]
#    [p1] exiting now (os._exit(3)) at step 20
#
# WW_LOCAL_DEVICES=2 (2 per process), fit: hangs (the same with plain JAX: `agree` below)
# == fit
# -- process 0: killed after 180 s (still running), 180.1 s
#    [p0] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p0] process 0/2: 4 devices, 2 local [CpuDevice(id=0), CpuDevice(id=1)]
# -- process 1: exit -6, 180.2 s   (aborted when process 0 was killed:)
#    F1201 16:17:53.683785 client.h:80] Terminating process because the JAX distributed service
#        detected fatal errors. This most likely indicates that another task died; [...]
#        absl::Status: UNAVAILABLE: Failed to send RPC to coordination service. Either the leader
#        task was preempted/died/restarted unexpectedly or this task is experiencing network
#        issues.
# (faulthandler after 30 s, process 0: the main thread in keras/src/backend/jax/trainer.py:257
#        iterator_step, dispatching a step; six CallbackList worker threads in
#        jax/_src/array.py:623 _value, each waiting for an earlier step's logs)
#
# WW_LOCAL_DEVICES=2 WW_SYNC_STEPS=1 fit, then fit1: works with one step in flight; bits differ
#        from one process
# == fit
# -- process 0: exit 0, 10.2 s
#    [p0] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p0] process 0/2: 4 devices, 2 local [CpuDevice(id=0), CpuDevice(id=1)]
#    [p0] fit: 160 steps in 6.2 s, loss 1.96391, fingerprint 8194ca9dc301e537
# -- process 1: exit 0, 10.3 s
#    [p1] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p1] process 1/2: 4 devices, 2 local [CpuDevice(id=2048), CpuDevice(id=2049)]
#    [p1] fit: 160 steps in 6.3 s, loss 1.96391, fingerprint 8194ca9dc301e537
# == fit1  (WW_LOCAL_DEVICES=2: one process, 4 devices)
# -- process 0: exit 0, 3.8 s
#    [p-] fit: 160 steps in 1.9 s, loss 1.96391, fingerprint 426cbc4d208a1855
#
# WW_LOCAL_DEVICES=2 agree: lag 1 works (one step in flight); the first run with no read (many in
#        flight) hangs
# == agree
# -- process 0: killed after 90 s (still running), 90.1 s
#    [p0] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p0] process 0/2: 4 devices, 2 local [CpuDevice(id=0), CpuDevice(id=1)]
#    [p0] parked at boundary 26 (the pause reached process 0 before step 25, read with lag 1)
#    [p0] resumed at boundary 26
#    [p0] finished 60 steps, w = 1770.0, parked at 26
# -- process 1: exit -6, 90.2 s
#    [p1] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p1] process 1/2: 4 devices, 2 local [CpuDevice(id=2048), CpuDevice(id=2049)]
#    [p1] parked at boundary 26 (the pause reached process 0 before step 25, read with lag 1)
#    [p1] resumed at boundary 26
#    [p1] finished 60 steps, w = 1770.0, parked at 26
#       (JAX/XLA, last lines:)
#    F1201 16:21:58.136702   22653 client.h:80] Terminating process because the JAX distributed
#        service detected fatal errors. This most likely indicates that another task died; see the
#        other task logs for more details. Disable Python buffering, i.e. `python -u`, to be sure
#        to see all the previous output. absl::Status: UNAVAILABLE: Failed to send RPC to
#        coordination service. Either the leader task was preempted/died/restarted unexpectedly or
#        this task is experiencing network issues. Check earlier logs from 1) this task, 2) the
#        leader (usually slice 0 task 0), and 3) cluster scheduler to debug further.
#    *** Check failure stack trace: ***
#
# WW_RECOVERABLE=1 die: process 0 sees the same error and exits cleanly (0)
# == die
# -- process 0: exit 0, 1.9 s
#    [p0] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p0] jax_enable_recoverability = True
#    [p0] process 0/2: 2 devices, 1 local [CpuDevice(id=0)]
#    [p0] step 20: ValueError after 0.0 s: UNKNOWN: Gloo all-reduce failed:
#        [external/gloo/gloo/transport/tcp/pair.cc:547] Connection closed by peer
#        [127.0.0.1]:12170
# -- process 1: exit 3, 1.9 s
#    [p1] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p1] jax_enable_recoverability = True
#    [p1] process 1/2: 2 devices, 1 local [CpuDevice(id=2048)]
#    [p1] exiting now (os._exit(3)) at step 20
#
# WW_DYING=0 die, without and with WW_RECOVERABLE=1: process 1 gets the error, then is aborted
# == die
# -- process 0: exit 3, 1.7 s
#    [p0] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p0] process 0/2: 2 devices, 1 local [CpuDevice(id=0)]
#    [p0] exiting now (os._exit(3)) at step 20
# -- process 1: exit -6, 1.7 s
#    [p1] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p1] process 1/2: 2 devices, 1 local [CpuDevice(id=2048)]
#    [p1] step 20: ValueError after 0.0 s: UNKNOWN: Gloo all-reduce failed:
#        [external/gloo/gloo/transport/tcp/pair.cc:538] Read error [127.0.0.1]:48340: Connection
#        reset by peer
#    [p1] leaving (the exit barrier comes next)
#       (JAX/XLA, last lines:)
#    E1201 16:20:21.339791   22446 coordination_service_agent.cc:289] Polled an error from
#        coordination service (this can be an error from this or another task).
#    F1201 16:20:21.339812   22446 client.h:80] Terminating process because the JAX distributed
#        service detected fatal errors. This most likely indicates that another task died; see the
#        other task logs for more details. Disable Python buffering, i.e. `python -u`, to be sure
#        to see all the previous output. absl::Status: UNAVAILABLE: Failed to send RPC to
#        coordination service. Either the leader task was preempted/died/restarted unexpectedly or
#        this task is experiencing network issues. Check earlier
#    *** Check failure stack trace: ***
# == die
# -- process 0: exit 3, 2.3 s
#    [p0] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p0] jax_enable_recoverability = True
#    [p0] process 0/2: 2 devices, 1 local [CpuDevice(id=0)]
#    [p0] exiting now (os._exit(3)) at step 20
# -- process 1: exit -6, 2.3 s
#    [p1] jax 0.10.2; cpu collectives: default 'gloo', using 'gloo'
#    [p1] jax_enable_recoverability = True
#    [p1] process 1/2: 2 devices, 1 local [CpuDevice(id=2048)]
#    [p1] step 20: ValueError after 0.0 s: UNKNOWN: Gloo all-reduce failed:
#        [external/gloo/gloo/transport/tcp/pair.cc:538] Read error [127.0.0.1]:28074: Connection
#        reset by peer
#    [p1] leaving (the exit barrier comes next)
#       (JAX/XLA, last lines:)
#    E1201 16:20:23.691383   22514 coordination_service_agent.cc:289] Polled an error from
#        coordination service (this can be an error from this or another task).
#    F1201 16:20:23.691473   22514 client.h:80] Terminating process because the JAX distributed
#        service detected fatal errors. This most likely indicates that another task died; see the
#        other task logs for more details. Disable Python buffering, i.e. `python -u`, to be sure
#        to see all the previous output. absl::Status: UNAVAILABLE: Failed to send RPC to
#        coordination service. Either the leader task was preempted/died/restarted unexpectedly or
#        this task is experiencing network issues. Check earlier
#    *** Check failure stack trace: ***
