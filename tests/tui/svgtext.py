"""Read the text back out of a Textual SVG screenshot (for assertions and for looking at it)."""

from __future__ import annotations

import html
import re

TEXT = re.compile(
    r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
    r'clip-path="url\(#[^)]*-line-(\d+)\)">([^<]*)</text>'
)
CELL = 12.2  # the width of one terminal cell in Textual's SVG export


def svg_lines(svg: str) -> list[str]:
    """The screen's rows as plain text."""
    rows: dict[int, list[str]] = {}
    for x, line, text in TEXT.findall(svg):
        row = rows.setdefault(int(line), [])
        column = round(float(x) / CELL)
        text = html.unescape(text).replace("\xa0", " ")
        if len(row) < column:
            row.extend(" " * (column - len(row)))
        row[column : column + len(text)] = list(text)
    return ["".join(rows.get(i, [])).rstrip() for i in range(max(rows, default=-1) + 1)]


def svg_text(svg: str) -> str:
    return "\n".join(svg_lines(svg))
