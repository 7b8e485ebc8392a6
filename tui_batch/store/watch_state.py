"""What a watch has already seen: per watch identity, the last content version of every path.

Watch mode promises *exactly one task per content version*, also across restarts: a file that
was processed before tui-batch stopped must not run again when it starts, and a file that
arrived while it was down must run. The job store records tasks, but not "this path, at this
size, mtime and content hash, is already taken care of", and a watch needs that answer for
every event and every reconcile scan without loading its whole history into memory. So it lives
here, in its own tables of the **same SQLite file** as the job store (one file to back up, one
``--db``), through its own connection (WAL, ``busy_timeout``), so that the Store and this
module never share a transaction or a lock.

Tables (created on first use, ``IF NOT EXISTS``; the store's schema version is not touched):

* ``watch_watches``: one row per watch identity (roots + filter + action + output folder, or
  the ``--watch-id`` name), with the job that collects its tasks.
* ``watch_seen``: one row per (watch, path): size, mtime_ns, dev, ino, xxh3_128 digest, and
  ``kind``: ``task`` (a task exists for this version), ``output`` (written by the action itself:
  never an input) or ``duplicate`` (same content as another path; skipped). A path that is
  deleted is forgotten, so the same name arriving again later is a new arrival.

Ordering with the job store: a task row is committed *before* its ``watch_seen`` row. A crash in
between leaves a queued task without a seen row; the watch reconciles that on start
(:meth:`WatchState.adopt_tasks`), so the result is never a missed file and never a second task.

Paths are BLOBs (``os.fsencode``), as in the job store, so non-UTF-8 names round-trip.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..errors import StoreError
from .db import BUSY_TIMEOUT, write_transaction
from .records import i64, u64

__all__ = ["KIND_DUPLICATE", "KIND_OUTPUT", "KIND_TASK", "SeenRow", "WatchState"]

KIND_TASK = "task"
KIND_OUTPUT = "output"
KIND_DUPLICATE = "duplicate"

SCHEMA_VERSION = 1
_CHUNK = 400  # paths per lookup statement (well under SQLite's variable limit)


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS watch_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS watch_watches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        identity TEXT NOT NULL UNIQUE,
        label TEXT,
        job_id INTEGER,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS watch_seen (
        watch_id INTEGER NOT NULL,
        path BLOB NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        dev INTEGER NOT NULL DEFAULT 0,
        ino INTEGER NOT NULL DEFAULT 0,
        digest BLOB,
        kind TEXT NOT NULL,
        task_id INTEGER,
        updated_at REAL NOT NULL,
        PRIMARY KEY (watch_id, path)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS watch_seen_digest ON watch_seen(watch_id, digest)"
    " WHERE digest IS NOT NULL",
)


@dataclass(slots=True)
class SeenRow:
    """One remembered content version of one path."""

    path: str
    size: int
    mtime_ns: int
    dev: int = 0
    ino: int = 0
    digest: bytes | None = None
    kind: str = KIND_TASK
    task_id: int | None = None


class WatchState:
    """The seen-versions memory of every watch in one job database. Thread-safe.

    Every method is a short synchronous transaction; the watcher calls them from a worker
    thread so the event loop (and the TUI on it) never waits on SQLite.
    """

    def __init__(self, db_path: str) -> None:
        self.path = os.path.abspath(db_path)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            c = self._conn
            c.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            if str(c.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = NORMAL")
            with self._write() as w:
                for stmt in _SCHEMA:
                    w.execute(stmt)
                row = w.execute("SELECT value FROM watch_meta WHERE key = 'schema'").fetchone()
                if row is None:
                    w.execute(
                        "INSERT INTO watch_meta (key, value) VALUES ('schema', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                elif int(row[0]) > SCHEMA_VERSION:
                    raise StoreError(
                        f"job store {self.path}: its watch tables have version {row[0]}, newer "
                        f"than this tui-batch understands ({SCHEMA_VERSION}); upgrade tui-batch"
                    )
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the watch state in {self.path}: {e}") from e
        self._closed = False

    # -- plumbing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with write_transaction(self._conn, self._lock, f"watch state {self.path}") as conn:
            yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as e:
                raise StoreError(f"watch state {self.path}: {e}") from e

    def close(self) -> None:
        """Close the connection. Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> WatchState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- watches -----------------------------------------------------------------------------

    def open_watch(self, identity: str, label: str) -> tuple[int, int | None]:
        """The watch row for ``identity`` (created if new): ``(watch_id, job_id or None)``."""
        now = time.time()
        with self._write() as c:
            row = c.execute(
                "SELECT id, job_id FROM watch_watches WHERE identity = ?", (identity,)
            ).fetchone()
            if row is not None:
                c.execute(
                    "UPDATE watch_watches SET updated_at = ?, label = ? WHERE id = ?",
                    (now, label, row[0]),
                )
                return int(row[0]), None if row[1] is None else int(row[1])
            cur = c.execute(
                "INSERT INTO watch_watches (identity, label, job_id, created_at, updated_at)"
                " VALUES (?, ?, NULL, ?, ?)",
                (identity, label, now, now),
            )
            return int(cur.lastrowid or 0), None

    def set_job(self, watch_id: int, job_id: int) -> None:
        """Remember which job collects this watch's tasks (reused on every restart)."""
        with self._write() as c:
            c.execute(
                "UPDATE watch_watches SET job_id = ?, updated_at = ? WHERE id = ?",
                (job_id, time.time(), watch_id),
            )

    def watch_for_job(self, job_id: int) -> str | None:
        """The identity of the watch whose tasks go to ``job_id`` (None: not a watch job)."""
        with self._read() as c:
            row = c.execute(
                "SELECT identity FROM watch_watches WHERE job_id = ?", (job_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    # -- seen versions -----------------------------------------------------------------------

    def lookup(self, watch_id: int, paths: Sequence[str]) -> dict[str, SeenRow]:
        """The remembered versions of these paths (absent when never seen)."""
        out: dict[str, SeenRow] = {}
        if not paths:
            return out
        enc = {os.fsencode(p): p for p in paths}
        keys = list(enc)
        with self._read() as c:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows = c.execute(
                    "SELECT path, size, mtime_ns, dev, ino, digest, kind, task_id FROM watch_seen"
                    f" WHERE watch_id = ? AND path IN ({marks})",
                    (watch_id, *chunk),
                ).fetchall()
                for r in rows:
                    p = enc[bytes(r[0])]
                    out[p] = SeenRow(
                        p, r[1], r[2], u64(r[3]), u64(r[4]),
                        None if r[5] is None else bytes(r[5]), r[6], r[7],
                    )
        return out

    def find_digest(self, watch_id: int, digest: bytes, size: int, limit: int = 8) -> list[str]:
        """Other paths whose remembered content is ``digest`` (for duplicate detection)."""
        with self._read() as c:
            rows = c.execute(
                "SELECT path FROM watch_seen WHERE watch_id = ? AND digest = ? AND size = ?"
                " AND kind = ? LIMIT ?",
                (watch_id, digest, size, KIND_TASK, limit),
            ).fetchall()
        return [os.fsdecode(bytes(r[0])) for r in rows]

    def find_digests(
        self, watch_id: int, digests: Sequence[bytes]
    ) -> dict[bytes, list[tuple[str, int]]]:
        """For each digest, the remembered ``(path, size)`` of processed files with that
        content (a batch of :meth:`find_digest`; a few paths per digest at most)."""
        out: dict[bytes, list[tuple[str, int]]] = {}
        keys = list(dict.fromkeys(digests))
        with self._read() as c:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows = c.execute(
                    "SELECT digest, path, size FROM watch_seen WHERE watch_id = ? AND kind = ?"
                    f" AND digest IN ({marks})",
                    (watch_id, KIND_TASK, *chunk),
                ).fetchall()
                for d, p, size in rows:
                    found = out.setdefault(bytes(d), [])
                    if len(found) < 8:
                        found.append((os.fsdecode(bytes(p)), size))
        return out

    def record(self, watch_id: int, rows: Iterable[SeenRow]) -> None:
        """Remember these versions (replacing what was known of each path)."""
        now = time.time()
        data = [
            (watch_id, os.fsencode(r.path), r.size, r.mtime_ns, i64(r.dev), i64(r.ino),
             r.digest, r.kind, r.task_id, now)
            for r in rows
        ]
        if not data:
            return
        with self._write() as c:
            c.executemany(
                "INSERT OR REPLACE INTO watch_seen (watch_id, path, size, mtime_ns, dev, ino,"
                " digest, kind, task_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                data,
            )

    def forget(self, watch_id: int, paths: Iterable[str], *, subtree: bool = False) -> int:
        """Drop deleted paths (with ``subtree``, everything below them too: a folder that was
        moved away). Returns how many rows went."""
        n = 0
        with self._write() as c:
            for p in paths:
                b = os.fsencode(p)
                cur = c.execute(
                    "DELETE FROM watch_seen WHERE watch_id = ? AND path = ?", (watch_id, b)
                )
                n += cur.rowcount
                if subtree:
                    lo = b.rstrip(b"/") + b"/"
                    hi = b.rstrip(b"/") + b"0"  # '0' sorts right after '/'
                    cur = c.execute(
                        "DELETE FROM watch_seen WHERE watch_id = ? AND path >= ? AND path < ?",
                        (watch_id, lo, hi),
                    )
                    n += cur.rowcount
        return n

    def forget_task(self, watch_id: int, path: str, task_id: int) -> bool:
        """Forget a path's version only if it is still the one task ``task_id`` was for (the
        task was skipped because the file changed or vanished before it started, so that
        version was never processed and the next one must not be mistaken for it)."""
        with self._write() as c:
            cur = c.execute(
                "DELETE FROM watch_seen WHERE watch_id = ? AND path = ? AND task_id = ?",
                (watch_id, os.fsencode(path), task_id),
            )
            return cur.rowcount > 0

    def adopt_tasks(self, watch_id: int, rows: Iterable[SeenRow]) -> int:
        """Make sure unfinished tasks found in the job on start are remembered as seen, unless
        a newer task already covers the path (see the module doc: crash between the two
        commits). Returns how many rows were written."""
        rows = list(rows)
        if not rows:
            return 0
        known = self.lookup(watch_id, [r.path for r in rows])
        todo = []
        for r in rows:
            k = known.get(r.path)
            if k is None or (k.task_id or 0) < (r.task_id or 0):
                todo.append(r)
        self.record(watch_id, todo)
        return len(todo)

    def iter_paths(self, watch_id: int, batch: int = 2000) -> Iterator[list[str]]:
        """Every remembered path, in batches (for the sweep of deleted files)."""
        last = b""
        while True:
            with self._read() as c:
                rows = c.execute(
                    "SELECT path FROM watch_seen WHERE watch_id = ? AND path > ?"
                    " ORDER BY path LIMIT ?",
                    (watch_id, last, batch),
                ).fetchall()
            if not rows:
                return
            last = bytes(rows[-1][0])
            yield [os.fsdecode(bytes(r[0])) for r in rows]

    def sweep_missing(self, watch_id: int) -> int:
        """Forget paths that no longer exist (their delete events may have been dropped, or
        they went while tui-batch was down). Returns how many were forgotten."""
        gone: list[str] = []
        for paths in self.iter_paths(watch_id):
            gone.extend(p for p in paths if not os.path.lexists(p))
        if gone:
            self.forget(watch_id, gone)
        return len(gone)

    def count(self, watch_id: int) -> int:
        with self._read() as c:
            return int(
                c.execute(
                    "SELECT COUNT(*) FROM watch_seen WHERE watch_id = ?", (watch_id,)
                ).fetchone()[0]
            )
