"""Validated configuration, as plain frozen dataclasses (no TensorFlow, no Textual).

`weightwatch.engine.config.load_config` turns a TOML file into a `Config`; everything after that
(session, CLI, TUI) works with these objects only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunSpec:
    name: str
    run_dir: Path
    seed: int = 0
    deterministic: bool = False
    strategy: str = "default"  # "default" (one device), "mirrored" (TF) or "data_parallel" (JAX)
    devices: tuple[str, ...] = ()  # under either: the devices ("GPU:0", ...); () = all GPUs
    cpu_devices: int = 0  # > 0: split the CPU into this many logical devices first
    backend: str = "tensorflow"  # Keras's backend: "tensorflow" or "jax" (backend_env.py)
    processes: int = 1  # > 1: data_parallel across this many local processes (engine/peers.py)


@dataclass(frozen=True)
class ModelSpec:
    builder: str  # "module:function"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompileSpec:
    """`[compile]`. Values stay plain TOML data (JSON-able: they cross the session interface as a
    recompile's arguments); `{ import = "module:name" }` tables and `type` tables are turned into
    Keras objects on the training thread only."""

    optimizer: str | dict[str, Any] = "adam"  # a name, or {type = "SGD", momentum = 0.9, ...}
    learning_rate: float | dict[str, Any] | None = None  # a number or a schedule table
    loss: Any = "mse"  # a name, "module:fn", a table, or a list/table keyed by output (None
    # with `function`: then every other field keeps its default, unused)
    metrics: Any = ()  # names/tables, or a table keyed by output name
    loss_weights: Any = None  # a list or a table keyed by output name
    jit_compile: bool | str = "auto"
    steps_per_execution: int = 1  # batches per call of the train function (a batch boundary)
    function: str | None = None  # "module:function" called with the model: compiles it itself


@dataclass(frozen=True)
class DataSpec:
    path: Path | None = None  # .npz or .csv, absolute
    loader: str | None = None  # "module:function"
    params: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 32
    validation_split: float = 0.0
    shuffle: bool = True


@dataclass(frozen=True)
class TrainSpec:
    epochs: int = 10
    steps_per_epoch: int | None = None
    class_weight: dict[int, float] | None = None  # as `fit` takes it
    validation_freq: int = 1  # validate every N epochs, as `fit` does


@dataclass(frozen=True)
class CallbackSpec:
    """One `[[callbacks]]` entry: a Keras callback class name or "module:Class"."""

    type: str
    enabled: bool = True
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short display name: the class name without its module."""
        return self.type.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


@dataclass(frozen=True)
class UISpec:
    refresh_hz: float = 4.0
    chart_window: int = 0  # session steps shown on the charts; 0 = the whole run


@dataclass(frozen=True)
class Config:
    path: Path  # the config file, absolute
    run: RunSpec
    model: ModelSpec
    compile: CompileSpec
    data: DataSpec
    train: TrainSpec
    callbacks: tuple[CallbackSpec, ...] = ()
    ui: UISpec = field(default_factory=UISpec)

    @property
    def folder(self) -> Path:
        """The config's folder: put on sys.path; relative paths resolve against it."""
        return self.path.parent
