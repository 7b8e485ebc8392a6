"""Task rows and statistics of a job running elsewhere, made into engine records.

Why a module of its own: a viewer (:mod:`.remote`) shows a job of another process with the
widgets written for a live engine, which read :class:`~tui_batch.engine.Task` objects and
:class:`~tui_batch.engine.Stats`; this is the one place that makes them from what the viewer
hears: the job's stored task rows (:func:`task_from_record`: the task list is read from the
store, never sent on the socket), the stream's compact rows of changed tasks (:func:`apply_row`)
and of tasks added since the viewer subscribed (:func:`task_from_new`), and the socket's
statistics (:func:`stats_from_dict`). The compact shapes are :mod:`.stream`'s.
"""

from __future__ import annotations

import time
from dataclasses import fields
from typing import TYPE_CHECKING, Any, NamedTuple

from ..engine import Stats, Task
from ..model import Priority, TaskState
from .stream import STATE_CODES

if TYPE_CHECKING:
    from ..store import TaskRecord

__all__ = ["Change", "apply_row", "decode", "stats_from_dict", "task_from_new",
           "task_from_record"]

_STATS = frozenset(f.name for f in fields(Stats))
_PRIORITIES = {int(p): p for p in Priority}
_STATES = {s.value: s for s in TaskState}


class Change(NamedTuple):
    """One compact ``tasks`` row, decoded: a task's latest state."""

    task_id: int
    state: TaskState
    attempt: int
    duration: float | None
    exit_code: int | None
    signal: int | None
    error: str | None
    reason: str | None


def decode(row: list[Any]) -> Change | None:
    """A compact row (``[id, state code, attempt, duration, exit_code, signal, error,
    reason]``, trailing nulls left out) as a :class:`Change`; None for a row this version
    cannot read."""
    try:
        task_id, code = row[0], row[1]
        if not isinstance(task_id, int) or not 0 <= code < len(STATE_CODES):
            return None
        rest = [*row[2:8], *(None,) * (8 - len(row))]
        return Change(task_id, STATE_CODES[code], int(rest[0] or 0), *rest[1:])
    except (TypeError, IndexError, ValueError):
        return None


def stats_from_dict(data: dict[str, Any]) -> Stats:
    """The socket's statistics as a Stats (a null rate is 0, a null ETA unknown)."""
    values = {k: v for k, v in data.items() if k in _STATS}
    for key in ("elapsed", "files_per_s", "bytes_per_s"):
        if values.get(key) is None:
            values.pop(key, None)
    return Stats(**values)


def task_from_record(rec: TaskRecord) -> Task:
    """A stored task row as the viewer's Task (what a viewer reads is filled in)."""
    return Task(id=rec.id, path=rec.path, root=rec.root, rel=rec.rel, size=rec.size,
                mtime_ns=rec.mtime_ns, priority=_PRIORITIES.get(rec.priority, Priority.NORMAL),
                state=_STATES.get(rec.state, TaskState.QUEUED), attempts=rec.attempts,
                exit_code=rec.exit_code, signal=rec.signal, error=rec.error,
                reason=rec.reason, started_at=rec.started_at, ended_at=rec.ended_at,
                seq=rec.seq + 1)


def task_from_new(row: list[Any]) -> Task | None:
    """A ``new`` row (``[id, path, root, rel, size, priority, state code, attempt,
    started_at, seq]``: a task added after the viewer read the store) as a Task; None for a
    row this version cannot read."""
    try:
        task_id, path, root, rel, size, priority, code, attempt, started, seq = row[:10]
        return Task(id=int(task_id), path=str(path), root=str(root or ""), rel=str(rel or ""),
                    size=int(size or 0), priority=_PRIORITIES.get(priority, Priority.NORMAL),
                    state=STATE_CODES[code], attempts=int(attempt or 0),
                    started_at=started, seq=int(seq or 0))
    except (TypeError, IndexError, ValueError):
        return None


def apply_row(task: Task, change: Change, now: float | None = None) -> None:
    """A task's new state from a stream row."""
    now = time.time() if now is None else now
    state = change.state
    if state is TaskState.RUNNING and task.state is not TaskState.RUNNING:
        task.started_at = now  # within a frame of the real start
        task.ended_at = None
    if change.duration is not None and state.terminal:
        task.ended_at = (task.started_at or now - change.duration) + change.duration
    task.state = state
    task.attempts = change.attempt
    task.exit_code = change.exit_code
    task.signal = change.signal
    task.error = change.error
    task.reason = change.reason
