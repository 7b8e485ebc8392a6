"""The store's records: the rows of jobs, tasks and attempts as Python values, and back.

Why a module of its own: every other part of the store (the tables' queries, the writer, the
watch state) speaks in these records and in the two encodings SQLite forces on us: paths are
BLOBs (``os.fsencode``) so non-UTF-8 names come back byte-exact, and ``st_dev`` / ``st_ino``
(unsigned 64-bit) are wrapped into SQLite's signed integers. No SQL runs here.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import FileEntry, TaskState
from ..model.logfiles import LogRef
from .batch import OP_SPAWN

__all__ = [
    "JOB_STATES",
    "TASK_STATES",
    "AttemptRecord",
    "ChildTask",
    "JobRecord",
    "JobSummary",
    "NewTask",
    "TaskRecord",
]

JOB_STATES = frozenset(
    {"created", "running", "paused", "done", "failed", "interrupted", "cancelled",
     "queued", "waiting", "dependency failed"}
)
TASK_STATES = frozenset(s.value for s in TaskState)

U64 = 1 << 64
I64_MAX = (1 << 63) - 1

_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()

TASK_COLUMNS = (
    "id, job_id, seq, path, root, rel, size, mtime_ns, dev, ino, priority, state, reason,"
    " duplicate_of, attempts, started_at, ended_at, exit_code, signal, error, step, parent"
)
JOB_COLUMNS = "id, created_at, updated_at, state, spec, name, error, group_id"


def i64(v: int) -> int:
    """st_dev / st_ino are unsigned 64-bit; SQLite integers are signed. Wrap, don't overflow."""
    return v - U64 if v > I64_MAX else v


def u64(v: int) -> int:
    """The unsigned value of a wrapped (:func:`i64`) integer."""
    return v + U64 if v < 0 else v


def fsencode(path: str) -> bytes:
    """os.fsencode without its generic checks: 3 calls per task, 100k tasks per job."""
    if type(path) is str:
        return path.encode(_FS_ENCODING, _FS_ERRORS)
    return os.fsencode(path)


def fsdecode(data: bytes) -> str:
    """A path BLOB back to the (possibly surrogate-escaped) str it was encoded from."""
    return data.decode(_FS_ENCODING, _FS_ERRORS)


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
    step: int = 0
    """The pipeline step this task is of, 0-based (0 for a job of one action)."""
    parent: int | None = None
    """The task of the same file's previous step (its output is this task's input)."""


@dataclass(slots=True)
class ChildTask:
    """A pipeline step's task, made when the same file's previous step (``parent``) succeeded:
    it keeps the file's ``seq`` and reads the parent's output (``path``)."""

    id: int
    job_id: int
    seq: int
    step: int
    parent: int
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
    error: str | None = None

    def record(self) -> tuple[Any, ...]:
        """The store's hot-path record of this task (see batch.py, ``OP_SPAWN``): paths as
        BLOBs, dev/ino wrapped to signed."""
        return (
            OP_SPAWN, self.id, self.job_id, self.seq, self.step, self.parent,
            fsencode(self.path), fsencode(self.root), fsencode(self.rel), self.size,
            self.mtime_ns, i64(self.dev), i64(self.ino), int(self.priority), str(self.state),
            self.reason, self.error,
        )  # fmt: skip


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
    log: LogRef | None = None
    """Where the attempt's whole output is kept (None: it printed nothing, or it ran before
    output was kept, or the action is Python code: then the tails are all there is)."""



def task_from_row(r: Sequence[Any]) -> TaskRecord:
    """A TaskRecord from a row of :data:`TASK_COLUMNS`."""
    fsd = fsdecode
    dup = r[13]
    return TaskRecord(
        r[0], r[1], r[2], fsd(r[3]), fsd(r[4]), fsd(r[5]), r[6], r[7], u64(r[8]), u64(r[9]),
        r[10], r[11], r[12], None if dup is None else fsd(dup), r[14], r[15], r[16], r[17],
        r[18], r[19], r[20], r[21],
    )  # fmt: skip


def job_from_row(r: Sequence[Any]) -> JobRecord:
    """A JobRecord from a row of :data:`JOB_COLUMNS`."""
    return JobRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7])


def check_job_state(state: str) -> None:
    """ValueError unless ``state`` is a job state."""
    if state not in JOB_STATES:
        raise ValueError(f"unknown job state {state!r} (one of {', '.join(sorted(JOB_STATES))})")


def check_task_state(state: str) -> None:
    """ValueError unless ``state`` is a task state."""
    if state not in TASK_STATES:
        raise ValueError(f"unknown task state {state!r} (one of {', '.join(sorted(TASK_STATES))})")
