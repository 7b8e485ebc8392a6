"""The Task record: one file to process and its live state.

It lives in its own module because everything in the engine handles tasks (the queue, the
executors, the shortage handling, the engine itself) while only the engine changes them: with
the record here, those modules import this one and never the engine, and no import loops back.
Clients (the job runner, the watcher, the TUI, the store mirror) read tasks; they never write.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from ..model import Priority, TaskState
from ..model.logfiles import LogRef


@dataclass(slots=True, eq=False)
class Task:
    """One file to process, with its live state. Clients read these; only the engine writes."""

    id: int
    path: str
    root: str = ""
    rel: str = ""
    size: int = 0
    mtime_ns: int = 0
    dev: int = 0
    ino: int = 0
    priority: Priority = Priority.NORMAL
    state: TaskState = TaskState.QUEUED
    attempts: int = 0
    exit_code: int | None = None
    signal: int | None = None
    error: str | None = None
    reason: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    log: LogRef | None = None  # where the last attempt's whole output is kept, if anywhere
    command: list[str] | None = None
    check_file: bool = True  # skip when the file vanished or changed since the scan
    seq: int = 0  # the task's number in its job, 1-based, stable across resume (0: no job)
    # engine bookkeeping
    qtoken: int = 0
    retry_base: int = 0  # attempts made before the last manual retry (retry budget restarts)
    retry_handle: asyncio.TimerHandle | None = None
    cancel_requested: bool = False
    shortages: int = 0  # attempts in a row that could not start for the tool's own shortage


def stale_reason(task: Task) -> str | None:
    """Why ``task``'s file is no longer the one that was scanned (then it is skipped), or None."""
    try:
        st = os.stat(task.path)
    except FileNotFoundError:
        return "file vanished since the scan"
    except OSError as exc:
        return f"cannot stat: {exc.strerror}"
    if st.st_size != task.size or st.st_mtime_ns != task.mtime_ns:
        return "file changed since the scan"
    return None
