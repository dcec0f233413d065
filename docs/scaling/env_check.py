"""Is JAX installable here, which Keras pairs with it, and how does it make N CPU devices?

Run with the separate JAX venv (never the project's .venv):

    python3.11 -m venv /tmp/jaxvenv
    /tmp/jaxvenv/bin/pip install jax keras numpy h5py
    KERAS_BACKEND=jax /tmp/jaxvenv/bin/python docs/scaling/env_check.py

It prints the versions that pip resolved, the JAX config switches the engine would use
(`jax_num_cpu_devices`, `jax_cpu_collectives_implementation` and their defaults), the devices
JAX makes when asked for 4 CPU devices, and that Keras picked the JAX backend. Each switch is
looked up before it is used: a JAX without it says so instead of failing later.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

os.environ.setdefault("KERAS_BACKEND", "jax")


def version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def main() -> None:
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    for name in ("jax", "jaxlib", "keras", "numpy", "ml_dtypes", "h5py", "scipy", "tensorflow"):
        print(f"  {name:<11} {version(name)}")

    import jax

    for flag in ("jax_num_cpu_devices", "jax_cpu_collectives_implementation", "jax_platforms"):
        try:
            print(f"  config {flag} = {getattr(jax.config, flag)!r}")
        except AttributeError:
            print(f"  config {flag}: not in this JAX")
    # Must happen before the first device query (the CPU client is made once per process).
    jax.config.update("jax_num_cpu_devices", 4)
    print(f"  devices after jax_num_cpu_devices=4: {jax.devices()}")
    print(f"  process {jax.process_index()} of {jax.process_count()}")

    import keras

    print(f"  keras {keras.__version__} backend: {keras.backend.backend()}")
    print(f"  keras.distribution.list_devices(): {keras.distribution.list_devices()}")
    print(f"  sys.executable: {sys.executable}")


if __name__ == "__main__":
    main()


# Output (2026-12-01, /tmp/jaxvenv made by the commands above):
# python 3.11.7 on x86_64, 2 CPUs
#   jax         0.10.2
#   jaxlib      0.10.2
#   keras       3.15.1
#   numpy       2.4.6
#   ml_dtypes   0.7.0
#   h5py        3.16.0
#   scipy       1.17.1
#   tensorflow  not installed
#   config jax_num_cpu_devices = -1
#   config jax_cpu_collectives_implementation = 'gloo'
#   config jax_platforms = None
#   devices after jax_num_cpu_devices=4: [CpuDevice(id=0), CpuDevice(id=1), CpuDevice(id=2),
#     CpuDevice(id=3)]
#   process 0 of 1
#   keras 3.15.1 backend: jax
#   keras.distribution.list_devices(): ['cpu:0', 'cpu:1', 'cpu:2', 'cpu:3']
#   sys.executable: /tmp/jaxvenv/bin/python
