"""Which Keras backend trains: `[run] backend` and `KERAS_BACKEND` (issue 16).

Keras picks its backend once per process, at its first `import keras` (from `KERAS_BACKEND`,
else `~/.keras/keras.json`, else TensorFlow), and cannot switch afterwards. So the backend is
settled from the config before anything imports Keras: `read_backend` (called by the config
reader) gives `RunSpec.backend` and refuses a config that contradicts the environment;
`select_backend` (called by every command that starts a session or a trial from a config, right
after the config is read) writes it into `os.environ["KERAS_BACKEND"]`, which also reaches a
detached session's child process, and refuses a process that already imported Keras with the
other backend. Every refusal is one `ConfigError` line naming `[run].backend`.

This module imports neither Keras nor JAX at import time (the config reader and the UI load it
before the first frame).
"""

from __future__ import annotations

import importlib.util
import os
import sys

from .errors import ConfigError
from .tomlread import Kind, TableReader

BACKENDS = ("tensorflow", "jax")
BACKEND = Kind('"tensorflow" or "jax"', lambda v: v in BACKENDS)
ENV = "KERAS_BACKEND"
JAX_INSTALL = "pip install 'weightwatch[jax]'"
# Strategies that exist on one backend only (a strategy not named here runs on both).
STRATEGY_BACKEND = {"mirrored": "tensorflow", "data_parallel": "jax"}


def env_backend() -> str | None:
    """`KERAS_BACKEND` when it names a backend weightwatch runs on, else None (unset, or another
    backend such as "torch": the config's default, TensorFlow, then wins)."""
    value = os.environ.get(ENV)
    return value if value in BACKENDS else None


def read_backend(reader: TableReader) -> str:
    """`[run].backend` of the `[run]` table: as written, or `KERAS_BACKEND`'s, or "tensorflow".

    Raises:
        ConfigError: The value is not a backend, or the config and `KERAS_BACKEND` disagree
            (which one was meant cannot be told, and Keras would follow the environment).
    """
    env = env_backend()
    if "backend" not in reader.table:
        return env or "tensorflow"
    backend = reader.get("backend", BACKEND)
    if env is not None and env != backend:
        reader.fail(
            "backend",
            f'"{backend}" while the environment has {ENV}={env}; make them agree (or unset {ENV})',
        )
    return backend


def check_strategy(run, file: str) -> None:
    """A strategy that exists on one backend only, asked of the other: one line."""
    needs = STRATEGY_BACKEND.get(run.strategy)
    if needs is None or needs == run.backend:
        return
    if run.strategy == "mirrored":
        why = 'MirroredStrategy is TensorFlow\'s; on JAX use strategy = "data_parallel"'
    else:
        why = f'strategy = "{run.strategy}" runs on "{needs}" only'
    raise ConfigError(
        f'{file}: [run].backend: "{run.backend}" does not run strategy = "{run.strategy}" ({why})'
    )


def select_backend(run, file: str) -> str:
    """Make this process (and the processes it starts) train on `run.backend`.

    Call after the config is read and before anything imports Keras. Sets
    `os.environ["KERAS_BACKEND"]` (also when it is "tensorflow": it then overrides a
    `keras.json` that says otherwise).

    Args:
        run: The config's `RunSpec`.
        file: The config file as messages name it.

    Returns:
        The backend selected.

    Raises:
        ConfigError: JAX is asked and not installed, or Keras is already imported in this
            process with the other backend.
    """
    wanted = run.backend
    if wanted == "jax" and not jax_installed():
        raise ConfigError(
            f'{file}: [run].backend: "jax" needs JAX, which is not installed ({JAX_INSTALL})'
        )
    current = keras_backend_in_use()
    if current is not None and current != wanted:
        raise ConfigError(
            f'{file}: [run].backend: "{wanted}", but this process already imported Keras with '
            f'the "{current}" backend (Keras picks its backend once, at its first import)'
        )
    os.environ[ENV] = wanted
    return wanted


def jax_installed() -> bool:
    """Both halves of JAX can be found (without importing them: that costs ~1 s at start-up; a
    broken install that is found but fails to import is reported by the training thread)."""
    return all(importlib.util.find_spec(name) is not None for name in ("jax", "jaxlib"))


def require_jax(file: str) -> None:
    """Import JAX now, for `weightwatch check`: any import error becomes the one install line."""
    try:
        import jax  # noqa: F401
    except Exception as e:  # ImportError, or a jaxlib that does not match jax (RuntimeError)
        first = next(iter(str(e).strip().splitlines()), type(e).__name__)
        raise ConfigError(
            f'{file}: [run].backend: "jax" needs JAX, which does not import ({first}; '
            f"{JAX_INSTALL})"
        ) from None


def keras_backend_in_use() -> str | None:
    """The backend of the Keras already imported in this process, or None when none is."""
    keras = sys.modules.get("keras")
    backend = getattr(getattr(keras, "backend", None), "backend", None)
    return str(backend()) if callable(backend) else None
