"""Hot-path records and the few big statements a batch of them becomes.

Why a module of its own: the engine reports every state change of every task; the store turns
them into tuples ``(op, task_id, ...)`` (about a microsecond each) and the writer thread
(writer.py) commits whatever piled up in one transaction. How a batch becomes SQL is what
makes that fast, and it is independent of the thread, the queue and the journal: records are
grouped by operation into multi-row statements (``INSERT ... VALUES (...), (...)``,
``UPDATE ... FROM (VALUES ...)``), keeping each task's records in order, with a one-by-one
slow path that isolates a bad record, and guarded versions for a journal's replay.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from ..errors import StoreError

__all__ = [
    "OP_END",
    "OP_FLUSH",
    "OP_PRIO",
    "OP_SPAWN",
    "OP_START",
    "OP_STATE",
    "UPDATE_FROM",
    "MissingTask",
    "Stmt",
    "apply_replayed",
    "exec_rows",
    "rollback",
    "write_grouped",
    "write_one_by_one",
]

OP_START, OP_END, OP_STATE, OP_PRIO, OP_FLUSH, OP_SPAWN = range(6)
"""The hot-path operations (index 0 of a record). A flush marker ``(OP_FLUSH, None, event)``
is not written: the writer sets its event once everything queued before it is committed.
``OP_SPAWN`` inserts a pipeline step's task (records.ChildTask), queued with the end of the
same file's previous step so that both commit in one transaction."""


class Stmt:
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
        """The statement binding ``n`` records (built once per ``n``, then cached)."""
        sql = self._cache.get(n)
        if sql is None:
            sql = self._cache[n] = self._multi.format(values=", ".join([self._row] * n))
        return sql


LOG_COLUMNS = ("log_slot", "out_off", "out_len", "out_total", "err_off", "err_len", "err_total")
"""Where an attempt's whole output is kept (:class:`tui_batch.model.logfiles.LogRef`)."""
_ATTEMPT_UPSERT = (
    " ON CONFLICT (task_id, n) DO UPDATE SET state = excluded.state,"
    " started_at = excluded.started_at, ended_at = excluded.ended_at,"
    " exit_code = excluded.exit_code, signal = excluded.signal, error = excluded.error,"
    " stdout_tail = excluded.stdout_tail, stderr_tail = excluded.stderr_tail, "
    + ", ".join(f"{c} = excluded.{c}" for c in LOG_COLUMNS)
)
_START_ATTEMPT = (
    "INSERT INTO attempts (task_id, n, state, started_at) VALUES {values}"
    " ON CONFLICT (task_id, n) DO UPDATE SET state = 'running',"
    " started_at = excluded.started_at, ended_at = NULL, exit_code = NULL, signal = NULL,"
    " error = NULL, stdout_tail = NULL, stderr_tail = NULL, "
    + ", ".join(f"{c} = NULL" for c in LOG_COLUMNS)
)
_END_ATTEMPT = (
    "INSERT INTO attempts (task_id, n, state, started_at, ended_at, exit_code, signal, error,"
    " stdout_tail, stderr_tail, " + ", ".join(LOG_COLUMNS) + ") VALUES {values}"
    + _ATTEMPT_UPSERT
)
_ROW3 = "(?, ?, ?)"
_ROW17 = "(" + ", ".join(["?"] * 17) + ")"
END_FIELDS = 19
"""Fields of an end record (older journals wrote 12: no place for the output)."""
_NO_LOG = (None,) * 7

# Record layouts (index 0 is the op, 1 the task id):
#   start: (op, task, attempt, started_at)
#   end:   (op, task, attempt, state, started, ended, exit_code, signal, error, out, err, reason,
#           log_slot, out_off, out_len, out_total, err_off, err_len, err_total)
#   state: (op, task, state, reason)
#   prio:  (op, task, priority)
#   spawn: (op, task, job, seq, step, parent, path, root, rel, size, mtime_ns, dev, ino,
#           priority, state, reason, error)
_SPAWN_INSERT = (
    "INSERT{verb} INTO tasks (id, job_id, seq, step, parent, path, root, rel, size, mtime_ns,"
    " dev, ino, priority, state, reason, error) VALUES {values}"
)
_ROW16 = "(" + ", ".join(["?"] * 16) + ")"
_OP_SQL: dict[int, tuple[Stmt, ...]] = {
    OP_START: (
        Stmt(
            "UPDATE tasks SET state = 'running', attempts = MAX(attempts, ?), started_at = ?,"
            " ended_at = NULL WHERE id = ?",
            "UPDATE tasks SET state = 'running', attempts = MAX(tasks.attempts, v.column1),"
            " started_at = v.column2, ended_at = NULL FROM (VALUES {values}) AS v"
            " WHERE tasks.id = v.column3",
            _ROW3,
            (2, 3, 1),
            True,
        ),
        Stmt(
            _START_ATTEMPT.format(values="(?, ?, 'running', ?)"),
            _START_ATTEMPT,
            "(?, ?, 'running', ?)",
            (1, 2, 3),
            False,
        ),
    ),
    OP_END: (
        Stmt(
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
        Stmt(
            _END_ATTEMPT.format(values=_ROW17),
            _END_ATTEMPT,
            _ROW17,
            (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, *range(12, 19)),
            False,
        ),
    ),
    OP_STATE: (
        Stmt(
            "UPDATE tasks SET state = ?, reason = ? WHERE id = ?",
            "UPDATE tasks SET state = v.column1, reason = v.column2"
            " FROM (VALUES {values}) AS v WHERE tasks.id = v.column3",
            _ROW3,
            (2, 3, 1),
            True,
        ),
    ),
    OP_PRIO: (
        Stmt(
            "UPDATE tasks SET priority = ? WHERE id = ?",
            "UPDATE tasks SET priority = v.column1 FROM (VALUES {values}) AS v"
            " WHERE tasks.id = v.column2",
            "(?, ?)",
            (2, 1),
            True,
        ),
    ),
    OP_SPAWN: (
        Stmt("", _SPAWN_INSERT.replace("{verb}", ""), _ROW16, tuple(range(1, 17)), False),
    ),
}
_MAX_ROWS = 8192  # records per statement when SQLite allows (default builds: 32,766 params)
UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)


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


