"""A line-API table that renders only the rows on screen.

Textual's DataTable builds and measures every row up front (seconds for 100,000 rows) and
keeps a renderable per cell. A batch job's task list and a big preview can hold hundreds of
thousands of rows that change many times per second, so this table keeps no per-row state at
all: it holds a sequence of row objects, a list of indexes into it (the filtered, sorted view)
and renders a row's cells with a callback only when that row is on screen. Repainting after
thousands of task updates costs the same as repainting one screenful.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .view_update import updated_view

T = TypeVar("T")

Cell = str | tuple[str, str]
"""A cell is its text, or ``(text, style)`` where style names a component class suffix
(``"ok"`` -> ``virtual-table--ok``) so colours stay in the TCSS."""

STYLE_NAMES = ("ok", "bad", "warn", "run", "dim", "accent")


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

    class CursorMoved(Message):
        """The highlighted row changed (also sent when the row under the cursor changes)."""

        def __init__(self, table: VirtualTable[Any], item: Any) -> None:
            super().__init__()
            self.table = table
            """The table that sent it."""
            self.item = item
            """The row object under the cursor, or None when the view is empty."""

        @property
        def control(self) -> VirtualTable[Any]:
            return self.table

    class Selected(Message):
        """Enter or double click on a row."""

        def __init__(self, table: VirtualTable[Any], item: Any) -> None:
            super().__init__()
            self.table = table
            """The table that sent it."""
            self.item = item
            """The selected row object."""

        @property
        def control(self) -> VirtualTable[Any]:
            return self.table

    class SortChanged(Message):
        """The user sorted by another column (header click or key)."""

        def __init__(self, table: VirtualTable[Any], key: str | None, reverse: bool) -> None:
            super().__init__()
            self.table = table
            """The table that sent it."""
            self.key = key
            """Column key sorted by, or None for source order."""
            self.reverse = reverse
            """Descending order."""

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
        self._sort_keys = dict(sort_keys or {})
        self._source: Sequence[T] = []
        self._view: list[int] = []
        self._filter: Callable[[T], bool] | None = None
        self.sort_key: str | None = None
        """Column the view is sorted by (None = source order)."""
        self.sort_reverse = False
        """Whether the sort is descending."""
        self._cursor = 0
        self._layout: list[tuple[Column, int]] = []
        self._layout_width = -1
        self._last_cursor_item: Any = None
        self.empty_text = "nothing to show"
        """Shown on the first row when the view is empty."""

    # ------------------------------------------------------------------ data
    @property
    def source(self) -> Sequence[T]:
        """The unfiltered rows."""
        return self._source

    @property
    def row_count(self) -> int:
        """Rows in the current (filtered) view."""
        return len(self._view)

    @property
    def cursor_row(self) -> int:
        """Index of the highlighted row in the view."""
        return self._cursor

    @property
    def cursor_item(self) -> T | None:
        """The highlighted row object, or None when the view is empty."""
        if 0 <= self._cursor < len(self._view):
            return self._source[self._view[self._cursor]]
        return None

    def view_items(self) -> list[T]:
        """The rows of the current view, in display order (for tests and exports)."""
        return [self._source[i] for i in self._view]

    def item_at(self, row: int) -> T | None:
        """The row object at view index ``row``."""
        if 0 <= row < len(self._view):
            return self._source[self._view[row]]
        return None

    def set_rows(self, rows: Sequence[T], keep_cursor: bool = False) -> None:
        """Show a new sequence of rows (kept by reference; call :meth:`rebuild` if it grows)."""
        self._source = rows
        self.rebuild(keep_cursor=keep_cursor)

    def set_filter(self, predicate: Callable[[T], bool] | None) -> None:
        """Show only the rows for which ``predicate`` is true (None shows all)."""
        self._filter = predicate
        self.rebuild()

    def set_sort_key(self, key: str, func: Callable[[T], Any]) -> None:
        """Define how a column sorts (defaults to its cell text)."""
        self._sort_keys[key] = func

    def sort_by(self, key: str | None, reverse: bool | None = None) -> None:
        """Sort by a column; sorting by the current column again flips the direction."""
        if reverse is None:
            reverse = (not self.sort_reverse) if key == self.sort_key else False
        self.sort_key = key
        self.sort_reverse = reverse
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
        current = (
            self._view[self._cursor] if keep_cursor and self._cursor < len(self._view) else None
        )
        source = self._source
        pred = self._filter
        if pred is None:
            view = list(range(len(source)))
        else:
            view = [i for i, row in enumerate(source) if pred(row)]
        func = self._sort_func()
        if func is not None:
            view.sort(key=lambda i: func(source[i]), reverse=self.sort_reverse)
        self._view = view
        if current is not None:
            try:
                self._cursor = view.index(current)
            except ValueError:
                self._cursor = min(self._cursor, max(0, len(view) - 1))
        else:
            self._cursor = 0 if not keep_cursor else min(self._cursor, max(0, len(view) - 1))
        self._update_virtual_size()
        self._scroll_cursor_into_view()
        self.refresh()
        self._announce_cursor(force=True)

    def _sort_func(self) -> Callable[[T], Any] | None:
        """The key of the current sort (a column without one sorts by its cell text)."""
        key = self.sort_key
        if key is None:
            return None
        func = self._sort_keys.get(key)
        if func is None:

            def func(row: T, _k: str = key) -> Any:
                cell = self._cell(row, _k)
                return cell if isinstance(cell, str) else cell[0]

        return func

    def update_rows(self, indexes: Collection[int]) -> None:
        """The rows at these source indexes changed: re-check just them against the filter
        and the sort, so a row leaves (or joins, or moves in) the view at once. Costs a pass
        over the view, not over every row as :meth:`rebuild` does."""
        if not indexes or (self._filter is None and self.sort_key is None):
            self.refresh()
            return
        current = self._view[self._cursor] if self._cursor < len(self._view) else None
        view = updated_view(
            self._view, self._source, indexes, self._filter, self._sort_func(), self.sort_reverse
        )
        resized = len(view) != len(self._view)
        self._view = view
        if current is not None and not (
            self._cursor < len(view) and view[self._cursor] == current
        ):  # rows above the cursor came or went: follow its row, or stay put if it left
            try:
                self._cursor = view.index(current)
            except ValueError:
                self._cursor = min(self._cursor, max(0, len(view) - 1))
        if resized:
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
        return [self._source[i] for i in self._view[top : top + height]]

    # ---------------------------------------------------------------- cursor
    def move_cursor(self, row: int) -> None:
        """Highlight view row ``row`` (clamped) and scroll it into view."""
        if not self._view:
            self._cursor = 0
            self.refresh()
            self._announce_cursor()
            return
        row = max(0, min(row, len(self._view) - 1))
        if row != self._cursor:
            self._cursor = row
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
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + self._page())

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._view) - 1)

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
            column = self._column_at(offset.x)
            if column is not None and column.sortable:
                self.sort_by(column.key)
            return
        row = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= row < len(self._view):
            self.move_cursor(row)
            if event.chain >= 2:
                self.action_select()

    def _column_at(self, x: int) -> Column | None:
        pos = 0
        for column, width in self._layout:
            if pos <= x < pos + width + 1:
                return column
            pos += width + 1
        return None

    # ----------------------------------------------------------------- layout
    def _on_resize(self, event: events.Resize) -> None:
        self._layout_width = -1
        self._update_virtual_size()
        self._scroll_cursor_into_view()

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self.content_width, len(self._view) + 1)

    def _compute_layout(self, width: int) -> list[tuple[Column, int]]:
        if width == self._layout_width:
            return self._layout
        cols = [c for c in self.columns if c.hide_below <= width]
        fixed = sum(c.width for c in cols if c.width) + max(0, len(cols) - 1)
        flex = [c for c in cols if not c.width]
        remaining = max(0, width - fixed)
        layout: list[tuple[Column, int]] = []
        share = remaining // len(flex) if flex else 0
        extra = remaining - share * len(flex) if flex else 0
        for c in cols:
            if c.width:
                layout.append((c, c.width))
            else:
                w = share + (1 if extra > 0 else 0)
                extra -= 1
                layout.append((c, max(c.min_width if remaining else 0, w)))
        self._layout = layout
        self._layout_width = width
        return layout

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
        row = int(self.scroll_offset.y) + y - 1
        if row >= len(self._view):
            if row == 0 and self.empty_text:
                dim = base + self.get_component_rich_style("virtual-table--dim", partial=True)
                return Strip([Segment(fit(" " + self.empty_text, width), dim)], width)
            return Strip.blank(width, base)
        item = self._source[self._view[row]]
        cursor = row == self._cursor
        row_style = base
        if cursor:
            row_style = base + self.get_component_rich_style("virtual-table--cursor")
        segments: list[Segment] = []
        used = 0
        for index, (column, col_width) in enumerate(layout):
            if index:
                segments.append(Segment(" ", row_style))
                used += 1
            cell = self._cell(item, column.key)
            if isinstance(cell, str):
                text, style_name = cell, ""
            else:
                text, style_name = cell
            style = row_style
            if style_name and not cursor:
                style = row_style + self.get_component_rich_style(
                    f"virtual-table--{style_name}", partial=True
                )
            elif style_name and cursor:
                style = row_style + Style(bold=True)
            segments.append(Segment(fit(text, col_width, column.align, column.keep_tail), style))
            used += col_width
        if used < width:
            segments.append(Segment(" " * (width - used), row_style))
        return Strip(segments, width).crop(0, width)

    def _render_header(self, layout: list[tuple[Column, int]], width: int, base: Style) -> Strip:
        header = base + self.get_component_rich_style("virtual-table--header")
        sorted_style = base + self.get_component_rich_style("virtual-table--header-sorted")
        segments: list[Segment] = []
        used = 0
        for index, (column, col_width) in enumerate(layout):
            if index:
                segments.append(Segment(" ", header))
                used += 1
            label = column.label
            style = header
            if column.key == self.sort_key:
                label += " ▼" if self.sort_reverse else " ▲"
                style = sorted_style
            segments.append(Segment(fit(label, col_width, column.align), style))
            used += col_width
        if used < width:
            segments.append(Segment(" " * (width - used), header))
        return Strip(segments, width).crop(0, width)

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
            cell = self._cell(item, column.key)
            text = cell if isinstance(cell, str) else cell[0]
            parts.append(fit(text, col_width, column.align, column.keep_tail))
        return " ".join(parts)
