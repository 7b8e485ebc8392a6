"""Events the engine reports to its clients (TUI, headless progress, job store, API callers),
and :class:`Subscribers`, the fan-out that delivers them.

Plain slots dataclasses, created on the engine's event loop and handed synchronously to each
subscriber. They are cheap on purpose: 100,000 tasks make 200,000+ of them, so a subscriber that
needs to do real work (repaint, write) must coalesce or queue instead of working inline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..model import TaskState

if TYPE_CHECKING:
    from .task import Task

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TaskEvent:
    """A task changed state (queued again for a retry, running, done, failed, ...)."""

    task_id: int
    state: TaskState
    attempt: int
    time: float
    exit_code: int | None = None
    signal: int | None = None
    error: str | None = None
    reason: str | None = None  # why skipped / cancelled / retrying
    duration: float | None = None


@dataclass(slots=True)
class Stats:
    """A snapshot of the engine's counters. Rates are exponentially smoothed."""

    total: int = 0
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0
    retrying: int = 0  # queued again, waiting for their backoff delay
    bytes_total: int = 0
    bytes_done: int = 0
    elapsed: float = 0.0
    files_per_s: float = 0.0
    bytes_per_s: float = 0.0
    eta: float | None = None  # seconds; None when unknown or open-ended
    workers: int = 0
    paused: bool = False
    halted: bool = False
    finished: bool = False
    idle_since: float | None = None  # monotonic time when the queue last ran empty (watch mode)

    @property
    def finished_count(self) -> int:
        return self.done + self.failed + self.cancelled + self.skipped

    @property
    def success_rate(self) -> float | None:
        """Share of finished tasks that succeeded (skipped ones excluded), or None if none."""
        ran = self.done + self.failed + self.cancelled
        return None if ran == 0 else self.done / ran


@dataclass(slots=True)
class StatsEvent:
    """Periodic statistics (a few per second while running, and a final one at the end)."""

    stats: Stats


@dataclass(slots=True)
class EngineEvent:
    """Engine-level changes: paused, resumed, workers, halted, finished, warning."""

    kind: str
    message: str = ""
    data: dict[str, object] = field(default_factory=dict)


Event = TaskEvent | StatsEvent | EngineEvent


class Subscribers:
    """Who gets the engine's events. Delivery is synchronous, on the loop thread, in
    subscription order; a subscriber that raises is logged and dropped (a broken client must
    not stop the batch). The engine builds an event only when :attr:`callbacks` is not empty."""

    __slots__ = ("callbacks",)

    def __init__(self) -> None:
        self.callbacks: list[Callable[[Event], None]] = []

    def add(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event. Returns unsubscribe."""
        self.callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self.callbacks:
                self.callbacks.remove(callback)

        return unsubscribe

    def emit(self, event: Event) -> None:
        """Hand ``event`` to every subscriber, in order."""
        broken = None
        for cb in self.callbacks:
            try:
                cb(event)
            except Exception:  # a broken client must not stop the batch
                log.exception("engine subscriber %r failed; unsubscribed", cb)
                broken = [*(broken or ()), cb]
        if broken:  # removed after the loop: the next subscriber must not miss this event
            for cb in broken:
                self.callbacks.remove(cb)

    def task_event(self, task: Task, duration: float | None = None) -> None:
        """Tell ``task``'s new state (with the attempt's ``duration`` when one ended)."""
        if self.callbacks:
            self.emit(
                TaskEvent(
                    task.id, task.state, task.attempts, time.time(), task.exit_code,
                    task.signal, task.error, task.reason, duration,
                )
            )
