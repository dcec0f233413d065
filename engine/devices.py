"""Which devices train: `[run] strategy`, `devices`, `cpu_devices` (issue 15).

`strategy = "default"` is one device, as plain Keras picks it. `strategy = "mirrored"` trains
under `tf.distribute.MirroredStrategy`: one replica per device, the global batch being
`[data] batch_size` (each replica gets its share), gradients summed across replicas every step.
`devices` names them (`["GPU:0", "GPU:1"]`); without it: every visible GPU, or, when there is
none, the CPU's logical devices that `cpu_devices = N` asks for (so the feature can be tried, and
tested, on any machine), or else the CPU alone (one replica).

`cpu_devices` splits the physical CPU into N logical devices. TensorFlow allows that only before
it initialises its devices, so the training thread does it first thing (`make_strategy`), before
any other TensorFlow call; a process that already initialised TensorFlow with a different split
gets one line saying so.

This module imports no TensorFlow at import time: the config reader uses its checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .tomlread import Kind

STRATEGIES = ("default", "mirrored", "data_parallel")
SPREAD = ("mirrored", "data_parallel")  # the strategies that train on several devices
_DEVICE_RE = re.compile(r"^(/device:|/)?(cpu|gpu):(\d+)$", re.IGNORECASE)
MAX_CPU_DEVICES = 64

STRATEGY = Kind('"default", "mirrored" or "data_parallel"', lambda v: v in STRATEGIES)
DEVICE_LIST = Kind(
    'a list of device names such as ["GPU:0", "GPU:1"]',
    lambda v: (
        isinstance(v, list)
        and len(v) > 0
        and all(isinstance(d, str) and _DEVICE_RE.match(d) for d in v)
        and len({normal_name(d) for d in v}) == len(v)
    ),
    lambda v: tuple(normal_name(d) for d in v),
)
CPU_DEVICES = Kind(
    f"an integer in [1, {MAX_CPU_DEVICES}]",
    lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_CPU_DEVICES,
)


MAX_PROCESSES = 8
PROCESSES = Kind(
    f"an integer in [1, {MAX_PROCESSES}]",
    lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_PROCESSES,
)


def normal_name(name: str) -> str:
    """ "gpu:0", "/GPU:0", "/device:GPU:0" -> "GPU:0" (what the status and report show)."""
    m = _DEVICE_RE.match(name)
    assert m is not None
    return f"{m.group(2).upper()}:{int(m.group(3))}"


def check_run_keys(run, file: str) -> None:
    """`devices` and `cpu_devices` mean something only under a strategy of several devices;
    `processes` only under data_parallel (JAX), which it spreads over local processes."""
    if run.processes > 1 and run.strategy != "data_parallel":
        raise ConfigError(
            f'{file}: [run].processes: only with strategy = "data_parallel" (JAX across '
            f'processes) (received strategy = "{run.strategy}")'
        )
    if run.processes > 1 and run.devices:
        raise ConfigError(
            f"{file}: [run].devices: not with processes = {run.processes} (every process "
            "trains on all its local devices; cpu_devices = N gives each N)"
        )
    if run.strategy in SPREAD:
        return
    for key, value in (("devices", run.devices), ("cpu_devices", run.cpu_devices)):
        if value:
            raise ConfigError(
                f'{file}: [run].{key}: only with strategy = "mirrored" (TensorFlow) or '
                f'"data_parallel" (JAX) (received strategy = "{run.strategy}")'
            )


@dataclass(frozen=True)
class Placement:
    """What trains where: plain data for the status line and the report."""

    strategy: str  # "default", "mirrored" or "data_parallel"
    devices: tuple[str, ...]  # "CPU:0", "GPU:1", ...; "CPU:0@p1" across processes
    processes: int = 1  # data_parallel across this many processes (engine/peers.py)

    @property
    def replicas(self) -> int:
        return len(self.devices) if self.strategy in SPREAD else 1

    def label(self) -> str:
        """ "mirrored x2 (CPU:0, CPU:1)"; "" on one device (nothing to say)."""
        if self.strategy not in SPREAD:
            return ""
        over = f" over {self.processes} processes" if self.processes > 1 else ""
        return f"{self.strategy} x{self.replicas}{over} ({', '.join(self.devices)})"

    def plain(self) -> dict[str, Any]:
        return {"name": self.strategy, "replicas": self.replicas, "devices": list(self.devices)}


ONE_DEVICE = Placement("default", ())


def make_strategy(run, file: str, peers=None) -> tuple[Any, Placement]:
    """The strategy the config asks for (None: TensorFlow's default) and where it trains.
    Call before anything else touches TensorFlow's devices. `peers`: this process's part in a
    run of several (engine/peers.py), under data_parallel only."""
    if run.strategy == "data_parallel":
        return _data_parallel(run, file, peers)
    if run.strategy != "mirrored":
        return None, ONE_DEVICE
    import tensorflow as tf

    if run.cpu_devices:
        _split_cpu(tf, run.cpu_devices, file)
    devices = run.devices or _default_devices(tf, run.cpu_devices)
    known = {normal_name(d.name.split("device:")[-1]) for d in tf.config.list_logical_devices()}
    missing = [d for d in devices if d not in known]
    if missing:
        raise ConfigError(
            f"{file}: [run].devices: {', '.join(missing)} not found (this machine has "
            f"{', '.join(sorted(known)) or 'no devices'}"
            + ("" if run.cpu_devices else "; cpu_devices = N splits the CPU into N")
            + ")"
        )
    strategy = tf.distribute.MirroredStrategy([f"/{d.lower()}" for d in devices])
    return strategy, Placement("mirrored", tuple(devices))


def _default_devices(tf, cpu_devices: int) -> tuple[str, ...]:
    gpus = [normal_name(d.name.split("device:")[-1]) for d in tf.config.list_logical_devices("GPU")]
    if gpus and not cpu_devices:
        return tuple(gpus)
    cpus = [normal_name(d.name.split("device:")[-1]) for d in tf.config.list_logical_devices("CPU")]
    return tuple(cpus[: cpu_devices or 1])


def _split_cpu(tf, n: int, file: str) -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return  # this process already split it so
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        raise ConfigError(
            f"{file}: [run].cpu_devices = {n}: TensorFlow already started in this process "
            f"with {have} CPU device(s); run it in a fresh process (weightwatch run does)"
        ) from None


def _data_parallel(run, file: str, peers=None) -> tuple[Any, Placement]:
    """`keras.distribution.DataParallel` over JAX's local devices (`cpu_devices = N` makes N
    JAX CPU devices, which JAX allows only before it first lists its devices); with `peers`,
    over the devices of every process of the run."""
    import jax

    if run.cpu_devices:
        try:
            jax.config.update("jax_num_cpu_devices", run.cpu_devices)
        except RuntimeError:  # devices already made in this process
            pass
    if peers is not None:
        return _across_processes(peers)
    local = jax.devices()
    known = {f"{d.platform.upper()}:{d.id}": d for d in local}
    names = run.devices or tuple(list(known)[: run.cpu_devices or len(known)])
    missing = [d for d in names if d not in known]
    if missing or (run.cpu_devices and len(local) < run.cpu_devices):
        raise ConfigError(
            f"{file}: [run].devices: {', '.join(missing) or f'{run.cpu_devices} CPU devices'} "
            f"not found (JAX has {', '.join(known)}; cpu_devices = N must come before JAX "
            "starts: run it in a fresh process, weightwatch run does)"
        )
    import keras

    distribution = keras.distribution.DataParallel(devices=[known[d] for d in names])
    keras.distribution.set_distribution(distribution)  # fit's data and steps follow it
    return distribution, Placement("data_parallel", tuple(names))


def _across_processes(peers) -> tuple[Any, Placement]:
    """DataParallel over every device of every process (`jax.distributed` connected first).
    The engine's feed gives each process its own rows (`BatchFeed.share`), so Keras must not
    shard the data again."""
    import jax
    import keras

    peers.connect()
    devices = jax.devices()
    distribution = keras.distribution.DataParallel(devices=devices)
    distribution.auto_shard_dataset = False
    keras.distribution.set_distribution(distribution)
    peers.ready(distribution.device_mesh.backend_mesh)
    names = tuple(f"{d.platform.upper()}:{d.id}@p{d.process_index}" for d in devices)
    return distribution, Placement("data_parallel", names, peers.count)
