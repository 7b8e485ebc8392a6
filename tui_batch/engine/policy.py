"""What a failed attempt leads to: another attempt (whether, and after how long), or a halt.

The decisions are plain functions of :class:`~tui_batch.model.EngineSettings` (``--retries``,
``--no-retry-exit``, ``--backoff``, ``--halt-after`` ...), kept apart from the engine so the
rules can be read in one place. :class:`RetryTimers` owns the timers of the tasks that wait
out a delay before they run again (a retry's backoff, or a start the tool's own shortage
prevented, see :mod:`.shortage`): the engine counts them as "retrying" and must not finish a
run while any is pending.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import EngineSettings
    from .executors.base import Outcome
    from .task import Task


def should_retry(settings: EngineSettings, task: Task, outcome: Outcome) -> bool:
    """Whether the failed attempt runs again: not when the failure cannot get better by
    retrying (command not found, a ``--no-retry-exit`` code) or the retry budget is spent."""
    if outcome.no_retry:
        return False
    if outcome.exit_code is not None and outcome.exit_code in settings.no_retry_exit_codes:
        return False
    return task.attempts - task.retry_base <= settings.retries


def retry_delay(settings: EngineSettings, failed_attempts: int) -> float:
    """Exponential backoff with jitter: backoff * 2^(n-1), capped, +/- jitter."""
    s = settings
    delay = min(s.backoff * (2 ** (failed_attempts - 1)), s.backoff_max)
    if s.jitter:
        delay *= 1 + random.uniform(-s.jitter, s.jitter)
    return max(0.0, delay)


def retry_reason(settings: EngineSettings, failed_attempts: int, delay: float) -> str:
    """What a task waiting for its retry says (``Task.reason``)."""
    return (f"attempt {failed_attempts}/{settings.retries + 1} failed; "
            f"retry in {delay:.1f}s")


def halt_reason(settings: EngineSettings, done: int, failed: int) -> str | None:
    """Why no new task may start any more (``--halt-after``, ``--halt-failure-percent``),
    or None. ``done`` and ``failed`` count the tasks finished so far."""
    s = settings
    if s.halt_after_failures is not None and failed >= s.halt_after_failures:
        return f"{failed} tasks failed (--halt-after {s.halt_after_failures})"
    if s.halt_failure_percent is not None:
        ran = done + failed
        if ran >= 10 and failed * 100.0 / ran >= s.halt_failure_percent:
            return f"{failed * 100.0 / ran:.0f}% of tasks failed"
    return None


class RetryTimers:
    """The timers of tasks waiting out a delay before they are queued again.

    A task's timer is its ``retry_handle``; ``due(task)`` is called when it fires (the task
    may have been cancelled or stopped meanwhile: ``due`` checks)."""

    __slots__ = ("_due", "count")

    def __init__(self, due: Callable[[Task], None]) -> None:
        self._due = due
        self.count = 0
        """Tasks waiting for their delay (``Stats.retrying``)."""

    def schedule(self, task: Task, delay: float) -> None:
        """Queue ``task`` again (through ``due``) in ``delay`` seconds."""
        self.count += 1
        task.retry_handle = asyncio.get_running_loop().call_later(delay, self._fire, task)

    def cancel(self, task: Task) -> None:
        """Forget ``task``'s pending timer, if it has one."""
        if task.retry_handle is not None:
            task.retry_handle.cancel()
            task.retry_handle = None
            self.count -= 1

    def _fire(self, task: Task) -> None:
        task.retry_handle = None
        self.count -= 1
        self._due(task)
