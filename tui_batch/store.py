"""The embedded job store: jobs, tasks, attempts, hash cache, in one SQLite file.

Why it looks the way it does:

* **WAL, ``synchronous=NORMAL``, ``busy_timeout``.** A run writes while ``tui-batch jobs`` (or the
  TUI's jobs screen, in another process) reads. In WAL mode readers never wait for the writer,
  and NORMAL only gives up durability on *power loss*, not on process death (``kill -9``): a
  committed transaction is in the WAL file, and SQLite replays it on the next open.
* **Hot path on a queue.** The engine reports every state change from its event loop; paying a
  SQLite transaction there would cap throughput at a few thousand tasks per second. So
  :meth:`Store.record_start`, :meth:`Store.record_end`, :meth:`Store.set_task_state` and
  :meth:`Store.set_task_priority` only append a tuple to a deque (about a microsecond). One
  writer thread, with its own connection, drains *everything* queued into *one* transaction:
  when idle a record is committed within a millisecond or two, under load batches grow by
  themselves. Each drain is atomic, so a kill leaves the store at a batch boundary, never
  half-way through a task's update.
* **Everything else is synchronous** and first waits for the queue to drain, so a caller always
  reads its own writes (``set_job_state("done")`` never lands before the task updates it
  summarises).
* **Paths are BLOBs** (``os.fsencode``), so non-UTF-8 names come back byte-exact.
* **A journal bridges the batch window.** A task's end (and any other hot-path record but a
  start) is also put, synchronously, into a small memory-mapped per-process file beside the
  database (``journal.py``) before it is queued, and the next process to open the store for
  writing commits what a killed one left there. So a ``kill -9`` loses no completion the engine
  reported, for ~1.5 us of CPU each and no system call.
* **Read-only opening** (``Store(path, readonly=True)``, for ``tui-batch jobs``): SQLite's
  ``mode=ro``, no folder, file, schema or WAL switch created, so it works on a store the user
  may read but not write, and a mistyped ``--db`` creates nothing.
* **Nothing is written before the file is known to be ours** (or empty): a foreign SQLite
  database given as ``--db`` is refused byte-identical.
* A failure in the writer thread is never swallowed: it is kept and raised (as
  :class:`~tui_batch.errors.StoreError`) by the next :meth:`Store.flush` or :meth:`Store.close`.
  A record that cannot be written (say, an unknown task id) is isolated: the rest of its batch
  is still committed.

Thread safety: every method may be called from any thread. Several processes may use one file.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import sqlite3
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import platformdirs

from . import journal as _journal
from .errors import StoreError
from .model import FileEntry, TaskState
from .store_open import connect_readonly, expand_user

__all__ = [
    "BUSY_TIMEOUT",
    "JOB_STATES",
    "MIGRATIONS",
    "TASK_STATES",
    "AttemptRecord",
    "HashKey",
    "JobRecord",
    "JobSummary",
    "NewTask",
    "Store",
    "TaskRecord",
    "schema_version",
]

BUSY_TIMEOUT = 10.0
"""Seconds a connection waits for another one's write lock before giving up."""

JOB_STATES = frozenset(
    {"created", "running", "paused", "done", "failed", "interrupted", "cancelled"}
)
TASK_STATES = frozenset(s.value for s in TaskState)

ENV_VAR = "TUI_BATCH_DB"
APPLICATION_ID = 0x74756962  # "tuib": marks the file as ours, so --db on a foreign DB is refused

HashKey = tuple[int, int, int, int]
"""``(dev, ino, size, mtime_ns)``: identifies one version of one file for the hash cache."""

_HASH_CHUNK = 500  # keys per lookup statement: 2,001 parameters, well under SQLite's limit
_COALESCE = 0.02
"""Seconds the writer waits after waking so records batch up (see _writer_main)."""
_IDLE_WAIT = 1.0  # writer's safety-net wake-up; normal wake-ups are signalled, not polled

_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1


@contextlib.contextmanager
def write_transaction(
    conn: sqlite3.Connection, lock: threading.Lock | threading.RLock, label: str
) -> Iterator[sqlite3.Connection]:
    """One short BEGIN IMMEDIATE ... COMMIT under ``lock``; rolled back on any error, SQLite
    errors re-raised as StoreError prefixed with ``label``. Shared with watch_state.py."""
    with lock:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise StoreError(f"{label}: {e}") from e
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise StoreError(f"{label}: {e}") from e
            raise


def _i64(v: int) -> int:
    """st_dev / st_ino are unsigned 64-bit; SQLite integers are signed. Wrap, don't overflow."""
    return v - _U64 if v > _I64_MAX else v


def _u64(v: int) -> int:
    return v + _U64 if v < 0 else v


# --------------------------------------------------------------------------------------------
# Records


@dataclass(slots=True)
class NewTask:
    """A task to add to a job. ``path`` / ``root`` / ``rel`` are str, possibly surrogate-escaped."""

    path: str
    root: str
    rel: str
    size: int
    mtime_ns: int
    dev: int = 0
    ino: int = 0
    priority: int = 1
    state: str = "queued"
    reason: str | None = None
    duplicate_of: str | None = None

    @classmethod
    def from_entry(
        cls,
        entry: FileEntry,
        *,
        priority: int = 1,
        state: str = "queued",
        reason: str | None = None,
        duplicate_of: str | None = None,
    ) -> NewTask:
        """The scanner hands out FileEntry; this saves every caller from copying seven fields."""
        return cls(
            entry.path,
            entry.root,
            entry.rel,
            entry.size,
            entry.mtime_ns,
            entry.dev,
            entry.ino,
            priority,
            state,
            reason,
            duplicate_of,
        )


@dataclass(slots=True)
class JobRecord:
    """One job row. ``spec`` is the dict given to :meth:`Store.create_job`, decoded."""

    id: int
    created_at: float
    updated_at: float
    state: str
    spec: dict[str, Any]
    name: str | None
    error: str | None
    group_id: int | None


@dataclass(slots=True)
class JobSummary(JobRecord):
    """A job with its task counts, for job lists. ``counts`` has a key for every task state."""

    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0


