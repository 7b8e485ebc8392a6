"""Task output kept with a job, read back; and pruning old jobs, their logs and the hash cache.

Why a module of its own: the engine writes each command's whole output into the job's log
folder (:mod:`tui_batch.model.logfiles`) and the store records where each attempt's share is;
reading it back (``tui-batch log``, the TUI's log view, the CLI's output blocks), following a
running attempt from another process, and deleting logs with their job are the store's side of
that contract. :class:`StoreLogs` is mixed into :class:`~tui_batch.store.core.Store`.

A pipeline keeps each step's output in a folder of its own (``step-<N>/``): every reader here
takes the step (0-based, ``TaskRecord.step``) or, given none, asks the task's row for it, so a
caller that knows only an attempt still reads the right files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ..errors import StoreError
from ..model.logfiles import (
    LIVE,
    LOGS_SUFFIX,
    LogRef,
    job_log_dir,
    live_path,
    slot_paths,
    step_dirs,
    step_log_dir,
)
from .records import AttemptRecord
from .task_table import attempt_from_row

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["FINISHED_JOB_STATES", "LiveAttempt", "Output", "StoreLogs", "read_range"]

FINISHED_JOB_STATES = ("done", "failed", "cancelled")
"""Jobs that `jobs --prune` may remove (interrupted and paused ones can still be resumed)."""

_LEFT = ("queued", "running", "interrupted")  # a job with such tasks can still be resumed
_ID_CHUNK = 500  # task ids per lookup statement
_ATTEMPT_COLUMNS = (
    "a.task_id, a.n, a.state, a.started_at, a.ended_at, a.exit_code, a.signal, a.error,"
    " a.stdout_tail, a.stderr_tail, a.log_slot, a.out_off, a.out_len, a.out_total, a.err_off,"
    " a.err_len, a.err_total"
)


@dataclass(frozen=True, slots=True)
class Output:
    """One stream of one attempt as kept: its bytes, what the command wrote in all, and
    whether only the tail was kept (the attempt ran before full logs, or its log is gone)."""

    data: bytes
    total: int
    tail_only: bool = False

    @property
    def cut(self) -> int:
        """Bytes written but not kept."""
        return max(0, self.total - len(self.data))


@dataclass(frozen=True, slots=True)
class LiveAttempt:
    """A running attempt's place in its slot files (from the slot's live record)."""

    pid: int
    slot: int
    out_off: int
    err_off: int
    step: int = 0
    """The pipeline step (0-based) whose slot files these are."""


def read_range(path: str, off: int, length: int) -> bytes:
    """Bytes ``[off, off + length)`` of a log file (fewer if the file is shorter or gone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return b""
    try:
        chunks = []
        while length > 0:
            b = os.pread(fd, min(length, 1 << 20), off)
            if not b:
                break
            chunks.append(b)
            off += len(b)
            length -= len(b)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _stream_index(stream: str) -> int:
    if stream not in ("stdout", "stderr"):
        raise ValueError(f"unknown stream {stream!r} (stdout or stderr)")
    return 0 if stream == "stdout" else 1


class StoreLogs:
    """The store's calls for task output and pruning (mixed into Store)."""

    path: str
    _read: Callable[[], contextlib.AbstractContextManager[sqlite3.Connection]]
    _write: Callable[[], contextlib.AbstractContextManager[sqlite3.Connection]]
    delete_job: Callable[[int], None]

    def log_dir(self, job_id: int, step: int = 0) -> str:
        """The folder that holds job ``job_id``'s task output (it may not exist yet); of one
        pipeline step (0-based) when ``step`` is given: see :func:`step_log_dir`."""
        return step_log_dir(job_log_dir(self.path, job_id), step)

    def task_step(self, task_id: int) -> int | None:
        """The pipeline step (0-based) of a task, None for an unknown task."""
        with self._read() as c:
            row = c.execute("SELECT step FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return None if row is None else int(row[0] or 0)

    def output(self, job_id: int, attempt: AttemptRecord, stream: str, *,
               step: int | None = None) -> Output:
        """What ``attempt`` (of a task of job ``job_id``) wrote on ``stream``, as kept.
        ``step``: its task's pipeline step (None: read from the task's row)."""
        tail = (attempt.stdout_tail, attempt.stderr_tail)[_stream_index(stream)] or ""
        if attempt.log is None:
            data = tail.encode("utf-8", "surrogateescape")
            return Output(data, len(data))
        if step is None:
            step = self.task_step(attempt.task_id) or 0
        return self.kept(job_id, attempt.log, stream, tail, step=step)

    def kept(self, job_id: int, ref: LogRef, stream: str, tail: str, *,
             step: int = 0) -> Output:
        """The kept bytes of one stream of a :class:`LogRef` (a stored attempt's, or a live
        engine Task's right after its event: the bytes are in the file already), or its
        ``tail`` when that is all there is. ``step``: the pipeline step (0-based) of its task:
        each step has its own slot files."""
        i = _stream_index(stream)
        off, length, total = (ref[1:4], ref[4:7])[i]
        if total == 0:
            return Output(b"", 0)
        data = read_range(slot_paths(self.log_dir(job_id, step), ref.slot)[i], off, length)
        if len(data) < length or (length == 0 and tail):
            # the log files were removed by hand, or --max-output 0: the tail is all there is
            data = tail.encode("utf-8", "surrogateescape")
            return Output(data, total, tail_only=True)
        return Output(data, total)

    def live_attempt(self, job_id: int, task_id: int, attempt: int, *,
                     step: int | None = None) -> LiveAttempt | None:
        """Where a running attempt's output starts, if a slot's live record names it.
        ``step``: its task's pipeline step (0-based); None looks in every step's records
        (a task id is unique in its job, so only its own step's can name it)."""
        job_dir = job_log_dir(self.path, job_id)
        folders = step_dirs(job_dir) if step is None else [(step, step_log_dir(job_dir, step))]
        for k, folder in folders:
            try:
                with open(live_path(folder), "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            for slot in range(len(data) // LIVE.size):
                pid, tid, n, out_off, err_off = LIVE.unpack_from(data, slot * LIVE.size)
                if tid == task_id and n == attempt:
                    return LiveAttempt(pid, slot + 1, out_off, err_off, k)
        return None

    def follow_bytes(
        self, job_id: int, live: LiveAttempt, stream: str, start: int
    ) -> bytes:
        """What a running attempt added to ``stream`` from byte ``start`` (of its output) on."""
        return self.follow_range(job_id, live, stream, start)[0]

    def follow_range(
        self, job_id: int, live: LiveAttempt, stream: str, start: int,
        limit: int | None = None,
    ) -> tuple[bytes, int]:
        """What a running attempt added to ``stream`` from byte ``start`` on (at most
        ``limit`` bytes), and how many bytes it has written to that stream so far. The one
        reader of a live slot file: ``tui-batch log -f`` and the TUI's log views follow
        through here."""
        i = _stream_index(stream)
        path = slot_paths(self.log_dir(job_id, live.step), live.slot)[i]
        begin = (live.out_off, live.err_off)[i]
        try:
            written = max(0, os.stat(path).st_size - begin)
        except OSError:
            return b"", 0
        want = written - start if limit is None else min(written - start, limit)
        return (read_range(path, begin + start, want) if want > 0 else b""), written

    def attempts_of(self, task_ids: Sequence[int]) -> dict[int, list[AttemptRecord]]:
        """The attempts of many tasks (oldest first per task), by task id; a task that never
        ran is absent. One statement per 500 tasks instead of one per task."""
        ids = list(task_ids)
        out: dict[int, list[AttemptRecord]] = {}
        with self._read() as c:
            for start in range(0, len(ids), _ID_CHUNK):
                chunk = ids[start : start + _ID_CHUNK]
                rows = c.execute(
                    f"SELECT {_ATTEMPT_COLUMNS} FROM attempts AS a WHERE a.task_id IN"
                    f" ({', '.join('?' * len(chunk))}) ORDER BY a.task_id, a.n",
                    chunk,
                )
                for r in rows:
                    out.setdefault(r[0], []).append(attempt_from_row(r))
        return out

    def attempt_mark(self) -> int:
        """A mark for :meth:`attempts_after`: attempts written from now on come after it."""
        with self._read() as c:
            return int(c.execute("SELECT COALESCE(MAX(rowid), 0) FROM attempts").fetchone()[0])

    def attempts_after(self, job_id: int, mark: int) -> tuple[int, list[AttemptRecord]]:
        """Attempts of job ``job_id`` whose row was made after ``mark`` (an attempt's row is
        made when it starts, or when it ends if its start was never written), oldest first,
        and the mark to ask with next time. Following a job polls this: it reads only the
        new rows, however big the job."""
        with self._read() as c:
            top = int(c.execute("SELECT COALESCE(MAX(rowid), 0) FROM attempts").fetchone()[0])
            if top <= mark:
                return mark, []
            rows = c.execute(
                f"SELECT {_ATTEMPT_COLUMNS} FROM attempts AS a JOIN tasks AS t"
                " ON t.id = a.task_id WHERE a.rowid > ? AND a.rowid <= ? AND t.job_id = ?"
                " ORDER BY a.rowid",
                (mark, top, job_id),
            ).fetchall()
        return top, [attempt_from_row(r) for r in rows]

    def job_span(self, job_id: int) -> tuple[float | None, float | None]:
        """When job ``job_id``'s first attempt started and its last one ended (None: never)."""
        with self._read() as c:
            row = c.execute(
                "SELECT MIN(a.started_at), MAX(a.ended_at) FROM attempts AS a"
                " JOIN tasks AS t ON t.id = a.task_id WHERE t.job_id = ?",
                (job_id,),
            ).fetchone()
        return row[0], row[1]

    def remove_logs(self, job_id: int) -> None:
        """Delete job ``job_id``'s log folder, every pipeline step's logs in it (with the
        job, or by prune)."""
        folder = self.log_dir(job_id)
        if os.path.isdir(folder) and not os.path.islink(folder):
            shutil.rmtree(folder, ignore_errors=True)

    def finished_before(self, cutoff: float) -> list[int]:
        """Jobs finished (done, failed, cancelled) and last changed before ``cutoff`` that
        nothing could still run: none has a task left to resume (a halted job ends 'failed'
        with tasks queued), and no live process holds its run or watch lock."""
        marks = ", ".join("?" * len(FINISHED_JOB_STATES))
        with self._read() as c:
            rows = c.execute(
                f"SELECT id, spec, state FROM jobs AS j WHERE state IN ({marks})"
                " AND updated_at < ? AND NOT EXISTS (SELECT 1 FROM tasks AS t WHERE"
                " t.job_id = j.id AND t.state IN (?, ?, ?)) ORDER BY id",
                (*FINISHED_JOB_STATES, cutoff, *_LEFT),
            ).fetchall()
        from .locks import job_liveness  # locks knows the Store: imported here, not above

        store = cast(Any, self)
        out = []
        for job_id, spec, state in rows:
            try:
                data: Any = json.loads(spec)
            except ValueError:
                data = {}
            if not job_liveness(store, job_id, spec=data if isinstance(data, dict) else {},
                                state=state)[0]:
                out.append(job_id)
        return out

    def count_hashes_before(self, cutoff: float) -> int:
        """How many cached digests were added before ``cutoff`` (what a prune would forget)."""
        with self._read() as c:
            row = c.execute("SELECT COUNT(*) FROM hashes WHERE added_at < ?", (cutoff,))
            return int(row.fetchone()[0])

    def prune_hashes(self, cutoff: float) -> int:
        """Forget cached digests added before ``cutoff`` (a file seen again is hashed again);
        returns how many."""
        with self._write() as c:
            return c.execute("DELETE FROM hashes WHERE added_at < ?", (cutoff,)).rowcount

    def orphan_log_dirs(self) -> Iterator[str]:
        """Log folders of jobs that no longer exist (a delete interrupted before its rmtree)."""
        root = self.path + LOGS_SUFFIX
        try:
            names = os.listdir(root)
        except OSError:
            return
        with self._read() as c:
            ids = {r[0] for r in c.execute("SELECT id FROM jobs")}
        for name in names:
            if name.startswith("job-") and name[4:].isdigit() and int(name[4:]) not in ids:
                yield os.path.join(root, name)

    def prune(self, older_than: float) -> tuple[list[int], int]:
        """Remove finished jobs last changed more than ``older_than`` seconds ago, with their
        logs (never one that runs or can be resumed: :meth:`finished_before`), plus older
        hash-cache entries and orphaned log folders. Returns the removed job ids and how
        many cached digests went."""
        cutoff = time.time() - older_than
        removed = []
        for job_id in self.finished_before(cutoff):
            with contextlib.suppress(StoreError):  # deleted meanwhile by someone else
                self.delete_job(job_id)
                removed.append(job_id)
        for folder in self.orphan_log_dirs():
            shutil.rmtree(folder, ignore_errors=True)
        return removed, self.prune_hashes(cutoff)
