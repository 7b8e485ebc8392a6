"""The jobs, groups and dependencies tables: a job's row, its spec, its place among others.

Why a module of its own: a job is what ``resume``, ``tui-batch jobs`` and the TUI's jobs
screen see, and its row carries the whole spec (a JSON dict) so a job can be rebuilt without
its original command line. Creating a job writes its tasks in the same transaction (a kill
never leaves a job without its files), which is why this module uses task_table.py's rows.
Every function runs in the caller's connection and transaction, which the Store owns.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from ..errors import StoreError
from .records import JOB_COLUMNS, TASK_STATES, JobRecord, JobSummary, job_from_row
from .task_table import OnInserted, insert_rows, overlay_pending

__all__ = [
    "add_dependency",
    "delete_job",
    "dependencies",
    "get_job",
    "insert_group",
    "insert_job",
    "job_summaries",
    "next_job_and_task_ids",
    "no_job",
    "read_job_list",
    "update_job_state",
]


def no_job(path: str, job_id: int) -> StoreError:
    """The error for a job id that is not in the store at ``path``."""
    return StoreError(f"no job {job_id} in {path}")


def insert_group(c: sqlite3.Connection, mode: str, cancel_on_failure: bool) -> int:
    """A new group row; returns its id."""
    cur = c.execute(
        "INSERT INTO groups (created_at, mode, cancel_on_failure) VALUES (?, ?, ?)",
        (time.time(), mode, int(cancel_on_failure)),
    )
    return int(cur.lastrowid or 0)


def add_dependency(c: sqlite3.Connection, path: str, job_id: int, depends_on: int) -> None:
    """Record that ``job_id`` waits for ``depends_on``; refused when it would close a cycle."""
    for j in (job_id, depends_on):
        if c.execute("SELECT 1 FROM jobs WHERE id = ?", (j,)).fetchone() is None:
            raise no_job(path, j)
    cycle = c.execute(
        "WITH RECURSIVE up(id) AS (SELECT ? UNION"
        " SELECT d.depends_on FROM job_deps AS d JOIN up ON d.job_id = up.id)"
        " SELECT 1 FROM up WHERE id = ? LIMIT 1",
        (depends_on, job_id),
    ).fetchone()
    if cycle:
        raise StoreError(
            f"job {job_id} cannot depend on job {depends_on}: "
            f"job {depends_on} already waits for job {job_id}"
        )
    c.execute(
        "INSERT OR IGNORE INTO job_deps (job_id, depends_on) VALUES (?, ?)",
        (job_id, depends_on),
    )


def dependencies(c: sqlite3.Connection, job_id: int) -> list[int]:
    """The jobs ``job_id`` waits for."""
    rows = c.execute(
        "SELECT depends_on FROM job_deps WHERE job_id = ? ORDER BY depends_on", (job_id,)
    ).fetchall()
    return [r[0] for r in rows]


def next_job_and_task_ids(conn: sqlite3.Connection) -> tuple[int, int]:
    """(next job id, next task id), never reusing a deleted one's (AUTOINCREMENT)."""
    row = conn.execute(
        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0),"
        " COALESCE((SELECT MAX(id) FROM jobs), 0)) + 1,"
        " MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tasks'), 0),"
        " COALESCE((SELECT MAX(id) FROM tasks), 0)) + 1"
    ).fetchone()
    return int(row[0]), int(row[1])


def insert_job(
    c: sqlite3.Connection,
    path: str,
    job: tuple[float, str, str, str | None, int | None],
    rows: list[tuple[Any, ...]],
    guess: tuple[int, int],
    max_vars: int,
    progress: OnInserted | None = None,
) -> int:
    """Insert a job, ``job = (now, state, spec as JSON, name, group_id)``, with its task rows
    (built by ``task_table.task_rows`` with the ids ``guess``, renumbered first if another
    writer got in meanwhile); returns the job's id. ``progress``: ``task_table.insert_rows``."""
    now, state, text, name, group_id = job
    if (
        group_id is not None
        and c.execute("SELECT 1 FROM groups WHERE id = ?", (group_id,)).fetchone() is None
    ):
        raise StoreError(f"no group {group_id} in {path}")
    if rows:
        now_ids = next_job_and_task_ids(c)
        if now_ids != guess:
            job_id, first = now_ids
            rows = [(first + k, job_id, k, *r[3:]) for k, r in enumerate(rows)]
        c.execute(
            "INSERT INTO jobs (id, created_at, updated_at, state, spec, name, group_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now_ids[0], now, now, state, text, name, group_id),
        )
        insert_rows(c, rows, max_vars, progress)
        return now_ids[0]
    cur = c.execute(
        "INSERT INTO jobs (created_at, updated_at, state, spec, name, group_id)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (now, now, state, text, name, group_id),
    )
    return int(cur.lastrowid or 0)


def update_job_state(
    c: sqlite3.Connection, path: str, job_id: int, state: str, error: str | None
) -> None:
    """Set a job's state and error (None clears it)."""
    cur = c.execute(
        "UPDATE jobs SET state = ?, error = ?, updated_at = ? WHERE id = ?",
        (state, error, time.time(), job_id),
    )
    if cur.rowcount == 0:
        raise no_job(path, job_id)


def get_job(c: sqlite3.Connection, job_id: int) -> JobRecord | None:
    """One job (None: there is none with that id)."""
    row = c.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else job_from_row(row)


def read_job_list(
    c: sqlite3.Connection, path: str
) -> tuple[list[Any], dict[int, dict[str, int]]]:
    """Every job row, newest first, and the task counts per job from one GROUP BY over the
    ``(job_id, state)`` index (no table rows read, so it stays fast at 100k tasks), with the
    journaled records counted in (see ``task_table.overlay_pending``)."""
    jobs = c.execute(f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC").fetchall()
    counts = c.execute(
        "SELECT job_id, state, COUNT(*) FROM tasks GROUP BY job_id, state"
    ).fetchall()
    per_job: dict[int, dict[str, int]] = {}
    for job_id, state, n in counts:
        per_job.setdefault(job_id, {})[state] = n
    overlay_pending(c, path, per_job, None)
    return jobs, per_job


def job_summaries(jobs: list[Any], per_job: dict[int, dict[str, int]]) -> list[JobSummary]:
    """The summaries of :func:`read_job_list`'s rows (decoded outside the store's lock)."""
    out = []
    for r in jobs:
        found = per_job.get(r[0], {})
        c_ = dict.fromkeys(sorted(TASK_STATES), 0)
        c_.update(found)
        out.append(
            JobSummary(
                r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], c_,
                sum(found.values()),
            )
        )  # fmt: skip
    return out


def delete_job(c: sqlite3.Connection, path: str, job_id: int) -> None:
    """Remove a job; its tasks, attempts and dependency links go with it (ON DELETE)."""
    cur = c.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
    if cur.rowcount == 0:
        raise no_job(path, job_id)
