"""Finding and opening a job store file without changing anything: ``~`` expansion and the
read-only connection.

Why a module of its own: commands that only read (``tui-batch jobs``) must work on a store the
user may read but not write, must never create one (a mistyped ``--db`` used to leave an empty
store, and ``TUI_BATCH_DB=~nosuchuser/x.db`` a folder literally named ``~nosuchuser``), and must
not switch the file to WAL or create its schema. SQLite makes that subtle for WAL databases;
the details live here, away from the store's write path.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Callable

from .errors import InputError, StoreError

__all__ = ["connect_readonly", "expand_user"]

BUSY_TIMEOUT = 10.0  # as store.BUSY_TIMEOUT (which imports this module)


def expand_user(path: str, field: str) -> str:
    """``~`` and ``~user`` expanded as a shell would; an unknown user is refused (InputError
    naming ``field``) instead of becoming a folder literally named ``~user``."""
    if not path.startswith("~"):
        return path
    out = os.path.expanduser(path)
    if out.startswith("~"):
        user = path[1:].split(os.sep, 1)[0]
        raise InputError(field, f"{path}: there is no user {user!r} to expand ~{user} for")
    return out


def connect_readonly(
    path: str, check: Callable[[sqlite3.Connection], None]
) -> sqlite3.Connection:
    """A ``mode=ro`` connection to the existing store at ``path``; ``check(conn)`` (the
    store's schema check) runs on it before it is returned, and raises to refuse the file.
    StoreError when there is no file, or it cannot be read."""
    if os.path.isdir(path):
        raise StoreError(f"cannot open job store {path}: it is a folder")
    if not os.path.exists(path):
        raise StoreError(f"no job store at {path}")
    uri = "file:" + urllib.parse.quote(path) + "?mode=ro"
    try:
        return _open(uri, path, check)
    except sqlite3.OperationalError as e:
        # Reading a WAL database needs its -shm file; when that does not exist and the folder
        # is not ours to write, SQLite cannot create it ("attempt to write a readonly
        # database"). Without a -wal file the main file holds every commit, and a writer
        # starting meanwhile only appends to a new WAL: reading it as immutable is exact.
        if os.path.exists(path + "-wal"):
            raise StoreError(f"cannot open job store {path} read-only: {e}") from e
    try:
        return _open(uri + "&immutable=1", path, check)
    except sqlite3.Error as e:
        raise StoreError(f"cannot open job store {path} read-only: {e}") from e


def _open(
    uri: str, path: str, check: Callable[[sqlite3.Connection], None]
) -> sqlite3.Connection:
    conn = sqlite3.connect(
        uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        try:
            check(conn)
        except sqlite3.OperationalError:
            raise  # maybe the -shm case above
        except sqlite3.DatabaseError as e:  # not a database at all
            raise StoreError(f"cannot open job store {path}: {e}") from e
        conn.execute("PRAGMA query_only = ON")
        return conn
    except BaseException:
        conn.close()
        raise
