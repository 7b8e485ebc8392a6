"""What a control socket controls: the :class:`ControlTarget` protocol and
:class:`EngineTarget`, which adapts one running :class:`~tui_batch.engine.Engine`.

The server speaks only to this protocol, so the same socket code serves a foreground run, a
watch session or a job inside the service: each supplies a target. Every method runs on the
engine's loop thread and returns at once; the only scans are over the engine's in-memory
tasks (never the store), so every op answers within milliseconds; only ``tasks`` (a page of
rows, for one-shot commands) walks them, and a viewer never asks for it.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from ..engine import Engine, Event, Stats, Task
from ..errors import ControlError
from ..model import Priority, TaskState, limits

__all__ = ["ControlTarget", "EngineTarget", "stats_dict", "task_row"]

PRIORITY_CHUNK = 2000
"""Tasks moved to a new priority per loop turn (about 10 ms of work)."""
MAX_TASKS = 10_000
"""Rows one ``tasks`` answer may hold (the frame limit leaves room for about this many)."""


class ControlTarget(Protocol):
    """A running job as the control server sees it. Methods raise ControlError (or
    InputError) with a message for the client when a request cannot be done."""

    job_id: int
    name: str | None
    db: str

    def snapshot(self) -> dict[str, Any]: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def cancel(self, tasks: list[int] | None) -> int: ...
    def set_workers(self, n: int) -> int: ...
    def retry_failed(self) -> int: ...
    def set_priority(self, priority: Priority, tasks: list[int] | None = None) -> int: ...
    def stop(self) -> None: ...
    def tasks(self, state: str | None, limit: int, offset: int = 0) -> list[dict[str, Any]]: ...
    def newest_id(self) -> int: ...
    def tasks_after(self, task_id: int) -> list[Task]: ...
    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]: ...


def stats_dict(stats: Stats) -> dict[str, Any]:
    """A Stats as plain JSON (an unknown rate or ETA as null: JSON has no inf or nan)."""
    d = asdict(stats)
    for key, value in d.items():
        if isinstance(value, float) and not math.isfinite(value):
            d[key] = None
    return d


def task_row(task: Task) -> dict[str, Any]:
    """One task for a ``tasks`` answer: the event row's fields plus what a viewer shows."""
    duration = None
    if task.started_at is not None and task.ended_at is not None and task.state.terminal:
        duration = max(0.0, task.ended_at - task.started_at)
    return {
        "id": task.id, "state": task.state.value, "attempt": task.attempts,
        "exit_code": task.exit_code, "signal": task.signal, "error": task.error,
        "reason": task.reason, "root": task.root,
        "duration": duration, "path": task.path, "rel": task.rel, "size": task.size,
        "priority": task.priority.name.lower(), "started_at": task.started_at,
    }


