"""The closed sets of values every layer agrees on: queue priority, task life cycle, executor kind.

Kept apart from the specs because the engine, the store and the clients need these names on
their own (a task's state, a queue level) without caring how a job is described.
"""

from __future__ import annotations

import enum

from ..errors import InputError

__all__ = ["ExecKind", "Priority", "TaskState"]


class Priority(enum.IntEnum):
    """Queue priority. Higher runs first; FIFO within a level."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3

    @classmethod
    def parse(cls, value: str | int | Priority, field_name: str = "--priority") -> Priority:
        """Accept names in any case ('high') or the numbers 0-3."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                raise InputError(field_name, f"unknown priority {value!r}") from None
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            names = ", ".join(p.name.lower() for p in cls)
            raise InputError(field_name, f"unknown priority {value!r} (use {names})") from None


class TaskState(enum.StrEnum):
    """Life cycle of one task. Terminal states: DONE, FAILED, CANCELLED, SKIPPED."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"  # was running when the process died; re-queued by resume

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED})


class ExecKind(enum.StrEnum):
    """How an action is executed; the engine picks the executor from this."""

    SUBPROCESS = "subprocess"  # command templates
    THREAD = "thread"  # blocking I/O Python actions
    PROCESS = "process"  # CPU-bound Python actions
    ASYNC = "async"  # native coroutines

