"""A :class:`~.virtual_table.VirtualTable`'s columns: declared, laid out at a width, painted.

Kept out of the widget because it is cell arithmetic on plain values (rich's cell widths and
segments): the table asks "which columns, how wide, at this width" once per resize and "paint
these cells" for each line on screen, and screens declare their columns with :class:`Column`
without pulling in the widget's machinery. The widget owns the state (rows, cursor, scroll) and
the styles of its component classes; this module only turns cells into a line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

Cell = str | tuple[str, str]
"""A cell is its text, or ``(text, style)`` where style names a component class suffix
(``"ok"`` -> ``virtual-table--ok``) so colours stay in the TCSS."""

STYLE_NAMES = ("ok", "bad", "warn", "run", "dim", "accent")
"""The cell styles a cell callback may name (each is a component class of the table)."""

Layout = list[tuple["Column", int]]
"""The columns shown at one table width, each with its width in cells."""


@dataclass(frozen=True)
class Column:
    """One column. ``width == 0`` makes it flexible: flexible columns share what is left."""

    key: str
    """Identifier passed to the cell callback and used for sorting."""
    label: str
    """Header text."""
    width: int = 0
    """Fixed width in cells, or 0 for flexible."""
    align: Literal["left", "right"] = "left"
    """Text alignment inside the column."""
    min_width: int = 8
    """Smallest width of a flexible column."""
    hide_below: int = 0
    """Hide the column when the table is narrower than this (keeps 80 columns readable)."""
    keep_tail: bool = False
    """Truncate on the left (``…/dir/file.txt``): the end of a path says the most."""
    sortable: bool = True
    """Whether clicking the header / the sort key may sort by this column."""
    weight: int = 1
    """A flexible column's share of the width left, relative to the other flexible ones."""


def fit(text: str, width: int, align: str = "left", keep_tail: bool = False) -> str:
    """Pad or truncate ``text`` to exactly ``width`` cells, with an ellipsis when cut."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        if width == 1:
            return "…"
        if keep_tail:
            tail = text[-(width - 1) :]
            while cell_len(tail) > width - 1:
                tail = tail[1:]
            return set_cell_size("…" + tail, width)
        return set_cell_size(text, width - 1) + "…"
    if align == "right":
        return " " * (width - length) + text
    return text + " " * (width - length)


def layout_columns(columns: list[Column], width: int) -> Layout:
    """The columns shown at ``width`` (narrow tables hide some) and their widths: fixed ones
    as declared, flexible ones sharing the rest by :attr:`Column.weight` (one cell between
    columns; a cell left over by the division goes to the first flexible columns)."""
    cols = [c for c in columns if c.hide_below <= width]
    fixed = sum(c.width for c in cols if c.width) + max(0, len(cols) - 1)
    flex = [c for c in cols if not c.width]
    remaining = max(0, width - fixed)
    weights = sum(max(1, c.weight) for c in flex) or 1
    shares = iter([remaining * max(1, c.weight) // weights for c in flex])
    extra = remaining - sum(remaining * max(1, c.weight) // weights for c in flex)
    layout: Layout = []
    for c in cols:
        if c.width:
            layout.append((c, c.width))
        else:
            w = next(shares) + (1 if extra > 0 else 0)
            extra -= 1
            layout.append((c, max(c.min_width if remaining else 0, w)))
    return layout


def column_at(layout: Layout, x: int) -> Column | None:
    """The column under cell ``x`` of a row (its separator on the right included)."""
    pos = 0
    for column, width in layout:
        if pos <= x < pos + width + 1:
            return column
        pos += width + 1
    return None


def cell_text(cell: Cell) -> str:
    """A cell's text without its style."""
    return cell if isinstance(cell, str) else cell[0]


def paint_row(
    layout: Layout,
    width: int,
    cells: Iterable[Cell],
    row_style: Style,
    accent: Callable[[str], Style],
) -> Strip:
    """One row as a line ``width`` cells wide: each cell fitted to its column, a space between
    columns; a cell that names a style gets ``row_style + accent(name)``."""
    segments: list[Segment] = []
    used = 0
    for index, ((column, col_width), cell) in enumerate(zip(layout, cells, strict=False)):
        if index:
            segments.append(Segment(" ", row_style))
            used += 1
        if isinstance(cell, str):
            text, style_name = cell, ""
        else:
            text, style_name = cell
        style = row_style + accent(style_name) if style_name else row_style
        segments.append(Segment(fit(text, col_width, column.align, column.keep_tail), style))
        used += col_width
    if used < width:
        segments.append(Segment(" " * (width - used), row_style))
    return Strip(segments, width).crop(0, width)


def paint_header(
    layout: Layout,
    width: int,
    sort_key: str | None,
    reverse: bool,
    header: Style,
    sorted_style: Style,
) -> Strip:
    """The header line: column labels, the sorted one marked ``▲`` / ``▼``."""
    segments: list[Segment] = []
    used = 0
    for index, (column, col_width) in enumerate(layout):
        if index:
            segments.append(Segment(" ", header))
            used += 1
        label = column.label
        style = header
        if column.key == sort_key:
            label += " ▼" if reverse else " ▲"
            style = sorted_style
        segments.append(Segment(fit(label, col_width, column.align), style))
        used += col_width
    if used < width:
        segments.append(Segment(" " * (width - used), header))
    return Strip(segments, width).crop(0, width)
