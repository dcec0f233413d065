"""Deterministic generator for the shipped demo data sets.

Run ``python -m weightwatch.demo_data.generate [--out DIR]`` to (re)write ``reference.npz`` and
``sensors.npz`` (default: this folder). Two runs write identical bytes, so the shipped files can
be checked against a fresh run (``tests/test_demo_data.py`` does).

How byte-reproducibility is kept:

* every random draw comes from ``numpy.random.default_rng`` with a fixed seed;
* the sensor signals use ``np.sin``, whose last bits may differ between CPUs (numpy picks SIMD
  code paths at run time), so they are rounded to a coarse grid, like the readings of a 12-bit
  ADC, before they are stored; a one-ulp difference would have to land exactly on a rounding
  boundary to change a stored value;
* the ``.npz`` archive is written by hand: ``np.savez`` stamps each zip entry with the current
  time, whereas here every entry gets a fixed date, fixed attributes and no compression (deflate
  output may differ between zlib builds, e.g. zlib-ng, which would break the byte comparison).
  ``np.load`` reads the result like any other ``.npz``.

Sizes are chosen so an epoch of each demo config takes well under two seconds on a small CPU
and all shipped files together stay under 2 MB.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# Any fixed date works; 1980-01-01 is the earliest a zip header can hold.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

REFERENCE_SEED = 20241223
REFERENCE_TRAIN = 5120
REFERENCE_VAL = 1024
REFERENCE_FEATURES = 10
REFERENCE_CLASSES = 10
# Scale of the noise added to the class scores: large enough that the labels are not a clean
# linear function (accuracy stays well below 100%), small enough that the loss falls clearly.
REFERENCE_LABEL_NOISE = 0.35

SENSOR_SEED = 31415
SENSOR_TRAIN = 2560
SENSOR_VAL = 640
SENSOR_WINDOW = 32
SENSOR_CHANNELS = 3
SENSOR_CLASSES = ("normal", "spike", "drift", "dropout")
# Readings are stored on a grid of 1/64: coarse enough to absorb last-bit differences of np.sin,
# fine enough (well below the noise level) not to change what the model can learn.
SENSOR_RESOLUTION = 1.0 / 64.0


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """Encodes integer labels as float32 one-hot rows.

    Args:
        labels: Integer class indices, shape ``(n,)``.
        classes: Number of classes.

    Returns:
        Array of shape ``(n, classes)``, dtype float32.
    """
    return np.eye(classes, dtype=np.float32)[labels]


def make_reference(
    n_train: int = REFERENCE_TRAIN, n_val: int = REFERENCE_VAL, seed: int = REFERENCE_SEED
) -> dict[str, np.ndarray]:
    """Builds the data for the seed article's MLP: 10 uniform features, 10 classes.

    The article trains on pure noise, where the loss barely moves. Here the label is the argmax
    of a fixed random projection of the features plus noise, so the loss visibly falls and the
    weight norm visibly grows, which is what the demo needs to show.

    Args:
        n_train: Training rows.
        n_val: Validation rows.
        seed: Seed for ``numpy.random.default_rng``.

    Returns:
        Arrays ``x``, ``y``, ``x_val``, ``y_val`` (float32; ``y`` one-hot).
    """
    rng = np.random.default_rng(seed)
    projection = rng.standard_normal((REFERENCE_FEATURES, REFERENCE_CLASSES))
    n = n_train + n_val
    x = rng.random((n, REFERENCE_FEATURES)).astype(np.float32)
    # Centre the features so no class wins just because all features are positive.
    scores = (x.astype(np.float64) - 0.5) @ projection
    scores += REFERENCE_LABEL_NOISE * rng.standard_normal(scores.shape)
    y = one_hot(np.argmax(scores, axis=1), REFERENCE_CLASSES)
    return {"x": x[:n_train], "y": y[:n_train], "x_val": x[n_train:], "y_val": y[n_train:]}


def _clean_windows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Draws normal sensor windows: per channel a baseline, two sines and Gaussian noise.

    Args:
        rng: The generator to draw from.
        n: Number of windows.

    Returns:
        Float64 array of shape ``(n, SENSOR_WINDOW, SENSOR_CHANNELS)``.
    """
    shape = (n, 1, SENSOR_CHANNELS)
    t = np.arange(SENSOR_WINDOW, dtype=np.float64)[None, :, None]
    baseline = rng.uniform(-0.5, 0.5, shape)
    # Periods between 8 and 40 steps: at least one visible cycle per 32-step window for most.
    period = rng.uniform(8.0, 40.0, shape)
    phase = rng.uniform(0.0, 2.0 * np.pi, shape)
    amplitude = rng.uniform(0.5, 1.2, shape)
    harmonic = rng.uniform(0.0, 0.3, shape)
    signal = amplitude * np.sin(2.0 * np.pi * t / period + phase)
    signal += harmonic * np.sin(4.0 * np.pi * t / period + 2.0 * phase)
    noise_level = rng.uniform(0.15, 0.25, shape)
    noise = noise_level * rng.standard_normal((n, SENSOR_WINDOW, SENSOR_CHANNELS))
    return baseline + signal + noise


