"""Checkpoints: Keras-native `.weights.h5` files plus a JSON manifest, saved atomically and
loaded all-or-nothing.

Layout of `RUN_DIR/checkpoints/`:
  NAME.json                     the manifest, written last: it is the commit point of a save
  NAME.<sha12>.ww.weights.h5    the weights (and built-optimizer state) the manifest points to
A `kill -9` at any moment leaves either the old manifest (pointing to an intact old file) or the
new one; files no manifest points to, and temp files, are removed when a store opens.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

from .atomic import TEMP_PREFIX, commit, os_reason, sha256_file, write_json
from .errors import CheckpointError
from .events import CheckpointInfo

FORMAT = "weightwatch-checkpoint/1"
OWN_SUFFIX = ".ww.weights.h5"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_name(name: str) -> str:
    if not NAME_RE.match(name or "") or name.endswith(".json"):
        raise CheckpointError(
            f"checkpoint name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)"
        )
    return name


def h5_layout(path: Path) -> dict[str, tuple]:
    """Every dataset in an HDF5 file as {path: shape}; raises OSError if it will not open."""
    import h5py

    layout: dict[str, tuple] = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda k, v: layout.__setitem__(k, v.shape) if isinstance(v, h5py.Dataset) else None
        )
    return layout


def _problem(path: Path, sha: str | None) -> str | None:
    """Why a checkpoint file cannot be loaded, or None (from the run directory alone)."""
    if not path.is_file():
        return "file missing"
    if sha is not None and sha256_file(path) != sha:
        return "file changed since it was saved (SHA-256 mismatch)"
    try:
        layout = h5_layout(path)
    except OSError:
        return "not a readable HDF5 file (truncated or corrupt)"
    if not any(k.startswith("layers/") or k.startswith("vars/") for k in layout):
        return "holds no model weights"
    return None


class CheckpointStore:
    """The checkpoints of one run directory."""

    def __init__(self, run_dir: Path, *, clean: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "checkpoints"
        if clean:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.removed_orphans = self.clean_orphans()

    # ----- reading (no TensorFlow) -------------------------------------------------------
    def manifests(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        if not self.dir.is_dir():
            return out
        for p in sorted(self.dir.glob("*.json")):
            if p.name.startswith(TEMP_PREFIX):
                continue
            try:
                m = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(m, dict) and m.get("format") == FORMAT:
                out[m["name"]] = m
        return out

    def clean_orphans(self) -> list[str]:
        """Remove temp files and weight files that no manifest points to (an interrupted save)."""
        referenced = {m.get("file") for m in self.manifests().values()}
        removed = []
        for p in self.dir.iterdir():
            own = p.name.endswith(OWN_SUFFIX) and p.name not in referenced
            if p.name.startswith(TEMP_PREFIX) or own:
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
        infos = [self.info_from_manifest(m, verify) for m in self.manifests().values()]
        infos.sort(key=lambda i: i.created or 0)
        for p in self.foreign_files():
            st = p.stat()
            problem = _problem(p, None) if verify else None
            infos.append(
                CheckpointInfo(
                    name=str(p.relative_to(self.run_dir)),
                    path=str(p),
                    source="file",
                    created=st.st_mtime,
                    size=st.st_size,
                    loadable=(problem is None) if verify else None,
                    problem=problem,
                )
            )
        return infos

    def resolve(self, ref: str) -> tuple[Path, dict | None]:
        """A checkpoint name or a path → (file, manifest or None)."""
        manifests = self.manifests()
        if ref in manifests:
            m = manifests[ref]
            return self.dir / m["file"], m
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
    def save(self, model, name: str, meta: dict) -> CheckpointInfo:
        """Write weights + built optimizer state, then the manifest; atomic at each step."""
        from .weights import ensure_optimizer_built

        check_name(name)
        ensure_optimizer_built(model)
        temp = self.dir / f"{TEMP_PREFIX}{name}.{uuid.uuid4().hex[:8]}.weights.h5"
        try:
            model.save_weights(str(temp))
            sha = sha256_file(temp)
            final = self.dir / f"{name}.{sha[:12]}{OWN_SUFFIX}"
            commit(temp, final)
        except BaseException as e:  # a full disk, a read-only folder, Ctrl+C: no leftovers
            temp.unlink(missing_ok=True)
            if isinstance(e, OSError):
                raise CheckpointError(
                    f"checkpoint {name!r}: cannot write {self.dir}: {os_reason(e)}"
                    "; the previous checkpoints are unchanged"
                ) from None
            raise
        old = self.manifests().get(name)
        manifest = {
            "format": FORMAT,
            "name": name,
            "file": final.name,
            "sha256": sha,
            "size": final.stat().st_size,
            "created": time.time(),
            "has_optimizer": True,
            **meta,
        }
        try:
            write_json(self.dir / f"{name}.json", manifest)
        except OSError as e:
            if not old or old.get("file") != final.name:  # no manifest points to it
                final.unlink(missing_ok=True)
            raise CheckpointError(
                f"checkpoint {name!r}: cannot write its manifest in {self.dir}: "
                f"{os_reason(e)}; the previous checkpoints are unchanged"
            ) from None
        if old and old.get("file") != final.name:
            (self.dir / old["file"]).unlink(missing_ok=True)
        return self.info_from_manifest(manifest)

    # ----- loading (training thread) ---------------------------------------------------------
    def load(self, model, ref: str) -> tuple[CheckpointInfo, dict | None, bool]:
        """Load all-or-nothing. Returns (info, manifest or None, optimizer state restored?).

        Every dataset's shape is checked against the live model before anything is assigned;
        if Keras still fails half-way, every variable is put back, so on any error the model's
        fingerprint is unchanged.
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
        problem = _problem(path, manifest.get("sha256") if manifest else None)
        if problem:
            raise CheckpointError(f"{label}: {problem}")
        with_optimizer = self._check_layout(model, path, label)
        self._assign(model, path, label, manifest)
        info = (
            self.info_from_manifest(manifest)
            if manifest
            else CheckpointInfo(
                name=str(path), path=str(path), source="file", has_optimizer=with_optimizer
            )
        )
        return info, manifest, with_optimizer

    def _check_layout(self, model, path: Path, label: str) -> bool:
        from .weights import ensure_optimizer_built

        ensure_optimizer_built(model)
        have = h5_layout(path)
        want = model_layout(model)
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

    def _assign(self, model, path: Path, label: str, manifest: dict | None) -> None:
        import warnings

        from .weights import fingerprint, restore, rng_variables, snapshot

        snap = snapshot(model)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # optimizer mismatch is reported by us instead
                model.load_weights(str(path))
            if manifest and manifest.get("rng") is not None:
                for v, state in zip(rng_variables(model), manifest["rng"], strict=True):
                    v.assign(state)
            if (
                manifest
                and manifest.get("fingerprint")
                and fingerprint(model) != manifest["fingerprint"]
            ):
                raise CheckpointError(f"{label}: weights do not match the manifest's fingerprint")
        except Exception as e:
            restore(snap)
            if isinstance(e, CheckpointError):
                raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(
                f"{label}: could not be loaded ({first}); the model is unchanged"
            ) from None


def model_layout(model) -> dict[str, tuple]:
    """The dataset layout `save_weights` would write for this model now.

    Keras names datasets by object structure (not layer names), so comparing layouts is an exact
    shape check that works across model instances. Loads are rare: no caching.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "layout.weights.h5"
        model.save_weights(str(p))
        return h5_layout(p)
