"""The store's side of pipelines: the tasks of a file's later steps, and counts per step.

Why a module of its own: a pipeline job (``[[steps]]``, ``--then``) stores every step of every
file as a task (``tasks.step``, 0-based, and ``tasks.parent``, the same file's previous-step
task). A later step's task is made while the job runs, when the previous step of that file
succeeded, on the hot path: its id comes from a block reserved up front
(:meth:`StoreSteps.reserve_task_ids`) and its row is queued together with the previous step's
end (:meth:`StoreSteps.record_end_with_child`), so both commit in one transaction and a kill
never leaves a done step without the next one (and if it ever did, ``resume`` makes it:
``jobs/pipeline_setup.py``). :class:`StoreSteps` is mixed into
:class:`~tui_batch.store.core.Store`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from ..model.logfiles import LogRef
from .batch import _OP_SQL, OP_END, OP_SPAWN, OP_STATE, exec_rows
from .calls import StoreCalls
from .journal import pending_records
from .records import TASK_STATES, ChildTask, check_task_state

__all__ = ["StoreSteps"]

_NO_LOG = (None,) * 7


class StoreSteps(StoreCalls):
    """Pipeline steps in the store (mixed into Store, like StoreCalls)."""

    path: str
    _read: Callable[[], contextlib.AbstractContextManager[sqlite3.Connection]]
    _write: Callable[[], contextlib.AbstractContextManager[sqlite3.Connection]]
    _conn_max_vars: int
    _writer: Any

    def reserve_task_ids(self, n: int) -> int:
        """Set aside ``n`` task ids for tasks made later by this process (a pipeline's next
        steps); returns the first. No other writer gets them: the tasks table's sequence is
        moved past them. Unused ones (a file that failed) are only gaps."""
        n = max(0, int(n))
        with self._write() as c:
            first = int(c.execute(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tasks'), 0),"
                " COALESCE((SELECT MAX(id) FROM tasks), 0)) + 1"
            ).fetchone()[0])  # fmt: skip
            if n:
                top = first + n - 1
                cur = c.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'tasks'", (top,))
                if cur.rowcount == 0:
                    c.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('tasks', ?)",
                              (top,))
            return first

    def record_end_with_child(
        self,
        child: ChildTask,
        task_id: int,
        attempt: int,
        state: str,
        *,
        started_at: float,
        ended_at: float,
        exit_code: int | None = None,
        signal: int | None = None,
        error: str | None = None,
        stdout_tail: str | None = None,
        stderr_tail: str | None = None,
        reason: str | None = None,
        log: LogRef | None = None,
    ) -> None:
        """:meth:`~.core.Store.record_end` of a step's task, and the next step's task of the
        same file (``child``), journaled and queued together: one transaction commits both."""
        if state not in TASK_STATES:
            check_task_state(state)
        end = (OP_END, task_id, attempt, state, started_at, ended_at, exit_code, signal, error,
               stdout_tail, stderr_tail, reason, *(log or _NO_LOG))
        self._writer.record_pair(end, child.record())

    def add_child_tasks(self, children: Sequence[ChildTask]) -> None:
        """Insert next-step tasks now, in one transaction (``resume`` making the step a kill
        left unmade; their ids reserved with :meth:`reserve_task_ids`)."""
        if not children:
            return
        self._writer.drain(None)
        with self._write() as c:
            exec_rows(c, _OP_SQL[OP_SPAWN][0], [ch.record() for ch in children],
                      self._conn_max_vars, True)

    def step_counts(self, job_id: int, steps: int | None = None) -> list[dict[str, int]]:
        """Tasks per state for each step of a job, step 1 first: one dict per step with a
        key (possibly 0) for every task state, like ``task_counts``. ``steps``: how many the
        job has (its spec's ``len(steps)``), so steps no task reached yet are listed too;
        None: as many as have tasks (at least one). Counts what killed processes journaled
        but did not commit as the next writer will commit it."""
        with self._read() as c:
            rows = c.execute(
                "SELECT step, state, COUNT(*) FROM tasks WHERE job_id = ? GROUP BY step, state",
                (job_id,),
            ).fetchall()
            per: dict[int, dict[str, int]] = {}
            for step, state, n in rows:
                per.setdefault(int(step), {})[state] = int(n)
            _overlay_steps(c, self.path, job_id, per)
        top = max(per, default=0) + 1
        n_steps = max(top, steps or 0)
        out = []
        for k in range(n_steps):
            counts = dict.fromkeys(sorted(TASK_STATES), 0)
            counts.update(per.get(k, {}))
            out.append(counts)
        return out


def _overlay_steps(
    c: sqlite3.Connection, path: str, job_id: int, per: dict[int, dict[str, int]]
) -> None:
    """Move tasks to the state their pending (journaled, uncommitted) records give them,
    and count pending next-step tasks not in the table yet."""
    latest: dict[int, str] = {}
    spawned: dict[int, tuple[int, int, str]] = {}  # task -> (job, step, state)
    for it in pending_records(path):
        op = it[0]
        if op == OP_END:
            latest[it[1]] = it[3]
        elif op == OP_STATE:  # (op, task, state, reason)
            latest[it[1]] = it[2]
        elif op == OP_SPAWN:
            spawned[it[1]] = (it[2], it[4], it[14])
    if not latest and not spawned:
        return
    ids = list({*latest, *spawned})
    found: dict[int, tuple[int, int, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for tid, jid, step, state in c.execute(
            f"SELECT id, job_id, step, state FROM tasks WHERE id IN ({marks})", chunk
        ):
            found[tid] = (jid, step, state)
    for tid, (jid, step, state) in spawned.items():
        if tid not in found and jid == job_id:
            found[tid] = (jid, step, "")  # counted below under its latest state
            latest.setdefault(tid, state)
    for tid, new in latest.items():
        row = found.get(tid)
        if row is None or row[0] != job_id or new == row[2] or new not in TASK_STATES:
            continue
        counts = per.setdefault(row[1], {})
        if row[2]:
            counts[row[2]] = counts.get(row[2], 0) - 1
        counts[new] = counts.get(new, 0) + 1
