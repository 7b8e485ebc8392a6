"""The job store's schema: its tables, the migrations between versions, and the checks that a
file is ours and not too new for this code.

Why a module of its own: the schema is the store's contract with every file on disk, older
and newer. Versions are ``PRAGMA user_version`` (one per entry of :data:`MIGRATIONS`), and
``PRAGMA application_id`` marks the file as a tui-batch store, so a foreign SQLite database
given as ``--db`` is refused before anything writes to it (see :func:`check_version`).
Opening connections is db.py's business; this module only reads and changes a schema.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable

from ..errors import StoreError

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "check_readonly",
    "check_version",
    "migrate",
    "read_version",
    "schema_version",
]

APPLICATION_ID = 0x74756962  # "tuib": marks the file as ours, so --db on a foreign DB is refused

_SCHEMA_V1 = (
    """CREATE TABLE groups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at REAL NOT NULL,
        mode TEXT NOT NULL DEFAULT 'sequential' CHECK (mode IN ('sequential', 'parallel')),
        cancel_on_failure INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        state TEXT NOT NULL,
        spec TEXT NOT NULL,
        name TEXT,
        group_id INTEGER REFERENCES groups(id) ON DELETE SET NULL,
        error TEXT
    )""",
    "CREATE INDEX jobs_group ON jobs(group_id) WHERE group_id IS NOT NULL",
    """CREATE TABLE job_deps (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        depends_on INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        PRIMARY KEY (job_id, depends_on),
        CHECK (job_id <> depends_on)
    ) WITHOUT ROWID""",
    "CREATE INDEX job_deps_rev ON job_deps(depends_on)",
    """CREATE TABLE tasks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        path BLOB NOT NULL,
        root BLOB NOT NULL,
        rel BLOB NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        dev INTEGER NOT NULL DEFAULT 0,
        ino INTEGER NOT NULL DEFAULT 0,
        priority INTEGER NOT NULL DEFAULT 1,
        state TEXT NOT NULL DEFAULT 'queued',
        reason TEXT,
        duplicate_of BLOB,
        attempts INTEGER NOT NULL DEFAULT 0,
        started_at REAL,
        ended_at REAL,
        exit_code INTEGER,
        signal INTEGER,
        error TEXT
    )""",
    # Counts per state (GROUP BY on a covering index) and "load the unfinished tasks of job N".
    "CREATE INDEX tasks_job_state ON tasks(job_id, state)",
    "CREATE UNIQUE INDEX tasks_job_seq ON tasks(job_id, seq)",
    """CREATE TABLE attempts (
        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        n INTEGER NOT NULL,
        state TEXT NOT NULL,
        started_at REAL,
        ended_at REAL,
        exit_code INTEGER,
        signal INTEGER,
        error TEXT,
        stdout_tail TEXT,
        stderr_tail TEXT,
        PRIMARY KEY (task_id, n)
    )""",
    """CREATE TABLE hashes (
        dev INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        kind TEXT NOT NULL,
        digest BLOB NOT NULL,
        PRIMARY KEY (dev, ino, size, mtime_ns, kind)
    ) WITHOUT ROWID""",
)


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    for stmt in _SCHEMA_V1:
        conn.execute(stmt)


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    # where each attempt's whole output is kept (model/logfiles.py), and the hash cache's age
    # (so `jobs --prune` can bound it)
    for col in ("log_slot", "out_off", "out_len", "out_total", "err_off", "err_len",
                "err_total"):
        conn.execute(f"ALTER TABLE attempts ADD COLUMN {col} INTEGER")
    conn.execute("ALTER TABLE hashes ADD COLUMN added_at REAL NOT NULL DEFAULT 0")


def _migrate_to_3(conn: sqlite3.Connection) -> None:
    # The Batch scheduler (tui_batch.scheduler): a job's place in it (priority, what it waits
    # for), a call job's attempts and outcome (JSON result or error), groups' names and worker
    # limits, and after_any links beside the after links.
    conn.execute(
        """CREATE TABLE job_sched (
        job_id INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
        priority INTEGER NOT NULL DEFAULT 1,
        reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        started_at REAL,
        ended_at REAL,
        result TEXT,
        result_kind TEXT,
        error_type TEXT,
        error_message TEXT,
        traceback TEXT
    )"""
    )
    conn.execute("ALTER TABLE groups ADD COLUMN name TEXT")
    conn.execute("ALTER TABLE groups ADD COLUMN workers INTEGER")
    conn.execute("ALTER TABLE job_deps ADD COLUMN any_of INTEGER NOT NULL DEFAULT 0")


def _migrate_to_4(conn: sqlite3.Connection) -> None:
    # Pipelines (jobs/pipeline.py): each file's steps are tasks of the job. ``step`` is
    # 0-based (0: the first step, so every older task is a step 0); ``parent`` is the task of
    # the same file's previous step, whose output this task reads. A file keeps its ``seq``
    # ({#}) at every step, so seq is unique per step, not per job.
    conn.execute("ALTER TABLE tasks ADD COLUMN step INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE tasks ADD COLUMN parent INTEGER")
    conn.execute("DROP INDEX tasks_job_seq")
    conn.execute("CREATE UNIQUE INDEX tasks_job_seq_step ON tasks(job_id, seq, step)")
    conn.execute("CREATE INDEX tasks_parent ON tasks(parent) WHERE parent IS NOT NULL")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _migrate_to_1, _migrate_to_2, _migrate_to_3, _migrate_to_4,
]
"""``MIGRATIONS[i]`` takes a store from schema version ``i`` to ``i + 1``, inside the caller's
transaction (so it must not commit; no ``executescript``). Append to change the schema; never
edit a released step."""


def schema_version() -> int:
    """The schema version this code writes (``PRAGMA user_version`` of an up-to-date store)."""
    return len(MIGRATIONS)


def read_version(conn: sqlite3.Connection) -> tuple[int, int]:
    """``(user_version, application_id)`` of the database behind ``conn``."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    return int(version), int(app_id)


def check_version(path: str, version: int, app_id: int, conn: sqlite3.Connection) -> None:
    """StoreError unless the file is ours (or empty) and not newer than this code."""
    if app_id not in (0, APPLICATION_ID) or (
        version == 0
        and app_id == 0
        and conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' LIMIT 1"
        ).fetchone()
    ):
        raise StoreError(f"cannot open job store {path}: not a tui-batch job store")
    if version > schema_version():
        raise StoreError(
            f"cannot open job store {path}: it has schema version {version}, newer "
            f"than this tui-batch understands ({schema_version()}); upgrade tui-batch"
        )


def check_readonly(path: str, conn: sqlite3.Connection) -> None:
    """The check of a read-only opening: ours, current, and not empty (nothing to upgrade or
    create when we may not write)."""
    version, app_id = read_version(conn)
    check_version(path, version, app_id, conn)
    if version == 0:
        raise StoreError(f"no job store at {path} (the file is empty)")
    if version < schema_version():
        raise StoreError(
            f"cannot open job store {path} read-only: it has schema version "
            f"{version}; any command that writes (run, resume) upgrades it"
        )


def migrate(path: str, conn: sqlite3.Connection) -> None:
    """Bring the schema to the current version. The common case (already current) only
    reads, so opening a store never takes the write lock during someone else's run."""
    target = schema_version()
    version, app_id = read_version(conn)
    check_version(path, version, app_id, conn)
    if version == target:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version, app_id = read_version(conn)  # another process may have migrated meanwhile
        check_version(path, version, app_id, conn)
        for step in range(version, target):
            MIGRATIONS[step](conn)
            conn.execute(f"PRAGMA user_version = {step + 1}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