@dataclass(slots=True)
class TaskRecord:
    """One task row, decoded. ``exit_code`` / ``signal`` / ``error`` are from the last ended
    attempt; ``started_at`` / ``ended_at`` from the current (or last) one."""

    id: int
    job_id: int
    seq: int
    path: str
    root: str
    rel: str
    size: int
    mtime_ns: int
    dev: int
    ino: int
    priority: int
    state: str
    reason: str | None
    duplicate_of: str | None
    attempts: int
    started_at: float | None
    ended_at: float | None
    exit_code: int | None
    signal: int | None
    error: str | None


@dataclass(slots=True)
class AttemptRecord:
    """One attempt of one task. A running attempt has ``state == "running"`` and no end."""

    task_id: int
    n: int
    state: str
    started_at: float | None
    ended_at: float | None
    exit_code: int | None
    signal: int | None
    error: str | None
    stdout_tail: str | None
    stderr_tail: str | None


# --------------------------------------------------------------------------------------------
# Schema and migrations

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


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_to_1]
"""``MIGRATIONS[i]`` takes a store from schema version ``i`` to ``i + 1``, inside the caller's
transaction (so it must not commit; no ``executescript``). Append to change the schema; never
edit a released step."""


def schema_version() -> int:
    """The schema version this code writes (``PRAGMA user_version`` of an up-to-date store)."""
    return len(MIGRATIONS)


# --------------------------------------------------------------------------------------------
# Hot-path operations: tuples ``(op, task_id, ...)``; the writer maps them to statements.

_OP_START, _OP_END, _OP_STATE, _OP_PRIO, _OP_FLUSH = range(5)


_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()


class _Stmt:
    """One statement of a hot-path operation, in two shapes.

    ``single`` binds one record (``executemany``, the fallback and the slow path). ``multi(n)``
    binds ``n`` records in one statement (multi-row VALUES, ``UPDATE ... FROM`` for updates):
    per record it saves the per-statement overhead, and, more important, it releases and
    re-takes the GIL once per ``n`` records instead of once per record. With one record per
    statement a writer competing with a busy event loop waits for the GIL (5 ms switch
    interval) after every row and falls hopelessly behind.
    """

    __slots__ = ("_cache", "_multi", "_row", "getter", "is_update", "must_match", "single", "width")

    def __init__(
        self, single: str, multi: str, row: str, idx: tuple[int, ...], must_match: bool
    ) -> None:
        self.single = single or multi.format(values=row)
        self._multi = multi  # with "{values}"
        self._row = row
        self.getter: Callable[[tuple[Any, ...]], Any] = itemgetter(*idx)
        self.width = len(idx)
        self.must_match = must_match  # an UPDATE that must hit one task row per record
        self.is_update = self.single.startswith("UPDATE")
        self._cache: dict[int, str] = {}

    def multi(self, n: int) -> str:
        sql = self._cache.get(n)
        if sql is None:
            sql = self._cache[n] = self._multi.format(values=", ".join([self._row] * n))
        return sql


_ATTEMPT_UPSERT = (
    " ON CONFLICT (task_id, n) DO UPDATE SET state = excluded.state,"
    " started_at = excluded.started_at, ended_at = excluded.ended_at,"
    " exit_code = excluded.exit_code, signal = excluded.signal, error = excluded.error,"
    " stdout_tail = excluded.stdout_tail, stderr_tail = excluded.stderr_tail"
)
_START_ATTEMPT = (
    "INSERT INTO attempts (task_id, n, state, started_at) VALUES {values}"
    " ON CONFLICT (task_id, n) DO UPDATE SET state = 'running',"
    " started_at = excluded.started_at, ended_at = NULL, exit_code = NULL, signal = NULL,"
    " error = NULL, stdout_tail = NULL, stderr_tail = NULL"
)
_END_ATTEMPT = (
    "INSERT INTO attempts (task_id, n, state, started_at, ended_at, exit_code, signal, error,"
    " stdout_tail, stderr_tail) VALUES {values}" + _ATTEMPT_UPSERT
)
_ROW3 = "(?, ?, ?)"
_ROW10 = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

# Record layouts (index 0 is the op, 1 the task id):
#   start: (op, task, attempt, started_at)
#   end:   (op, task, attempt, state, started, ended, exit_code, signal, error, out, err, reason)
#   state: (op, task, state, reason)
#   prio:  (op, task, priority)
_OP_SQL: dict[int, tuple[_Stmt, ...]] = {
    _OP_START: (
        _Stmt(
            "UPDATE tasks SET state = 'running', attempts = MAX(attempts, ?), started_at = ?,"
            " ended_at = NULL WHERE id = ?",
            "UPDATE tasks SET state = 'running', attempts = MAX(tasks.attempts, v.column1),"
            " started_at = v.column2, ended_at = NULL FROM (VALUES {values}) AS v"
            " WHERE tasks.id = v.column3",
            _ROW3,
            (2, 3, 1),
            True,
        ),
        _Stmt(
            _START_ATTEMPT.format(values="(?, ?, 'running', ?)"),
            _START_ATTEMPT,
            "(?, ?, 'running', ?)",
            (1, 2, 3),
            False,
        ),
    ),
    _OP_END: (
        _Stmt(
            "UPDATE tasks SET state = ?, attempts = MAX(attempts, ?), started_at = ?,"
            " ended_at = ?, exit_code = ?, signal = ?, error = ?, reason = ? WHERE id = ?",
            "UPDATE tasks SET state = v.column1, attempts = MAX(tasks.attempts, v.column2),"
            " started_at = v.column3, ended_at = v.column4, exit_code = v.column5,"
            " signal = v.column6, error = v.column7, reason = v.column8"
            " FROM (VALUES {values}) AS v WHERE tasks.id = v.column9",
            "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (3, 2, 4, 5, 6, 7, 8, 11, 1),
            True,
        ),
        _Stmt(
            _END_ATTEMPT.format(values=_ROW10),
            _END_ATTEMPT,
            _ROW10,
            (1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
            False,
        ),
    ),
    _OP_STATE: (
        _Stmt(
            "UPDATE tasks SET state = ?, reason = ? WHERE id = ?",
            "UPDATE tasks SET state = v.column1, reason = v.column2"
            " FROM (VALUES {values}) AS v WHERE tasks.id = v.column3",
            _ROW3,
            (2, 3, 1),
            True,
        ),
    ),
    _OP_PRIO: (
        _Stmt(
            "UPDATE tasks SET priority = ? WHERE id = ?",
            "UPDATE tasks SET priority = v.column1 FROM (VALUES {values}) AS v"
            " WHERE tasks.id = v.column2",
            "(?, ?)",
            (2, 1),
            True,
        ),
    ),
}
_TASK_INSERT = _Stmt(
    "", "INSERT INTO tasks (id, job_id, seq, path, root, rel, size, mtime_ns, dev, ino, priority,"
    " state, reason, duplicate_of) VALUES {values}", "(" + ", ".join(["?"] * 14) + ")",
    tuple(range(14)), False,
)  # fmt: skip
_MAX_ROWS = 8192  # records per statement when SQLite allows (default builds: 32,766 params)
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)


