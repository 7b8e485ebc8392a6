"""The engine's books: every task by id, how many are in each state, the byte totals.

Kept apart from the engine so that counting is one thing done one way: every state change
goes through :meth:`Ledger.set_state` (one decrement, one increment: the counts are never
recomputed by scanning the tasks), and a watch service that runs for months keeps only the
last ``retain`` finished tasks in :attr:`Ledger.tasks` while the counts go on counting. The
engine decides which state a task goes to; the ledger only records it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..model import TaskState

if TYPE_CHECKING:
    from .task import Task

_TERMINAL = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED})
Q, R, D, INT = TaskState.QUEUED, TaskState.RUNNING, TaskState.DONE, TaskState.INTERRUPTED


class Ledger:
    """Tasks by id (in submission order), counts by state, totals."""

    __slots__ = ("_finished_ids", "bytes_done", "bytes_total", "counts", "retain", "tasks",
                 "total")

    def __init__(self, retain: int | None = None) -> None:
        self.tasks: dict[int, Task] = {}
        """Every submitted task still kept, by id, in submission order."""
        self.counts: dict[TaskState, int] = dict.fromkeys(TaskState, 0)
        self.total = 0
        self.bytes_total = 0
        self.bytes_done = 0
        self.retain = retain
        """Keep only this many finished tasks in :attr:`tasks` (None: all of them)."""
        self._finished_ids: deque[int] = deque()

    def add(self, tasks: Iterable[Task], queue: Callable[[Task], None]) -> None:
        """Record new tasks; ``queue`` gets those that wait to run. Terminal ones (skipped
        duplicates, done on resume) are only counted; running or interrupted ones (resumed
        after a crash) wait to run again (at-least-once)."""
        counts = self.counts
        for task in tasks:
            if task.id in self.tasks:
                raise ValueError(f"task {task.id} submitted twice")
            self.tasks[task.id] = task
            self.total += 1
            self.bytes_total += task.size
            if task.state in (R, INT):
                task.state = Q
            counts[task.state] += 1
            if task.state == Q:
                queue(task)
            elif task.state == D:
                self.bytes_done += task.size
            if self.retain is not None and task.state in _TERMINAL:
                self._evict(task.id)  # submitted finished (a skipped duplicate): bounded too

    def set_state(self, task: Task, state: TaskState) -> None:
        """Move ``task`` to ``state`` (the one place where states change after submit)."""
        counts = self.counts
        counts[task.state] -= 1
        counts[state] += 1
        task.state = state
        if self.retain is not None and state in _TERMINAL:
            self._evict(task.id)

    def _evict(self, task_id: int) -> None:
        ids = self._finished_ids
        ids.append(task_id)
        limit = self.retain or 0
        while len(ids) > max(1, limit):
            old = self.tasks.get(ids.popleft())
            if old is not None and old.state in _TERMINAL:
                del self.tasks[old.id]
