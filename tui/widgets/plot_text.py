"""A plotext figure as Rich `Text`, straight from plotext's cell matrix.

`PlotextPlot.render` asks plotext for an ANSI string (plotext writes an escape sequence for every
run of colours) and Rich parses it back into styled text: about half of a chart's render time on
the UI thread, which shares the GIL with training (docs/performance.md). The cells already hold
each character and its colours, so this reads them directly, with one cached `Style` per colour
combination. The result is the same `Text` (same characters, same styles) as
`Text.from_ansi(plt.build())`; `tests/tui/test_plot_text.py` checks it on real charts.
"""

from __future__ import annotations

from functools import lru_cache

from rich.style import Style
from rich.text import Text


def plot_text(plt) -> Text:
    """Build `plt` (a plotext figure) and return it as `Text`, as `Text.from_ansi` would."""
    plt._set_sizes()
    plt._build_matrix()
    matrix = plt.monitor.matrix
    lines = []
    for row in reversed(range(matrix.rows)):
        colours = list(
            zip(matrix.fullground[row], matrix.style[row], matrix.background[row], strict=True)
        )
        markers, line, start = matrix.marker[row], Text(), 0
        for col in range(1, matrix.cols + 1):
            if col == matrix.cols or colours[col] != colours[start]:
                line.append("".join(markers[start:col]), _style(*colours[start]))
                start = col
        lines.append(line)
    lines.append(Text())  # plotext ends every row with a newline, the last one too
    return Text("\n").join(lines)


def _style(fullground, style, background) -> Style | None:
    return _cached_style(
        *(tuple(c) if isinstance(c, list) else c for c in (fullground, style, background))
    )


@lru_cache(maxsize=512)
def _cached_style(fullground, style, background) -> Style | None:
    """The style Rich decodes from plotext's escape sequence for these colours."""
    from plotext._utility import colors_to_ansi

    prefix = colors_to_ansi(fullground, style, background)
    if not prefix:
        return None
    spans = Text.from_ansi(prefix + "x").spans
    return spans[0].style if spans else None
