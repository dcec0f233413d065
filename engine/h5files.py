"""Checks of a `.weights.h5` file read with h5py alone (no TensorFlow): `inspect`, `run --from`
and a load use them before anything is assigned."""

from __future__ import annotations

from pathlib import Path

from .atomic import sha256_file
from .resume import ResumeProblem, read_resume

BLOCK = 1 << 24  # bytes of one dataset read at a time while looking for NaN/inf
RECORD_PREFIX = "weightwatch/"  # the resume record's datasets (engine/resume.py), not weights


def h5_layout(path: Path) -> dict[str, tuple]:
    """Every dataset in an HDF5 file as {path: shape}; raises OSError if it will not open."""
    import h5py

    layout: dict[str, tuple] = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda k, v: layout.__setitem__(k, v.shape) if isinstance(v, h5py.Dataset) else None
        )
    return layout


def nonfinite_dataset(path: Path, limit_bytes: int | None = None) -> str | None:
    """The first float dataset holding NaN or inf, or None. Datasets larger than `limit_bytes`
    are skipped (a crafted file can declare far more data than it holds; a load checks shapes
    against the model first and then reads with no limit)."""
    import h5py
    import numpy as np  # not at the top: the session imports this module before the first frame

    found: list[str] = []

    def visit(key, ds) -> None:
        if found or not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "fc":
            return
        if limit_bytes is not None and ds.size * ds.dtype.itemsize > limit_bytes:
            return
        if ds.ndim == 0 or ds.size == 0:
            if ds.size and not np.isfinite(ds[()]).all():
                found.append(key)
            return
        rows = max(1, BLOCK // max(1, (ds.size // ds.shape[0]) * ds.dtype.itemsize))
        for start in range(0, ds.shape[0], rows):
            if not np.isfinite(ds[start : start + rows]).all():
                found.append(key)
                return

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return found[0] if found else None


def nonfinite_problem(key: str) -> str:
    return f"weights hold NaN/inf ({key}); refusing to load them"


def problem(path: Path, sha: str | None, *, scan: bool = True) -> str | None:
    """Why a checkpoint file cannot be loaded, or None (from the run directory alone). With
    `scan`, NaN/inf values are looked for too."""
    if path.is_symlink() and sha is not None:
        return "the weights file is a symbolic link (weightwatch never writes one)"
    if not path.is_file():
        return "file missing"
    if sha is not None and sha256_file(path) != sha:
        return "file changed since it was saved (SHA-256 mismatch)"
    try:
        layout = h5_layout(path)
        # Sequential and functional models keep weights under layers/; a subclassed model
        # under its attribute names (hidden/vars/0): anything but the optimizer and our record
        if not any(not k.startswith(("optimizer/", RECORD_PREFIX)) for k in layout):
            return "holds no model weights"
        bad = nonfinite_dataset(path, limit_bytes=path.stat().st_size) if scan else None
        read_resume(path)
    except ResumeProblem as e:
        return f"resume record damaged: {e}"
    except Exception:  # OSError mostly; a crafted file may make h5py raise anything
        return "not a readable HDF5 file (truncated or corrupt)"
    return nonfinite_problem(bad) if bad else None
