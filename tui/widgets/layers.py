"""Per-layer weight norms: the current value and a small trend, one row per layer."""

from __future__ import annotations

from textual.widgets import DataTable
from weightwatch.engine.telemetry import TelemetryStore

SPARKS = "▁▂▃▄▅▆▇█"
TREND_WIDTH = 14


def sparkline(values: list[float]) -> str:
    """A text sparkline (`▁▃▅█`); flat series draw at the bottom."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(SPARKS[min(7, int((v - lo) / span * 8))] for v in values)


def trend(ys: list[float], width: int) -> list[float]:
    """Up to `width` values from a min/max envelope (its pairs collapse to their mean)."""
    if len(ys) > width:
        ys = [(a + b) / 2 for a, b in zip(ys[0::2], ys[1::2], strict=False)]
    return ys[-width:]


class LayerNorms(DataTable):
    """A row per layer: its name, its current L2 norm and its recent trend."""

    def on_mount(self) -> None:
        self.cursor_type = "none"
        # Fixed widths for the changing columns: updating them then needs no layout pass.
        self.add_column("layer")
        self.add_column("norm", width=9)
        self.add_column("trend", width=TREND_WIDTH)

    def pull(self, telemetry: TelemetryStore, x_range: tuple[float, float]) -> None:
        """Refresh from the telemetry's `layer/<i>` series."""
        names = telemetry.layer_names
        if len(self.rows) != len(names):
            self.clear()
            for i, name in enumerate(names):
                self.add_row(name, "", "", key=str(i))
        columns = list(self.columns)
        for i in range(len(names)):
            latest = telemetry.latest(f"layer/{i}")
            _, ys = telemetry.window(f"layer/{i}", *x_range, width=TREND_WIDTH)
            value = "-" if latest is None else f"{latest:.4g}"
            self.update_cell(str(i), columns[1], value)
            self.update_cell(str(i), columns[2], sparkline(trend(ys, TREND_WIDTH)))
