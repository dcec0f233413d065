"""What a `[data] loader` may return, as `fit` takes it, checked into one `Data`.

- `(x, y)` or `(x, y, x_val, y_val)` as numpy arrays (as before);
- a dict with `x`, `y` and optional `sample_weight`, `x_val`, `y_val`, `sample_weight_val`, each
  an array, a list of arrays or a dict of arrays keyed by input/output name;
- a `tf.data.Dataset` of `(x, y)` or `(x, y, sample_weight)` batches, or a dict
  `{ train = <Dataset>, validation = <Dataset> }`;
- a `keras.utils.PyDataset`.

Every problem is a one-line `ConfigError` naming the file and `[data].loader`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError

ARRAY_KEYS = ("x", "y", "sample_weight", "x_val", "y_val", "sample_weight_val")
DATASET_KEYS = ("train", "validation")


@dataclass(frozen=True)
class Data:
    """A config's data. Arrays (any nesting) in x..sample_weight_val, or a pipeline in `train`
    (a tf.data.Dataset or PyDataset) with an optional `validation` pipeline."""

    x: Any = None
    y: Any = None
    sample_weight: Any = None
    x_val: Any = None
    y_val: Any = None
    sample_weight_val: Any = None
    train: Any = None
    validation: Any = None

    @property
    def is_arrays(self) -> bool:
        return self.train is None

    @property
    def has_validation(self) -> bool:
        return self.x_val is not None or self.validation is not None

    def samples(self) -> int:
        """Training samples (arrays only)."""
        return len(flat(self.x, "x")[0][1])

    def kind(self) -> str:
        if self.is_arrays:
            return "arrays"
        return "PyDataset" if is_pydataset(self.train) else "tf.data.Dataset"


def flat(value: Any, name: str) -> list[tuple[str, Any]]:
    """Leaves of a list/tuple/dict nesting with their paths: `x["image"]`, `y[1]`."""
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in flat(v, f'{name}["{k}"]')]
    if isinstance(value, (list, tuple)):
        return [pair for i, v in enumerate(value) for pair in flat(v, f"{name}[{i}]")]
    return [(name, value)]


def map_leaves(fn, value: Any) -> Any:
    """`value` with `fn` applied to every array (the nesting kept)."""
    if isinstance(value, dict):
        return {k: map_leaves(fn, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(map_leaves(fn, v) for v in value)
    return None if value is None else fn(value)


def is_dataset(value: Any) -> bool:
    tf = sys.modules.get("tensorflow")  # a loader that returns one has imported it
    return tf is not None and isinstance(value, tf.data.Dataset)


def is_pydataset(value: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.utils.PyDataset)


def data_from_result(result: Any, spec: str, file: str) -> Data:
    """The loader's result as `Data`, or a ConfigError saying which form was expected."""
    prefix = f'{file}: [data].loader: expected "{spec}" to return'
    if is_dataset(result) or is_pydataset(result):
        return _pipelines({"train": result}, prefix)
    if isinstance(result, dict) and "train" in result:
        return _pipelines(result, prefix)
    if isinstance(result, dict):
        unknown = [str(k) for k in result if k not in ARRAY_KEYS]
        if unknown or "x" not in result or "y" not in result:
            got = f'the key "{unknown[0]}"' if unknown else f"the keys {sorted(map(str, result))}"
            raise ConfigError(
                f'{prefix} a dict with "x" and "y" (and optionally '
                f'{", ".join(ARRAY_KEYS[2:])}), or with "train" (and "validation") '
                f"datasets, received {got}"
            )
        data = Data(**{k: result.get(k) for k in ARRAY_KEYS})
        _pairs(data, prefix)
        return data
    ok = isinstance(result, (tuple, list)) and len(result) in (2, 4)
    if not ok or not all(isinstance(item, np.ndarray) for item in result):
        raise ConfigError(
            f"{prefix} (x, y) or (x, y, x_val, y_val) as numpy arrays, received "
            f"{describe(result)} (a dict of arrays with x and y, a tf.data.Dataset or a "
            f"keras.utils.PyDataset also do)"
        )
    x, y, *val = result
    x_val, y_val = val or (None, None)
    return Data(x=x, y=y, x_val=x_val, y_val=y_val)


