"""The engine's ready queue: four priority levels, FIFO within a level.

Four deques instead of a heap because FIFO-within-level is then free (no sequence numbers), push
and pop are O(1), and re-prioritising a queued task is a lazy re-push: every push gets a fresh
token stored on the task, and pops skip entries whose token is no longer the task's current one.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from ..model import Priority

if TYPE_CHECKING:
    from .task import Task


class ReadyQueue:
    """Priority queue of tasks waiting for a worker."""

    __slots__ = ("_levels", "_live", "_token")

    def __init__(self) -> None:
        self._levels: list[deque[tuple[int, Task]]] = [deque() for _ in Priority]
        self._token = 0
        self._live = 0  # entries whose token is current (= tasks really waiting)

    def __len__(self) -> int:
        return self._live

    def push(self, task: Task) -> None:
        """Queue ``task`` at its priority; re-pushing an already queued task moves it."""
        if task.qtoken:
            self._live -= 1  # the older entry becomes stale
        self._token += 1
        task.qtoken = self._token
        self._levels[task.priority].append((self._token, task))
        self._live += 1

    def discard(self, task: Task) -> None:
        """Forget a queued task (cancelled while waiting); its entry is skipped later."""
        if task.qtoken:
            task.qtoken = 0
            self._live -= 1

    def pop(self) -> Task | None:
        """Highest-priority, oldest task, or None."""
        if not self._live:
            return None
        for level in reversed(self._levels):
            while level:
                token, task = level.popleft()
                if task.qtoken == token:
                    task.qtoken = 0
                    self._live -= 1
                    return task
        return None

    def peek(self) -> int | None:
        """The priority of the task :meth:`pop` would return, or None (for a shared limit,
        which serves the engine with the most urgent head first)."""
        if not self._live:
            return None
        levels = self._levels
        for p in range(len(levels) - 1, -1, -1):
            level = levels[p]
            while level:
                token, task = level[0]
                if task.qtoken == token:
                    return p
                level.popleft()  # a stale entry: pop() would skip it too
        return None

    def drain(self) -> list[Task]:
        """Remove and return every waiting task, in the order they would have run."""
        out: list[Task] = []
        while (t := self.pop()) is not None:
            out.append(t)
        for level in self._levels:
            level.clear()
        return out
