"""A plotext figure as Textual `Strip`s, straight from plotext's cell matrix.

textual-plotext's `PlotextPlot.render` asks plotext for an ANSI string (plotext writes an escape
sequence for every run of colours), Rich parses it back into styled text, and Textual converts
that text into screen lines: most of a chart's cost on the UI thread, which shares the GIL with
training (docs/performance.md). The cells already hold each character and its colours, so this
reads them directly, with one cached `Style` per colour combination, and gives the lines Textual
would draw from the parsed ANSI text: the same character and style in every cell (without the
per-cell selection offsets: a chart has no text to select). `tests/tui/test_plot_text.py` checks
it cell by cell on real charts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

_WORDS = re.compile(r" +|[^ ]+")


def _rows(plt) -> Iterator[list[tuple[str, Style | None]]]:
    """Build `plt` and yield each row of its cells as runs of (characters, style), top first."""
    plt._set_sizes()
    plt._build_matrix()
    matrix = plt.monitor.matrix
    for row in reversed(range(matrix.rows)):
        colours = list(
            zip(matrix.fullground[row], matrix.style[row], matrix.background[row], strict=True)
        )
        markers, runs, start = matrix.marker[row], [], 0
        for col in range(1, matrix.cols + 1):
            if col == matrix.cols or colours[col] != colours[start]:
                runs.append(("".join(markers[start:col]), _style(*colours[start])))
                start = col
        yield runs


def plot_strips(plt, base: Style, width: int, height: int, first_row: int = 0) -> list[Strip]:
    """Build `plt` and return `height` screen lines of `width` cells on the `base` style.

    Each run of marks and each run of spaces is its own segment carrying its offset, as in
    Textual's own rendering of text: the same cells, and SVG screenshots that place every mark
    where the terminal does (an exporter merges equal neighbours into one stretched run).
    `first_row` is the widget row the figure's top row is drawn on (rows above it are the
    chart's own).
    """
    combined: dict[Style | None, Style] = {}
    strips = []
    for y, runs in enumerate(_rows(plt)):
        segments, x = [], 0
        for text, style in runs:
            full = combined.get(style)
            if full is None:
                full = combined[style] = base + style if style is not None else base
            for part in _WORDS.findall(text):
                segments.append(Segment(part, full + _offset(x, first_row + y)))
                x += len(part)
        strips.append(Strip(segments, x).adjust_cell_length(width, base))
    blank = Strip.blank(width, base)
    return (strips + [blank] * height)[:height]


def cells_strip(runs: list[tuple[str, Style]], base: Style, width: int, y: int) -> Strip:
    """One screen line from runs of (characters, style), split and offset as `plot_strips` does
    (the chart's own rows above plotext's figure: its title, legend and label lane)."""
    segments, x = [], 0
    for text, style in runs:
        full = base + style
        for part in _WORDS.findall(text):
            segments.append(Segment(part, full + _offset(x, y)))
            x += len(part)
    return Strip(segments, x).adjust_cell_length(width, base)


@lru_cache(maxsize=8192)
def _offset(x: int, y: int) -> Style:
    return Style.from_meta({"offset": (x, y)})


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
    style = spans[0].style if spans else None
    return Style.parse(style) if isinstance(style, str) else style
