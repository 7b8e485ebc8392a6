"""The dashboard's task list: a :class:`VirtualTable` over the engine's live task objects.

Rows are the engine's own ``Task`` objects (``engine.tasks`` is read-only for clients), so a
state change needs no copy: repainting the visible rows reads the new state. A status filter,
a name filter (or a sort on something that changes) re-places just the tasks that changed, as
they change: a filtered view never lists a row of another state. Before the engine is built
(loading 100,000 tasks takes a moment) the rows may be store ``TaskRecord`` rows: every cell and
filter here reads both.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ...model import Priority, TaskState
from .. import format as fmt
from .filter_bar import compile_matcher
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
    "failed",
    "running",
    "queued",
    "done",
    "cancelled",
    "skipped",
]
"""The status filter cycle of the task list (None = all): failures first, what a user looks
for most once a run is under way."""

COLUMNS = [
    Column("state", "Status", 11, sortable=True),
    Column("id", "#", 6, align="right"),
    Column("path", "File", 0, min_width=12, keep_tail=True, weight=3),
    Column("size", "Size", 9, align="right"),
    Column("attempts", "Try", 3, align="right"),
    Column("priority", "Prio", 6, hide_below=90),
    Column("exit", "Exit", 4, align="right", hide_below=100),
    Column("info", "Info", 0, min_width=10, weight=2),
]
"""Info stays at 80 columns: it is where a failed task says why (its last stderr line)."""

STEP_COLUMN = Column("step", "Step", 4, align="right", sortable=False)
"""A pipeline's step of each task (1 first); shown only for pipeline jobs."""

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


def last_line(text: str | None) -> str:
    """The last line of ``text`` that is not blank, stripped ("" when there is none)."""
    if not text:
        return ""
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""


STATUS_ONLY = re.compile(r"(exit code -?\d+|killed by \S+)")
"""An error that only says how the command ended (the Exit column says it too)."""


def failure_line(task: Any) -> str:
    """Why a failed task failed, in one line: the last line its command wrote to stderr
    (usually the one that says what went wrong) and the error's first line, the more telling
    one first, as a narrow column cuts the end: a bare "exit code 1" goes after the stderr
    line, a timeout or an action's own error before it. The exit status when there is
    neither. Works for engine Tasks and store TaskRecords (which keep no output)."""
    lines = (task.error or "").strip().splitlines()
    error = lines[0].strip() if lines else ""
    stderr = last_line(getattr(task, "stderr_tail", None))
    if stderr == error:
        stderr = ""
    parts = [stderr, error] if STATUS_ONLY.fullmatch(error) else [error, stderr]
    text = " · ".join(p for p in parts if p)
    if not text:
        if task.signal:
            text = f"killed by signal {task.signal}"
        elif task.exit_code is not None:
            text = f"exit code {task.exit_code}"
    return printable(text)


DUPLICATE = "duplicate of "
"""How a skipped duplicate's reason begins (the rest is the other file's path)."""


def info_text(task: Any) -> str:
    """The Info column: why a failed task failed (:func:`failure_line`), else the error or
    the reason (why skipped, cancelled, retrying), first line. A duplicate's original is named
    by its path under the task's root, as the File column names files."""
    if task_state(task) == "failed":
        return failure_line(task)
    text = (task.error or task.reason or "").strip()
    if not text:
        return ""
    line = text.splitlines()[0]
    root = (task.root or "").rstrip(os.sep)
    if root and line.startswith(DUPLICATE + root + os.sep):
        line = DUPLICATE + line[len(DUPLICATE) + len(root) + 1:]
    return printable(line)