class EngineTarget:
    """Controls one engine: the ops of the control socket mapped onto the engine's own."""

    def __init__(self, engine: Engine, job_id: int, db: str, name: str | None,
                 stop: Callable[[], None] | None = None,
                 extra: Callable[[], dict[str, Any]] | None = None) -> None:
        self.engine = engine
        self.extra = extra
        """What a snapshot carries under ``"watch"`` besides the engine's fields (a watch's
        mode, settling, idle since: what its attached dashboard's header shows)."""
        self.job_id = job_id
        self.db = db
        self.name = name
        self._stop = stop or engine.stop
        self.stopping = False
        self._priority_gen = 0

    @property
    def pid(self) -> int:
        return os.getpid()

    def state(self) -> str:
        """The job's state as a viewer names it while it runs."""
        if self.stopping:
            return "stopping"
        return "paused" if self.engine.paused else "running"

    def snapshot(self) -> dict[str, Any]:
        stats = self.engine.snapshot()
        snap = {
            "stats": stats_dict(stats), "state": self.state(), "workers": self.engine.workers,
            "paused": self.engine.paused, "job_id": self.job_id, "name": self.name,
        }
        if self.extra is not None:
            snap["watch"] = self.extra()
        return snap

    def pause(self) -> None:
        self.engine.pause()

    def resume(self) -> None:
        self.engine.resume()

    def cancel(self, tasks: list[int] | None) -> int:
        """Cancel the given tasks (ids of this job), or every unfinished one (None).
        Returns how many were cancelled or asked to stop."""
        engine = self.engine
        if tasks is None:
            n = sum(1 for t in engine.tasks.values()
                    if t.state in (TaskState.QUEUED, TaskState.RUNNING))
            engine.cancel_all()
            return n
        unknown = [i for i in tasks if i not in engine.tasks]
        if unknown:
            shown = ", ".join(str(i) for i in unknown[:5])
            raise ControlError(f"job {self.job_id} has no task {shown}")
        return sum(1 for i in tasks if engine.cancel(i))

    def set_workers(self, n: int) -> int:
        self.engine.set_workers(int(limits.CLI_WORKERS.check(n, "workers")))
        return self.engine.workers

    def retry_failed(self) -> int:
        return self.engine.retry_failed()

    def set_priority(self, priority: Priority, tasks: list[int] | None = None) -> int:
        """Every task that has not started yet (or only those of ``tasks`` that have not)
        moves to ``priority``; returns how many.

        Applied in chunks, one per loop turn, so that 100,000 waiting tasks never hold the
        loop (and the answer) for long; the first chunk is applied before this returns, and
        a newer request supersedes what is left of an older one."""
        if tasks is not None:
            chosen = [self.engine.tasks.get(i) for i in tasks]
            if None in chosen:
                unknown = ", ".join(str(i) for i, t in zip(tasks, chosen, strict=True)
                                    if t is None)
                raise ControlError(f"job {self.job_id} has no task {unknown}")
            candidates = [t for t in chosen if t is not None]
        else:
            candidates = list(self.engine.tasks.values())
        waiting = [t.id for t in candidates
                   if t.state is TaskState.QUEUED and t.priority != priority]
        self._priority_gen += 1
        self._apply_priority(waiting, 0, priority, self._priority_gen)
        return len(waiting)

    def _apply_priority(self, ids: list[int], start: int, priority: Priority, gen: int) -> None:
        if gen != self._priority_gen:
            return
        engine = self.engine
        end = start + PRIORITY_CHUNK
        for task_id in ids[start:end]:
            task = engine.tasks.get(task_id)
            if task is not None and task.state is TaskState.QUEUED:
                engine.set_priority(task_id, priority)
        if end < len(ids):
            asyncio.get_running_loop().call_soon(self._apply_priority, ids, end, priority, gen)

    def stop(self) -> None:
        self.stopping = True
        self._stop()

    def tasks(self, state: str | None, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """Up to ``limit`` tasks (in submission order, from ``offset``), only those in
        ``state`` if given."""
        if state is not None:
            try:
                wanted: TaskState | None = TaskState(state)
            except ValueError:
                names = ", ".join(s.value for s in TaskState)
                raise ControlError(f"unknown task state {state!r} (use {names})") from None
        else:
            wanted = None
        limit = max(0, min(int(limit), MAX_TASKS))
        offset = max(0, int(offset))
        rows: list[dict[str, Any]] = []
        skipped = 0
        for task in self.engine.tasks.values():
            if wanted is not None and task.state is not wanted:
                continue
            if skipped < offset:
                skipped += 1
                continue
            if len(rows) >= limit:
                break
            rows.append(task_row(task))
        return rows

    def newest_id(self) -> int:
        """The id of the task added last (0: none yet): one step from the dict's end."""
        tasks = self.engine.tasks
        return next(reversed(tasks), 0) if tasks else 0

    def tasks_after(self, task_id: int) -> list[Task]:
        """The tasks added after task ``task_id``, oldest first: read from the newest end of
        the engine's tasks (ids grow as tasks are added), so the cost is what was added, not
        the job's size."""
        new: list[Task] = []
        for task in reversed(self.engine.tasks.values()):
            if task.id <= task_id:
                break
            new.append(task)
        new.reverse()
        return new

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        return self.engine.subscribe(callback)
