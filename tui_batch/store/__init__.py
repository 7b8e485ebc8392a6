"""The job store: jobs, tasks, attempts, the hash cache and the watch state, in one SQLite file,
and the file locks that tell a live run from a dead one.

The public face is below; the modules behind it each own one concern:

* core.py: :class:`Store`, the object clients hold (connection, life cycle, read-your-writes)
* db.py: paths and connections (WAL, read-only opening); schema.py: tables and migrations
* records.py: the rows as Python values; job_table.py, task_table.py, hashcache.py: their SQL
* writer.py: the hot path's queue and writer thread; batch.py: a batch as few statements
* journal.py, journal_format.py: hot-path records in the OS before they are committed
* watch_state.py: what a watch has already seen
* locks.py: run lock, watch lock, and who holds them (``job_liveness``)

The store imports only ``tui_batch.errors`` and ``tui_batch.model``: engine, jobs and clients
build on it, never the other way round.
"""

from __future__ import annotations

from .core import Store
from .db import BUSY_TIMEOUT, ENV_VAR, default_path, expand_user, resolve_path
from .hashcache import HashKey
from .locks import (
    WatchLock,
    effective_counts,
    effective_state,
    flock_exclusive,
    identity_key,
    job_liveness,
    job_lock_path,
    lock_job,
    tasks_left,
    unlock_job,
)
from .records import (
    JOB_STATES,
    TASK_STATES,
    AttemptRecord,
    ChildTask,
    JobRecord,
    JobSummary,
    NewTask,
    TaskRecord,
)
from .schema import MIGRATIONS, schema_version
from .watch_state import KIND_DUPLICATE, KIND_OUTPUT, KIND_TASK, SeenRow, WatchState

__all__ = [
    "BUSY_TIMEOUT",
    "ENV_VAR",
    "JOB_STATES",
    "KIND_DUPLICATE",
    "KIND_OUTPUT",
    "KIND_TASK",
    "MIGRATIONS",
    "TASK_STATES",
    "AttemptRecord",
    "ChildTask",
    "HashKey",
    "JobRecord",
    "JobSummary",
    "NewTask",
    "SeenRow",
    "Store",
    "TaskRecord",
    "WatchLock",
    "WatchState",
    "default_path",
    "effective_counts",
    "effective_state",
    "expand_user",
    "flock_exclusive",
    "identity_key",
    "job_liveness",
    "job_lock_path",
    "lock_job",
    "resolve_path",
    "schema_version",
    "tasks_left",
    "unlock_job",
]
