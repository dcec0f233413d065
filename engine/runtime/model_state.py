"""The live model and where training stands: instance, counters, build and compile, identity.

Only the training thread writes here. `Session.status()` reads the three counters (`done`,
`epoch`, `step_in_epoch`) without a lock: plain ints, each written in one assignment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import keras

from .. import backend
from ..backend import make_probe
from ..compiling import call_function, compile_kwargs
from ..devices import ONE_DEVICE, Placement
from ..errors import BadInput, ConfigError
from ..probe import TelemetryProbe
from ..specs import CompileSpec, Config
from ..telemetry import TelemetryStore
from ..usercode import call_builder, display_path
from ..weights import fingerprint, global_norm, model_step
from .building import build_unbuilt


class ModelState:
    """Model, probe and counters (see module docstring)."""

    def __init__(self, config: Config, telemetry: TelemetryStore) -> None:
        self.config = config
        self.telemetry = telemetry
        self.model: Any = None
        self.builder: Callable[..., Any] | None = None
        self.probe: TelemetryProbe | None = None  # or a JaxProbe (same interface)
        self.probe_base = 0  # session step at which the current probe started counting
        self.instance = 0
        self.done = 0  # session steps: batches trained in this session
        self.epoch = 0  # the model's epoch counter (completed epochs)
        self.step_in_epoch = 0
        self.target_epochs = config.train.epochs
        # The recorder's flush: the probe's rows are read out before it is replaced.
        self.before_probe_change: Callable[[], None] = lambda: None
        # One batch's structure (runtime/building.py), set by start-up once the feed exists.
        self.batch_source: Callable[[], Any] | None = None
        # `[run] strategy` (engine/devices.py): None is TensorFlow's default, one device. Every
        # model and its optimizer are made inside its scope: built, compiled, rebuilt, recompiled.
        self.strategy: Any = None
        self.placement: Placement = ONE_DEVICE

    def scope(self) -> contextlib.AbstractContextManager:
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def build_model(self, seed: int, *, name_key: bool = False):
        """A new model from the user's builder, compiled; the current one is left as it is."""
        assert self.builder is not None, "start-up resolves the builder before any build"
        backend.set_random_seed(seed)  # TensorFlow too where the run loaded it (a pipeline)
        with self.scope():
            model = self._build(name_key)
        self.prepare_compile(model, self.config.compile)()  # in the scope; the probe outside it
        return model

    def _build(self, name_key: bool):
        assert self.builder is not None
        model = call_builder(self.builder, self.config, name_key=name_key)
        if not isinstance(model, keras.Model):  # the words `check` uses
            raise BadInput(
                f"{display_path(self.config.path)}: [model].builder: expected "
                f'"{self.config.model.builder}" to return a keras.Model, received a '
                f"{type(model).__name__}"
            )
        # an unbuilt (subclassed) model is built now: its weights are read before fit would
        build_unbuilt(model, self.batch_source() if self.batch_source else None)
        return model

    def prepare_compile(
        self,
        model,
        spec: CompileSpec,
        *,
        file: str | None = None,
        where: str = "[compile]",
        error: type[BadInput] = ConfigError,
    ) -> Callable[[], None]:
        """Make what `spec` names now (a bad form raises with nothing changed) and return the
        step that compiles `model` with it and puts a new probe in (compiling.py: every form
        `[compile]` takes; `function` runs in the step)."""
        file = file or display_path(self.config.path)
        with self.scope():  # the optimizer (and its variables) under the model's strategy
            kwargs = None if spec.function else compile_kwargs(model, spec, file, where, error)

        def step() -> None:
            if self.probe is not None and self.probe.model is model:
                self.before_probe_change()
                self.probe.uninstall()
            try:
                with self.scope():
                    if kwargs is None:
                        call_function(model, str(spec.function), file, where, error)
                    else:
                        model.compile(**kwargs)
            finally:  # a failed compile leaves the model as it was: it is probed again; the
                # probe's own variables are made outside the scope (never mirrored)
                self.probe = make_probe(model)
                self.probe_base = self.done
                self.telemetry.set_layer_names(self.probe.layer_names)

        return step

    def optimizer_label(self) -> str:
        """The optimizer's class name ("Adam", not "adam_1"), "SGD (schedule)" under one."""
        opt = getattr(self.model, "optimizer", None)
        if opt is None:
            return ""
        schedule = not hasattr(getattr(opt, "_learning_rate", None), "numpy")
        return type(opt).__name__ + (" (schedule)" if schedule else "")

    def replace_model(self, model) -> None:
        """A rebuilt model: a new instance, back to epoch 0 and the config's epochs."""
        self.model = model
        self.instance += 1
        self.epoch, self.step_in_epoch = 0, 0
        self.target_epochs = self.config.train.epochs

    def forget(self) -> None:
        """A failed start is retried from nothing."""
        self.model, self.probe, self.instance = None, None, 0

    def fingerprint(self) -> str:
        return fingerprint(self.model)

    def norm(self) -> float:
        return global_norm(self.model)

    def model_step(self) -> int:
        return model_step(self.model)

    def learning_rate(self) -> float | None:
        """The optimizer's constant rate (one small sync), None under a schedule."""
        lr: Any = getattr(getattr(self.model, "optimizer", None), "_learning_rate", None)
        return float(lr.numpy()) if hasattr(lr, "numpy") else None