def _chunk_sizes(width: int, max_vars: int) -> tuple[int, ...]:
    """Statement sizes to cover any record count with few distinct (cached) statements:
    e.g. 2048, 256, 32, 4 records; what is left (< 4) goes through executemany."""
    top = min(_MAX_ROWS, max(1, max_vars // width))
    size = 1 << (top.bit_length() - 1)
    sizes = []
    while size >= 4:
        sizes.append(size)
        size //= 8
    return tuple(sizes)


def _exec_rows(
    conn: sqlite3.Connection,
    stmt: _Stmt,
    rows: list[tuple[Any, ...]],
    max_vars: int,
    update_from: bool,
) -> int:
    """Run ``stmt`` for every record in ``rows``, in as few statements as possible; returns the
    number of rows changed."""
    getter = stmt.getter
    n = len(rows)
    pos = 0
    changed = 0
    if n >= 4 and (update_from or not stmt.is_update):
        chain = itertools.chain.from_iterable
        for size in _chunk_sizes(stmt.width, max_vars):
            sql = None
            while n - pos >= size:
                if sql is None:
                    sql = stmt.multi(size)
                cur = conn.execute(sql, list(chain(map(getter, rows[pos : pos + size]))))
                changed += cur.rowcount
                pos += size
    if pos < n:
        cur = conn.executemany(stmt.single, map(getter, rows[pos:] if pos else rows))
        changed += cur.rowcount
    return changed


# Replay (see Store._apply_replayed): the hot-path statements, guarded.
_REPLAY_END = (
    "UPDATE tasks SET state = ?, attempts = MAX(attempts, ?), started_at = ?, ended_at = ?,"
    " exit_code = ?, signal = ?, error = ?, reason = ? WHERE id = ? AND attempts <= ?"
)
_REPLAY_STATE = (  # a requeue (retry) is older than a committed start; anything else applies
    "UPDATE tasks SET state = ?1, reason = ?2 WHERE id = ?3"
    " AND NOT (state = 'running' AND ?1 = 'queued')"
)

_OP_NAMES = {
    _OP_START: "record_start",
    _OP_END: "record_end",
    _OP_STATE: "set_task_state",
    _OP_PRIO: "set_task_priority",
}

_TASK_COLUMNS = (
    "id, job_id, seq, path, root, rel, size, mtime_ns, dev, ino, priority, state, reason,"
    " duplicate_of, attempts, started_at, ended_at, exit_code, signal, error"
)
_JOB_COLUMNS = "id, created_at, updated_at, state, spec, name, error, group_id"


def _sanitized(item: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        x.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(x, str) else x
        for x in item
    )


class _MissingTask(Exception):
    """A hot-path update matched no task row: redo the batch one record at a time to find it."""


def _fsencode(path: str) -> bytes:
    """os.fsencode without its generic checks: 3 calls per task, 100k tasks per job."""
    if type(path) is str:
        return path.encode(_FS_ENCODING, _FS_ERRORS)
    return os.fsencode(path)


def _task_rows(
    tasks: Iterable[NewTask], job_id: int, first: int, seq0: int
) -> list[tuple[Any, ...]]:
    """INSERT parameters for add_tasks: paths as fsencoded BLOBs, dev/ino wrapped to signed."""
    enc = _fsencode
    roots: dict[str, bytes] = {}  # a job has one or a few roots: encode each once
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for k, t in enumerate(tasks):
        state = t.state
        if state not in TASK_STATES:
            _check_task_state(state)
        root = roots.get(t.root)
        if root is None:
            root = roots[t.root] = enc(t.root)
        dup = t.duplicate_of
        d, i = t.dev, t.ino
        append(
            (
                first + k, job_id, seq0 + k, enc(t.path), root, enc(t.rel), t.size, t.mtime_ns,
                d - _U64 if d > _I64_MAX else d, i - _U64 if i > _I64_MAX else i,
                int(t.priority), str(state), t.reason, None if dup is None else enc(dup),
            )
        )  # fmt: skip
    return rows


def _fsdecode(data: bytes) -> str:
    return data.decode(_FS_ENCODING, _FS_ERRORS)


def _task_from_row(r: Sequence[Any]) -> TaskRecord:
    fsd = _fsdecode
    dup = r[13]
    return TaskRecord(
        r[0], r[1], r[2], fsd(r[3]), fsd(r[4]), fsd(r[5]), r[6], r[7], _u64(r[8]), _u64(r[9]),
        r[10], r[11], r[12], None if dup is None else fsd(dup), r[14], r[15], r[16], r[17],
        r[18], r[19],
    )  # fmt: skip


def _job_from_row(r: Sequence[Any]) -> JobRecord:
    return JobRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7])


def _check_job_state(state: str) -> None:
    if state not in JOB_STATES:
        raise ValueError(f"unknown job state {state!r} (one of {', '.join(sorted(JOB_STATES))})")


def _check_task_state(state: str) -> None:
    if state not in TASK_STATES:
        raise ValueError(f"unknown task state {state!r} (one of {', '.join(sorted(TASK_STATES))})")


# Stores still open at interpreter exit get flushed: the writer is a daemon thread (so a
# forgotten close() cannot hang exit), and this makes sure it does not take queued records along.
_open_stores: weakref.WeakSet[Store] = weakref.WeakSet()


@atexit.register
def _close_open_stores() -> None:
    for store in list(_open_stores):
        with contextlib.suppress(Exception):
            store.close()


# --------------------------------------------------------------------------------------------


