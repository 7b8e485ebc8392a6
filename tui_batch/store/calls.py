"""The store's calls for a Batch's scheduler: jobs that join it, groups, links, outcomes.

Why a module of its own: the scheduler (:mod:`tui_batch.scheduler`) needs a handful of
operations that span the ``jobs``, ``job_sched``, ``job_deps`` and ``groups`` tables, each in
one transaction (a job and its links are stored together or not at all, so a kill never leaves
a job that waits for nothing it should), plus one batched write for the state changes and
results of many jobs at once, which is what keeps 10,000 no-op jobs fast. The SQL is in
call_table.py; :class:`StoreCalls` is mixed into :class:`~tui_batch.store.core.Store`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import call_table
from .call_table import BoardRow, GroupRecord, SchedRecord
from .job_table import insert_job, update_job_state
from .logs import StoreLogs
from .task_table import requeue_failed

__all__ = ["StoreCalls"]


class StoreCalls(StoreLogs):
    """The scheduler's side of the store (mixed into Store, after StoreLogs: one base class
    keeps core.py within its size)."""

    path: str
    _read: Callable[[], contextlib.AbstractContextManager[sqlite3.Connection]]
    _write: Callable[[], contextlib.AbstractContextManager[sqlite3.Connection]]
    _conn_max_vars: int
    _writer: Any

    def create_scheduled_job(
        self,
        spec: dict[str, Any],
        *,
        name: str | None,
        state: str,
        group_id: int | None,
        priority: int,
        after: Sequence[int] = (),
        after_any: Sequence[int] = (),
        reason: str | None = None,
    ) -> int:
        """Store a new job (no tasks: a call job) already in the scheduler's care, with its
        links, in one transaction. StoreError for an unknown job in ``after``/``after_any``
        or an unknown group."""
        text = json.dumps(spec)
        now = time.time()
        with self._write() as c:
            job_id = insert_job(
                c, self.path, (now, state, text, name, group_id), [], (0, 0), self._conn_max_vars
            )
            call_table.insert_sched(c, self.path, job_id, priority, after, after_any, reason)
            if reason is not None:
                c.execute("UPDATE jobs SET error = ? WHERE id = ?", (reason, job_id))
            return job_id

    def schedule_job(
        self,
        job_id: int,
        *,
        name: str | None,
        state: str,
        group_id: int | None,
        priority: int,
        after: Sequence[int] = (),
        after_any: Sequence[int] = (),
        reason: str | None = None,
    ) -> None:
        """Hand an existing (file) job to the scheduler: its name, group, priority, links."""
        with self._write() as c:
            call_table.insert_sched(c, self.path, job_id, priority, after, after_any, reason)
            c.execute(
                "UPDATE jobs SET state = ?, error = ?, updated_at = ?,"
                " name = COALESCE(?, name), group_id = COALESCE(?, group_id) WHERE id = ?",
                (state, reason, time.time(), name, group_id, job_id),
            )

    def create_sched_group(
        self, name: str | None, *, sequential: bool, cancel_on_failure: bool,
        workers: int | None,
    ) -> int:
        """A group of the scheduler; jobs join it by ``group_id``."""
        mode = "sequential" if sequential else "parallel"
        with self._write() as c:
            return call_table.insert_group(c, name, mode, cancel_on_failure, workers)

    def get_group(self, group_id: int) -> GroupRecord | None:
        with self._read() as c:
            return call_table.get_group(c, group_id)

    def group_members(self, group_id: int) -> list[int]:
        """A group's jobs, in submission order."""
        with self._read() as c:
            return call_table.group_members(c, group_id)

    def sched_links(self, job_id: int) -> tuple[list[int], list[int]]:
        """``(after, after_any)`` of a job."""
        with self._read() as c:
            return call_table.links(c, job_id)

    def get_sched(self, job_id: int) -> SchedRecord | None:
        """A job's scheduler row (None: the job never joined a scheduler)."""
        with self._read() as c:
            return call_table.get_sched(c, job_id)

    def job_board_rows(self) -> dict[int, BoardRow]:
        """Group, priority, reason and links of every job in a scheduler or a group, by job
        id, in one read (a jobs list of hundreds of jobs reads them at once)."""
        with self._read() as c:
            return call_table.job_board_rows(c)

    def unfinished_scheduled(self) -> list[int]:
        """Jobs in a scheduler's care that have not ended, oldest first."""
        with self._read() as c:
            return call_table.unfinished_ids(c)

    def apply_sched_ops(self, ops: Iterable[tuple[Any, ...]]) -> None:
        """The scheduler's queued state changes and outcomes, in one transaction."""
        with self._write() as c:
            call_table.apply_ops(c, ops)

    def adopt_jobs(self, job_ids: Sequence[int], identity: str) -> None:
        """Mark jobs as held by the host ``identity`` (``spec.host``), so that liveness checks
        see the process that now runs them (see :func:`~tui_batch.store.job_liveness`)."""
        with self._write() as c:
            c.executemany(
                "UPDATE jobs SET spec = json_set(spec, '$.host.identity', ?) WHERE id = ?",
                [(identity, j) for j in job_ids],
            )

    def retry_failed_tasks(self, job_id: int, reason: str = "retried by user") -> int:
        """``tui-batch retry`` of a job no process runs: its failed and cancelled tasks are
        queued again and the job becomes 'interrupted' (resumable), in one transaction, so a
        kill before it runs again still leaves it resumable. Returns how many; the job's
        state is left alone when there were none. The caller holds the job's run lock."""
        self._writer.drain(None)
        with self._write() as c:
            n = requeue_failed(c, job_id, reason)
            if n:
                update_job_state(c, self.path, job_id, "interrupted", None)
            return n
