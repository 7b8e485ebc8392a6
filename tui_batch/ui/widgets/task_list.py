"""The dashboard's task list: a :class:`VirtualTable` over the engine's live task objects.

Rows are the engine's own ``Task`` objects (``engine.tasks`` is read-only for clients), so a
state change needs no copy: repainting the visible rows reads the new state. A status filter
(or a sort on something that changes) re-places just the tasks that changed, as they change:
a filtered view never lists a row of another state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ...model import Priority, TaskState
from .. import format as fmt
from .virtual_table import Cell, Column, VirtualTable

MARKERS: dict[str, tuple[str, str]] = {
    TaskState.QUEUED.value: ("· queued", "dim"),
    TaskState.RUNNING.value: ("▶ running", "run"),
    TaskState.DONE.value: ("✓ done", "ok"),
    TaskState.FAILED.value: ("✗ failed", "bad"),
    TaskState.CANCELLED.value: ("⊘ cancelled", "warn"),
    TaskState.SKIPPED.value: ("↷ skipped", "dim"),
    TaskState.INTERRUPTED.value: ("↺ interrupted", "warn"),
}
"""Status marker text and style per task state (shape + colour: readable without colour)."""

RETRYING = ("↻ retrying", "warn")

STATUS_FILTERS: list[str | None] = [
    None,
    "running",
    "queued",
    "failed",
    "done",
    "cancelled",
    "skipped",
]
"""The status filter cycle of the task list (None = all)."""

COLUMNS = [
    Column("state", "Status", 11, sortable=True),
    Column("id", "#", 6, align="right"),
    Column("path", "File", 0, min_width=12, keep_tail=True),
    Column("size", "Size", 9, align="right"),
    Column("attempts", "Try", 3, align="right"),
    Column("priority", "Prio", 6, hide_below=90),
    Column("exit", "Exit", 4, align="right", hide_below=100),
    Column("info", "Info", 0, min_width=10, hide_below=110),
]

STATE_ORDER = {
    s: i
    for i, s in enumerate(
        ["running", "failed", "queued", "interrupted", "cancelled", "done", "skipped"]
    )
}


def task_state(task: Any) -> str:
    """State as a plain string (engine Task or store TaskRecord)."""
    state = task.state
    return state.value if isinstance(state, TaskState) else str(state)


def task_cell(task: Any, key: str) -> Cell:
    """Cell text for one task (works for engine Tasks and store TaskRecords alike)."""
    if key == "state":
        state = task_state(task)
        if state == "queued" and task.attempts:
            return RETRYING
        return MARKERS.get(state, (state, ""))
    if key == "id":
        return str(task.id)
    if key == "path":
        return (task.rel or task.path).encode("utf-8", "replace").decode("utf-8")
    if key == "size":
        return fmt.size(task.size)
    if key == "attempts":
        return str(task.attempts) if task.attempts else ""
    if key == "priority":
        prio = Priority(int(task.priority))
        return (prio.name.lower(), "accent" if prio >= Priority.HIGH else "dim")
    if key == "exit":
        if task.signal:
            return (f"s{task.signal}", "bad")
        return "" if task.exit_code is None else str(task.exit_code)
    if key == "info":
        text = task.error or task.reason or ""
        return (text.splitlines()[0] if text else "", "dim")
    return ""


SORT_KEYS: dict[str, Callable[[Any], Any]] = {
    "state": lambda t: STATE_ORDER.get(task_state(t), 9),
    "id": lambda t: t.id,
    "path": lambda t: t.rel or t.path,
    "size": lambda t: t.size,
    "attempts": lambda t: t.attempts,
    "priority": lambda t: -int(t.priority),
    "exit": lambda t: (t.exit_code is None, t.exit_code or 0),
    "info": lambda t: t.error or t.reason or "",
}


LIVE_SORTS = frozenset({"state", "attempts", "exit", "info", "priority"})
"""Sort columns whose value changes while a job runs."""


class TaskList(VirtualTable[Any]):
    """All tasks of a job with a status marker; filterable by status, sortable by column."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, task_cell, sort_keys=SORT_KEYS, id=id)
        self.status_filter: str | None = None
        """Show only tasks in this state (None = all)."""
        self.empty_text = "no tasks"
        self._index_of: dict[int, int] | None = None
        self._engine_key: tuple[int, int] = (0, 0)

    def set_rows(self, rows: Sequence[Any], keep_cursor: bool = False) -> None:
        self._index_of = None
        super().set_rows(rows, keep_cursor=keep_cursor)

    def tasks_changed(self, task_ids: Iterable[int]) -> None:
        """These tasks changed: move them in or out of a filtered (or live-sorted) view now,
        else just repaint."""
        if self.status_filter is None and self.sort_key not in LIVE_SORTS:
            self.refresh_rows()
            return
        index = self._index_of
        if index is None or len(index) != len(self.source):
            index = self._index_of = {task.id: i for i, task in enumerate(self.source)}
        self.update_rows({index[t] for t in task_ids if t in index})

    def follow(self, engine: Any) -> bool:
        """Watch mode (once a second): list the engine's tasks again when some arrived or
        left, as its task count or newest task says; returns whether it did."""
        if not engine.tasks:
            return False
        key = (len(engine.tasks), next(reversed(engine.tasks)))
        if key == self._engine_key:
            return False
        self._engine_key = key
        self.set_rows(list(engine.tasks.values()), keep_cursor=True)
        return True

    def title(self, counted: int | None = None) -> str:
        """The list's title: its status filter and how many rows it lists right now;
        ``counted`` is how many tasks are in that state when the list keeps fewer (watch mode
        keeps only the latest finished tasks)."""
        status = self.status_filter
        if status is None:
            return "Tasks: all"
        if counted is not None and counted > self.row_count:
            return f"Tasks: {status} ({self.row_count:,} shown of {counted:,})"
        return f"Tasks: {status} ({self.row_count:,})"

    def filter_status(self, status: str | None) -> None:
        """Show only tasks with ``status`` ("retrying" tasks are queued ones)."""
        self.status_filter = status
        if status is None:
            self.set_filter(None)
        else:

            def wanted(task: Any) -> bool:
                return task_state(task) == status

            self.set_filter(wanted)

    def cycle_filter(self) -> str | None:
        """Next filter in :data:`STATUS_FILTERS`; returns it."""
        idx = STATUS_FILTERS.index(self.status_filter) + 1
        self.filter_status(STATUS_FILTERS[idx % len(STATUS_FILTERS)])
        return self.status_filter
