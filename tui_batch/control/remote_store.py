"""An attached viewer's copy of the job's task list, read from the job's store.

Why a module of its own: a job of 100,000 tasks would spend about a second of its own loop
encoding its task list for each viewer that attaches (and the viewer as long decoding it),
while the store (same user, same file) holds every task with its state. So a viewer reads
the list there, read-only and in a thread, and hears only what changes on the socket. The
one subtlety is the store's lag: the job commits its records in batches, a few milliseconds
behind its engine. The job names, when the viewer subscribes, the last task change it had
made (the *probe*); its store commits in order, so once the store shows the probe it shows
every change before it, and every later one is on the viewer's stream. :func:`read_tasks`
waits (briefly, polling one row) for that before reading the list.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..errors import StoreError

if TYPE_CHECKING:
    from ..store import TaskRecord

__all__ = ["CATCH_UP", "read_tasks", "shows"]

CATCH_UP = 2.0
"""Seconds a viewer waits at most for the store to show the probe (it is milliseconds
behind when the job is well; a job whose writer is stuck is shown as its store has it)."""
_POLL = 0.005
_RANK = {"queued": 0, "interrupted": 0, "running": 1}  # any other state ends an attempt


def shows(rec: TaskRecord, probe: list[Any]) -> bool:
    """Whether the stored row ``rec`` shows the change ``probe`` (``[task id, state,
    attempt]``) or a later one of the same task."""
    state, attempt = str(probe[1]), int(probe[2])
    if rec.attempts != attempt:
        return rec.attempts > attempt
    return _RANK.get(rec.state, 2) >= _RANK.get(state, 2)


def read_tasks(db_path: str, job_id: int, probe: list[Any] | None,
               limit: int | None = None) -> list[TaskRecord]:
    """The job's tasks in its order (the first ``limit``), once the store shows ``probe``
    (blocking: run it in a thread). StoreError when the store cannot be read."""
    from ..store import Store

    with Store(db_path, readonly=True) as store:
        if probe is not None:
            _catch_up(store, probe)
        return store.load_tasks(job_id, limit=limit)


def _catch_up(store: Any, probe: list[Any]) -> None:
    deadline = time.monotonic() + CATCH_UP
    while True:
        try:
            if shows(store.get_task(int(probe[0])), probe):
                return
        except (StoreError, TypeError, ValueError, IndexError):
            return  # not a task of this store (a bad probe): nothing to wait for
        if time.monotonic() > deadline:
            return
        time.sleep(_POLL)
