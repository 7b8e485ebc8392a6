"""The scheduler's tables: ``job_sched`` (a job's place in a Batch's scheduler and a call job's
outcome), the scheduler's columns of ``groups`` and the ``any_of`` links of ``job_deps``.

Why a module of its own: jobs submitted to a :class:`~tui_batch.api.Batch` (call jobs and the
file jobs that join them) must keep their priority, their dependencies, their group and a call
job's result or error across a restart, and these rows are what ``resume_unfinished`` rebuilds
the scheduler from. Every function runs in the caller's connection and transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError

__all__ = [
    "BoardRow",
    "GroupRecord",
    "SchedRecord",
    "apply_ops",
    "get_group",
    "get_sched",
    "group_members",
    "insert_group",
    "insert_sched",
    "job_board_rows",
    "links",
    "unfinished_ids",
]

SCHED_COLUMNS = (
    "job_id, priority, reason, attempts, started_at, ended_at, result, result_kind,"
    " error_type, error_message, traceback"
)
UNFINISHED = ("created", "queued", "waiting", "running", "paused", "interrupted")
"""Job states ``resume_unfinished`` picks up (for jobs with a ``job_sched`` row)."""


@dataclass(slots=True)
class SchedRecord:
    """A job's ``job_sched`` row: its priority and, for a call job, its last outcome."""

    job_id: int
    priority: int
    reason: str | None
    attempts: int
    started_at: float | None
    ended_at: float | None
    result: str | None
    """The return value as JSON text (``result_kind == "json"``), or a note on where it is."""
    result_kind: str | None
    error_type: str | None
    error_message: str | None
    traceback: str | None


@dataclass(slots=True)
class GroupRecord:
    """A group row (mode ``sequential`` or ``parallel``)."""

    id: int
    name: str | None
    mode: str
    cancel_on_failure: bool
    workers: int | None


@dataclass(slots=True)
class BoardRow:
    """What a jobs list shows of a job's place in a scheduler (:func:`job_board_rows`)."""

    job_id: int
    group: GroupRecord | None
    scheduled: bool
    """The job has a ``job_sched`` row (a Batch's scheduler took it in)."""
    priority: int
    reason: str | None
    attempts: int
    started_at: float | None
    ended_at: float | None
    after: tuple[int, ...]
    after_any: tuple[int, ...]


def insert_group(
    c: sqlite3.Connection, name: str | None, mode: str, cancel_on_failure: bool,
    workers: int | None,
) -> int:
    """A new group row; returns its id."""
    cur = c.execute(
        "INSERT INTO groups (created_at, mode, cancel_on_failure, name, workers)"
        " VALUES (?, ?, ?, ?, ?)",
        (time.time(), mode, int(cancel_on_failure), name, workers),
    )
    return int(cur.lastrowid or 0)


def get_group(c: sqlite3.Connection, group_id: int) -> GroupRecord | None:
    row = c.execute(
        "SELECT id, name, mode, cancel_on_failure, workers FROM groups WHERE id = ?",
        (group_id,),
    ).fetchone()
    return None if row is None else GroupRecord(row[0], row[1], row[2], bool(row[3]), row[4])


def group_members(c: sqlite3.Connection, group_id: int) -> list[int]:
    """The jobs of a group, in submission order."""
    rows = c.execute("SELECT id FROM jobs WHERE group_id = ? ORDER BY id", (group_id,))
    return [r[0] for r in rows.fetchall()]


def insert_sched(
    c: sqlite3.Connection, path: str, job_id: int, priority: int,
    after: Sequence[int], after_any: Sequence[int], reason: str | None,
) -> None:
    """The ``job_sched`` row and the dependency links of a job joining the scheduler; a
    dependency on a job that is not in the store is refused (StoreError naming it)."""
    wanted = sorted({*after, *after_any})
    if wanted:
        marks = ",".join("?" * len(wanted))
        found = {r[0] for r in c.execute(f"SELECT id FROM jobs WHERE id IN ({marks})", wanted)}
        missing = [j for j in wanted if j not in found]
        if missing:
            raise StoreError(f"no job {missing[0]} in {path}")
    c.execute(
        "INSERT OR REPLACE INTO job_sched (job_id, priority, reason) VALUES (?, ?, ?)",
        (job_id, priority, reason),
    )
    c.executemany(
        "INSERT OR REPLACE INTO job_deps (job_id, depends_on, any_of) VALUES (?, ?, ?)",
        [(job_id, d, 0) for d in after] + [(job_id, d, 1) for d in after_any],
    )


def links(c: sqlite3.Connection, job_id: int) -> tuple[list[int], list[int]]:
    """``(after, after_any)``: the jobs ``job_id`` waits for."""
    rows = c.execute(
        "SELECT depends_on, any_of FROM job_deps WHERE job_id = ? ORDER BY depends_on",
        (job_id,),
    ).fetchall()
    return [d for d, a in rows if not a], [d for d, a in rows if a]


