"""What a :class:`~.virtual_table.VirtualTable` shows, apart from how: the filtered, sorted
view over its rows and the cursor in that view.

The table keeps no per-row state: a sequence of row objects (kept by reference), the list of
indexes into it that pass the filter in sort order, and the cursor, which follows its row
object when the view is recomputed. None of that needs Textual, so it lives here, where it can
be reasoned about (and tested) as plain data; the widget turns its changes into repaints,
scrolling and messages.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Generic, TypeVar

from .columns import Cell, cell_text
from .view_update import updated_view

T = TypeVar("T")


class RowView(Generic[T]):
    """Rows, the view over them (filter + sort) and the cursor's place in the view."""

    def __init__(
        self, cell: Callable[[T, str], Cell], sort_keys: dict[str, Callable[[T], Any]] | None
    ) -> None:
        self._cell = cell
        self._sort_keys = dict(sort_keys or {})
        self.source: Sequence[T] = []
        """The unfiltered rows."""
        self.view: list[int] = []
        """Indexes into :attr:`source` of the rows shown, in display order."""
        self.filter: Callable[[T], bool] | None = None
        """Rows shown are those for which this is true (None: every row)."""
        self.sort_key: str | None = None
        """Column the view is sorted by (None = source order)."""
        self.sort_reverse = False
        """Whether the sort is descending."""
        self.cursor = 0
        """Index of the highlighted row in the view."""

    # ---------------------------------------------------------------- reading
    @property
    def row_count(self) -> int:
        """Rows in the current (filtered) view."""
        return len(self.view)

    def item_at(self, row: int) -> T | None:
        """The row object at view index ``row``."""
        if 0 <= row < len(self.view):
            return self.source[self.view[row]]
        return None

    @property
    def cursor_item(self) -> T | None:
        """The highlighted row object, or None when the view is empty."""
        return self.item_at(self.cursor)

    def view_items(self) -> list[T]:
        """The rows of the view, in display order."""
        return [self.source[i] for i in self.view]

    def window(self, top: int, height: int) -> list[T]:
        """The ``height`` rows of the view from view index ``top`` on."""
        return [self.source[i] for i in self.view[top : top + height]]

    @property
    def arranged(self) -> bool:
        """A filter or a sort decides which rows show where (else the view is the source)."""
        return self.filter is not None or self.sort_key is not None

    # ---------------------------------------------------------------- sorting
    def set_sort_key(self, key: str, func: Callable[[T], Any]) -> None:
        """Define how a column sorts (defaults to its cell text)."""
        self._sort_keys[key] = func

    def sort_func(self) -> Callable[[T], Any] | None:
        """The key of the current sort (a column without one sorts by its cell text)."""
        key = self.sort_key
        if key is None:
            return None
        func = self._sort_keys.get(key)
        if func is None:

            def func(row: T, _k: str = key) -> Any:
                return cell_text(self._cell(row, _k))

        return func

    # --------------------------------------------------------------- updating
    def rebuild(self, keep_cursor: bool = True) -> None:
        """Recompute the view (filter + sort) and keep the cursor on the same row object."""
        view_now = self.view
        current = view_now[self.cursor] if keep_cursor and self.cursor < len(view_now) else None
        source = self.source
        pred = self.filter
        if pred is None:
            view = list(range(len(source)))
        else:
            view = [i for i, row in enumerate(source) if pred(row)]
        func = self.sort_func()
        if func is not None:
            view.sort(key=lambda i: func(source[i]), reverse=self.sort_reverse)
        self.view = view
        if current is not None:
            try:
                self.cursor = view.index(current)
            except ValueError:
                self.cursor = min(self.cursor, max(0, len(view) - 1))
        else:
            self.cursor = 0 if not keep_cursor else min(self.cursor, max(0, len(view) - 1))

    def replace_rows(self, indexes: Collection[int]) -> bool:
        """The rows at these source indexes changed: re-check just them against the filter
        and the sort (a pass over the view, not over every row). Returns whether the view's
        length changed; the cursor follows its row, or stays put if that row left."""
        current = self.view[self.cursor] if self.cursor < len(self.view) else None
        view = updated_view(
            self.view, self.source, indexes, self.filter, self.sort_func(), self.sort_reverse
        )
        resized = len(view) != len(self.view)
        self.view = view
        if current is not None and not (
            self.cursor < len(view) and view[self.cursor] == current
        ):  # rows above the cursor came or went: follow its row, or stay put if it left
            try:
                self.cursor = view.index(current)
            except ValueError:
                self.cursor = min(self.cursor, max(0, len(view) - 1))
        return resized

    def move_cursor(self, row: int) -> bool:
        """Put the cursor on view row ``row`` (clamped; 0 in an empty view). Returns whether
        it moved."""
        if not self.view:
            self.cursor = 0
            return False
        row = max(0, min(row, len(self.view) - 1))
        if row == self.cursor:
            return False
        self.cursor = row
        return True
