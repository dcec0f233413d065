"""The charts render plotext's cells directly (plot_text.py): the same Text, character for character
and style for style, as parsing plotext's ANSI output, for charts with lines, legend and markers."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from weightwatch.tui.widgets.charts import LossChart, NormChart
from weightwatch.tui.widgets.plot_text import plot_text

from .conftest import make_app, running


async def test_plot_text_equals_the_parsed_ansi_of_the_same_chart(fake):
    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, fake)
        steps = np.arange(1, 5001, dtype=np.float64)
        fake.telemetry.append_columns(
            steps, {"loss": 1 / np.sqrt(steps) + 0.01 * np.sin(steps), "global_norm": np.log(steps)}
        )
        fake.telemetry.append(2500.0, val_loss=0.1)
        fake.rebuild()  # a RESET marker on both charts
        fake.boundary()
        await pilot.pause()
        app.dashboard.tick(force=True)
        await pilot.pause()
        for chart in (app.dashboard.query_one(LossChart), app.dashboard.query_one(NormChart)):
            assert chart.markers
            chart.render()  # size and theme, as the compositor's render sets them
            parsed, direct = Text.from_ansi(chart.plt.build()), plot_text(chart.plt)
            assert direct.plain == parsed.plain
            assert [(s.start, s.end, s.style) for s in direct.spans] == [
                (s.start, s.end, s.style) for s in parsed.spans
            ]


async def test_chart_lines_are_the_cells_textual_would_draw_from_the_text(fake):
    """The screen lines built straight from plotext's cells hold the same character and the
    same colours in every cell as Textual's own rendering of the chart's `Text`."""
    from textual.visual import Visual, visualize

    app = make_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await running(pilot, fake)
        steps = np.arange(1, 3001, dtype=np.float64)
        fake.telemetry.append_columns(
            steps, {"loss": 1 / np.sqrt(steps), "global_norm": np.log(steps)}
        )
        fake.telemetry.append(1500.0, val_loss=0.2)
        fake.rebuild()
        fake.boundary()
        await pilot.pause()
        app.dashboard.tick(force=True)
        await pilot.pause()
        for chart in (app.dashboard.query_one(LossChart), app.dashboard.query_one(NormChart)):
            width, height = chart.size
            expected = Visual.to_strips(chart, visualize(chart, chart.render()), width, height,
                                        chart.visual_style)
            lines = chart.build_lines()
            assert len(lines) == len(expected) == height
            for mine, theirs in zip(lines, expected, strict=True):
                assert mine.cell_length == theirs.cell_length == width
                assert _cells(mine) == _cells(theirs)
            assert any("RESET" in line.text for line in lines)


def _cells(strip) -> list[tuple[str, str]]:
    """Each cell's character and style (colours, bold, ...; not the selection offsets that
    Textual adds as metadata)."""
    return [(ch, str(seg.style)) for seg in strip for ch in seg.text]
