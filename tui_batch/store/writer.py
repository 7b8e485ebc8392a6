"""The store's writer thread: the hot path's queue, its batches, and its journal.

Why a module of its own: the engine reports every state change from its event loop, and
paying a SQLite transaction there would cap throughput at a few thousand tasks per second. So
the store's hot-path calls (:meth:`Store.record_start`, :meth:`Store.record_end`,
:meth:`Store.set_task_state`, :meth:`Store.set_task_priority`) only append a tuple to this
module's deque (about a microsecond). One writer thread, with its own connection, drains
*everything* queued into *one* transaction: when idle a record is committed within a
millisecond or two, under load batches grow by themselves. Each drain is atomic, so a kill
leaves the store at a batch boundary, never half-way through a task's update. (How a batch
becomes SQL is batch.py's business; this module owns the thread, the queue, the journal
hand-off and the errors.)

* **A journal bridges the batch window.** A task's end (and any other hot-path record but a
  start) is also put, synchronously, into a small memory-mapped per-process file beside the
  database (journal.py) before it is queued, and the next process to open the store for
  writing commits what a killed one left there. So a ``kill -9`` loses no completion the
  engine reported, for ~1.5 us of CPU each and no system call.
* **A failure in the writer thread is never swallowed**: it is kept and raised (as
  :class:`~tui_batch.errors.StoreError`) by the next :meth:`drain` caller that asks for it
  (the store's ``flush`` and ``close``). A record that cannot be written (say, an unknown task
  id) is isolated: the rest of its batch is still committed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections import deque
from typing import Any

from ..errors import StoreError
from .batch import OP_FLUSH, UPDATE_FROM, rollback, write_grouped, write_one_by_one
from .db import connect
from .journal import Journal

__all__ = ["Writer"]

_COALESCE = 0.02
"""Seconds the writer waits after waking so records batch up (see Writer._main)."""
_IDLE_WAIT = 1.0  # writer's safety-net wake-up; normal wake-ups are signalled, not polled


class Writer:
    """The hot-path queue of one open store and the thread that commits it (started on the
    first record). Every method may be called from any thread."""

    def __init__(self, path: str, *, readonly: bool, owner: object) -> None:
        self.path = path
        self.readonly = readonly
        self._owner = weakref.ref(owner)  # the Store: kept alive by the running thread
        self.q: deque[tuple[Any, ...]] = deque()
        self.append = self.q.append
        """Queue a record without waking the writer (then check :attr:`idle`)."""
        self.idle = True  # writer is (about to be) asleep: the next record must wake it
        self._urgent = False  # a flush is waiting: commit without the coalescing pause
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._start_lock = threading.Lock()
        self._stopping = False
        self._closed = False
        self._errors: list[str] = []
        self._errors_lock = threading.Lock()
        self.max_vars = 999  # SQLite's historical minimum; the real limit is read on first use
        self.update_from = UPDATE_FROM  # UPDATE ... FROM needs SQLite 3.33
        # Journal of queued records (journal.py); created with the first journaled record.
        self._jlock = threading.Lock()  # journal write + queue append vs. the writer's swap
        self._journal: Journal | None = None
        self._no_journal = readonly
        self._keep_journal = False  # a batch failed to commit: leave the journal for replay

    # ---- the callers' side ------------------------------------------------------------------

    def record(self, item: tuple[Any, ...]) -> None:
        """Journal a hot-path record (in the OS when this returns), then queue it. One lock
        around both, so the writer's journal swap sees every record on one side of it."""
        with self._jlock:
            j = self._journal
            if j is None and not self._no_journal:
                j = self._open_journal()
            if j is not None:
                j.write(item)
            self.append(item)
        if self.idle:
            self.kick()

    def record_pair(self, first: tuple[Any, ...], second: tuple[Any, ...]) -> None:
        """:meth:`record` for two records that must commit together (a step's end and the
        next step's task): under one lock hold, so the writer's swap cannot fall between
        them and they land in one batch, one transaction."""
        with self._jlock:
            j = self._journal
            if j is None and not self._no_journal:
                j = self._open_journal()
            if j is not None:
                j.write(first)
                j.write(second)
            self.append(first)
            self.append(second)
        if self.idle:
            self.kick()

    def _open_journal(self) -> Journal | None:
        if self._closed:
            raise StoreError(f"job store {self.path} is closed")
        try:
            self._journal = Journal(self.path)
        except OSError:
            # No journal folder (full disk, odd permissions): records are still committed
            # in batches; a kill then loses at most the last batch, as before journaling.
            self._no_journal = True
        return self._journal

    def kick(self) -> None:
        """Wake the writer (starting it on first use). Only called when it was idle, so a busy
        writer costs the caller nothing but a flag read."""
        if self.readonly:
            raise StoreError(f"job store {self.path} is open read-only")
        if self._thread is None:
            with self._start_lock:
                if self._closed:
                    raise StoreError(f"job store {self.path} is closed")
                if self._thread is None:
                    self._conn = connect(self.path, migrate_schema=False)
                    self.max_vars = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
                    t = threading.Thread(
                        target=self._main, args=(self._owner(),),
                        name="tui-batch-store-writer", daemon=True,
                    )  # fmt: skip
                    self._thread = t
                    self.idle = False  # awake from birth: flush() must not see "idle, empty"
                    t.start()
        elif self._closed:
            raise StoreError(f"job store {self.path} is closed")
        self._wake.set()

    def drain(self, timeout: float | None) -> None:
        """Wait until the queue is empty and the writer has committed what it took;
        :class:`TimeoutError` if ``timeout`` seconds pass first."""
        writer = self._thread
        if writer is None:
            return
        # Queue empty, *then* writer idle: the writer sets idle only after committing its batch,
        # so nothing can be in flight.
        if not self.q and self.idle:
            return
        done = threading.Event()
        self._urgent = True
        self.append((OP_FLUSH, None, done))
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 0.25 if deadline is None else max(0.0, min(0.25, deadline - time.monotonic()))
            if done.wait(step):
                return
            if not writer.is_alive():
                self.add_error("the store writer thread stopped; queued records were lost")
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job store {self.path}: flush did not finish in {timeout}s")

    def stop(self) -> None:
        """No more records: let the thread commit what is queued, end it, close its
        connection. Then :meth:`close_journal`."""
        self._closed = True
        self._stopping = True
        writer = self._thread
        if writer is not None:
            self._wake.set()
            writer.join()
        if self._conn is not None:
            self._conn.close()

    def close_journal(self) -> None:
        """Release the journal: removed when everything it holds is committed; otherwise it
        stays, and the next opener commits what this process could not."""
        with self._jlock:
            j, self._journal, self._no_journal = self._journal, None, True
        if j is not None:
            lost = any(it[0] != OP_FLUSH for it in self.q)
            j.close(remove=not (lost or self._keep_journal))

    def add_error(self, msg: str) -> None:
        """Keep a failure for the next :meth:`raise_errors`."""
        with self._errors_lock:
            self._errors.append(msg)

    def raise_errors(self) -> None:
        """StoreError for the failures kept since the last call (the first one, and a count)."""
        with self._errors_lock:
            errors, self._errors = self._errors, []
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise StoreError(f"job store {self.path}: {errors[0]}{more}")

    # ---- the thread -------------------------------------------------------------------------

    def _main(self, owner: object) -> None:
        """The writer loop. ``owner`` (the Store) is held for as long as the thread runs, so a
        store dropped without close() lives on to be flushed at exit."""
        q = self.q
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
                    ok = self.apply([popleft() for _ in range(n)])
                    if old is not None and j is not None:
                        if ok and not self._keep_journal:
                            j.clear(old)
                        else:
                            self._keep_journal = True
                    continue
                wake.clear()
                self.idle = True
                # Re-check after announcing idleness: a record appended before the flag was set
                # did not signal, so it must be picked up here (no lost wake-up).
                if q:
                    self.idle = False
                    continue
                if self._stopping:
                    break
                wake.wait(_IDLE_WAIT)
                self.idle = False
        except BaseException as e:  # pragma: no cover - a bug in the loop itself
            self.add_error(f"the store writer thread crashed: {e!r}")
        finally:
            self.idle = True
            # Nobody will drain what is left: release flush() waiters rather than hang them.
            for item in list(q):
                if item[0] == OP_FLUSH:
                    item[2].set()

    def apply(self, batch: list[tuple[Any, ...]]) -> bool:
        """Commit one drained batch in one transaction; flush markers are released after it.
        False if the batch as a whole could not be committed (its journal must stay)."""
        markers = []
        items = []
        for it in batch:
            if it[0] == OP_FLUSH:
                markers.append(it[2])
            else:
                items.append(it)
        conn = self._conn
        assert conn is not None
        try:
            if items:
                try:
                    write_grouped(conn, items, self.max_vars, self.update_from)
                except Exception:  # a bad record (unknown task, unencodable text) or I/O
                    rollback(conn)
                    for msg in write_one_by_one(conn, items, self.path):
                        self.add_error(msg)
        except Exception as e:
            rollback(conn)
            self.add_error(f"{len(items)} queued record(s) could not be written: {e}")
            return False
        finally:
            for m in markers:
                m.set()
        return True
