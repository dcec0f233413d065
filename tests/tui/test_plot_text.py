"""The charts draw plotext's cells directly (plot_text.py): in every cell of the figure the same
character and the same style as Textual's rendering of plotext's own ANSI output, for charts with
lines and markers (the title, legend and marker labels are the chart's own rows above it)."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.visual import Visual, visualize
from weightwatch.tui.widgets.charts import LossChart, NormChart

from .conftest import make_app, running


async def test_chart_lines_are_the_cells_textual_draws_from_plotexts_ansi_output(fake):
    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, fake)
        steps = np.arange(1, 5001, dtype=np.float64)
        fake.telemetry.append_columns(
            steps, {"loss": 1 / np.sqrt(steps) + 0.01 * np.sin(steps), "global_norm": np.log(steps)}
        )
        fake.telemetry.append(2500.0, val_loss=0.1)
        fake.pause()
        fake.boundary()  # a "⏸" marker
        fake.rebuild()  # a RESET marker, at the same step
        fake.resume()
        fake.boundary()
        await pilot.pause()
        app.dashboard.tick(force=True)
        await pilot.pause()
        for chart in (app.dashboard.query_one(LossChart), app.dashboard.query_one(NormChart)):
            assert chart.markers
            width, height = chart.size
            lines = chart.build_lines()  # also sizes and themes the figure, as drawing does
            head = chart.head_rows()  # the title and label lane, drawn above plotext's figure
            ansi = Text.from_ansi(chart.plt.build())
            expected = Visual.to_strips(
                chart, visualize(chart, ansi), width, height - head, chart.visual_style
            )
            assert len(lines) == height and len(expected) == height - head
            for mine, theirs in zip(lines[head:], expected, strict=True):
                assert mine.cell_length == theirs.cell_length == width
                assert _cells(mine) == _cells(theirs)
            text = "\n".join(line.text for line in lines)
            assert "RESET" in text and "⏸" in text and chart.TITLE in text


def _cells(strip) -> list[tuple[str, str]]:
    """Each cell's character and style (colours, bold, ...; not the selection offsets that
    Textual adds as metadata)."""
    return [(ch, str(seg.style)) for seg in strip for ch in seg.text]
