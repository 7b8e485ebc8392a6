"""What a :class:`~.virtual_table.VirtualTable` tells the screen that holds it.

Screens handle these as ``VirtualTable.CursorMoved`` and so on (the table exposes them as class
attributes, as Textual widgets do); they live in their own module so the table's module holds
only the widget (so they name the sender as a plain ``Widget``: importing the table here would
close an import cycle). The ``virtual_table`` namespace gives them the handler names nested classes
would have (``on_virtual_table_cursor_moved``).
"""

from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.widget import Widget


class CursorMoved(Message, namespace="virtual_table"):
    """The highlighted row changed (also sent when the row under the cursor changes)."""

    def __init__(self, table: Widget, item: Any) -> None:
        super().__init__()
        self.table = table
        """The table that sent it."""
        self.item = item
        """The row object under the cursor, or None when the view is empty."""

    @property
    def control(self) -> Widget:
        return self.table


class Selected(Message, namespace="virtual_table"):
    """Enter or double click on a row."""

    def __init__(self, table: Widget, item: Any) -> None:
        super().__init__()
        self.table = table
        """The table that sent it."""
        self.item = item
        """The selected row object."""

    @property
    def control(self) -> Widget:
        return self.table


class SortChanged(Message, namespace="virtual_table"):
    """The user sorted by another column (header click or key)."""

    def __init__(self, table: Widget, key: str | None, reverse: bool) -> None:
        super().__init__()
        self.table = table
        """The table that sent it."""
        self.key = key
        """Column key sorted by, or None for source order."""
        self.reverse = reverse
        """Descending order."""
