"""The hash cache: content digests remembered per file version, for dedupe.

Why a module of its own: dedupe (``tui_batch.select``'s HashCache protocol, implemented by
:class:`~tui_batch.store.Store`) asks for the digests of a whole scan at once, 100k keys on a
big tree, and how that is looked up decides whether a re-run hashes nothing in a second or
in a minute. A key is a file version, ``(dev, ino, size, mtime_ns)``: a file that changed is a
new key, so no entry ever needs invalidating. The table lives in the job store's file
(schema.py); the store's connection and lock are the caller's.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from .records import i64

__all__ = ["HashKey", "get_hashes", "hash_rows", "put_hashes"]

HashKey = tuple[int, int, int, int]
"""``(dev, ino, size, mtime_ns)``: identifies one version of one file for the hash cache."""

_HASH_CHUNK = 500  # keys per lookup statement: 2,001 parameters, well under SQLite's limit


def get_hashes(
    conn: sqlite3.Connection, keys: Sequence[HashKey], kind: str
) -> dict[HashKey, bytes]:
    """Cached digests for ``(dev, ino, size, mtime_ns)`` keys; missing keys are absent.

    Looked up 500 keys per statement (a VALUES list joined on the primary key), so 100k
    keys cost 200 statements, not 100k round trips."""
    out: dict[HashKey, bytes] = {}
    keys = list(keys)
    if len(keys) > 4 * _HASH_CHUNK:
        (cached,) = conn.execute("SELECT count(*) FROM hashes").fetchone()
        if cached <= 4 * len(keys):
            # Most of the cache is asked for (a re-run): one sequential read of the
            # table beats thousands of index probes by several times.
            want = {(i64(k[0]), i64(k[1]), k[2], k[3]): k for k in keys}
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
            enc = (i64(k[0]), i64(k[1]), k[2], k[3])
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
    return out


def hash_rows(rows: Sequence[tuple[HashKey, str, bytes]]) -> list[tuple[Any, ...]]:
    """The rows :func:`put_hashes` inserts, encoded (built before the write lock is taken)."""
    return [
        (i64(k[0]), i64(k[1]), k[2], k[3], kind, bytes(digest)) for k, kind, digest in rows
    ]


def put_hashes(conn: sqlite3.Connection, data: list[tuple[Any, ...]]) -> None:
    """Remember digests (replacing older ones for the same key and kind), in the caller's
    transaction."""
    conn.executemany(
        "INSERT OR REPLACE INTO hashes (dev, ino, size, mtime_ns, kind, digest, added_at)"
        f" VALUES (?, ?, ?, ?, ?, ?, {time.time()!r})",
        data,
    )
