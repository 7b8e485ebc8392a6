"""Engine events -> Textual messages, coalesced.

The engine hands every subscriber each event synchronously on its loop (which is the app's
loop). 100,000 fast tasks produce 200,000+ task events in seconds; posting one Textual message
per event would flood the message queue and freeze the screen. The :class:`EngineBridge`
therefore only records what changed (a set of dirty task ids, the latest statistics) and, on a
timer, posts at most one :class:`TasksChanged` and one :class:`StatsUpdated` per tick. Rare
engine-level events (paused, workers changed, finished) are forwarded as they come.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from textual.message import Message
from textual.message_pump import MessagePump
from textual.timer import Timer

from ..engine.events import EngineEvent, Stats, StatsEvent, TaskEvent
from ..model import TaskState


class Subscribable(Protocol):
    """The part of the engine the bridge needs."""

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]: ...


class StatsUpdated(Message, bubble=False):
    """New engine statistics (at most a few per second)."""

    def __init__(self, stats: Stats) -> None:
        super().__init__()
        self.stats = stats
        """The latest snapshot."""

    def can_replace(self, message: Message) -> bool:
        # An older statistics message still waiting in the queue is stale: drop it.
        return isinstance(message, StatsUpdated)


class TasksChanged(Message, bubble=False):
    """Some tasks changed state since the last tick."""

    def __init__(self, task_ids: frozenset[int], failed: int = 0) -> None:
        super().__init__()
        self.task_ids = task_ids
        """Ids of the tasks that changed."""
        self.failed = failed
        """How many of the changes were failures (to flash the log pane / notify)."""


class EngineNotice(Message, bubble=False):
    """An engine-level change: paused, resumed, workers, halted, finished, warning."""

    def __init__(self, event: EngineEvent) -> None:
        super().__init__()
        self.event = event
        """The engine event as reported."""


class JobFinished(Message, bubble=False):
    """The job's run coroutine returned."""

    def __init__(self, exit_code: int, error: str | None = None) -> None:
        super().__init__()
        self.exit_code = exit_code
        """0 all ok, 1 some failed or cancelled, 130 stopped (resumable)."""
        self.error = error
        """Text of an unexpected exception, if the runner crashed."""


class EngineBridge:
    """Subscribes to an engine and posts coalesced messages to a target on a timer."""

    def __init__(
        self,
        target: MessagePump,
        *,
        task_interval: float = 0.1,
        stats_interval: float = 0.25,
    ) -> None:
        self.target = target
        """Where messages are posted (the dashboard screen)."""
        self.task_interval = task_interval
        """Seconds between TasksChanged messages (row repaints)."""
        self.stats_interval = stats_interval
        """Seconds between StatsUpdated messages (~4/s)."""
        self.dirty: set[int] = set()
        """Task ids changed since the last flush."""
        self.events_seen = 0
        """Task events received (a bench / test figure)."""
        self.messages_posted = 0
        """Messages posted (shows how much the bridge coalesced)."""
        self.cancelled_events = 0
        """Task cancellations reported by the engine so far (a running total, so a caller can
        count what one action really cancelled: the difference between two readings)."""
        self._failed = 0
        self._stats: Stats | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._timers: list[Timer] = []

    def attach(self, engine: Subscribable) -> None:
        """Subscribe to ``engine`` and start the flush timers (call from the app's loop)."""
        self.detach()
        self._unsubscribe = engine.subscribe(self.on_event)
        self._timers = [
            self.target.set_interval(self.task_interval, self.flush_tasks, name="bridge-tasks"),
            self.target.set_interval(self.stats_interval, self.flush_stats, name="bridge-stats"),
        ]

    def detach(self) -> None:
        """Stop listening (the screen is going away); pending changes are flushed first."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for timer in self._timers:
            timer.stop()
        self._timers = []

    def on_event(self, event: object) -> None:
        """Engine callback: record, never render. Must stay a few microseconds."""
        if isinstance(event, TaskEvent):
            self.events_seen += 1
            self.dirty.add(event.task_id)
            if event.state is TaskState.FAILED:
                self._failed += 1
            elif event.state is TaskState.CANCELLED:
                self.cancelled_events += 1
        elif isinstance(event, StatsEvent):
            self._stats = event.stats
            if event.stats.finished:
                self.flush()
        elif isinstance(event, EngineEvent):
            self.flush_stats()
            self._post(EngineNotice(event))

    def flush_tasks(self) -> None:
        """Post one TasksChanged for everything that changed since the last call."""
        if self.dirty:
            ids = frozenset(self.dirty)
            self.dirty.clear()
            failed, self._failed = self._failed, 0
            self._post(TasksChanged(ids, failed))

    def flush_stats(self) -> None:
        """Post the latest statistics if they changed since the last call."""
        if self._stats is not None:
            stats, self._stats = self._stats, None
            self._post(StatsUpdated(stats))

    def flush(self) -> None:
        """Post everything pending now (job end, tests)."""
        self.flush_tasks()
        self.flush_stats()

    def _post(self, message: Message) -> None:
        self.messages_posted += 1
        self.target.post_message(message)
