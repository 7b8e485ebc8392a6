"""The job store: jobs, tasks, attempts and the hash cache, in one SQLite file.

Why this module: it is the one object every client holds (:class:`Store`), and it owns what
ties the store's parts together: the caller's connection and its lock, the open/closed and
read-only state, and the rule that **everything but the hot path is synchronous and first
waits for the writer's queue to drain**, so a caller always reads its own writes
(``set_job_state("done")`` never lands before the task updates it summarises). The SQL lives
with the tables (job_table.py, task_table.py, hashcache.py), opening a file in db.py, the
schema in schema.py, the queued hot path in writer.py and batch.py, the kill -9 safety net in
journal.py.

Thread safety: every method may be called from any thread. Several processes may use one file.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..errors import StoreError
from ..model.logfiles import LogRef
from . import job_table, task_table
from .batch import OP_END, OP_PRIO, OP_START, OP_STATE, apply_replayed
from .db import connect, connect_readonly, default_path, resolve_path, write_transaction
from .hashcache import HashKey, get_hashes, hash_rows, put_hashes
from .journal import replay
from .records import (
    TASK_STATES,
    AttemptRecord,
    JobRecord,
    JobSummary,
    NewTask,
    TaskRecord,
    check_job_state,
    check_task_state,
)
from .steps import StoreSteps  # which is a StoreCalls and a StoreLogs too
from .writer import Writer

__all__ = ["Store"]

# Stores still open at interpreter exit get flushed: the writer is a daemon thread (so a
# forgotten close() cannot hang exit), and this makes sure it does not take queued records along.
_open_stores: weakref.WeakSet[Store] = weakref.WeakSet()
_NO_LOG = (None,) * 7  # an attempt that printed nothing: no place for its output


@atexit.register
def _close_open_stores() -> None:
    for store in list(_open_stores):
        with contextlib.suppress(Exception):
            store.close()


class Store(StoreSteps):
    """The job store. Open one per process (or per thread that wants its own); close it.

    ``Store(path, readonly=True)`` (for ``tui-batch jobs``) opens with SQLite's ``mode=ro``:
    no folder, file, schema or WAL switch created, so it works on a store the user may read
    but not write, and a mistyped ``--db`` creates nothing."""

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
        self._conn = connect_readonly(self.path) if readonly else connect(self.path, True)
        self._conn_max_vars = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._closed = False
        self._writer = Writer(self.path, readonly=readonly, owner=self)
        self._append = self._writer.append  # the hot path's queue, drained by the writer
        _open_stores.add(self)
        if not readonly:
            try:
                self.replay_pending()
            except BaseException:
                self.close()
                raise

    @staticmethod
    def default_path() -> str:
        """Where a store opens without an explicit path: ``$TUI_BATCH_DB`` if set, else the
        user's data folder, so every command (run, jobs, resume) finds the same jobs."""
        return default_path()

    @staticmethod
    def resolve_path(path: str | os.PathLike[str] | None = None) -> str:
        """The absolute file a store opens for ``path`` (None: :meth:`default_path`), with
        ``~`` expanded; :class:`InputError` (``--db`` / ``TUI_BATCH_DB``) for an unknown
        ``~user``. Nothing is touched on disk."""
        return resolve_path(path)

    def close(self) -> None:
        """Commit everything queued, stop the writer, close the connections. Idempotent.

        Raises :class:`StoreError` if some queued record could not be written."""
        if self._closed:
            return
        try:
            self._writer.drain(None)
        finally:
            self._closed = True
            self._writer.stop()
            with self._lock:
                self._conn.close()
            self._writer.close_journal()
            _open_stores.discard(self)
        self._writer.raise_errors()

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
        self._writer.drain(None)
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

    @contextlib.contextmanager
    def _peek(self) -> Iterator[sqlite3.Connection]:
        """The caller's connection under its lock, outside any transaction and without
        draining: for reading the next ids before rows are built."""
        self._check_open()
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as e:
                raise StoreError(f"job store {self.path}: {e}") from e

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"job store {self.path} is closed")

    # ---- jobs -------------------------------------------------------------------------------

    def create_group(self, mode: str = "sequential", *, cancel_on_failure: bool = False) -> int:
        """A group of jobs run one after another or side by side; jobs join it by ``group_id``."""
        if mode not in ("sequential", "parallel"):
            raise ValueError(f"unknown group mode {mode!r} (sequential or parallel)")
        with self._write() as c:
            return job_table.insert_group(c, mode, cancel_on_failure)

    def add_dependency(self, job_id: int, depends_on: int) -> None:
        """Record that ``job_id`` may start only after ``depends_on`` succeeded. A dependency
        that would close a cycle is refused: those jobs could never start."""
        if job_id == depends_on:
            raise StoreError(f"job {job_id} cannot depend on itself")
        with self._write() as c:
            job_table.add_dependency(c, self.path, job_id, depends_on)

    def dependencies(self, job_id: int) -> list[int]:
        """The jobs ``job_id`` waits for."""
        with self._read() as c:
            return job_table.dependencies(c, job_id)

    def create_job(
        self,
        spec: dict[str, Any],
        *,
        name: str | None = None,
        state: str = "created",
        group_id: int | None = None,
        tasks: Iterable[NewTask] | None = None,
        progress: task_table.OnInserted | None = None,
    ) -> int:
        """Store a job with its full spec (a plain dict, e.g. ``JobSpec.to_dict()``), so
        ``resume`` can rebuild it without the original command line.

        ``tasks`` go in with the job, in the same transaction: a kill at any moment leaves
        either no job or the whole job, never one without its files (which ``resume`` would
        "finish" at once, having run nothing). Their ids are ``load_tasks`` order.
        ``progress(written, total)`` hears as they go in, every few thousand."""
        check_job_state(state)
        text = json.dumps(spec)  # ensure_ascii: surrogate-escaped paths survive as \\udcxx
        now = time.time()
        rows: list[tuple[Any, ...]] = []
        guess = (0, 0)
        if tasks is not None:
            # Rows built before the write lock (100k: tenths of a s), renumbered if need be.
            with self._peek() as c:
                guess = job_table.next_job_and_task_ids(c)
            rows = task_table.task_rows(tasks, guess[0], guess[1], 0)
        with self._write() as c:
            return job_table.insert_job(c, self.path, (now, state, text, name, group_id), rows,
                                        guess, self._conn_max_vars, progress)  # fmt: skip

    def set_job_state(self, job_id: int, state: str, *, error: str | None = None) -> None:
        """Change a job's state; ``error`` replaces the previous one (None clears it).

        Waits for queued task records first, so a job never reads 'done' while its tasks are
        still being written."""
        check_job_state(state)
        self._writer.drain(None)
        with self._write() as c:
            job_table.update_job_state(c, self.path, job_id, state, error)

    def get_job(self, job_id: int) -> JobRecord:
        """One job; StoreError if there is none with that id."""
        with self._read() as c:
            job = job_table.get_job(c, job_id)
        if job is None:
            raise job_table.no_job(self.path, job_id)
        return job

    def list_jobs(self) -> list[JobSummary]:
        """Every job, newest first, with task counts from one GROUP BY over the
        ``(job_id, state)`` index (no table rows read, so it stays fast at 100k tasks)."""
        with self._read() as c:
            jobs, per_job = job_table.read_job_list(c, self.path)
        return job_table.job_summaries(jobs, per_job)

    def delete_job(self, job_id: int) -> None:
        """Remove a job with its tasks, attempts, dependency links and logs."""
        self._writer.drain(None)
        with self._write() as c:
            job_table.delete_job(c, self.path, job_id)
        self.remove_logs(job_id)

    # ---- tasks ------------------------------------------------------------------------------

    def add_tasks(self, job_id: int, tasks: Iterable[NewTask]) -> list[int]:
        """Append tasks to a job in one transaction; returns their ids, in order.

        Ids are assigned explicitly from the top of the id range, so the returned list is exact
        without reading anything back. The rows are built before the write lock is taken, with
        the ids seen then, and renumbered only if another writer added tasks meanwhile: the
        lock is held for the INSERT alone."""
        with self._peek() as c:
            guess = task_table.next_task_ids(c, job_id)
        rows = task_table.task_rows(tasks, job_id, *guess)
        with self._write() as c:
            return task_table.insert_tasks(c, self.path, job_id, rows, guess, self._conn_max_vars)

    def load_tasks(self, job_id: int, states: Iterable[str] | None = None,
                   limit: int | None = None) -> list[TaskRecord]:
        """A job's tasks in scan order (``seq``), optionally only those in ``states`` (resume
        loads the unfinished ones) and only the first ``limit`` (a dashboard's first page)."""
        query = task_table.tasks_query(job_id, states, limit)
        if query is None:
            return []
        with self._read() as c:
            return task_table.load_tasks(c, query)

    def get_task(self, task_id: int) -> TaskRecord:
        """One task (the TUI's log pane shows its last error and attempts)."""
        with self._read() as c:
            return task_table.get_task(c, self.path, task_id)

    def task_counts(self, job_id: int) -> dict[str, int]:
        """Tasks per state, with a key (possibly 0) for every task state; no 'total' key."""
        with self._read() as c:
            return task_table.task_counts(c, self.path, job_id)

    def recover_interrupted(self, job_id: int) -> int:
        """After a crash / kill -9: tasks left 'running' become 'interrupted' (resume queues
        them again: at-least-once), and their open attempt rows say so. Returns how many.

        Only call this for a job no live process is running. What a killed process journaled
        but did not commit is committed first (:meth:`replay_pending`), so a task that ended
        before the kill is not taken for one that was still running."""
        self._writer.drain(None)
        self.replay_pending()
        with self._write() as c:
            return task_table.recover_interrupted(c, job_id)

    def replay_pending(self) -> int:
        """Commit the records that processes which died (kill -9, crash) journaled but had
        not committed yet (see journal.py); returns how many. Done on every writable open
        and by :meth:`recover_interrupted`; read-only stores show them through the counts."""
        if self.readonly:
            return 0
        self._check_open()
        return replay(self.path, self._apply_replayed)

    def _apply_replayed(self, items: list[tuple[Any, ...]]) -> None:
        """Replayed records, in order, in one transaction (which are dropped: batch.py)."""
        with self._write() as c:
            apply_replayed(c, items)

    def attempts(self, task_id: int) -> list[AttemptRecord]:
        """A task's attempts, oldest first, with their exit status and output tails."""
        with self._read() as c:
            return task_table.attempts(c, task_id)

    # ---- hot path (queued; committed by the writer thread) ----------------------------------

    def record_start(self, task_id: int, attempt: int, started_at: float) -> None:
        """Attempt ``attempt`` (1-based) of a task started: task 'running', attempt row opened.

        Queued only, not journaled: a start lost to a kill changes nothing (the task runs
        again either way), and the replay guards do not need it."""
        self._append((OP_START, task_id, attempt, started_at))
        w = self._writer
        if w.idle:
            w.kick()

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
        log: LogRef | None = None,
    ) -> None:
        """An attempt ended: the task row takes its outcome, the attempt row is written
        (``log``: where its whole output is kept, see :mod:`tui_batch.model.logfiles`)."""
        if state not in TASK_STATES:
            check_task_state(state)
        self._writer.record(
            (OP_END, task_id, attempt, state, started_at, ended_at, exit_code, signal, error,
             stdout_tail, stderr_tail, reason, *(log or _NO_LOG))
        )  # fmt: skip

    def set_task_state(self, task_id: int, state: str, reason: str | None = None) -> None:
        """A state change without an attempt: skipped, cancelled while queued, queued again."""
        if state not in TASK_STATES:
            check_task_state(state)
        self._writer.record((OP_STATE, task_id, state, reason))

    def set_task_priority(self, task_id: int, priority: int) -> None:
        """Persist a priority change, so a resumed job keeps it."""
        self._writer.record((OP_PRIO, task_id, int(priority)))

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far (by any thread) is committed.

        Raises :class:`StoreError` if some queued record could not be written since the last
        flush, and :class:`TimeoutError` if ``timeout`` seconds pass first."""
        self._check_open()
        self._writer.drain(timeout)
        self._writer.raise_errors()

    # ---- hash cache (the select package's HashCache protocol) -------------------------------

    def get_hashes(self, keys: Sequence[HashKey], kind: str) -> dict[HashKey, bytes]:
        """Cached digests for ``(dev, ino, size, mtime_ns)`` keys; missing keys are absent."""
        with self._peek() as c:
            return get_hashes(c, keys, kind)

    def put_hashes(self, rows: Sequence[tuple[HashKey, str, bytes]]) -> None:
        """Remember digests (replacing older ones for the same key and kind)."""
        data = hash_rows(rows)
        if not data:
            return
        with self._write() as c:
            put_hashes(c, data)
