"""The tasks and attempts tables: inserting a job's files, reading them back, counting them.

Why a module of its own: a job holds up to 100k tasks, and every query here is written for
that size: rows are built before the write lock is taken and inserted with multi-row
statements, ids are assigned from the top of the id range (so no row is read back), counts
come from one GROUP BY over the ``(job_id, state)`` index. The hot-path updates of single
tasks are not here (batch.py and writer.py); this module runs in the caller's connection and
transaction, which the Store owns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import StoreError
from ..model.logfiles import LogRef
from .batch import OP_END, OP_STATE, Stmt, exec_rows
from .journal import pending_records
from .records import (
    I64_MAX,
    TASK_COLUMNS,
    TASK_STATES,
    U64,
    AttemptRecord,
    NewTask,
    TaskRecord,
    check_task_state,
    fsencode,
    task_from_row,
)

__all__ = [
    "TASK_INSERT",
    "attempts",
    "get_task",
    "insert_tasks",
    "load_tasks",
    "next_task_ids",
    "overlay_pending",
    "recover_interrupted",
    "requeue_failed",
    "task_counts",
    "task_rows",
    "tasks_query",
]

TASK_INSERT = Stmt(
    "", "INSERT INTO tasks (id, job_id, seq, path, root, rel, size, mtime_ns, dev, ino, priority,"
    " state, reason, duplicate_of) VALUES {values}", "(" + ", ".join(["?"] * 14) + ")",
    tuple(range(14)), False,
)  # fmt: skip
_ID_CHUNK = 500  # task ids per lookup statement (overlay_pending)


def task_rows(
    tasks: Iterable[NewTask], job_id: int, first: int, seq0: int
) -> list[tuple[Any, ...]]:
    """INSERT parameters for add_tasks: paths as fsencoded BLOBs, dev/ino wrapped to signed."""
    enc = fsencode
    roots: dict[str, bytes] = {}  # a job has one or a few roots: encode each once
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for k, t in enumerate(tasks):
        state = t.state
        if state not in TASK_STATES:
            check_task_state(state)
        root = roots.get(t.root)
        if root is None:
            root = roots[t.root] = enc(t.root)
        dup = t.duplicate_of
        d, i = t.dev, t.ino
        append(
            (
                first + k, job_id, seq0 + k, enc(t.path), root, enc(t.rel), t.size, t.mtime_ns,
                d - U64 if d > I64_MAX else d, i - U64 if i > I64_MAX else i,
                int(t.priority), str(state), t.reason, None if dup is None else enc(dup),
            )
        )  # fmt: skip
    return rows


def next_task_ids(conn: sqlite3.Connection, job_id: int) -> tuple[int, int]:
    """(next task id, next seq in the job). sqlite_sequence keeps ids of deleted tasks
    from being reused, so a late record can never land on another job's task."""
    first = conn.execute(
        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tasks'), 0),"
        " COALESCE((SELECT MAX(id) FROM tasks), 0)) + 1"
    ).fetchone()[0]
    seq0 = conn.execute(
        "SELECT COALESCE(MAX(seq), -1) + 1 FROM tasks WHERE job_id = ?", (job_id,)
    ).fetchone()[0]
    return int(first), int(seq0)


OnInserted = Callable[[int, int], None]
"""``progress(rows inserted, rows in all)``, for a job's tasks going in."""
INSERT_CHUNK = 4096
"""Rows per progress report (a multiple of the largest statement; ~65 ms of inserting on a
laptop, so a 50,000-task job reports about 12 times)."""


def insert_rows(
    c: sqlite3.Connection, rows: list[tuple[Any, ...]], max_vars: int, progress: OnInserted | None
) -> None:
    """INSERT task rows (ids final); ``progress`` hears after every :data:`INSERT_CHUNK` rows.
    All in the caller's transaction: the count says how far the one INSERT has got."""
    if progress is None:
        exec_rows(c, TASK_INSERT, rows, max_vars, True)
        return
    total = len(rows)
    for pos in range(0, total, INSERT_CHUNK):
        exec_rows(c, TASK_INSERT, rows[pos : pos + INSERT_CHUNK], max_vars, True)
        progress(min(pos + INSERT_CHUNK, total), total)


def insert_tasks(
    c: sqlite3.Connection,
    path: str,
    job_id: int,
    rows: list[tuple[Any, ...]],
    guess: tuple[int, int],
    max_vars: int,
    progress: OnInserted | None = None,
) -> list[int]:
    """Insert rows built by :func:`task_rows` with the ids ``guess`` (next task id, next
    seq), renumbered first if another writer added tasks meanwhile; returns their ids.
    ``progress``: see :func:`insert_rows`."""
    if c.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
        raise StoreError(f"no job {job_id} in {path}")
    if not rows:
        return []
    first, seq0 = guess
    now = next_task_ids(c, job_id)
    if now != (first, seq0):
        first, seq0 = now
        rows = [(first + k, job_id, seq0 + k, *r[3:]) for k, r in enumerate(rows)]
    insert_rows(c, rows, max_vars, progress)
    return list(range(first, first + len(rows)))


