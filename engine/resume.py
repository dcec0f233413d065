"""The resume record a checkpoint carries inside its own `.weights.h5` file.

`--from FILE` may name a file outside the run directory it was saved in (a copy, another run's
checkpoint), where no manifest describes it. So the file itself holds what a resume needs, in
the HDF5 group `/weightwatch/resume`, beside the groups Keras writes (plain Keras
`model.load_weights` never reads it):

  attributes  format, epoch, step_in_epoch, model_step, seed, fingerprint, data_exact, and for
              information only: backend, tf_version or jax_version, keras_version,
              intra_threads, inter_threads, op_determinism, deterministic
  rng/0 ...   the SeedGenerator states (Dropout & co), which `save_weights` omits (keras#19796)
  data_position  the feed's opaque position state (uint8), where the feed can save one

A file can be edited by anyone who has it: `read_resume` checks every attribute and member (kind,
range, hard links only, no external storage) and raises `ResumeProblem` (one line) before
anything is assigned. Nothing in the record is ever used as a path. This module needs h5py and
numpy only (no TensorFlow): `inspect`, `--from` and the picker use it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import CheckpointError
from .manifest import MAX_EPOCH, MAX_STEP

GROUP = "weightwatch"
RESUME = "resume"
FORMAT = "weightwatch-resume/1"
MAX_RNG_STATES = 4096  # one per Dropout/noise layer; a real model has a handful
MAX_RNG_LEN = 64
MAX_THREADS = 1 << 16
VERSION = re.compile(r"^[0-9A-Za-z.+_-]{1,40}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")

# attribute -> (kind, required); kinds are checked by _check_attr
ATTRS: dict[str, tuple[str, bool]] = {
    "format": ("format", True),
    "epoch": ("epoch", True),
    "step_in_epoch": ("epoch", True),
    "model_step": ("step", False),
    "seed": ("step", False),
    "fingerprint": ("hex64", False),
    "data_exact": ("bool", True),
    "tf_version": ("version", False),
    "keras_version": ("version", False),
    "intra_threads": ("threads", False),
    "inter_threads": ("threads", False),
    "op_determinism": ("bool", False),
    "deterministic": ("bool", False),
    "backend": ("version", False),  # which Keras backend wrote it ("tensorflow", "jax")
    "jax_version": ("version", False),
}
MEMBERS = ("rng", "data_position")


class ResumeProblem(ValueError):
    """Why a file's resume record cannot be used; one line."""


def numerics() -> dict[str, Any]:
    """TensorFlow's version, threads and op determinism now (recorded for information: a resume
    on other numerics may differ in the last bits, and the record says what they were)."""
    import keras

    from .backend import is_jax
    from .backend import numerics as backend_numerics

    if is_jax():
        mine: dict[str, Any] = {"keras_version": keras.__version__, **backend_numerics()}
        return {k: v for k, v in mine.items() if _fits(k, v)}
    import tensorflow as tf

    try:
        from tensorflow.python.framework.config import is_op_determinism_enabled

        determinism = bool(is_op_determinism_enabled())
    except ImportError:  # moved in some release: the record simply lacks it
        determinism = None
    out = {
        "tf_version": tf.__version__,
        "keras_version": keras.__version__,
        "intra_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "op_determinism": determinism,
        **backend_numerics(),
    }
    return {k: v for k, v in out.items() if v is not None and _fits(k, v)}


def _fits(key: str, value) -> bool:
    try:
        _check_attr(key, value)
    except ResumeProblem:  # a version string we would refuse on reading: leave it out
        return False
    return True


def write_resume(h5file, record: dict[str, Any]) -> None:
    """Write `record` (attributes as in ATTRS, plus `rng`: a list of integer arrays and
    `data_state`: bytes or None) into an open, writable h5py File."""
    import numpy as np

    group = h5file.create_group(f"{GROUP}/{RESUME}")
    for key, value in record.items():
        if key in ATTRS and value is not None:
            group.attrs[key] = value
    group.attrs["format"] = FORMAT
    rng = group.create_group("rng")
    for i, state in enumerate(record.get("rng") or []):
        rng.create_dataset(str(i), data=np.asarray(state))
    state = record.get("data_state")
    if state is not None:
        group.create_dataset("data_position", data=np.frombuffer(bytes(state), dtype=np.uint8))


def read_resume(path: Path) -> dict[str, Any] | None:
    """The checked record of a `.weights.h5` file, or None if it has none (a file plain Keras or
    an older weightwatch wrote). Raises ResumeProblem for a damaged one, OSError if the file
    does not open."""
    import h5py

    with h5py.File(path, "r") as f:
        if f.get(GROUP, getlink=True) is None:
            return None
        top = _hard_group(f, GROUP, GROUP)
        if set(top) != {RESUME}:
            extra = sorted(set(top) - {RESUME})
            raise ResumeProblem(f"/{GROUP}: unexpected member {extra[0]!r}" if extra else "empty")
        group = _hard_group(top, RESUME, f"{GROUP}/{RESUME}")
        record = _attrs(group)
        unknown = sorted(set(group) - set(MEMBERS))
        if unknown:
            raise ResumeProblem(f"unexpected member {_show(unknown[0])}")
        record["rng"] = _rng(group) if "rng" in group else []
        record["data_state"] = (
            _data_state(group, path.stat().st_size) if "data_position" in group else None
        )
        return record


def checked_record(path: Path, label: str) -> dict[str, Any] | None:
    """`read_resume` for a load: a damaged record refuses the whole file (CheckpointError)."""
    try:
        return read_resume(path)
    except ResumeProblem as e:
        raise CheckpointError(f"{label}: resume record damaged: {e}; it is not loaded") from None
    except Exception:  # a crafted file h5py cannot read
        raise CheckpointError(f"{label}: not a readable HDF5 file (truncated or corrupt)") from None


