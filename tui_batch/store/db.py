"""Finding and opening a job store file: paths, connections, and the write transaction.

Why a module of its own: how a connection is opened decides what a kill, a second process or
a wrong ``--db`` can do to a file, and every part of the store (the synchronous calls, the
writer thread, the watch state) opens its connections here.

* **WAL, ``synchronous=NORMAL``, ``busy_timeout``.** A run writes while ``tui-batch jobs`` (or
  the TUI's jobs screen, in another process) reads. In WAL mode readers never wait for the
  writer, and NORMAL only gives up durability on *power loss*, not on process death
  (``kill -9``): a committed transaction is in the WAL file, and SQLite replays it on the next
  open.
* **Nothing is written before the file is known to be ours** (or empty): a foreign SQLite
  database given as ``--db`` is refused byte-identical (the check is schema.py's).
* **Read-only opening** (:func:`connect_readonly`, for ``tui-batch jobs``): commands that only
  read must work on a store the user may read but not write, must never create one (a mistyped
  ``--db`` used to leave an empty store, and ``TUI_BATCH_DB=~nosuchuser/x.db`` a folder
  literally named ``~nosuchuser``), and must not switch the file to WAL or create its schema.
  SQLite makes that subtle for WAL databases; the details live here.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator

from ..errors import StoreError
from ..model.dbpath import ENV_VAR, default_path, expand_user, missing_store, resolve_path
from .schema import check_readonly, check_version, migrate, read_version

__all__ = [
    "BUSY_TIMEOUT",
    "ENV_VAR",
    "connect",
    "connect_readonly",
    "default_path",
    "expand_user",
    "resolve_path",
    "write_transaction",
]

BUSY_TIMEOUT = 10.0
"""Seconds a connection waits for another one's write lock before giving up."""



def connect(path: str, migrate_schema: bool) -> sqlite3.Connection:
    """A read-write connection to the store at ``path`` (created if missing), in WAL mode,
    after checking the file is ours; ``migrate_schema`` brings its schema up to date."""
    if os.path.isdir(path):
        raise StoreError(f"cannot open job store {path}: it is a folder")
    parent = os.path.dirname(path)
    try:
        # A store we create is private (folder 0700, file 0600; SQLite gives its -wal and
        # -shm files the file's mode): another user must not list or read anyone's jobs.
        # A folder or a file that exists keeps the mode its owner gave it.
        os.makedirs(parent, mode=0o700, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except OSError as e:
        if not os.path.isdir(parent):
            raise StoreError(f"cannot open job store {path}: cannot create folder {parent}: "
                             f"{e.strerror}") from e
        raise StoreError(f"cannot open job store {path}: {e.strerror}") from e
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
        version, app_id = read_version(conn)
        check_version(path, version, app_id, conn)
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
        if migrate_schema:
            migrate(path, conn)
        return conn
    except sqlite3.Error as e:
        if conn is not None:
            conn.close()
        raise StoreError(f"cannot open job store {path}: {e}") from e
    except BaseException:
        if conn is not None:
            conn.close()
        raise


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


def connect_readonly(path: str) -> sqlite3.Connection:
    """A ``mode=ro`` connection to the existing store at ``path``: never creates, migrates or
    switches anything. The schema check (``schema.check_readonly``) runs on it before it is
    returned, and raises to refuse the file. StoreError when there is no file, or it cannot
    be read."""
    if os.path.isdir(path):
        raise StoreError(f"cannot open job store {path}: it is a folder")
    if not os.path.exists(path):
        raise StoreError(missing_store(path))
    uri = "file:" + urllib.parse.quote(path) + "?mode=ro"
    try:
        return _open(uri, path)
    except sqlite3.OperationalError as e:
        # Reading a WAL database needs its -shm file; when that does not exist and the folder
        # is not ours to write, SQLite cannot create it ("attempt to write a readonly
        # database"). Without a -wal file the main file holds every commit, and a writer
        # starting meanwhile only appends to a new WAL: reading it as immutable is exact.
        if os.path.exists(path + "-wal"):
            raise StoreError(f"cannot open job store {path} read-only: {e}") from e
    try:
        return _open(uri + "&immutable=1", path)
    except sqlite3.Error as e:
        raise StoreError(f"cannot open job store {path} read-only: {e}") from e


def _open(uri: str, path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        try:
            check_readonly(path, conn)
        except sqlite3.OperationalError:
            raise  # maybe the -shm case above
        except sqlite3.DatabaseError as e:  # not a database at all
            raise StoreError(f"cannot open job store {path}: {e}") from e
        conn.execute("PRAGMA query_only = ON")
        return conn
    except BaseException:
        conn.close()
        raise
