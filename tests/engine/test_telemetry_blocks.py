"""Block appends (`Series.extend`, `TelemetryStore.append_columns`) keep exactly the buckets that
appending point by point keeps: the training thread's flush uses them instead of a Python step per
value (benchmarks/, docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from weightwatch.engine.telemetry import Series, TelemetryStore

FIELDS = ("x0", "x1", "lo", "hi", "last", "fill")


def state(s: Series) -> dict:
    return {
        "n": s.n,
        "stride": s.stride,
        "count": s.count,
        **{f: getattr(s, f)[: s.n].tolist() for f in FIELDS},
    }


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(np.asarray(a[k], float), np.asarray(b[k], float), equal_nan=True) for k in a
    )


values = st.one_of(st.floats(-1e6, 1e6), st.just(float("nan")), st.just(float("inf")))


@settings(max_examples=150, deadline=None)
@given(
    ys=st.lists(values, max_size=300),
    cuts=st.lists(st.integers(0, 300), max_size=6),
    capacity=st.sampled_from([4, 6, 8, 16]),
)
def test_extend_in_any_blocks_equals_appending_one_by_one(ys, cuts, capacity):
    one, block = Series(capacity), Series(capacity)
    for x, y in enumerate(ys):
        one.append(float(x), y)
    edges = [0, *sorted(c for c in cuts if c <= len(ys)), len(ys)]
    xs = np.arange(len(ys), dtype=float)
    for a, b in zip(edges, edges[1:], strict=False):
        block.extend(xs[a:b], np.asarray(ys[a:b], dtype=float))
    assert same(state(block), state(one))


def test_a_million_steps_in_blocks_keep_a_spike_and_bounded_buckets():
    s = Series(4096)
    for start in range(0, 1_000_000, 2_000):
        xs = np.arange(start, start + 2_000, dtype=float)
        ys = np.where(xs == 777_777, 50.0, 1.0)
        s.extend(xs, ys)
    assert s.count == 1_000_000 and s.n <= 4096
    _, ys = s.window(None, None, 100)
    assert max(ys) == 50.0 and min(ys) == 1.0


def test_append_columns_bumps_the_version_once_per_block():
    t = TelemetryStore(capacity=8)
    t.append_columns(
        np.array([1.0, 2.0]), {"loss": np.array([2.0, 1.0]), "global_norm": np.array([3.0, 3.5])}
    )
    assert t.version == 1
    assert t.window("loss") == ([1.0, 2.0], [2.0, 1.0])
    assert t.latest("global_norm") == pytest.approx(3.5)


def test_the_store_and_session_import_without_numpy_so_the_first_frame_does_not_wait():
    code = (
        "import sys, weightwatch.engine.session, weightwatch.engine.telemetry; "
        "print('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_metrics_block_writes_the_same_text_as_metrics(tmp_path):
    from weightwatch.engine.runlog import RunLog

    rng = np.random.default_rng(3)
    values = rng.normal(size=(50, 5)) * 10.0 ** rng.integers(-8, 8, size=(50, 5))
    values[3, 0], values[7, 2], values[9, 4] = np.nan, np.inf, -0.0
    steps, model_steps = np.arange(11, 61), np.arange(50, dtype=np.float64)
    # one session id for both: every row ends with it (the `session` column)
    by_row, by_block = RunLog(tmp_path / "a", "s1"), RunLog(tmp_path / "b", "s1")
    by_row.metrics(
        ["h", "o"],
        [
            [s, int(m), 2, 1, *(f"{v:.9g}" for v in row)]
            for s, m, row in zip(steps, model_steps, values, strict=True)
        ],
    )
    by_block.metrics_block(["h", "o"], steps, model_steps, 2, 1, values)
    by_row.close()
    by_block.close()
    a = (tmp_path / "a" / "metrics.csv").read_bytes()
    assert a.count(b"\r\n") == 51 and (tmp_path / "b" / "metrics.csv").read_bytes() == a