class Store:
    """The job store. Open one per process (or per thread that wants its own); close it."""

    path: str

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, readonly: bool = False
    ) -> None:
        if path is not None and os.fspath(path) == ":memory:":
            raise StoreError(
                "an in-memory job store is not supported: the writer thread and other "
                "processes need a file (use a temporary file instead)"
            )
        self.path = Store.resolve_path(path)
        self.readonly = readonly
        """Opened with ``readonly=True``: every write raises StoreError."""
        self._lock = threading.RLock()  # guards self._conn (sqlite3 connections are not shared)
        self._conn = self._connect_readonly() if readonly else self._connect(migrate=True)
        self._conn_max_vars = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        # Hot-path queue, drained by the writer thread.
        self._q: deque[tuple[Any, ...]] = deque()
        self._append = self._q.append
        self._idle = True  # writer is (about to be) asleep: the next record must wake it
        self._urgent = False  # a flush is waiting: commit without the coalescing pause
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._wconn: sqlite3.Connection | None = None
        self._start_lock = threading.Lock()
        self._stopping = False
        self._closed = False
        self._errors: list[str] = []
        self._errors_lock = threading.Lock()
        self._max_vars = 999  # SQLite's historical minimum; the real limit is read on first use
        self._update_from = _UPDATE_FROM  # UPDATE ... FROM needs SQLite 3.33
        # Journal of queued records (journal.py); created with the first hot-path record.
        self._jlock = threading.Lock()  # journal write + queue append vs. the writer's swap
        self._journal: _journal.Journal | None = None
        self._no_journal = readonly
        self._keep_journal = False  # a batch failed to commit: leave the journal for replay
        _open_stores.add(self)
        if not readonly:
            try:
                self.replay_pending()
            except BaseException:
                self.close()
                raise

    # ---- opening ----------------------------------------------------------------------------

    @staticmethod
    def default_path() -> str:
        """Where a store opens without an explicit path: ``$TUI_BATCH_DB`` if set, else the
        user's data folder, so every command (run, jobs, resume) finds the same jobs."""
        env = os.environ.get(ENV_VAR)
        if env:
            return expand_user(env, ENV_VAR)
        return os.path.join(platformdirs.user_data_dir("tui-batch"), "jobs.db")

    @staticmethod
    def resolve_path(path: str | os.PathLike[str] | None = None) -> str:
        """The absolute file a store opens for ``path`` (None: :meth:`default_path`), with
        ``~`` expanded; :class:`InputError` (``--db`` / ``TUI_BATCH_DB``) for an unknown
        ``~user``. Nothing is touched on disk."""
        if path is None:
            return os.path.abspath(Store.default_path())
        return os.path.abspath(expand_user(os.fspath(path), "--db"))

    def _connect_readonly(self) -> sqlite3.Connection:
        """A read-only connection (store_open.py): never creates, migrates or switches."""
        return connect_readonly(self.path, self._check_readonly)

    def _check_readonly(self, conn: sqlite3.Connection) -> None:
        version, app_id = self._version(conn)
        self._check_version(version, app_id, conn)
        if version == 0:
            raise StoreError(f"no job store at {self.path} (the file is empty)")
        if version < schema_version():
            raise StoreError(
                f"cannot open job store {self.path} read-only: it has schema version "
                f"{version}; any command that writes (run, resume) upgrades it"
            )

    def _connect(self, *, migrate: bool) -> sqlite3.Connection:
        path = self.path
        if os.path.isdir(path):
            raise StoreError(f"cannot open job store {path}: it is a folder")
        parent = os.path.dirname(path)
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as e:
            raise StoreError(
                f"cannot open job store {path}: cannot create folder {parent}: {e.strerror}"
            ) from e
        conn: sqlite3.Connection | None = None
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE for writes, so a
            # writer never has to upgrade a read lock, which would fail without waiting).
            conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            # Ours (or empty)? Asked before anything that writes: switching a foreign
            # database to WAL would change it for good even though it is then refused.
            version, app_id = self._version(conn)
            self._check_version(version, app_id, conn)
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(
                        f"cannot open job store {path}: SQLite refused WAL mode (got {mode!r}); "
                        "is it on a network file system?"
                    )
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA journal_size_limit = 67108864")  # keep the WAL file <= 64 MiB
            if migrate:
                self._migrate(conn)
            return conn
        except sqlite3.Error as e:
            if conn is not None:
                conn.close()
            raise StoreError(f"cannot open job store {path}: {e}") from e
        except BaseException:
            if conn is not None:
                conn.close()
            raise

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring the schema to the current version. The common case (already current) only
        reads, so opening a store never takes the write lock during someone else's run."""
        target = schema_version()
        version, app_id = self._version(conn)
        self._check_version(version, app_id, conn)
        if version == target:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version, app_id = self._version(conn)  # another process may have migrated meanwhile
            self._check_version(version, app_id, conn)
            for step in range(version, target):
                MIGRATIONS[step](conn)
                conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _version(conn: sqlite3.Connection) -> tuple[int, int]:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        return int(version), int(app_id)

    def _check_version(self, version: int, app_id: int, conn: sqlite3.Connection) -> None:
        if app_id not in (0, APPLICATION_ID) or (
            version == 0
            and app_id == 0
            and conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' LIMIT 1"
            ).fetchone()
        ):
            raise StoreError(f"cannot open job store {self.path}: not a tui-batch job store")
        if version > schema_version():
            raise StoreError(
                f"cannot open job store {self.path}: it has schema version {version}, newer "
                f"than this tui-batch understands ({schema_version()}); upgrade tui-batch"
            )

    # ---- life cycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Commit everything queued, stop the writer, close the connections. Idempotent.

        Raises :class:`StoreError` if some queued record could not be written."""
        if self._closed:
            return
        try:
            self._drain(None)
        finally:
            self._closed = True
            self._stopping = True
            writer = self._writer
            if writer is not None:
                self._wake.set()
                writer.join()
            if self._wconn is not None:
                self._wconn.close()
            with self._lock:
                self._conn.close()
            with self._jlock:
                j, self._journal, self._no_journal = self._journal, None, True
            if j is not None:
                # Everything committed: the journal goes. Otherwise it stays, and the next
                # opener commits what this process could not.
                lost = any(it[0] != _OP_FLUSH for it in self._q)
                j.close(remove=not (lost or self._keep_journal))
            _open_stores.discard(self)
        self._raise_errors()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    # ---- synchronous helpers ----------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction on the caller's connection."""
        self._check_open()
        if self.readonly:
            raise StoreError(f"job store {self.path} is open read-only")
        with write_transaction(self._conn, self._lock, f"job store {self.path}") as conn:
            yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several SELECTs see one snapshot (jobs and their counts agree)."""
        self._check_open()
        self._drain(None)
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN")
                yield conn
            except sqlite3.Error as e:
                raise StoreError(f"job store {self.path}: {e}") from e
            finally:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("COMMIT")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"job store {self.path} is closed")

    def _no_job(self, job_id: int) -> StoreError:
        return StoreError(f"no job {job_id} in {self.path}")

    # ---- jobs -------------------------------------------------------------------------------

    def create_group(self, mode: str = "sequential", *, cancel_on_failure: bool = False) -> int:
        """A group of jobs run one after another or side by side; jobs join it by ``group_id``."""
        if mode not in ("sequential", "parallel"):
            raise ValueError(f"unknown group mode {mode!r} (sequential or parallel)")
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO groups (created_at, mode, cancel_on_failure) VALUES (?, ?, ?)",
                (time.time(), mode, int(cancel_on_failure)),
            )
            return int(cur.lastrowid or 0)

    def add_dependency(self, job_id: int, depends_on: int) -> None:
        """Record that ``job_id`` may start only after ``depends_on`` succeeded. A dependency
        that would close a cycle is refused: those jobs could never start."""
        if job_id == depends_on:
            raise StoreError(f"job {job_id} cannot depend on itself")
        with self._write() as c:
            for j in (job_id, depends_on):
                if c.execute("SELECT 1 FROM jobs WHERE id = ?", (j,)).fetchone() is None:
                    raise self._no_job(j)
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

    def dependencies(self, job_id: int) -> list[int]:
        """The jobs ``job_id`` waits for."""
        with self._read() as c:
            rows = c.execute(
                "SELECT depends_on FROM job_deps WHERE job_id = ? ORDER BY depends_on", (job_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def create_job(
        self,
        spec: dict[str, Any],
        *,
        name: str | None = None,
        state: str = "created",
        group_id: int | None = None,
        tasks: Iterable[NewTask] | None = None,
    ) -> int:
        """Store a job with its full spec (a plain dict, e.g. ``JobSpec.to_dict()``), so
        ``resume`` can rebuild it without the original command line.

        ``tasks`` go in with the job, in the same transaction: a kill at any moment leaves
        either no job or the whole job, never one without its files (which ``resume`` would
        "finish" at once, having run nothing). Their ids are ``load_tasks`` order."""
        _check_job_state(state)
        text = json.dumps(spec)  # ensure_ascii: surrogate-escaped paths survive as \\udcxx
        now = time.time()
        rows: list[tuple[Any, ...]] = []
        guess = (0, 0)
        if tasks is not None:
            # Rows built before the write lock is taken (100k rows: a few tenths of a second),
            # with the ids seen now; renumbered below only if another writer got in first.
            self._check_open()
            with self._lock:
                try:
                    guess = self._next_job_and_task_ids(self._conn)
                except sqlite3.Error as e:
                    raise StoreError(f"job store {self.path}: {e}") from e
            rows = _task_rows(tasks, guess[0], guess[1], 0)
        with self._write() as c:
            if (
                group_id is not None
                and c.execute("SELECT 1 FROM groups WHERE id = ?", (group_id,)).fetchone() is None
            ):
                raise StoreError(f"no group {group_id} in {self.path}")
            if rows:
                now_ids = self._next_job_and_task_ids(c)
                if now_ids != guess:
                    job_id, first = now_ids
                    rows = [(first + k, job_id, k, *r[3:]) for k, r in enumerate(rows)]
                c.execute(
                    "INSERT INTO jobs (id, created_at, updated_at, state, spec, name, group_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (now_ids[0], now, now, state, text, name, group_id),
                )
                _exec_rows(c, _TASK_INSERT, rows, self._conn_max_vars, True)
                return now_ids[0]
            cur = c.execute(
                "INSERT INTO jobs (created_at, updated_at, state, spec, name, group_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (now, now, state, text, name, group_id),
            )
            return int(cur.lastrowid or 0)

    @staticmethod
    def _next_job_and_task_ids(conn: sqlite3.Connection) -> tuple[int, int]:
        """(next job id, next task id), never reusing a deleted one's (AUTOINCREMENT)."""
        row = conn.execute(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0),"
            " COALESCE((SELECT MAX(id) FROM jobs), 0)) + 1,"
            " MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tasks'), 0),"
            " COALESCE((SELECT MAX(id) FROM tasks), 0)) + 1"
        ).fetchone()
        return int(row[0]), int(row[1])

    def set_job_state(self, job_id: int, state: str, *, error: str | None = None) -> None:
        """Change a job's state; ``error`` replaces the previous one (None clears it).

        Waits for queued task records first, so a job never reads 'done' while its tasks are
        still being written."""
        _check_job_state(state)
        self._drain(None)
        with self._write() as c:
            cur = c.execute(
                "UPDATE jobs SET state = ?, error = ?, updated_at = ? WHERE id = ?",
                (state, error, time.time(), job_id),
            )
            if cur.rowcount == 0:
                raise self._no_job(job_id)

    def get_job(self, job_id: int) -> JobRecord:
        with self._read() as c:
            row = c.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise self._no_job(job_id)
        return _job_from_row(row)

    def list_jobs(self) -> list[JobSummary]:
        """Every job, newest first, with task counts from one GROUP BY over the
        ``(job_id, state)`` index (no table rows read, so it stays fast at 100k tasks)."""
        with self._read() as c:
            jobs = c.execute(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY id DESC").fetchall()
            counts = c.execute(
                "SELECT job_id, state, COUNT(*) FROM tasks GROUP BY job_id, state"
            ).fetchall()
            per_job: dict[int, dict[str, int]] = {}
            for job_id, state, n in counts:
                per_job.setdefault(job_id, {})[state] = n
            self._overlay_pending(c, per_job, None)
        out = []
        for r in jobs:
            found = per_job.get(r[0], {})
            c_ = dict.fromkeys(sorted(TASK_STATES), 0)
            c_.update(found)
            out.append(
                JobSummary(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    json.loads(r[4]),
                    r[5],
                    r[6],
                    r[7],
                    c_,
                    sum(found.values()),
                )
            )
        return out

    def delete_job(self, job_id: int) -> None:
        """Remove a job with its tasks, attempts and dependency links."""
        self._drain(None)
        with self._write() as c:
            cur = c.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            if cur.rowcount == 0:
                raise self._no_job(job_id)

    # ---- tasks ------------------------------------------------------------------------------

    def add_tasks(self, job_id: int, tasks: Iterable[NewTask]) -> list[int]:
        """Append tasks to a job in one transaction; returns their ids, in order.

        Ids are assigned explicitly from the top of the id range, so the returned list is exact
        without reading anything back. The rows are built before the write lock is taken, with
        the ids seen then, and renumbered only if another writer added tasks meanwhile: the
        lock is held for the INSERT alone."""
        self._check_open()
        with self._lock:
            try:
                first, seq0 = self._next_task_ids(self._conn, job_id)
            except sqlite3.Error as e:
                raise StoreError(f"job store {self.path}: {e}") from e
        rows = _task_rows(tasks, job_id, first, seq0)
        with self._write() as c:
            if c.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise self._no_job(job_id)
            if not rows:
                return []
            now = self._next_task_ids(c, job_id)
            if now != (first, seq0):
                first, seq0 = now
                rows = [(first + k, job_id, seq0 + k, *r[3:]) for k, r in enumerate(rows)]
            _exec_rows(c, _TASK_INSERT, rows, self._conn_max_vars, True)
        return list(range(first, first + len(rows)))

    @staticmethod
    def _next_task_ids(conn: sqlite3.Connection, job_id: int) -> tuple[int, int]:
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

    def load_tasks(self, job_id: int, states: Iterable[str] | None = None) -> list[TaskRecord]:
        """A job's tasks in scan order (``seq``), optionally only those in ``states`` (resume
        loads the unfinished ones)."""
        sql = f"SELECT {_TASK_COLUMNS} FROM tasks WHERE job_id = ?"
        params: list[Any] = [job_id]
        if states is not None:
            wanted = sorted({str(s) for s in states})
            for s in wanted:
                _check_task_state(s)
            if not wanted:
                return []
            sql += f" AND state IN ({', '.join('?' * len(wanted))})"
            params.extend(wanted)
        sql += " ORDER BY seq"
        with self._read() as c:
            rows = c.execute(sql, params).fetchall()
        return [_task_from_row(r) for r in rows]

    def get_task(self, task_id: int) -> TaskRecord:
        """One task (the TUI's log pane shows its last error and attempts)."""
        with self._read() as c:
            row = c.execute(
                f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,)
            ).fetchone()
        if row is None:
            raise StoreError(f"no task {task_id} in {self.path}")
        return _task_from_row(row)

    def task_counts(self, job_id: int) -> dict[str, int]:
        """Tasks per state, with a key (possibly 0) for every task state; no 'total' key."""
        with self._read() as c:
            rows = c.execute(
                "SELECT state, COUNT(*) FROM tasks WHERE job_id = ? GROUP BY state", (job_id,)
            ).fetchall()
            per_job = {job_id: dict(rows)}
            self._overlay_pending(c, per_job, job_id)
        counts = dict.fromkeys(sorted(TASK_STATES), 0)
        counts.update(per_job[job_id])
        return counts

    def recover_interrupted(self, job_id: int) -> int:
        """After a crash / kill -9: tasks left 'running' become 'interrupted' (resume queues
        them again: at-least-once), and their open attempt rows say so. Returns how many.

        Only call this for a job no live process is running. What a killed process journaled
        but did not commit is committed first (:meth:`replay_pending`), so a task that ended
        before the kill is not taken for one that was still running."""
        self._drain(None)
        self.replay_pending()
        with self._write() as c:
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

    def replay_pending(self) -> int:
        """Commit the records that processes which died (kill -9, crash) journaled but had
        not committed yet (see journal.py); returns how many. Done on every writable open
        and by :meth:`recover_interrupted`; read-only stores show them through the counts."""
        if self.readonly:
            return 0
        self._check_open()
        return _journal.replay(self.path, self._apply_replayed)

    def _apply_replayed(self, items: list[tuple[Any, ...]]) -> None:
        """Replayed records in their original order, in one transaction. A record for a task
        that no longer exists (its job was deleted since) is dropped, and so is one the
        database has already moved past: the last batch may have been committed with the
        journal not yet cleared, and starts are not journaled, so an end of attempt n must
        not undo a committed start of attempt n + 1 (nor a retry's requeue undo its start)."""
        with self._write() as c:
            for it in items:
                try:
                    try:
                        self._replay_one(c, it)
                    except UnicodeEncodeError:
                        self._replay_one(c, _sanitized(it))
                except (sqlite3.IntegrityError, ValueError, OverflowError, TypeError):
                    continue

    @staticmethod
    def _replay_one(c: sqlite3.Connection, it: tuple[Any, ...]) -> None:
        op = it[0]
        if op == _OP_END:
            end, attempt = _OP_SQL[_OP_END]
            cur = c.execute(_REPLAY_END, (*end.getter(it), it[2]))
            if cur.rowcount == 1:
                c.execute(attempt.single, attempt.getter(it))
        elif op == _OP_STATE:
            c.execute(_REPLAY_STATE, _OP_SQL[_OP_STATE][0].getter(it))  # (state, reason, id)
        elif op == _OP_PRIO:
            c.execute(_OP_SQL[_OP_PRIO][0].single, _OP_SQL[_OP_PRIO][0].getter(it))

    def _overlay_pending(
        self, c: sqlite3.Connection, per_job: dict[int, dict[str, int]], job_id: int | None
    ) -> None:
        """Count tasks in the state their journaled, not yet committed records give them, so
        a read-only reader (which cannot replay) sees what the next writer will commit."""
        latest: dict[int, str] = {}
        for it in _journal.pending_records(self.path):
            # (op, task, attempt, state, ...) and (op, task, state, reason)
            if it[0] in (_OP_END, _OP_STATE):
                latest[it[1]] = it[3] if it[0] == _OP_END else it[2]
        ids = [t for t, st in latest.items() if st in TASK_STATES]
        for start in range(0, len(ids), _HASH_CHUNK):
            chunk = ids[start : start + _HASH_CHUNK]
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

    def attempts(self, task_id: int) -> list[AttemptRecord]:
        """A task's attempts, oldest first, with their exit status and output tails."""
        with self._read() as c:
            rows = c.execute(
                "SELECT task_id, n, state, started_at, ended_at, exit_code, signal, error,"
                " stdout_tail, stderr_tail FROM attempts WHERE task_id = ? ORDER BY n",
                (task_id,),
            ).fetchall()
        return [AttemptRecord(*r) for r in rows]

    # ---- hot path (queued; committed by the writer thread) ----------------------------------

    def record_start(self, task_id: int, attempt: int, started_at: float) -> None:
        """Attempt ``attempt`` (1-based) of a task started: task 'running', attempt row opened.

        Queued only, not journaled: a start lost to a kill changes nothing (the task runs
        again either way), and the replay guards below do not need it."""
        self._append((_OP_START, task_id, attempt, started_at))
        if self._idle:
            self._kick()

    def record_end(
        self,
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
    ) -> None:
        """An attempt ended: the task row takes its outcome, the attempt row is written."""
        if state not in TASK_STATES:
            _check_task_state(state)
        self._record(
            (_OP_END, task_id, attempt, state, started_at, ended_at, exit_code, signal, error,
             stdout_tail, stderr_tail, reason)
        )  # fmt: skip

    def set_task_state(self, task_id: int, state: str, reason: str | None = None) -> None:
        """A state change without an attempt: skipped, cancelled while queued, queued again."""
        if state not in TASK_STATES:
            _check_task_state(state)
        self._record((_OP_STATE, task_id, state, reason))

    def set_task_priority(self, task_id: int, priority: int) -> None:
        """Persist a priority change, so a resumed job keeps it."""
        self._record((_OP_PRIO, task_id, int(priority)))

    def _record(self, item: tuple[Any, ...]) -> None:
        """Journal a hot-path record (in the OS when this returns), then queue it. One lock
        around both, so the writer's journal swap sees every record on one side of it."""
        with self._jlock:
            j = self._journal
            if j is None and not self._no_journal:
                j = self._open_journal()
            if j is not None:
                j.write(item)
            self._append(item)
        if self._idle:
            self._kick()

    def _open_journal(self) -> _journal.Journal | None:
        if self._closed:
            raise StoreError(f"job store {self.path} is closed")
        try:
            self._journal = _journal.Journal(self.path)
        except OSError:
            # No journal folder (full disk, odd permissions): records are still committed
            # in batches; a kill then loses at most the last batch, as before journaling.
            self._no_journal = True
        return self._journal

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far (by any thread) is committed.

        Raises :class:`StoreError` if some queued record could not be written since the last
        flush, and :class:`TimeoutError` if ``timeout`` seconds pass first."""
        self._check_open()
        self._drain(timeout)
        self._raise_errors()

    # ---- writer thread ----------------------------------------------------------------------

    def _kick(self) -> None:
        """Wake the writer (starting it on first use). Only called when it was idle, so a busy
        writer costs the caller nothing but a flag read."""
        if self.readonly:
            raise StoreError(f"job store {self.path} is open read-only")
        if self._writer is None:
            with self._start_lock:
                if self._closed:
                    raise StoreError(f"job store {self.path} is closed")
                if self._writer is None:
                    self._wconn = self._connect(migrate=False)
                    self._max_vars = self._wconn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
                    t = threading.Thread(
                        target=self._writer_main, name="tui-batch-store-writer", daemon=True
                    )
                    self._writer = t
                    self._idle = False  # awake from birth: flush() must not see "idle, empty"
                    t.start()
        elif self._closed:
            raise StoreError(f"job store {self.path} is closed")
        self._wake.set()

    def _drain(self, timeout: float | None) -> None:
        """Wait until the queue is empty and the writer has committed what it took."""
        writer = self._writer
        if writer is None:
            return
        # Queue empty, *then* writer idle: the writer sets idle only after committing its batch,
        # so nothing can be in flight.
        if not self._q and self._idle:
            return
        done = threading.Event()
        self._urgent = True
        self._append((_OP_FLUSH, None, done))
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 0.25 if deadline is None else max(0.0, min(0.25, deadline - time.monotonic()))
            if done.wait(step):
                return
            if not writer.is_alive():
                self._add_error("the store writer thread stopped; queued records were lost")
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job store {self.path}: flush did not finish in {timeout}s")

    def _writer_main(self) -> None:
        q = self._q
        wake = self._wake
        try:
            while True:
                if q:
                    if not self._urgent and not self._stopping:
                        # Let records pile up for a moment: one batch per ~20 ms instead of
                        # one per task keeps this thread off the GIL, which the engine's loop
                        # needs after every syscall (a per-record writer made 5,000 spawns
                        # 30-60% slower). flush() and close() skip the wait.
                        time.sleep(_COALESCE)
                    self._urgent = False
                    with self._jlock:
                        # Appends go to the other journal file from now on; the current one
                        # holds only records of this batch (or older, committed ones).
                        n = len(q)
                        j = self._journal
                        old = j.swap() if j is not None else None
                    popleft = q.popleft
                    ok = self._apply([popleft() for _ in range(n)])
                    if old is not None and j is not None:
                        if ok and not self._keep_journal:
                            j.clear(old)
                        else:
                            self._keep_journal = True
                    continue
                wake.clear()
                self._idle = True
                # Re-check after announcing idleness: a record appended before the flag was set
                # did not signal, so it must be picked up here (no lost wake-up).
                if q:
                    self._idle = False
                    continue
                if self._stopping:
                    break
                wake.wait(_IDLE_WAIT)
                self._idle = False
        except BaseException as e:  # pragma: no cover - a bug in the loop itself
            self._add_error(f"the store writer thread crashed: {e!r}")
        finally:
            self._idle = True
            # Nobody will drain what is left: release flush() waiters rather than hang them.
            for item in list(q):
                if item[0] == _OP_FLUSH:
                    item[2].set()

    def _apply(self, batch: list[tuple[Any, ...]]) -> bool:
        """Commit one drained batch in one transaction; flush markers are released after it.
        False if the batch as a whole could not be committed (its journal must stay)."""
        markers = []
        items = []
        for it in batch:
            if it[0] == _OP_FLUSH:
                markers.append(it[2])
            else:
                items.append(it)
        conn = self._wconn
        assert conn is not None
        try:
            if items:
                try:
                    self._write_grouped(conn, items)
                except Exception:  # a bad record (unknown task, unencodable text) or I/O
                    self._rollback(conn)
                    self._write_one_by_one(conn, items)
        except Exception as e:
            self._rollback(conn)
            self._add_error(f"{len(items)} queued record(s) could not be written: {e}")
            return False
        finally:
            for m in markers:
                m.set()
        return True

    def _write_grouped(self, conn: sqlite3.Connection, items: list[tuple[Any, ...]]) -> None:
        """A handful of big statements instead of one per record.

        Records of different tasks commute (each touches only its own task and attempt rows);
        records of one task must keep their order. So each record goes to "level" k = how many
        earlier records of its task are in this batch; within a level every task appears once
        and records can be grouped by operation. A start directly followed (for its task) by
        the end of the same attempt is dropped: the end overwrites every column it set. So
        the busier the engine, the bigger the batches and the less work per task."""
        kept: list[tuple[Any, ...] | None] = []
        last: dict[int, int] = {}
        for it in items:
            tid = it[1]
            if it[0] == _OP_END:
                j = last.get(tid)
                if j is not None:
                    prev = kept[j]
                    if prev is not None and prev[0] == _OP_START and prev[2] == it[2]:
                        kept[j] = None
            last[tid] = len(kept)
            kept.append(it)
        seen: dict[int, int] = {}
        groups: dict[tuple[int, int], list[tuple[Any, ...]]] = {}
        get = seen.get
        for rec in kept:
            if rec is None:
                continue
            tid = rec[1]
            level = get(tid, 0)
            seen[tid] = level + 1
            key = (level, rec[0])
            g = groups.get(key)
            if g is None:
                groups[key] = [rec]
            else:
                g.append(rec)
        max_vars, update_from = self._max_vars, self._update_from
        conn.execute("BEGIN IMMEDIATE")
        for key in sorted(groups):
            rows = groups[key]
            for stmt in _OP_SQL[key[1]]:
                changed = _exec_rows(conn, stmt, rows, max_vars, update_from)
                if stmt.must_match and changed != len(rows):
                    raise _MissingTask
        conn.execute("COMMIT")

    def _write_one_by_one(self, conn: sqlite3.Connection, items: list[tuple[Any, ...]]) -> None:
        """Slow path after a failed batch: each record in its own savepoint, so one bad record
        (unknown task, say) is reported and the good ones are still committed, in order."""
        conn.execute("BEGIN IMMEDIATE")
        failed: list[str] = []
        for it in items:
            conn.execute("SAVEPOINT rec")
            try:
                try:
                    self._write_one(conn, it)
                except UnicodeEncodeError:
                    # Text with lone surrogates (an error message quoting a non-UTF-8 file
                    # name) cannot be bound; keep it readable rather than lose the record.
                    conn.execute("ROLLBACK TO rec")
                    self._write_one(conn, _sanitized(it))
            except (sqlite3.Error, StoreError, ValueError, OverflowError) as e:
                conn.execute("ROLLBACK TO rec")
                failed.append(f"{_OP_NAMES[it[0]]}(task {it[1]}): {e}")
            conn.execute("RELEASE rec")
        conn.execute("COMMIT")
        for msg in failed:
            self._add_error(msg)

    def _write_one(self, conn: sqlite3.Connection, it: tuple[Any, ...]) -> None:
        for stmt in _OP_SQL[it[0]]:
            cur = conn.execute(stmt.single, stmt.getter(it))
            if stmt.must_match and cur.rowcount != 1:
                raise StoreError(f"no task {it[1]} in {self.path}")

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def _add_error(self, msg: str) -> None:
        with self._errors_lock:
            self._errors.append(msg)

    def _raise_errors(self) -> None:
        with self._errors_lock:
            errors, self._errors = self._errors, []
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise StoreError(f"job store {self.path}: {errors[0]}{more}")

    # ---- hash cache (dedupe.HashCache) ------------------------------------------------------

    def get_hashes(self, keys: Sequence[HashKey], kind: str) -> dict[HashKey, bytes]:
        """Cached digests for ``(dev, ino, size, mtime_ns)`` keys; missing keys are absent.

        Looked up 500 keys per statement (a VALUES list joined on the primary key), so 100k
        keys cost 200 statements, not 100k round trips."""
        self._check_open()
        out: dict[HashKey, bytes] = {}
        keys = list(keys)
        with self._lock:
            conn = self._conn
            try:
                if len(keys) > 4 * _HASH_CHUNK:
                    (cached,) = conn.execute("SELECT count(*) FROM hashes").fetchone()
                    if cached <= 4 * len(keys):
                        # Most of the cache is asked for (a re-run): one sequential read of the
                        # table beats thousands of index probes by several times.
                        want = {(_i64(k[0]), _i64(k[1]), k[2], k[3]): k for k in keys}
                        rows = conn.execute(
                            "SELECT dev, ino, size, mtime_ns, digest FROM hashes WHERE kind = ?",
                            (kind,),
                        )
                        for dev, ino, size, mtime_ns, digest in rows:
                            k = want.get((dev, ino, size, mtime_ns))
                            if k is not None:
                                out[k] = bytes(digest)
                        return out
                for start in range(0, len(keys), _HASH_CHUNK):
                    chunk = keys[start : start + _HASH_CHUNK]
                    params: list[Any] = []
                    back: dict[tuple[int, int, int, int], HashKey] = {}
                    for k in chunk:
                        enc = (_i64(k[0]), _i64(k[1]), k[2], k[3])
                        back[enc] = k
                        params.extend(enc)
                    params.append(kind)
                    sql = (
                        "SELECT h.dev, h.ino, h.size, h.mtime_ns, h.digest FROM (VALUES "
                        + ", ".join(["(?, ?, ?, ?)"] * len(chunk))
                        + ") AS v CROSS JOIN hashes AS h ON h.dev = v.column1"
                        " AND h.ino = v.column2 AND h.size = v.column3"
                        " AND h.mtime_ns = v.column4 AND h.kind = ?"
                    )
                    for dev, ino, size, mtime_ns, digest in conn.execute(sql, params):
                        out[back[(dev, ino, size, mtime_ns)]] = bytes(digest)
            except sqlite3.Error as e:
                raise StoreError(f"job store {self.path}: {e}") from e
        return out

    def put_hashes(self, rows: Sequence[tuple[HashKey, str, bytes]]) -> None:
        """Remember digests (replacing older ones for the same key and kind)."""
        data = [
            (_i64(k[0]), _i64(k[1]), k[2], k[3], kind, bytes(digest)) for k, kind, digest in rows
        ]
        if not data:
            return
        with self._write() as c:
            c.executemany(
                "INSERT OR REPLACE INTO hashes (dev, ino, size, mtime_ns, kind, digest)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                data,
            )