def get_sched(c: sqlite3.Connection, job_id: int) -> SchedRecord | None:
    row = c.execute(f"SELECT {SCHED_COLUMNS} FROM job_sched WHERE job_id = ?", (job_id,))
    r = row.fetchone()
    return None if r is None else SchedRecord(*r)


def job_board_rows(c: sqlite3.Connection) -> dict[int, BoardRow]:
    """For every job in a scheduler or a group, in two queries whatever the number of jobs:
    its group, priority, reason, attempts, times and dependency links (jobs outside any
    scheduler and group have no row)."""
    rows = c.execute(
        "SELECT j.id, g.id, g.name, g.mode, g.cancel_on_failure, g.workers,"
        " s.job_id IS NOT NULL, s.priority, s.reason, s.attempts, s.started_at, s.ended_at"
        " FROM jobs AS j LEFT JOIN job_sched AS s ON s.job_id = j.id"
        " LEFT JOIN groups AS g ON g.id = j.group_id"
        " WHERE s.job_id IS NOT NULL OR j.group_id IS NOT NULL"
    ).fetchall()
    after: dict[int, list[int]] = {}
    any_of: dict[int, list[int]] = {}
    for job_id, dep, any_ in c.execute(
        "SELECT job_id, depends_on, any_of FROM job_deps ORDER BY job_id, depends_on"
    ):
        (any_of if any_ else after).setdefault(job_id, []).append(dep)
    out = {}
    for r in rows:
        group = None if r[1] is None else GroupRecord(r[1], r[2], r[3], bool(r[4]), r[5])
        out[r[0]] = BoardRow(
            r[0], group, bool(r[6]), 1 if r[7] is None else r[7], r[8], r[9] or 0, r[10],
            r[11], tuple(after.get(r[0], ())), tuple(any_of.get(r[0], ())),
        )
    return out


def unfinished_ids(c: sqlite3.Connection) -> list[int]:
    """Jobs in the scheduler's care that have not ended, oldest first."""
    marks = ",".join("?" * len(UNFINISHED))
    rows = c.execute(
        "SELECT j.id FROM jobs AS j JOIN job_sched AS s ON s.job_id = j.id"
        f" WHERE j.state IN ({marks}) ORDER BY j.id",
        UNFINISHED,
    )
    return [r[0] for r in rows.fetchall()]


_OP_NAMES = {
    "start": ("id", "attempts", "started_at"),
    "end": ("id", "state", "reason", "attempts", "ended_at", "result", "result_kind",
            "etype", "emsg", "tb"),
    "state": ("id", "state", "reason"),
    "prio": ("id", "priority"),
}
"""The parameters of each op, after its kind (``now`` is added by :func:`apply_ops`)."""

_OP_SQL: dict[str, tuple[str, ...]] = {
    "start": (
        "UPDATE jobs SET state = 'running', error = NULL, updated_at = :now WHERE id = :id",
        "UPDATE job_sched SET attempts = :attempts, started_at = :started_at, reason = NULL"
        " WHERE job_id = :id",
    ),
    "end": (
        "UPDATE jobs SET state = :state, updated_at = :now,"
        " error = CASE WHEN :etype IS NULL THEN :reason ELSE :etype || ': ' || :emsg END"
        " WHERE id = :id",
        "UPDATE job_sched SET reason = :reason, attempts = :attempts, ended_at = :ended_at,"
        " result = :result, result_kind = :result_kind, error_type = :etype,"
        " error_message = :emsg, traceback = :tb WHERE job_id = :id",
    ),
    "state": (
        "UPDATE jobs SET state = :state, error = :reason, updated_at = :now WHERE id = :id",
        "UPDATE job_sched SET reason = :reason WHERE job_id = :id",
    ),
    "prio": ("UPDATE job_sched SET priority = :priority WHERE job_id = :id",),
}


def apply_ops(c: sqlite3.Connection, ops: Iterable[tuple[Any, ...]]) -> None:
    """Apply the scheduler's queued changes in order (runs of one kind as one executemany).
    An op is ``(kind, *params)`` with the parameters named in :data:`_OP_NAMES`."""
    now = time.time()
    run: list[dict[str, Any]] = []
    kind = ""

    def flush() -> None:
        for sql in _OP_SQL[kind]:
            c.executemany(sql, run)

    for op in ops:
        k = op[0]
        if k != kind:
            if run:
                flush()
            kind, run = k, []
        row = dict(zip(_OP_NAMES[k], op[1:], strict=True))
        row["now"] = now
        run.append(row)
    if run:
        flush()
