"""Checkpoints: Keras-native `.weights.h5` files plus a JSON manifest, saved atomically and
loaded all-or-nothing.

Layout of `RUN_DIR/checkpoints/`:
  NAME.json                     the manifest, written last: it is the commit point of a save
  NAME.<sha12>.ww.weights.h5    the weights (and built-optimizer state) the manifest points to
A `kill -9` at any moment leaves either the old manifest (pointing to an intact old file) or the
new one; files no manifest points to, and temp files, are removed when a store opens.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from .atomic import TEMP_PREFIX, commit, fsync_dir, os_reason, write_json
from .errors import CheckpointError
from .events import CheckpointInfo
from .h5files import RECORD_PREFIX, h5_layout, nonfinite_dataset, nonfinite_problem
from .h5files import problem as _problem
from .manifest import (
    FORMAT,
    NAME_RE,
    OWN_SUFFIX,
    TEMP_JSON,
    TEMP_WEIGHTS,
    ManifestProblem,
    is_own_file,
    own_file_name,
    read_manifest,
)
from .resume import agree, checked_record, position

__all__ = ["FORMAT", "NAME_RE", "OWN_SUFFIX", "CheckpointStore", "check_name", "h5_layout"]
NONFINITE_WARNING = "weights hold NaN/inf"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or name.endswith(".json"):
        raise CheckpointError(
            f"checkpoint name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)"
        )
    return name


class CheckpointStore:
    """The checkpoints of one run directory. Its manifests are untrusted input (see
    manifest.py): a damaged one is listed with its problem, never loaded, and no file is ever
    removed unless the store itself could have named it."""

    def __init__(self, run_dir: Path, *, clean: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "checkpoints"
        if clean:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.removed_orphans = self.clean_orphans()

    # ----- reading (no TensorFlow) -------------------------------------------------------
    def scan(self) -> tuple[dict[str, dict], dict[str, tuple[Path, str]]]:
        """({name: checked manifest}, {name: (manifest path, problem)} of damaged ones)."""
        good: dict[str, dict] = {}
        damaged: dict[str, tuple[Path, str]] = {}
        if not self.dir.is_dir():
            return good, damaged
        for p in sorted(self.dir.glob("*.json")):
            if p.name.startswith(TEMP_PREFIX):
                continue
            try:
                m = read_manifest(p)
                good[m["name"]] = m
            except ManifestProblem as e:
                damaged[p.name[: -len(".json")]] = (p, f"manifest damaged: {e}")
        return good, damaged

    def manifests(self) -> dict[str, dict]:
        """The manifests that passed every check, by name."""
        return self.scan()[0]

    def clean_orphans(self) -> list[str]:
        """Remove what an interrupted save left: temp files the store or `write_json` named, and
        weights files of the store's own naming that no manifest (damaged ones included) may
        point to. Nothing else is ever removed: not links, not folders, not others' files."""
        good, damaged = self.scan()
        referenced = {m["file"] for m in good.values()}
        kept_stems = set(damaged)  # a damaged manifest may still point to its weights
        removed = []
        for p in self.dir.iterdir():
            if p.is_symlink() or not p.is_file():
                continue
            temp = TEMP_WEIGHTS.match(p.name) or TEMP_JSON.match(p.name)
            stem = p.name.rsplit(".", 4)[0] if is_own_file(p.name) else None
            orphan = stem is not None and p.name not in referenced and stem not in kept_stems
            if temp or orphan:
                try:
                    p.unlink()
                    removed.append(p.name)
                except OSError:
                    pass
        return removed

    def info_from_manifest(self, m: dict, verify: bool = False) -> CheckpointInfo:
        path = self.dir / m["file"]
        problem = _problem(path, m.get("sha256")) if verify else None
        return CheckpointInfo(
            name=m["name"],
            path=str(path),
            source="weightwatch",
            model_step=m.get("model_step"),
            epoch=m.get("epoch"),
            step_in_epoch=m.get("step_in_epoch"),
            loss=m.get("loss"),
            global_norm=m.get("global_norm"),
            fingerprint=m.get("fingerprint"),
            has_optimizer=m.get("has_optimizer"),
            data_exact=m.get("data_exact"),
            created=m.get("created"),
            size=m.get("size"),
            loadable=(problem is None) if verify else None,
            problem=problem,
        )

    def foreign_files(self) -> list[Path]:
        """Other `.weights.h5` files in the run directory (the user's own ModelCheckpoint)."""
        if not self.run_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.run_dir.rglob("*.weights.h5")
            if not p.name.endswith(OWN_SUFFIX) and not p.name.startswith(TEMP_PREFIX)
        )

    def list(self, verify: bool = False) -> list[CheckpointInfo]:
        good, damaged = self.scan()
        infos = [self.info_from_manifest(m, verify) for m in good.values()]
        infos.sort(key=lambda i: i.created or 0)
        for name, (path, problem) in damaged.items():  # source "damaged": never loaded
            infos.append(
                CheckpointInfo(
                    name=name, path=str(path), source="damaged", loadable=False, problem=problem
                )
            )
        for p in self.foreign_files():
            try:
                st = p.stat()
            except OSError:  # a dangling link
                continue
            trouble = _problem(p, None) if verify else None
            infos.append(
                CheckpointInfo(
                    name=str(p.relative_to(self.run_dir)),
                    path=str(p),
                    source="file",
                    created=st.st_mtime,
                    size=st.st_size,
                    loadable=(trouble is None) if verify else None,
                    problem=trouble,
                )
            )
        return infos

    def resolve(self, ref: str) -> tuple[Path, dict | None]:
        """A checkpoint name or a path → (file, manifest or None)."""
        manifests, damaged = self.scan()
        if ref in manifests:
            m = manifests[ref]
            return self.dir / m["file"], m
        if ref in damaged:
            raise CheckpointError(f"checkpoint {ref!r}: {damaged[ref][1]}; it is not loaded")
        if "\0" in ref:
            raise CheckpointError(f"checkpoint {ref!r}: not a name or a path (NUL character)")
        p = Path(ref).expanduser()
        candidates = [p] if p.is_absolute() else [Path.cwd() / p, self.run_dir / p, self.dir / p]
        for c in candidates:
            if c.exists():
                c = c.resolve()
                for m in manifests.values():
                    if (self.dir / m["file"]).resolve() == c:
                        return c, m
                return c, None
        names = ", ".join(manifests) or "none saved yet"
        raise CheckpointError(
            f"checkpoint {ref!r}: no such checkpoint or file (checkpoints: {names})"
        )

    # ----- saving (training thread) ----------------------------------------------------------
    def save(
        self, model, name: str, meta: dict, resume: dict | None = None
    ) -> tuple[CheckpointInfo, str | None]:
        """Write weights + built optimizer state (+ the resume record, engine/resume.py, that
        lets `--from` resume from the file anywhere), then the manifest; atomic at each step.

        Returns the checkpoint and a warning (the weights hold NaN/inf) or None. The file is
        built in memory and written with plain Python I/O: HDF5 itself never writes to disk, so
        a full disk is an OSError here (HDF5 failing mid-file crashed the process).
        """
        from .weights import ensure_optimizer_built, weights_h5_bytes

        check_name(name)
        ensure_optimizer_built(model)
        data, finite = weights_h5_bytes(model, resume)
        sha = _sha256(data)
        final = self.dir / own_file_name(name, sha)
        temp = self.dir / f"{TEMP_PREFIX}{name}.{uuid.uuid4().hex[:8]}.weights.h5"
        try:
            _write_bytes(temp, data)
            commit(temp, final)
        except BaseException as e:  # a full disk, a read-only folder, Ctrl+C: no leftovers
            _unlink_quietly(temp)
            if isinstance(e, OSError):
                raise CheckpointError(
                    f"checkpoint {name!r}: cannot write {self.dir}: {os_reason(e)}"
                    "; the previous checkpoints are unchanged"
                ) from None
            raise
        old = self.manifests().get(name)
        manifest = {
            **meta,
            "format": FORMAT,
            "name": name,
            "file": final.name,
            "sha256": sha,
            "size": len(data),
            "created": time.time(),
            "has_optimizer": True,
            "weights_finite": finite,
        }
        try:
            write_json(self.dir / f"{name}.json", manifest)
        except OSError as e:
            if not old or old["file"] != final.name:  # no manifest points to it
                _unlink_quietly(final)
            raise CheckpointError(
                f"checkpoint {name!r}: cannot write its manifest in {self.dir}: "
                f"{os_reason(e)}; the previous checkpoints are unchanged"
            ) from None
        if old and old["file"] != final.name:  # a checked name of the store's own making
            _unlink_quietly(self.dir / old["file"])
        warning = None if finite else NONFINITE_WARNING
        return self.info_from_manifest(manifest), warning

    # ----- loading (training thread) ---------------------------------------------------------
    def load(self, model, ref: str) -> tuple[CheckpointInfo, dict | None, bool]:
        """Load all-or-nothing. Returns (info, position or None, optimizer state restored?).

        The position is where the checkpoint stood: {epoch, step_in_epoch, data_exact,
        data_state, seed}, from the file's own resume record (so a file from anywhere resumes
        where it was saved), else from this store's manifest, else None (a plain Keras file).
        The manifest and the record were checked when read; the file's hash, every dataset's
        shape (against the live model), its values (no NaN/inf) and the RNG states' shapes are
        checked before anything is assigned. If Keras still fails half-way, every variable is
        put back, so on any error the model's fingerprint is unchanged.
        """
        path, manifest = self.resolve(ref)
        label = path.name
        if path.suffix == ".keras" or path.name.endswith(".keras"):
            raise CheckpointError(
                f"{label}: a .keras archive; weightwatch loads .weights.h5 files "
                "(model.save_weights)"
            )
        if not path.name.endswith(".weights.h5"):
            raise CheckpointError(f"{label}: not a .weights.h5 file")
        problem = _problem(path, manifest["sha256"] if manifest else None, scan=False)
        if problem:
            raise CheckpointError(f"{label}: {problem}")
        record = checked_record(path, label)
        if record and manifest:
            agree(manifest, record, label)
        with_optimizer = self._check_layout(model, path, label)
        rng = record["rng"] if record else (manifest or {}).get("rng")
        self._check_values(model, path, label, rng, "resume record" if record else "manifest")
        wanted = (manifest or {}).get("fingerprint") or (record or {}).get("fingerprint")
        self._assign(model, path, label, rng, wanted)
        info = (
            self.info_from_manifest(manifest)
            if manifest
            else CheckpointInfo(
                name=str(path), path=str(path), source="file", has_optimizer=with_optimizer
            )
        )
        return info, position(record or manifest), with_optimizer

    def _check_layout(self, model, path: Path, label: str) -> bool:
        from .weights import ensure_optimizer_built, weights_layout

        ensure_optimizer_built(model)
        have = {k: v for k, v in h5_layout(path).items() if not k.startswith(RECORD_PREFIX)}
        want = weights_layout(model)
        for key in sorted(k for k in want if not k.startswith("optimizer/")):
            if key not in have:
                raise CheckpointError(
                    f"{label}: does not fit this model: {key} {want[key]} is missing from the file"
                )
            if tuple(have[key]) != tuple(want[key]):
                raise CheckpointError(
                    f"{label}: does not fit this model: {key} has shape {tuple(have[key])} "
                    f"in the file, {tuple(want[key])} in the model"
                )
        extra = sorted(k for k in have if not k.startswith("optimizer/") and k not in want)
        if extra:
            raise CheckpointError(
                f"{label}: does not fit this model: the file has {extra[0]} "
                f"{tuple(have[extra[0]])}, the model has no such variable"
            )
        opt_have = {k: tuple(v) for k, v in have.items() if k.startswith("optimizer/")}
        opt_want = {k: tuple(v) for k, v in want.items() if k.startswith("optimizer/")}
        return bool(opt_have) and opt_have == opt_want

    def _check_values(self, model, path: Path, label: str, rng, where: str) -> None:
        """No NaN/inf in the file (its shapes fit the model, so reading it all is bounded), and
        RNG states that fit the model's: found now, not after the weights were assigned."""
        import numpy as np

        from .weights import rng_variables

        try:
            bad = nonfinite_dataset(path)
        except Exception:  # a crafted file h5py cannot read the values of
            raise CheckpointError(
                f"{label}: not a readable HDF5 file (truncated or corrupt)"
            ) from None
        if bad:
            raise CheckpointError(f"{label}: {nonfinite_problem(bad)}; the model is unchanged")
        if rng is not None:
            shapes = [tuple(v.shape) for v in rng_variables(model)]
            if [np.shape(s) for s in rng] != shapes:
                raise CheckpointError(
                    f"{label}: {where} damaged: rng: {len(rng)} states that do not fit the "
                    f"model's {len(shapes)} (shapes {shapes}); the model is unchanged"
                )

    def _assign(self, model, path: Path, label: str, rng, wanted: str | None) -> None:
        import warnings

        from .weights import fingerprint, restore, rng_variables, snapshot

        snap = snapshot(model)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # optimizer mismatch is reported by us instead
                model.load_weights(str(path))
            if rng is not None:
                for v, state in zip(rng_variables(model), rng, strict=True):
                    v.assign(state)
            if wanted and fingerprint(model) != wanted:
                raise CheckpointError(
                    f"{label}: weights do not match the fingerprint saved with them"
                )
        except Exception as e:
            restore(snap)
            if isinstance(e, CheckpointError):
                raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(
                f"{label}: could not be loaded ({first}); the model is unchanged"
            ) from None


def model_layout(model) -> dict[str, tuple]:
    """The dataset layout `save_weights` would write for this model now (no file written)."""
    from .weights import weights_layout

    return weights_layout(model)


def _sha256(data) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _write_bytes(path: Path, data) -> None:
    """Plain Python I/O, so a full disk is an OSError (the caller fsyncs and renames)."""
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # a read-only folder: nothing was created in it either
        pass
    else:
        fsync_dir(path.parent)
