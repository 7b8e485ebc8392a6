"""An attached viewer's task list: read from the store, kept up to date by the stream.

Why a module of its own: the list has two sources that do not arrive in order. The job's
store gives every task (a screenful first, then the rest: :mod:`.remote_store`); the stream
gives the changes since the viewer subscribed and the tasks added since (:mod:`.stream`). A
change may come before its task has been read, a new task before the list is complete;
:class:`TaskBook` keeps both until they can be applied, so the list ends up as the job has
it whatever the order, and the dashboard reads one dict of ``Task`` objects, as it reads an
engine's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..engine import Task
from .remote_rows import Change, apply_row, decode, task_from_new, task_from_record

if TYPE_CHECKING:
    from ..store import TaskRecord

__all__ = ["TaskBook"]


class TaskBook:
    """The tasks of a job running elsewhere, as this viewer knows them."""

    def __init__(self) -> None:
        self.tasks: dict[int, Task] = {}
        """The job's tasks, in the job's order, then those added since (read-only for
        clients; the dict is never replaced)."""
        self.complete = False
        """The whole stored list has been read (until then :attr:`tasks` holds a screenful)."""
        self.rows_heard = 0
        """Task rows heard on the stream (changed and added tasks)."""
        self._early: dict[int, Change] = {}  # changes heard before their task was read
        self._early_new: list[Task] = []  # tasks added to the job before the list was read

    def add_records(self, rows: list[TaskRecord]) -> None:
        """Stored rows (those already listed are skipped: what the stream said is newer)."""
        tasks, early = self.tasks, self._early
        for rec in rows:
            if rec.id not in tasks:
                task = tasks[rec.id] = task_from_record(rec)
                change = early.pop(rec.id, None) if early else None
                if change is not None and change.attempt >= task.attempts:
                    apply_row(task, change)

    def completed(self) -> None:
        """The stored list is read: the tasks added meanwhile join it (a change heard for a
        task that is in neither is of a task the job has already let go of)."""
        self.complete = True
        new, self._early_new = self._early_new, []
        self._add_new(new)
        self._early.clear()

    def heard_new(self, rows: list[Any]) -> bool:
        """A stream's ``new`` rows; whether tasks joined the list now."""
        self.rows_heard += len(rows)
        new = [t for t in map(task_from_new, rows) if t is not None]
        if not self.complete:
            self._early_new.extend(new)
            return False
        return self._add_new(new) > 0

    def heard_changes(self, rows: list[Any]) -> list[Change]:
        """A stream's ``tasks`` rows applied (or kept for a task not read yet); returns them
        decoded, for the viewer's subscribers."""
        self.rows_heard += len(rows)
        now = time.time()
        tasks, early, out = self.tasks, self._early, []
        for row in rows:
            change = decode(row) if isinstance(row, list) else None
            if change is None:
                continue
            task = tasks.get(change.task_id)
            if task is not None:
                apply_row(task, change, now)
            elif not self.complete:
                early[change.task_id] = change
            out.append(change)
        return out

    def _add_new(self, new: list[Task]) -> int:
        tasks, early, added = self.tasks, self._early, 0
        for task in new:
            if task.id not in tasks:
                change = early.pop(task.id, None) if early else None
                if change is not None:
                    apply_row(task, change)
                tasks[task.id] = task
                added += 1
        return added