def printable(text: str) -> str:
    """Text as it can be drawn (surrogate escapes of non-UTF-8 names replaced)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def task_name(task: Any) -> str:
    """The name the ``/`` filter matches: the path as the list shows it."""
    return task.rel or task.path


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
        return printable(task.rel or task.path)
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
        state = task_state(task)
        return (info_text(task), "bad" if state == "failed" else "dim")
    return ""


SORT_KEYS: dict[str, Callable[[Any], Any]] = {
    "state": lambda t: STATE_ORDER.get(task_state(t), 9),
    "id": lambda t: t.id,
    "path": lambda t: t.rel or t.path,
    "size": lambda t: t.size,
    "attempts": lambda t: t.attempts,
    "priority": lambda t: -int(t.priority),
    "exit": lambda t: (t.exit_code is None, t.exit_code or 0),
    "info": info_text,
}


LIVE_SORTS = frozenset({"state", "attempts", "exit", "info", "priority"})
"""Sort columns whose value changes while a job runs."""


class TaskList(VirtualTable[Any]):
    """All tasks of a job with a status marker; filterable by status and by name, sortable by
    column."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, self._task_cell, sort_keys=SORT_KEYS, id=id)
        self.step_of: Callable[[Any], int | None] | None = None
        """A pipeline's step of a task (0-based; :meth:`show_steps`), None: one action."""
        self.status_filter: str | None = None
        """Show only tasks in this state (None = all)."""
        self.name_filter = ""
        """Show only tasks whose path matches this text (``/``; "" = all)."""
        self.newest_first = False
        """Watch mode: the newest task on top (set before the first :meth:`follow`)."""
        self.empty_text = "no tasks"
        """Said on the first row when the job has no task (to show) yet."""
        self._index_of: dict[int, int] | None = None
        self._engine_key: tuple[int, int] = (0, 0)

    def _task_cell(self, task: Any, key: str) -> Cell:
        if key == "step":
            step = self.step_of(task) if self.step_of is not None else None
            return "" if step is None else str(step + 1)
        return task_cell(task, key)

    def show_steps(self, step_of: Callable[[Any], int | None] | None) -> None:
        """A pipeline job: a Step column after the status (``step_of`` gives a task's step,
        0-based); None: a one-action job, no column."""
        self.step_of = step_of
        columns = list(COLUMNS)
        if step_of is not None:
            columns.insert(1, STEP_COLUMN)
        if [c.key for c in columns] != [c.key for c in self.columns]:
            self.columns = columns
            self._layout_width = -1  # lay the columns out again
            self.refresh()

    @property
    def empty_text(self) -> str:
        """Said on the first row of an empty view: why it is empty."""
        if self.filtered and len(self.source):
            return "no task matches the filter (f: status, Esc: clear the name)"
        return self._empty_text

    @empty_text.setter
    def empty_text(self, text: str) -> None:
        self._empty_text = text

    @property
    def filtered(self) -> bool:
        """A status or a name filter narrows the list."""
        return self.status_filter is not None or bool(self.name_filter)

    def set_rows(self, rows: Sequence[Any], keep_cursor: bool = False) -> None:
        self._index_of = None
        super().set_rows(rows, keep_cursor=keep_cursor)

    def tasks_changed(self, task_ids: Iterable[int]) -> None:
        """These tasks changed: move them in or out of a filtered (or live-sorted) view now,
        else just repaint."""
        if self.status_filter is None and self.sort_key not in LIVE_SORTS:
            self.refresh_rows()  # a name never changes: the name filter still holds
            return
        index = self._index_of
        if index is None or len(index) != len(self.source):
            index = self._index_of = {task.id: i for i, task in enumerate(self.source)}
        self.update_rows({index[t] for t in task_ids if t in index})

    def follow(self, engine: Any) -> bool:
        """Watch mode (once a second): list the engine's tasks again when some arrived or
        left, as its task count or newest task says; returns whether it did.

        Newest first: a cursor on the top row stays on top (on the newest task, as ``tail -f``
        stays at the end); one the user moved down stays on its task."""
        if not engine.tasks:
            return False
        key = (len(engine.tasks), next(reversed(engine.tasks)))
        if key == self._engine_key:
            return False
        self._engine_key = key
        tasks = engine.tasks.values()
        rows = list(reversed(tasks)) if self.newest_first else list(tasks)
        at_top = self.newest_first and self.cursor_row == 0
        self.set_rows(rows, keep_cursor=not at_top)
        return True

    def title(self, counted: int | None = None) -> str:
        """The list's title: its status filter and name filter, and how many rows it lists
        right now; ``counted`` is how many tasks are in that state when the list keeps fewer
        (watch mode keeps only the latest finished tasks)."""
        parts = [f"Tasks: {self.status_filter or 'all'}"]
        if self.name_filter:
            parts.append(f"name ~ {self.name_filter!r}")
        if self.newest_first:
            parts.append("newest first")
        title = " · ".join(parts)
        if not self.filtered:
            return title
        if counted is not None and counted > self.row_count and not self.name_filter:
            return f"{title} ({self.row_count:,} shown of {counted:,})"
        return f"{title} ({self.row_count:,})"

    def filter_status(self, status: str | None) -> None:
        """Show only tasks with ``status`` ("retrying" tasks are queued ones)."""
        self.status_filter = status
        self._apply_filters()

    def filter_name(self, text: str) -> None:
        """Show only tasks whose path matches ``text`` (every word occurs in it; smart case),
        with the status filter still applied ("" drops the name filter)."""
        text = text.strip()
        if text == self.name_filter:
            return
        self.name_filter = text
        self._apply_filters()

    def _apply_filters(self) -> None:
        status = self.status_filter
        matches = compile_matcher(self.name_filter) if self.name_filter else None
        if status is None and matches is None:
            self.set_filter(None)
            return

        def wanted(task: Any) -> bool:
            if status is not None and task_state(task) != status:
                return False
            return matches is None or matches(task_name(task))

        self.set_filter(wanted)

    def cycle_filter(self) -> str | None:
        """Next filter in :data:`STATUS_FILTERS`; returns it."""
        idx = STATUS_FILTERS.index(self.status_filter) + 1
        self.filter_status(STATUS_FILTERS[idx % len(STATUS_FILTERS)])
        return self.status_filter
