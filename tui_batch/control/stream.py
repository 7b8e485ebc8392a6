"""One client's live event stream, coalesced so that neither the job nor the client drowns.

An engine makes tens of thousands of events a second; a viewer needs the latest state of
each task that changed and the latest counters, a few times a second. So a
:class:`Subscription` only remembers (a dict set per event, on the engine's path), and
flushes at most every ``interval`` seconds: the changed tasks' latest rows, then the latest
statistics. Writes never wait: a client whose unread output passes ``slow_limit`` bytes is
dropped on the spot (the transport aborted), so a viewer that stopped reading (a suspended
ssh, a Ctrl-Z) costs the job nothing but one frame's worth of work.

A viewer (``subscribe`` with ``rows="compact"``, what `tui-batch attach` asks for) reads the
job's task list from the store itself, so nothing here ever walks every task: it gets each
changed task as a short list (:func:`compact_row`, :data:`STATE_CODES`) and, under ``new``,
the tasks added to the job since it subscribed (a watch's arrivals, a pipeline's next steps:
:func:`new_row`), found from the newest end of the engine's task dict, so the work of a flush
is proportional to what changed, never to the size of the job.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from ..engine import EngineEvent, Task, TaskEvent
from ..model import TaskState
from .protocol import FrameError, encode

log = logging.getLogger(__name__)

__all__ = ["NEW_PER_FLUSH", "STATE_CODES", "Subscription", "compact_row", "event_row",
           "new_row"]

MAX_TEXT = 2000
"""Characters of a task's error or reason in a row (a frame stays small)."""
ROWS_PER_FRAME = 2000
MAX_LOGS = 200
"""Engine messages kept for a client between two flushes (the oldest are dropped)."""
NEW_PER_FLUSH = 5000
"""New tasks sent per flush at most (a burst of arrivals is spread over several flushes)."""
STATE_CODES: tuple[TaskState, ...] = (
    TaskState.QUEUED, TaskState.RUNNING, TaskState.DONE, TaskState.FAILED,
    TaskState.CANCELLED, TaskState.SKIPPED, TaskState.INTERRUPTED,
)
"""A task state on the wire of a compact row is its index here (append only: the order is
part of the protocol)."""
_CODE = {state: i for i, state in enumerate(STATE_CODES)}


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT:
        return text
    return text[: MAX_TEXT - 1] + "…"


def event_row(ev: TaskEvent) -> dict[str, Any]:
    """A task's latest state as a ``tasks`` event row."""
    return {
        "id": ev.task_id, "state": ev.state.value, "attempt": ev.attempt,
        "exit_code": ev.exit_code, "signal": ev.signal, "error": _cut(ev.error),
        "reason": _cut(ev.reason),
        "duration": ev.duration,
    }


def compact_row(ev: TaskEvent) -> list[Any]:
    """A task's latest state as a compact ``tasks`` row: ``[id, state code, attempt, duration,
    exit_code, signal, error, reason]``, the trailing nulls left out (most rows are three
    numbers and a duration)."""
    row = [ev.task_id, _CODE[ev.state], ev.attempt, ev.duration, ev.exit_code, ev.signal,
           _cut(ev.error), _cut(ev.reason)]
    while row[-1] is None:
        row.pop()
    return row


def new_row(task: Task) -> list[Any]:
    """A task the viewer has never seen, whole enough to be listed: ``[id, path, root, rel,
    size, priority, state code, attempt, started_at, seq]``."""
    return [task.id, task.path, task.root, task.rel, task.size, int(task.priority),
            _CODE[task.state], task.attempts, task.started_at, task.seq]


def frames_for_rows(rows: list[Any], key: str = "tasks") -> list[bytes]:
    """``tasks`` frames for ``rows`` (under ``key``), split so that none is over the frame
    limit."""
    out: list[bytes] = []
    for i in range(0, len(rows), ROWS_PER_FRAME):
        _split(rows[i:i + ROWS_PER_FRAME], out, key)
    return out


