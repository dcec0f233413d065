"""Checkpoint manifests are untrusted input: anyone who can write the run directory can edit them.

`read_manifest` turns one `NAME.json` into a checked dict, or raises `ManifestProblem` saying
what is wrong with it. Every field the store or a load uses is checked here, before anything is
assigned, so a load is all or nothing, and a manifest's `file` can only ever name a weights file
that the store itself named inside `checkpoints/` (never a path elsewhere).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

FORMAT = "weightwatch-checkpoint/1"
OWN_SUFFIX = ".ww.weights.h5"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_BYTES = 1 << 20  # a real manifest is well under 1 KiB plus the RNG states
MAX_EPOCH = 2**31 - 1  # epochs and steps go to Keras and TensorFlow as int32/int64
MAX_STEP = 2**63 - 1

# Temp files the store and `atomic.write_json` name: the only temp files it ever removes.
TEMP_WEIGHTS = re.compile(r"^\.tmp-[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.[0-9a-f]{4,32}\.weights\.h5$")
TEMP_JSON = re.compile(r"^\.tmp-[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.json\.\d+$")


class ManifestProblem(ValueError):
    """Why a manifest cannot be used; one line."""


def own_file_name(name: str, sha: str) -> str:
    return f"{name}.{sha[:12]}{OWN_SUFFIX}"


def is_own_file(file_name: str) -> bool:
    """A weights file name the store could have written (NAME.<12 hex>.ww.weights.h5)."""
    stem = file_name[: -len(OWN_SUFFIX)] if file_name.endswith(OWN_SUFFIX) else ""
    name, _, sha12 = stem.rpartition(".")
    return bool(NAME_RE.match(name)) and bool(re.fullmatch(r"[0-9a-f]{12}", sha12))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return (isinstance(v, int | float) and not isinstance(v, bool)) and math.isfinite(v)


def _show(v) -> str:
    text = json.dumps(v) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _int_field(m: dict, key: str, top: int) -> None:
    v = m.get(key)
    if v is not None and not (_is_int(v) and 0 <= v <= top):
        raise ManifestProblem(f"{key}: expected a whole number from 0 to {top}, found {_show(v)}")


def _optional(m: dict, key: str, ok, expected: str) -> None:
    v = m.get(key)
    if v is not None and not ok(v):
        raise ManifestProblem(f"{key}: expected {expected}, found {_show(v)}")


def _check_file(m: dict) -> None:
    file, name, sha = m.get("file"), m["name"], m["sha256"]
    if not isinstance(file, str):
        raise ManifestProblem(f"file: expected a file name, found {_show(file)}")
    plain = file and not any(c in file for c in "/\\\0") and file not in (".", "..")
    if not plain:
        raise ManifestProblem(f"file: {_show(file)} is not a plain file name inside checkpoints/")
    if file != own_file_name(name, sha):
        raise ManifestProblem(
            f"file: {_show(file)} is not the name weightwatch gives this checkpoint's weights "
            f"({own_file_name(name, sha)!r})"
        )


def _check_rng(v) -> bool:
    return isinstance(v, list) and all(
        isinstance(s, list) and len(s) <= 64 and all(_is_int(x) for x in s) for s in v
    )


def check_manifest(m: object, stem: str) -> dict:
    """The manifest `m` read from `stem + ".json"`, checked; raises ManifestProblem."""
    if not isinstance(m, dict):
        raise ManifestProblem(f"expected a JSON object, found {type(m).__name__}")
    if m.get("format") != FORMAT:
        raise ManifestProblem(f"format: expected {FORMAT!r}, found {_show(m.get('format'))}")
    name = m.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ManifestProblem(f"name: expected a checkpoint name, found {_show(name)}")
    if name != stem:
        raise ManifestProblem(f"name: {name!r} but the manifest file is {stem}.json")
    if not isinstance(m.get("sha256"), str) or not HEX64.match(m["sha256"]):
        raise ManifestProblem(f"sha256: expected 64 hex digits, found {_show(m.get('sha256'))}")
    _check_file(m)
    _int_field(m, "model_step", MAX_STEP)
    _int_field(m, "session_step", MAX_STEP)
    _int_field(m, "size", MAX_STEP)
    _int_field(m, "epoch", MAX_EPOCH)
    _int_field(m, "step_in_epoch", MAX_EPOCH)
    _int_field(m, "instance", MAX_EPOCH)
    _optional(m, "seed", _is_int, "a whole number")
    _optional(m, "loss", _is_real, "a finite number")
    _optional(m, "global_norm", _is_real, "a finite number")
    _optional(m, "created", lambda v: _is_real(v) and v >= 0, "a time (seconds)")
    _optional(m, "fingerprint", lambda v: isinstance(v, str) and HEX64.match(v), "64 hex digits")
    _optional(m, "has_optimizer", lambda v: isinstance(v, bool), "true or false")
    _optional(m, "weights_finite", lambda v: isinstance(v, bool), "true or false")
    _optional(m, "data_exact", lambda v: isinstance(v, bool), "true or false")
    _optional(m, "optimizer", lambda v: isinstance(v, str), "a name")
    _optional(m, "rng", _check_rng, "a list of RNG states (lists of whole numbers)")
    return m


def read_manifest(path: Path) -> dict:
    """Read and check one manifest file; raises ManifestProblem (never anything else)."""
    try:
        if path.is_symlink() or not path.is_file():
            raise ManifestProblem("not a plain file")
        if path.stat().st_size > MAX_BYTES:
            raise ManifestProblem(f"larger than {MAX_BYTES} bytes")
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text)
    except ManifestProblem:
        raise
    except UnicodeDecodeError:
        raise ManifestProblem("not UTF-8 text") from None
    except RecursionError:
        raise ManifestProblem("not valid JSON (nested too deeply)") from None
    except ValueError as e:
        raise ManifestProblem(f"not valid JSON ({str(e).splitlines()[0]})") from None
    except OSError as e:
        raise ManifestProblem(f"cannot be read ({e.strerror or type(e).__name__})") from None
    return check_manifest(data, path.name[: -len(".json")])
