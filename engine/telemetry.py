"""Bounded, thread-safe telemetry store with min/max decimation.

The training thread appends values keyed by session step; the UI pulls decimated windows on a
timer. Memory is fixed: each series keeps at most `capacity` buckets, and when they fill up, pairs
of neighbouring buckets merge (the stride doubles), so a million steps cost what ten thousand do.
Each bucket keeps the min, max and last value of the steps it covers, so spikes (a reset's jump in
the weight norm, a loss blow-up) survive decimation.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

# numpy is imported by the first Series, not here: the UI imports this module before its first
# frame, and numpy's ~80 ms import would delay that frame (DESIGN.md, "first frame fast"). Series
# only exist once training has started, and the training thread has imported numpy by then.
np: Any = None

DEFAULT_CAPACITY = 4096
LOG_BLOCKS = 512  # appended blocks kept for remote viewers' `since` pulls (a few per second)
LOG_VALUES = 1 << 22  # and at most this many values in them (32 MiB); older cursors resync
STATE_FIELDS = ("x0", "x1", "lo", "hi", "last", "fill")


def _numpy() -> Any:
    global np
    if np is None:
        import numpy

        np = numpy
    return np


class Series:
    """One decimated series: fixed arrays of buckets, each covering `stride` points."""

    __slots__ = ("capacity", "stride", "n", "x0", "x1", "lo", "hi", "last", "fill", "count")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 4 or capacity % 2:
            raise ValueError(f"capacity must be an even number >= 4. Received: capacity={capacity}")
        _numpy()
        self.capacity = capacity
        self.stride = 1
        self.n = 0  # buckets in use
        self.count = 0  # points ever appended
        self.x0 = np.zeros(capacity)
        self.x1 = np.zeros(capacity)
        self.lo = np.zeros(capacity)
        self.hi = np.zeros(capacity)
        self.last = np.zeros(capacity)
        self.fill = np.zeros(capacity, dtype=np.int64)

    def append(self, x: float, y: float) -> None:
        """Add one point; x must not decrease."""
        self.count += 1
        i = self.n - 1
        if i >= 0 and self.fill[i] < self.stride:
            self.x1[i] = x
            if y < self.lo[i] or self.lo[i] != self.lo[i]:
                self.lo[i] = y
            if y > self.hi[i] or self.hi[i] != self.hi[i]:
                self.hi[i] = y
            self.last[i] = y
            self.fill[i] += 1
            return
        if self.n == self.capacity:
            self._halve()
        i = self.n
        self.x0[i] = self.x1[i] = x
        self.lo[i] = self.hi[i] = self.last[i] = y
        self.fill[i] = 1
        self.n += 1

    def extend(self, xs, ys) -> None:
        """Add many points at once (x must not decrease): the same buckets as appending them one
        by one, with numpy doing the work instead of a Python step per point."""
        xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        k, total = 0, len(xs)
        self.count += total
        while k < total:
            i = self.n - 1
            if i >= 0 and self.fill[i] < self.stride:  # top up the last bucket
                take = min(self.stride - int(self.fill[i]), total - k)
                part = ys[k : k + take]
                self.x1[i] = xs[k + take - 1]
                self.lo[i] = np.fmin(self.lo[i], np.fmin.reduce(part))
                self.hi[i] = np.fmax(self.hi[i], np.fmax.reduce(part))
                self.last[i] = part[-1]
                self.fill[i] += take
                k += take
            elif self.n == self.capacity:
                self._halve()  # every bucket is full now, at twice the stride
            else:
                k += self._new_buckets(xs[k:], ys[k:])

    def _new_buckets(self, xs, ys) -> int:
        """Fill as many new buckets as fit from the points given; returns how many were used."""
        stride = self.stride
        take = min(len(xs), (self.capacity - self.n) * stride)
        starts = np.arange(0, take, stride)
        ends = np.minimum(starts + stride, take) - 1
        new = slice(self.n, self.n + len(starts))
        self.x0[new], self.x1[new] = xs[starts], xs[ends]
        self.lo[new] = np.fmin.reduceat(ys[:take], starts)
        self.hi[new] = np.fmax.reduceat(ys[:take], starts)
        self.last[new] = ys[ends]
        self.fill[new] = ends - starts + 1
        self.n += len(starts)
        return take

    def _halve(self) -> None:
        """Merge neighbouring buckets pairwise; the stride doubles."""
        h = self.capacity // 2
        a, b = slice(0, self.capacity, 2), slice(1, self.capacity, 2)
        self.x0[:h] = self.x0[a]
        self.x1[:h] = self.x1[b]
        self.lo[:h] = np.fmin(self.lo[a], self.lo[b])
        self.hi[:h] = np.fmax(self.hi[a], self.hi[b])
        self.last[:h] = self.last[b]
        self.fill[:h] = self.fill[a] + self.fill[b]
        self.n = h
        self.stride *= 2

    def latest(self) -> float | None:
        return float(self.last[self.n - 1]) if self.n else None

    def window(self, x_min: float | None, x_max: float | None, width: int) -> tuple[list, list]:
        """Points in [x_min, x_max] decimated to about `width` columns as a min/max envelope.

        Returns (xs, ys) ready to draw as one line: each column contributes its min and its max
        (in the order they happened is unknown, so min first), so a spike stays visible.
        """
        n = self.n
        if not n:
            return [], []
        x0, x1 = self.x0[:n], self.x1[:n]
        lo_i = 0 if x_min is None else int(np.searchsorted(x1, x_min, side="left"))
        hi_i = n if x_max is None else int(np.searchsorted(x0, x_max, side="right"))
        if hi_i <= lo_i:
            return [], []
        xs0, xs1 = x0[lo_i:hi_i], x1[lo_i:hi_i]
        lo, hi = self.lo[lo_i:hi_i], self.hi[lo_i:hi_i]
        k = hi_i - lo_i
        width = max(1, width)
        if k <= width and self.stride == 1:
            return xs0.tolist(), self.last[lo_i:hi_i].tolist()
        cols = max(1, min(width, k))
        edges = np.linspace(0, k, cols + 1).astype(np.int64)
        starts = edges[:-1][np.diff(edges) > 0]
        ends = np.append(starts[1:], k)
        col_lo = np.fmin.reduceat(lo, starts)
        col_hi = np.fmax.reduceat(hi, starts)
        col_x0 = xs0[starts]
        col_x1 = xs1[ends - 1]
        xs = np.empty(2 * len(starts))
        ys = np.empty(2 * len(starts))
        xs[0::2], xs[1::2] = col_x0, col_x1
        ys[0::2], ys[1::2] = col_lo, col_hi
        return xs.tolist(), ys.tolist()

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.x0, self.x1, self.lo, self.hi, self.last, self.fill))

    def state(self) -> dict[str, Any]:
        """The buckets in use as plain data (a remote viewer's snapshot; docs/protocol.md)."""
        n = self.n
        out: dict[str, Any] = {"capacity": self.capacity, "stride": self.stride}
        out.update(count=self.count, n=n)
        out.update({k: getattr(self, k)[:n].tolist() for k in STATE_FIELDS})
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Series:
        """A series from `state()`'s plain data, checked (it came over a socket): ValueError."""
        try:
            s = cls(int(state["capacity"]))
            n, stride, count = int(state["n"]), int(state["stride"]), int(state["count"])
            if not (0 <= n <= s.capacity and stride >= 1 and count >= 0):
                raise ValueError(f"n={n}, stride={stride}, count={count}")
            for k in STATE_FIELDS:
                values = state[k]
                if not isinstance(values, list) or len(values) != n:
                    raise ValueError(f"{k}: expected a list of {n} numbers")
                getattr(s, k)[:n] = values
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a series state: {type(e).__name__} {e}") from None
        s.n, s.stride, s.count = n, stride, count
        return s


class TelemetryStore:
    """All series of a session, behind one lock; `version` changes on every write."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._series: dict[str, Series] = {}
        self.version = 0
        self.layer_names: list[str] = []
        # What was appended, block by block, for remote viewers' `since` pulls: references to
        # the arrays the training thread made (no copy on its path), bounded by LOG_*.
        self._log: deque[tuple[Any, Mapping[str, Any]]] = deque()
        self._log_values = 0
        self.cursor = 0  # blocks ever appended; the log holds the last len(self._log)

    def _get(self, name: str) -> Series:
        s = self._series.get(name)
        if s is None:
            s = self._series[name] = Series(self._capacity)
        return s

    def append_rows(self, rows: Iterable[tuple[float, dict[str, float]]]) -> None:
        """Append (x, {series: value}) rows in x order."""
        with self._lock:
            for x, values in rows:
                for name, y in values.items():
                    self._get(name).append(x, y)
                self._logged([x], {name: [y] for name, y in values.items()})
            self.version += 1

    def append_columns(self, xs, columns: Mapping[str, Any]) -> None:
        """Append a block of steps: `xs` (non-decreasing) and, per series, one value per x."""
        with self._lock:
            for name, ys in columns.items():
                self._get(name).extend(xs, ys)
            self._logged(xs, columns)
            self.version += 1

    def _logged(self, xs, columns: Mapping[str, Any]) -> None:
        """Keep the block for `since` (under the lock): an append and, rarely, a trim."""
        self._log.append((xs, columns))
        self.cursor += 1
        self._log_values += _values(xs, columns)
        while len(self._log) > LOG_BLOCKS or self._log_values > LOG_VALUES:
            self._log_values -= _values(*self._log.popleft())

    def append(self, x: float, **values: float) -> None:
        self.append_rows([(x, values)])

    def set_layer_names(self, names: list[str]) -> None:
        with self._lock:
            self.layer_names = list(names)
            self.version += 1

    def names(self) -> list[str]:
        with self._lock:
            return list(self._series)

    def window(
        self, name: str, x_min: float | None = None, x_max: float | None = None, width: int = 200
    ) -> tuple[list, list]:
        with self._lock:
            s = self._series.get(name)
            return s.window(x_min, x_max, width) if s else ([], [])

    def latest(self, name: str) -> float | None:
        with self._lock:
            s = self._series.get(name)
            return s.latest() if s else None

    def last_x(self) -> float | None:
        with self._lock:
            xs = [s.x1[s.n - 1] for s in self._series.values() if s.n]
            return float(max(xs)) if xs else None

    def nbytes(self) -> int:
        with self._lock:
            return sum(s.nbytes() for s in self._series.values())

    # ----- remote viewers (engine/remote/server.py; docs/protocol.md "Telemetry") ------------
    def snapshot(self) -> dict[str, Any]:
        """Every series' state and the cursor to pull from next, as plain data."""
        with self._lock:
            series = {name: s.state() for name, s in self._series.items()}
            return {"cursor": self.cursor, "layer_names": list(self.layer_names), "series": series}

    def since(self, cursor: int) -> dict[str, Any]:
        """The blocks appended since `cursor` (a `snapshot` or `since` result's), or
        `{resync: true}` when the log no longer holds them (or the cursor is not ours)."""
        got = self.raw_since(cursor)
        if got is None:
            return {"resync": True, "cursor": self.cursor}
        head, blocks = got
        # Lists made outside the lock: the training thread never waits for a viewer's pull.
        return {**head, "blocks": [plain_block(xs, cols) for xs, cols in blocks]}

    def raw_since(self, cursor: int) -> tuple[dict[str, Any], list[tuple[Any, Any]]] | None:
        """`since`'s head and its blocks as appended (block `cursor + i` is the i-th), None for
        a resync: a server converts and encodes each block once for all its viewers."""
        with self._lock:
            kept = len(self._log)
            if not self.cursor - kept <= cursor <= self.cursor:
                return None
            blocks = (
                list(self._log)[kept - (self.cursor - cursor) :] if cursor < self.cursor else []
            )
            return {"cursor": self.cursor, "layer_names": list(self.layer_names)}, blocks

    def load_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Replace every series with a `snapshot()`'s (a remote viewer's store): ValueError for
        one that is not well formed, and then nothing changed."""
        series = {str(name): Series.from_state(st) for name, st in snapshot["series"].items()}
        names = [str(n) for n in snapshot.get("layer_names") or []]
        with self._lock:
            self._series = series
            self.layer_names = names
            self._log.clear()
            self._log_values = 0
            self.cursor = int(snapshot.get("cursor") or 0)
            self.version += 1


def _values(xs, columns: Mapping[str, Any]) -> int:
    return len(xs) * (1 + len(columns))


def plain_block(xs, columns: Mapping[str, Any]) -> dict[str, Any]:
    return {"x": _floats(xs), "columns": {k: _floats(v) for k, v in columns.items()}}


def _floats(values) -> list[float]:
    tolist = getattr(values, "tolist", None)
    return [float(v) for v in (tolist() if tolist else values)]