def _add_spike(rng: np.random.Generator, w: np.ndarray) -> None:
    """Adds a one- or two-sample spike of random sign to one channel (in place)."""
    channel = rng.integers(SENSOR_CHANNELS)
    start = rng.integers(1, SENSOR_WINDOW - 2)
    width = rng.integers(1, 3)
    # Heights from 1.0 up: the small ones hide among peaks of signal plus noise.
    height = rng.uniform(1.0, 3.5) * rng.choice((-1.0, 1.0))
    w[start : start + width, channel] += height


def _add_drift(rng: np.random.Generator, w: np.ndarray) -> None:
    """Adds a linear ramp from a random start to the window's end on one channel (in place)."""
    channel = rng.integers(SENSOR_CHANNELS)
    start = rng.integers(0, SENSOR_WINDOW // 2)
    total = rng.uniform(1.5, 4.0) * rng.choice((-1.0, 1.0))
    ramp = np.linspace(0.0, total, SENSOR_WINDOW - start)
    w[start:, channel] += ramp


def _add_dropout(rng: np.random.Generator, w: np.ndarray) -> None:
    """Zeroes a run of samples on one channel, as a sensor that stopped reporting (in place)."""
    channel = rng.integers(SENSOR_CHANNELS)
    length = rng.integers(8, 21)
    start = rng.integers(0, SENSOR_WINDOW - length + 1)
    w[start : start + length, channel] = 0.0


_ANOMALIES = {1: _add_spike, 2: _add_drift, 3: _add_dropout}


def make_sensors(
    n_train: int = SENSOR_TRAIN, n_val: int = SENSOR_VAL, seed: int = SENSOR_SEED
) -> dict[str, np.ndarray]:
    """Builds windows of synthetic 3-channel sensor data with injected anomalies.

    Classes: 0 normal, 1 spike, 2 drift, 3 dropout (a flatline at zero). Classes are balanced
    within each split and shuffled. Each window is drawn independently (as if cut from many
    sensors), so training and validation windows never overlap.

    Args:
        n_train: Training windows.
        n_val: Validation windows.
        seed: Seed for ``numpy.random.default_rng``.

    Returns:
        Arrays ``x`` (n, window, channels), ``y`` one-hot (n, 4), ``x_val``, ``y_val``; float32.
    """
    rng = np.random.default_rng(seed)
    n = n_train + n_val
    labels = np.concatenate(
        [rng.permutation(np.arange(size) % len(SENSOR_CLASSES)) for size in (n_train, n_val)]
    )
    windows = _clean_windows(rng, n)
    for i, label in enumerate(labels):
        if label in _ANOMALIES:
            _ANOMALIES[label](rng, windows[i])
    x = (np.round(windows / SENSOR_RESOLUTION) * SENSOR_RESOLUTION).astype(np.float32)
    y = one_hot(labels, len(SENSOR_CLASSES))
    return {"x": x[:n_train], "y": y[:n_train], "x_val": x[n_train:], "y_val": y[n_train:]}


def write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Writes arrays as an ``.npz`` archive whose bytes depend only on the arrays.

    Args:
        path: Destination file; overwritten.
        arrays: Name to array, written in the mapping's order.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            payload = io.BytesIO()
            np.lib.format.write_array(
                payload, np.ascontiguousarray(array), version=(1, 0), allow_pickle=False
            )
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            # ZipInfo records the host OS and leaves permissions empty; pin both.
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, payload.getvalue())
    path.write_bytes(buffer.getvalue())


def generate(out: Path = HERE) -> list[Path]:
    """Writes every demo data set into a folder.

    Args:
        out: Destination folder; created if missing.

    Returns:
        The files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, arrays in (("reference.npz", make_reference()), ("sensors.npz", make_sensors())):
        path = out / name
        write_npz(path, arrays)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status (0).
    """
    parser = argparse.ArgumentParser(
        prog="python -m weightwatch.demo_data.generate",
        description="Write the weightwatch demo data sets (byte-reproducible).",
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="destination folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(f"{path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