def agree(manifest: dict, record: dict, label: str) -> None:
    """A manifest describes its file: where it says something else than the file's own record
    (an edited manifest), neither is trusted."""
    import numpy as np

    for key in ("epoch", "step_in_epoch", "fingerprint", "rng"):
        said, held = manifest.get(key), record.get(key)
        if key == "rng":
            same = said is None or [np.asarray(s).tolist() for s in held or []] == said
        else:
            same = said is None or held is None or said == held
        if not same:
            raise CheckpointError(
                f"{label}: manifest damaged: {key} differs from the file's resume record; "
                "it is not loaded"
            )


def position(source: dict | None) -> dict | None:
    """Where a checkpoint stood, from its resume record or its manifest (both checked):
    {epoch, step_in_epoch, data_exact, data_state, seed}; None for a plain Keras file."""
    if source is None:
        return None
    return {
        "epoch": source.get("epoch"),
        "step_in_epoch": source.get("step_in_epoch") or 0,
        "data_exact": source.get("data_exact", True) is not False,
        "data_state": source.get("data_state"),
        "seed": source.get("seed"),
    }


def _hard_group(parent, name: str, where: str):
    import h5py

    link = parent.get(name, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise ResumeProblem(f"/{where}: a link to elsewhere ({type(link).__name__}), not a group")
    obj = parent[name]
    if not isinstance(obj, h5py.Group):
        raise ResumeProblem(f"/{where}: expected a group, found {type(obj).__name__}")
    return obj


def _hard_dataset(parent, name: str, where: str):
    import h5py

    link = parent.get(name, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise ResumeProblem(f"{where}: a link to elsewhere ({type(link).__name__}), not data")
    ds = parent[name]
    if not isinstance(ds, h5py.Dataset):
        raise ResumeProblem(f"{where}: expected a dataset, found {type(ds).__name__}")
    if ds.external or ds.is_virtual:  # data kept in other files: never followed
        raise ResumeProblem(f"{where}: its data lives in another file; refusing it")
    return ds


def _attrs(group) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key in group.attrs:
        if key not in ATTRS:
            raise ResumeProblem(f"unexpected attribute {_show(key)}")
        try:
            value = group.attrs[key]
        except Exception:  # a crafted attribute h5py cannot decode
            raise ResumeProblem(f"{key}: unreadable") from None
        record[key] = _check_attr(key, value)
    missing = [k for k, (_, required) in ATTRS.items() if required and k not in record]
    if missing:
        raise ResumeProblem(f"{missing[0]}: missing")
    return record


def _check_attr(key: str, value):
    """The attribute as a plain Python value, or ResumeProblem."""
    import numpy as np

    kind = ATTRS[key][0]
    if kind in ("epoch", "step", "threads"):
        top = {"epoch": MAX_EPOCH, "step": MAX_STEP, "threads": MAX_THREADS}[kind]
        ok = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
        if not ok or not 0 <= int(value) <= top or np.ndim(value) != 0:
            raise ResumeProblem(
                f"{key}: expected a whole number from 0 to {top}, found {_show(value)}"
            )
        return int(value)
    if kind == "bool":
        if not isinstance(value, bool | np.bool_):
            raise ResumeProblem(f"{key}: expected true or false, found {_show(value)}")
        return bool(value)
    if not isinstance(value, str):
        raise ResumeProblem(f"{key}: expected text, found {_show(value)}")
    pattern = {"format": None, "hex64": HEX64, "version": VERSION}[kind]
    if (pattern is None and value != FORMAT) or (pattern is not None and not pattern.match(value)):
        expected = {"format": repr(FORMAT), "hex64": "64 hex digits", "version": "a version"}[kind]
        raise ResumeProblem(f"{key}: expected {expected}, found {_show(value)}")
    return value


def _rng(group) -> list:
    import numpy as np

    rng = _hard_group(group, "rng", f"{GROUP}/{RESUME}/rng")
    names = list(rng)
    if len(names) > MAX_RNG_STATES:
        raise ResumeProblem(f"rng: {len(names)} states, more than {MAX_RNG_STATES}")
    if sorted(names) != sorted(str(i) for i in range(len(names))):
        raise ResumeProblem(f"rng: members must be named 0 to {len(names) - 1}")
    states = []
    for i in range(len(names)):
        ds = _hard_dataset(rng, str(i), f"rng/{i}")
        if ds.dtype.kind not in "iu" or ds.ndim != 1 or ds.shape[0] > MAX_RNG_LEN:
            raise ResumeProblem(
                f"rng/{i}: expected at most {MAX_RNG_LEN} whole numbers, found {ds.dtype} "
                f"{ds.shape}"
            )
        states.append(np.asarray(ds[()]))
    return states


def _data_state(group, file_size: int) -> bytes:
    import numpy as np

    ds = _hard_dataset(group, "data_position", "data_position")
    if ds.dtype != np.uint8 or ds.ndim != 1:
        raise ResumeProblem(f"data_position: expected bytes, found {ds.dtype} {ds.shape}")
    # Written contiguous (no chunks, so no filters): its bytes are in the file, and a declared
    # size beyond the file's is crafted. No fixed cap: a shuffle buffer of images is large.
    if ds.chunks is not None:
        raise ResumeProblem("data_position: chunked or compressed (weightwatch writes it plain)")
    if ds.shape[0] > max(file_size, 0):
        raise ResumeProblem(f"data_position: {ds.shape[0]} bytes, more than the file holds")
    return bytes(np.asarray(ds[()]).tobytes())


def _show(value) -> str:
    text = repr(
        value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value
    )
    return text if len(text) <= 60 else text[:57] + "..."