def _split(rows: list[Any], out: list[bytes], key: str) -> None:
    try:
        out.append(encode({"ev": "tasks", key: rows}))
    except FrameError:
        if len(rows) == 1:
            row = rows[0]
            task_id = row.get("id") if isinstance(row, dict) else row[0]
            log.warning("task %s: its row is too large to send; left out", task_id)
            return
        half = len(rows) // 2
        _split(rows[:half], out, key)
        _split(rows[half:], out, key)


class Subscription:
    """What one subscribed connection has not been sent yet, and when it is sent."""

    __slots__ = ("_handle", "_last", "_loop", "_new_after", "_on_slow", "_stats_now",
                 "_transport", "closed", "compact", "interval", "logs", "newest", "slow_limit",
                 "stats", "tasks")

    def __init__(self, transport: asyncio.WriteTransport, *, interval: float, slow_limit: int,
                 on_slow: Callable[[Subscription], None],
                 stats_now: Callable[[], dict[str, Any]] | None = None,
                 new_after: Callable[[int], list[Task]] | None = None,
                 newest: int = 0) -> None:
        """``new_after``: a compact subscriber's source of the tasks added to the job after
        the one with id ``newest`` (it has them, from the store, up to that one)."""
        self._transport = transport
        self.compact = new_after is not None
        self._new_after = new_after
        self.newest = newest
        # the counters as of the rows sent: the last stats event may be 0.25 s older
        self._stats_now = stats_now
        self._loop = asyncio.get_running_loop()
        self._on_slow = on_slow
        self.interval = interval
        self.slow_limit = slow_limit
        self.tasks: dict[int, TaskEvent] = {}
        self.stats: dict[str, Any] | None = None
        self.logs: deque[EngineEvent] = deque(maxlen=MAX_LOGS)
        self._handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._last = -interval  # loop time of the last flush
        self.closed = False

    def changed(self) -> None:
        """Something is waiting to be sent: make sure a flush is due (at most one per
        ``interval``)."""
        if self._handle is None and not self.closed:
            delay = self._last + self.interval - self._loop.time()
            if delay <= 0:
                self._handle = self._loop.call_soon(self.flush)
            else:
                self._handle = self._loop.call_later(delay, self.flush)

    def flush(self) -> None:
        """Send what changed since the last flush: engine messages, task rows, statistics."""
        self._handle = None
        if self.closed:
            return
        self._last = self._loop.time()
        frames: list[bytes] = []
        while self.logs:
            ev = self.logs.popleft()
            frames.append(encode({"ev": "log", "kind": ev.kind, "message": ev.message}))
        if self._new_after is not None:
            self._new_tasks(frames)
        if self.tasks:
            pack = compact_row if self.compact else event_row
            rows = [pack(ev) for ev in self.tasks.values()]
            self.tasks.clear()
            frames.extend(frames_for_rows(rows))
            if self._stats_now is not None:
                self.stats = self._stats_now()
        if self.stats is not None:
            frames.append(encode({"ev": "stats", "stats": self.stats}))
            self.stats = None
        if frames:
            self.write(b"".join(frames))

    def _new_tasks(self, frames: list[bytes]) -> None:
        """The tasks added since the last flush, oldest first, before any row that may name
        them (a few thousand at most per flush: the rest go with the next one)."""
        assert self._new_after is not None
        new = self._new_after(self.newest)
        if not new:
            return
        if len(new) > NEW_PER_FLUSH:
            new = new[:NEW_PER_FLUSH]
            self.changed_later()
        self.newest = new[-1].id
        frames.extend(frames_for_rows([new_row(t) for t in new], "new"))

    def changed_later(self) -> None:
        """More is waiting than one flush sends: make sure another flush follows."""
        if self._handle is None and not self.closed:
            self._handle = self._loop.call_later(self.interval, self.flush)

    def write(self, data: bytes) -> bool:
        """Queue ``data`` on the connection without waiting; False (and the client dropped)
        when it is not reading fast enough."""
        transport = self._transport
        if self.closed or transport.is_closing():
            return False
        transport.write(data)
        if transport.get_write_buffer_size() > self.slow_limit:
            self._on_slow(self)
            return False
        return True

    def cancel(self) -> None:
        """No more flushes (the connection is gone or about to close)."""
        self.closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