def tasks_query(
    job_id: int, states: Iterable[str] | None, limit: int | None = None
) -> tuple[str, list[Any]] | None:
    """The SELECT of :func:`load_tasks` (None: no state asked for, nothing to read). The
    states are checked here, before any connection is touched."""
    sql = f"SELECT {TASK_COLUMNS} FROM tasks WHERE job_id = ?"
    params: list[Any] = [job_id]
    if states is not None:
        wanted = sorted({str(s) for s in states})
        for s in wanted:
            check_task_state(s)
        if not wanted:
            return None
        sql += f" AND state IN ({', '.join('?' * len(wanted))})"
        params.extend(wanted)
    sql += " ORDER BY seq, step"  # a pipeline's steps of one file side by side
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(0, int(limit)))
    return sql, params


def load_tasks(c: sqlite3.Connection, query: tuple[str, list[Any]]) -> list[TaskRecord]:
    """A job's tasks in scan order (``seq``), by a query of :func:`tasks_query`."""
    rows = c.execute(*query).fetchall()
    return [task_from_row(r) for r in rows]


def get_task(c: sqlite3.Connection, path: str, task_id: int) -> TaskRecord:
    """One task; StoreError if there is none with that id."""
    row = c.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,)).fetchone()
    if row is None:
        raise StoreError(f"no task {task_id} in {path}")
    return task_from_row(row)


def task_counts(c: sqlite3.Connection, path: str, job_id: int) -> dict[str, int]:
    """Tasks per state, with a key (possibly 0) for every task state; no 'total' key."""
    rows = c.execute(
        "SELECT state, COUNT(*) FROM tasks WHERE job_id = ? GROUP BY state", (job_id,)
    ).fetchall()
    per_job = {job_id: dict(rows)}
    overlay_pending(c, path, per_job, job_id)
    counts = dict.fromkeys(sorted(TASK_STATES), 0)
    counts.update(per_job[job_id])
    return counts


def recover_interrupted(c: sqlite3.Connection, job_id: int) -> int:
    """Tasks left 'running' become 'interrupted', and their open attempt rows say so, in the
    caller's transaction. Returns how many."""
    c.execute(
        "UPDATE attempts SET state = 'interrupted', error = COALESCE(error,"
        " 'interrupted: tui-batch stopped while this attempt was running')"
        " WHERE state = 'running' AND task_id IN"
        " (SELECT id FROM tasks WHERE job_id = ? AND state = 'running')",
        (job_id,),
    )
    cur = c.execute(
        "UPDATE tasks SET state = 'interrupted' WHERE job_id = ? AND state = 'running'",
        (job_id,),
    )
    return cur.rowcount


def requeue_failed(c: sqlite3.Connection, job_id: int, reason: str) -> int:
    """Failed and cancelled tasks of a job become 'queued' again (their attempts stay as
    history), in the caller's transaction; returns how many. The same set the engine's
    ``retry_failed`` takes, for a job no process runs."""
    cur = c.execute(
        "UPDATE tasks SET state = 'queued', reason = ?"
        " WHERE job_id = ? AND state IN ('failed', 'cancelled')",
        (reason, job_id),
    )
    return cur.rowcount


def overlay_pending(
    c: sqlite3.Connection, path: str, per_job: dict[int, dict[str, int]], job_id: int | None
) -> None:
    """Count tasks in the state their journaled, not yet committed records give them, so
    a read-only reader (which cannot replay) sees what the next writer will commit."""
    latest: dict[int, str] = {}
    for it in pending_records(path):
        # (op, task, attempt, state, ...) and (op, task, state, reason)
        if it[0] in (OP_END, OP_STATE):
            latest[it[1]] = it[3] if it[0] == OP_END else it[2]
    ids = [t for t, st in latest.items() if st in TASK_STATES]
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        rows = c.execute(
            f"SELECT id, job_id, state FROM tasks WHERE id IN ({', '.join('?' * len(chunk))})",
            chunk,
        ).fetchall()
        for tid, jid, state in rows:
            new = latest[tid]
            if new == state or (job_id is not None and jid != job_id):
                continue
            counts = per_job.setdefault(jid, {})
            counts[state] = counts.get(state, 0) - 1
            counts[new] = counts.get(new, 0) + 1


def attempts(c: sqlite3.Connection, task_id: int) -> list[AttemptRecord]:
    """A task's attempts, oldest first, with their exit status and output tails."""
    rows = c.execute(
        "SELECT task_id, n, state, started_at, ended_at, exit_code, signal, error,"
        " stdout_tail, stderr_tail, log_slot, out_off, out_len, out_total, err_off, err_len,"
        " err_total FROM attempts WHERE task_id = ? ORDER BY n",
        (task_id,),
    ).fetchall()
    return [attempt_from_row(r) for r in rows]


def attempt_from_row(r: Sequence[Any]) -> AttemptRecord:
    """An AttemptRecord from the attempts columns above (the last seven: its LogRef)."""
    log = None if r[10] is None else LogRef(*r[10:17])
    return AttemptRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], log)
