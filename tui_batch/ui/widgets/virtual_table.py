"""A line-API table that renders only the rows on screen.

Textual's DataTable builds and measures every row up front (seconds for 100,000 rows) and
keeps a renderable per cell. A batch job's task list and a big preview can hold hundreds of
thousands of rows that change many times per second, so this table keeps no per-row state at
all: a :class:`~.row_view.RowView` holds the row objects and the view over them (indexes, in
filter and sort order, and the cursor), and this widget renders a row's cells with a callback
only when that row is on screen. Repainting after thousands of task updates costs the same as
repainting one screenful.

This module is the Textual side: keys, mouse, scrolling, component styles and the messages
(:mod:`.table_messages`) it sends. The view model is :mod:`.row_view`; column widths, text
fitting and turning a row's cells into a line are :mod:`.columns`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from . import table_messages
from .columns import (
    STYLE_NAMES,
    Cell,
    Column,
    Layout,
    cell_text,
    column_at,
    fit,
    layout_columns,
    paint_header,
    paint_row,
)
from .row_view import RowView

__all__ = ["STYLE_NAMES", "Cell", "Column", "VirtualTable", "fit"]

T = TypeVar("T")

_BOLD = Style(bold=True)


def _bold(name: str) -> Style:
    """Styled cells on the cursor row: bold (their colour would fight the cursor's)."""
    return _BOLD


class VirtualTable(ScrollView, Generic[T], can_focus=True):
    """A fast, sortable, filterable table over any sequence of row objects."""

    ALLOW_MAXIMIZE = True

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--header-sorted",
        "virtual-table--cursor",
        *(f"virtual-table--{name}" for name in STYLE_NAMES),
    }

    DEFAULT_CSS = """
    VirtualTable {
        overflow-x: hidden;
        overflow-y: auto;
        height: 1fr;
    }
    VirtualTable > .virtual-table--header { text-style: bold; background: $panel; }
    VirtualTable > .virtual-table--header-sorted { text-style: bold underline; background: $panel; }
    VirtualTable > .virtual-table--cursor { background: $block-cursor-blurred-background; }
    VirtualTable:focus > .virtual-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
    }
    VirtualTable > .virtual-table--ok { color: $success; }
    VirtualTable > .virtual-table--bad { color: $error; }
    VirtualTable > .virtual-table--warn { color: $warning; }
    VirtualTable > .virtual-table--run { color: $accent; }
    VirtualTable > .virtual-table--dim { color: $text-muted; }
    VirtualTable > .virtual-table--accent { color: $primary; text-style: bold; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    CursorMoved = table_messages.CursorMoved
    Selected = table_messages.Selected
    SortChanged = table_messages.SortChanged

    def __init__(
        self,
        columns: Sequence[Column],
        cell: Callable[[T, str], Cell],
        *,
        sort_keys: dict[str, Callable[[T], Any]] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: list[Column] = list(columns)
        """All columns, hidden ones included."""
        self._cell = cell
        self._rows: RowView[T] = RowView(cell, sort_keys)
        self._layout: Layout = []
        self._layout_width = -1
        self._last_cursor_item: Any = None
        self.empty_text = "nothing to show"
        """Shown on the first row when the view is empty."""

    # ------------------------------------------------------------------ data
    @property
    def source(self) -> Sequence[T]:
        """The unfiltered rows."""
        return self._rows.source

    @property
    def _source(self) -> Sequence[T]:
        """The unfiltered rows, under the name they had before the view model moved out."""
        return self._rows.source

    @property
    def sort_key(self) -> str | None:
        """Column the view is sorted by (None = source order)."""
        return self._rows.sort_key

    @property
    def sort_reverse(self) -> bool:
        """Whether the sort is descending."""
        return self._rows.sort_reverse

    @property
    def row_count(self) -> int:
        """Rows in the current (filtered) view."""
        return self._rows.row_count

    @property
    def cursor_row(self) -> int:
        """Index of the highlighted row in the view."""
        return self._rows.cursor

    @property
    def cursor_item(self) -> T | None:
        """The highlighted row object, or None when the view is empty."""
        return self._rows.cursor_item

    def view_items(self) -> list[T]:
        """The rows of the current view, in display order (for tests and exports)."""
        return self._rows.view_items()

    def item_at(self, row: int) -> T | None:
        """The row object at view index ``row``."""
        return self._rows.item_at(row)

    def set_rows(self, rows: Sequence[T], keep_cursor: bool = False) -> None:
        """Show a new sequence of rows (kept by reference; call :meth:`rebuild` if it grows)."""
        self._rows.source = rows
        self.rebuild(keep_cursor=keep_cursor)

    def set_filter(self, predicate: Callable[[T], bool] | None) -> None:
        """Show only the rows for which ``predicate`` is true (None shows all)."""
        self._rows.filter = predicate
        self.rebuild()

    def set_sort_key(self, key: str, func: Callable[[T], Any]) -> None:
        """Define how a column sorts (defaults to its cell text)."""
        self._rows.set_sort_key(key, func)

    def sort_by(self, key: str | None, reverse: bool | None = None) -> None:
        """Sort by a column; sorting by the current column again flips the direction."""
        rows = self._rows
        if reverse is None:
            reverse = (not rows.sort_reverse) if key == rows.sort_key else False
        rows.sort_key = key
        rows.sort_reverse = reverse
        self.rebuild()
        self.post_message(self.SortChanged(self, key, reverse))

    def cycle_sort(self) -> None:
        """Sort by the next sortable column (keyboard equivalent of clicking headers)."""
        keys = [c.key for c, _ in self._layout if c.sortable] or [
            c.key for c in self.columns if c.sortable
        ]
        if not keys:
            return
        if self.sort_key in keys:
            idx = keys.index(self.sort_key) + 1
            self.sort_by(keys[idx] if idx < len(keys) else None, reverse=False)
        else:
            self.sort_by(keys[0], reverse=False)

    def rebuild(self, keep_cursor: bool = True) -> None:
        """Recompute the view (filter + sort) and keep the cursor on the same row object."""
        self._rows.rebuild(keep_cursor)
        self._update_virtual_size()
        self._scroll_cursor_into_view()
        self.refresh()
        self._announce_cursor(force=True)

    def update_rows(self, indexes: Collection[int]) -> None:
        """The rows at these source indexes changed: re-check just them against the filter
        and the sort, so a row leaves (or joins, or moves in) the view at once. Costs a pass
        over the view, not over every row as :meth:`rebuild` does."""
        if not indexes or not self._rows.arranged:
            self.refresh()
            return
        if self._rows.replace_rows(indexes):
            self._update_virtual_size()
        self._scroll_cursor_into_view()
        self.refresh()
        self._announce_cursor()

    def refresh_rows(self) -> None:
        """Repaint the visible rows (their data changed); cheap, whatever the row count."""
        self.refresh()

    def visible_items(self) -> list[T]:
        """Row objects currently on screen (to decide whether a repaint is needed)."""
        top = int(self.scroll_offset.y)
        height = max(0, self.size.height - 1)
        return self._rows.window(top, height)

    # ---------------------------------------------------------------- cursor
    def move_cursor(self, row: int) -> None:
        """Highlight view row ``row`` (clamped) and scroll it into view."""
        if not self._rows.row_count:
            self._rows.move_cursor(row)
            self.refresh()
            self._announce_cursor()
            return
        if self._rows.move_cursor(row):
            self.refresh()
        self._scroll_cursor_into_view()
        self._announce_cursor()

    def _announce_cursor(self, force: bool = False) -> None:
        item = self.cursor_item
        if force or item is not self._last_cursor_item:
            self._last_cursor_item = item
            self.post_message(self.CursorMoved(self, item))

    def _page(self) -> int:
        return max(1, self.size.height - 2)

    def _scroll_cursor_into_view(self) -> None:
        height = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        cursor = self._rows.cursor
        if cursor < top:
            self.scroll_to(y=cursor, animate=False, immediate=True)
        elif cursor >= top + height:
            self.scroll_to(y=cursor - height + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._rows.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._rows.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._rows.cursor - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(self._rows.cursor + self._page())

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self._rows.row_count - 1)

    def action_select(self) -> None:
        item = self.cursor_item
        if item is not None:
            self.post_message(self.Selected(self, item))

    # ------------------------------------------------------------------ mouse
    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        if offset.y == 0:
            column = column_at(self._layout, offset.x)
            if column is not None and column.sortable:
                self.sort_by(column.key)
            return
        row = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= row < self._rows.row_count:
            self.move_cursor(row)
            if event.chain >= 2:
                self.action_select()

    # ----------------------------------------------------------------- layout
    def _on_resize(self, event: events.Resize) -> None:
        self._layout_width = -1
        self._update_virtual_size()
        self._scroll_cursor_into_view()

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self.content_width, self._rows.row_count + 1)

    def _compute_layout(self, width: int) -> Layout:
        if width != self._layout_width:
            self._layout = layout_columns(self.columns, width)
            self._layout_width = width
        return self._layout

    # ----------------------------------------------------------------- render
    @property
    def content_width(self) -> int:
        """Width available to the columns (the vertical scrollbar excluded)."""
        width = self.scrollable_content_region.width
        return width if width > 0 else self.size.width

    def render_line(self, y: int) -> Strip:
        width = self.content_width
        layout = self._compute_layout(width)
        base = self.rich_style
        if y == 0:
            return self._render_header(layout, width, base)
        rows = self._rows
        row = int(self.scroll_offset.y) + y - 1
        if row >= len(rows.view):
            if row == 0 and self.empty_text:
                dim = base + self.get_component_rich_style("virtual-table--dim", partial=True)
                return Strip([Segment(fit(" " + self.empty_text, width), dim)], width)
            return Strip.blank(width, base)
        item = rows.source[rows.view[row]]
        cell = self._cell
        cells = [cell(item, column.key) for column, _ in layout]
        if row == rows.cursor:
            row_style = base + self.get_component_rich_style("virtual-table--cursor")
            return paint_row(layout, width, cells, row_style, _bold)
        return paint_row(layout, width, cells, base, self._cell_style)

    def _cell_style(self, name: str) -> Style:
        return self.get_component_rich_style(f"virtual-table--{name}", partial=True)

    def _render_header(self, layout: Layout, width: int, base: Style) -> Strip:
        return paint_header(
            layout,
            width,
            self.sort_key,
            self.sort_reverse,
            base + self.get_component_rich_style("virtual-table--header"),
            base + self.get_component_rich_style("virtual-table--header-sorted"),
        )

    def header_text(self) -> str:
        """The header as plain text (for tests)."""
        width = self.content_width
        return self._render_header(self._compute_layout(width), width, Style()).text

    def row_text(self, row: int) -> str:
        """A view row as plain text, as it would be drawn (for tests)."""
        layout = self._compute_layout(self.content_width or 80)
        item = self.item_at(row)
        if item is None:
            return ""
        parts = []
        for column, col_width in layout:
            text = cell_text(self._cell(item, column.key))
            parts.append(fit(text, col_width, column.align, column.keep_tail))
        return " ".join(parts)