def exec_rows(
    conn: sqlite3.Connection,
    stmt: Stmt,
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


# Replay (see apply_replayed): the hot-path statements, guarded.
_REPLAY_END = (
    "UPDATE tasks SET state = ?, attempts = MAX(attempts, ?), started_at = ?, ended_at = ?,"
    " exit_code = ?, signal = ?, error = ?, reason = ? WHERE id = ? AND attempts <= ?"
)
_REPLAY_STATE = (  # a requeue (retry) is older than a committed start; anything else applies
    "UPDATE tasks SET state = ?1, reason = ?2 WHERE id = ?3"
    " AND NOT (state = 'running' AND ?1 = 'queued')"
)

_OP_NAMES = {
    OP_START: "record_start",
    OP_END: "record_end",
    OP_STATE: "set_task_state",
    OP_PRIO: "set_task_priority",
    OP_SPAWN: "record_end(next step)",
}


def sanitized(item: tuple[Any, ...]) -> tuple[Any, ...]:
    """The record with its texts made bindable (lone surrogates backslash-escaped)."""
    return tuple(
        x.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(x, str) else x
        for x in item
    )


class MissingTask(Exception):
    """A hot-path update matched no task row: redo the batch one record at a time to find it."""


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if any, ignoring a failure to."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def write_grouped(
    conn: sqlite3.Connection, items: list[tuple[Any, ...]], max_vars: int, update_from: bool
) -> None:
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
        if it[0] == OP_END:
            j = last.get(tid)
            if j is not None:
                prev = kept[j]
                if prev is not None and prev[0] == OP_START and prev[2] == it[2]:
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
    conn.execute("BEGIN IMMEDIATE")
    for key in sorted(groups):
        rows = groups[key]
        for stmt in _OP_SQL[key[1]]:
            changed = exec_rows(conn, stmt, rows, max_vars, update_from)
            if stmt.must_match and changed != len(rows):
                raise MissingTask
    conn.execute("COMMIT")


def write_one_by_one(
    conn: sqlite3.Connection, items: list[tuple[Any, ...]], path: str
) -> list[str]:
    """Slow path after a failed batch: each record in its own savepoint, so one bad record
    (unknown task, say) is reported and the good ones are still committed, in order.
    Returns the failures, one message per record that could not be written."""
    conn.execute("BEGIN IMMEDIATE")
    failed: list[str] = []
    for it in items:
        conn.execute("SAVEPOINT rec")
        try:
            try:
                _write_one(conn, it, path)
            except UnicodeEncodeError:
                # Text with lone surrogates (an error message quoting a non-UTF-8 file
                # name) cannot be bound; keep it readable rather than lose the record.
                conn.execute("ROLLBACK TO rec")
                _write_one(conn, sanitized(it), path)
        except (sqlite3.Error, StoreError, ValueError, OverflowError) as e:
            conn.execute("ROLLBACK TO rec")
            failed.append(f"{_OP_NAMES[it[0]]}(task {it[1]}): {e}")
        conn.execute("RELEASE rec")
    conn.execute("COMMIT")
    return failed


def _write_one(conn: sqlite3.Connection, it: tuple[Any, ...], path: str) -> None:
    for stmt in _OP_SQL[it[0]]:
        cur = conn.execute(stmt.single, stmt.getter(it))
        if stmt.must_match and cur.rowcount != 1:
            raise StoreError(f"no task {it[1]} in {path}")


def apply_replayed(c: sqlite3.Connection, items: list[tuple[Any, ...]]) -> None:
    """Replayed records in their original order, inside the caller's transaction. A record for
    a task that no longer exists (its job was deleted since) is dropped, and so is one the
    database has already moved past: the last batch may have been committed with the
    journal not yet cleared, and starts are not journaled, so an end of attempt n must
    not undo a committed start of attempt n + 1 (nor a retry's requeue undo its start)."""
    for it in items:
        if it and it[0] == OP_END and len(it) == 12:
            it = it + _NO_LOG  # journaled by an older version
        try:
            try:
                _replay_one(c, it)
            except UnicodeEncodeError:
                _replay_one(c, sanitized(it))
        except (sqlite3.IntegrityError, ValueError, OverflowError, TypeError):
            continue


def _replay_one(c: sqlite3.Connection, it: tuple[Any, ...]) -> None:
    op = it[0]
    if op == OP_END:
        end, attempt = _OP_SQL[OP_END]
        cur = c.execute(_REPLAY_END, (*end.getter(it), it[2]))
        if cur.rowcount == 1:
            c.execute(attempt.single, attempt.getter(it))
    elif op == OP_STATE:
        c.execute(_REPLAY_STATE, _OP_SQL[OP_STATE][0].getter(it))  # (state, reason, id)
    elif op == OP_PRIO:
        c.execute(_OP_SQL[OP_PRIO][0].single, _OP_SQL[OP_PRIO][0].getter(it))
    elif op == OP_SPAWN:  # the batch may have been committed before the journal was cleared
        c.execute(_SPAWN_INSERT.replace("{verb}", " OR IGNORE").format(values=_ROW16),
                  _OP_SQL[OP_SPAWN][0].getter(it))