def _pairs(data: Data, prefix: str) -> None:
    if (data.x_val is None) != (data.y_val is None):
        raise ConfigError(f'{prefix} "x_val" and "y_val" together, received only one of them')
    if data.sample_weight_val is not None and data.x_val is None:
        raise ConfigError(f'{prefix} "sample_weight_val" only with "x_val" and "y_val"')


def _pipelines(result: dict, prefix: str) -> Data:
    unknown = [str(k) for k in result if k not in DATASET_KEYS]
    if unknown:
        raise ConfigError(
            f'{prefix} a dict of "train" and "validation" datasets, received the key "{unknown[0]}"'
        )
    for key in DATASET_KEYS:
        value = result.get(key)
        if value is None and key == "validation":
            continue
        if not (is_dataset(value) or is_pydataset(value)):
            raise ConfigError(
                f'{prefix} "{key}" as a tf.data.Dataset or keras.utils.PyDataset, received '
                f"{describe(value)}"
            )
        if is_dataset(value):
            _element(value, key, prefix)
    return Data(train=result["train"], validation=result.get("validation"))


def _element(ds, key: str, prefix: str) -> None:
    """fit unpacks each element as (x, y) or (x, y, sample_weight)."""
    spec = ds.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        got = f"a tuple of {len(spec)}" if isinstance(spec, tuple) else type(spec).__name__
        raise ConfigError(
            f'{prefix} "{key}" as a tf.data.Dataset of (x, y) or (x, y, sample_weight) '
            f"batches, received elements of {got}"
        )


def describe(value: Any) -> str:
    """A short description of what a loader returned, for messages."""
    if isinstance(value, (tuple, list)):
        kinds = ", ".join(type(item).__name__ for item in value[:5])
        return f"a {type(value).__name__} of {len(value)} ({kinds})"
    return f"a {type(value).__name__}"


def check_arrays(data: Data, key: str, file: str) -> None:
    """Numeric arrays of at least one dimension; within the training part (x, y,
    sample_weight) and the validation part, every array has the same first dimension."""
    for part in (ARRAY_KEYS[:3], ARRAY_KEYS[3:]):
        lengths: list[tuple[str, int]] = []
        for name in part:
            value = getattr(data, name)
            if value is None:
                continue
            for path, leaf in flat(value, name):
                _numeric(leaf, path, key, file)
                lengths.append((path, len(leaf)))
        if lengths and any(n != lengths[0][1] for _, n in lengths):
            path, n = next((p, n) for p, n in lengths if n != lengths[0][1])
            raise ConfigError(
                f'{file}: {key}: expected "{lengths[0][0]}" and "{path}" with the same first '
                f"dimension, received {lengths[0][1]} and {n}"
            )
    if data.samples() == 0:
        raise ConfigError(
            f'{file}: {key}: expected at least one sample, received "x" of shape '
            f"{flat(data.x, 'x')[0][1].shape}"
        )


def _numeric(leaf: Any, path: str, key: str, file: str) -> None:
    if not isinstance(leaf, np.ndarray):
        raise ConfigError(
            f'{file}: {key}: expected "{path}" as a numpy array, received a {type(leaf).__name__}'
        )
    if leaf.ndim == 0 or leaf.dtype.kind not in "biuf":
        raise ConfigError(
            f'{file}: {key}: expected "{path}" as a numeric array of at least '
            f"1 dimension, received dtype {leaf.dtype}, shape {leaf.shape}"
        )


def split(data: Data, fraction: float) -> Data:
    """`validation_split` as `fit` makes it: the last `fraction` of every array validates."""
    if data.x_val is not None or fraction <= 0 or not data.is_arrays:
        return data
    cut = int(data.samples() * (1 - fraction))
    head = map_leaves(lambda a: a[:cut], (data.x, data.y, data.sample_weight))
    tail = map_leaves(lambda a: a[cut:], (data.x, data.y, data.sample_weight))
    return Data(*head, *tail)
