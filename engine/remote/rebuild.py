"""Plain data from the wire, back into the engine's dataclasses (the viewer's side of `plain()`).

JSON has no tuples, paths, enums or integer keys: each is put back here, field by field, from the
dataclasses' own definitions, so that a `RemoteSession` hands the UI the same types a local
session does. Unknown fields (a newer server) are dropped rather than refused.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..api import plain
from ..events import SessionState, Status
from ..specs import (
    CallbackSpec,
    CompileSpec,
    Config,
    DataSpec,
    ModelSpec,
    RunSpec,
    TrainSpec,
    UISpec,
)


def _known(cls: type, data: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def callback_from_plain(data: dict) -> CallbackSpec:
    return CallbackSpec(**_known(CallbackSpec, data))


def config_to_plain(config: Config) -> dict:
    """The config as the hello sends it: `plain()`, with `[train] class_weight`'s int class
    indices as the strings JSON keys are (plain() refuses other key types)."""
    cw = config.train.class_weight
    if cw:
        cw = {str(k): v for k, v in cw.items()}  # type: ignore[misc]
    train = dataclasses.replace(config.train, class_weight=cw)
    return plain(dataclasses.replace(config, train=train))


def config_from_plain(data: dict) -> Config:
    run = _known(RunSpec, data["run"])
    run["run_dir"] = Path(run["run_dir"])
    run["devices"] = tuple(run.get("devices", ()))
    compile_ = _known(CompileSpec, data.get("compile", {}))
    if isinstance(compile_.get("metrics"), list):
        compile_["metrics"] = tuple(compile_["metrics"])
    data_ = _known(DataSpec, data.get("data", {}))
    if data_.get("path") is not None:
        data_["path"] = Path(data_["path"])
    train = _known(TrainSpec, data.get("train", {}))
    if isinstance(train.get("class_weight"), dict):  # JSON keys are strings; fit wants ints
        train["class_weight"] = {int(k): v for k, v in train["class_weight"].items()}
    return Config(
        path=Path(data["path"]),
        run=RunSpec(**run),
        model=ModelSpec(**_known(ModelSpec, data["model"])),
        compile=CompileSpec(**compile_),
        data=DataSpec(**data_),
        train=TrainSpec(**train),
        callbacks=tuple(callback_from_plain(c) for c in data.get("callbacks", ())),
        ui=UISpec(**_known(UISpec, data.get("ui", {}))),
    )


def status_from_plain(data: dict) -> Status:
    fields = _known(Status, data)
    fields["state"] = SessionState(fields["state"])
    fields["callbacks"] = tuple(callback_from_plain(c) for c in fields.get("callbacks", ()))
    fields["devices"] = tuple(fields.get("devices", ()))
    return Status(**fields)


def empty_report(st: Status, segments: list, events: list) -> dict:
    """What is known when the session cannot be asked: the report's keys, from the cache."""
    return {
        "session_steps": st.session_step,
        "segments": [s.to_json() for s in segments],
        "events": [e.to_json() for e in events],
        "checkpoints": [],
        "final": {
            "model_step": st.model_step,
            "epoch": st.epoch,
            "loss": st.loss,
            "global_norm": st.global_norm,
            "fingerprint": None,
        },
        "throughput": {},
        "strategy": {"name": st.strategy, "replicas": st.replicas, "devices": list(st.devices)},
    }
