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

STRATEGIES = ("default", "mirrored")
_DEVICE_RE = re.compile(r"^(/device:|/)?(cpu|gpu):(\d+)$", re.IGNORECASE)
MAX_CPU_DEVICES = 64

STRATEGY = Kind('"default" or "mirrored"', lambda v: v in STRATEGIES)
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


def normal_name(name: str) -> str:
    """ "gpu:0", "/GPU:0", "/device:GPU:0" -> "GPU:0" (what the status and report show)."""
    m = _DEVICE_RE.match(name)
    assert m is not None
    return f"{m.group(2).upper()}:{int(m.group(3))}"


def check_run_keys(run, file: str) -> None:
    """`devices` and `cpu_devices` mean something only under `strategy = "mirrored"`."""
    if run.strategy == "mirrored":
        return
    for key, value in (("devices", run.devices), ("cpu_devices", run.cpu_devices)):
        if value:
            raise ConfigError(
                f'{file}: [run].{key}: only with strategy = "mirrored" '
                f'(received strategy = "{run.strategy}")'
            )


@dataclass(frozen=True)
class Placement:
    """What trains where: plain data for the status line and the report."""

    strategy: str  # "default" or "mirrored"
    devices: tuple[str, ...]  # "CPU:0", "GPU:1", ...

    @property
    def replicas(self) -> int:
        return len(self.devices) if self.strategy == "mirrored" else 1

    def label(self) -> str:
        """ "mirrored x2 (CPU:0, CPU:1)"; "" on one device (nothing to say)."""
        if self.strategy != "mirrored":
            return ""
        return f"mirrored x{self.replicas} ({', '.join(self.devices)})"

    def plain(self) -> dict[str, Any]:
        return {"name": self.strategy, "replicas": self.replicas, "devices": list(self.devices)}


ONE_DEVICE = Placement("default", ())


def make_strategy(run, file: str) -> tuple[Any, Placement]:
    """The strategy the config asks for (None: TensorFlow's default) and where it trains.
    Call before anything else touches TensorFlow's devices."""
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
