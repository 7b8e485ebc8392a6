"""The multi-job scheduler behind :class:`tui_batch.api.Batch`: one worker limit and one
priority order for every job of a batch (call jobs and the file jobs that join them).

Design. All scheduling state (the entries, the ready heap, counters) is guarded by one lock, so
every control is safe from any thread and takes effect when it returns; what must happen on the
event loop (starting an attempt, cancelling its asyncio task, retry timers) is handed to it with
``call_soon_threadsafe``. The loop is the Batch's own thread's (``with Batch()``) or the
caller's (``async with Batch()``); :mod:`.host` owns that choice. A job moves
queued -> running -> done/failed/cancelled, or waits (``waiting``: for its dependencies or its
sequential group's turn; ``paused``: held by the user) first; :func:`.entry.verdict` decides.
A job ends in two steps: its outcome is queued to the store (:class:`.persist.OpWriter`), and
once committed its state becomes final, ``wait()`` returns, callbacks run and its dependents
and group move on, so "done" always means "stored". Priorities order the heap
(higher first, FIFO within a level by submission); a group's ``workers`` caps its members.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import random
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import StoreError
from ..jobs.states import (
    CANCELLED,
    DEPENDENCY_FAILED,
    DONE,
    FAILED,
    FINAL_STATES,
    INTERRUPTED,
    PAUSED,
    QUEUED,
    RUNNING,
    WAITING,
)
from ..store import Store
from .calls import AttemptRunner, ChildError, result_json
from .entry import Entry, GroupInfo, verdict
from .errors import ErrorInfo, QueueFull
from .persist import Op, OpWriter

__all__ = ["Scheduler"]

PENDING = frozenset({QUEUED, WAITING, PAUSED})
"""States that count against ``max_queue_size``: submitted, not started, not ended."""
BACKOFF_MAX = 300.0
RunFiles = Callable[[int], Awaitable[tuple[str, "ErrorInfo | None"]]]


class Scheduler:
    """Entries, their order and their transitions. Use through :class:`.host.Host`."""

    def __init__(self, store: Store, workers: int, max_queue_size: int | None) -> None:
        self.store = store
        self.workers = workers
        self.max_queue_size = max_queue_size
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)  # queue space, running count
        self.entries: dict[int, Entry] = {}
        self.groups: dict[int, GroupInfo] = {}
        self._heap: list[tuple[int, int, int, int]] = []  # (-priority, seq, stamp, id)
        self.running = 0
        self.pending = 0
        self.closing = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: int | None = None
        self._wake_due = False
        self._foreign: dict[int, str] = {}  # final states of jobs this scheduler does not hold
        self._polled: set[int] = set()  # entries waiting for such jobs
        self._poll_due = False
        self.run_files: RunFiles | None = None
        self.attempts = AttemptRunner(os.cpu_count() or 1)
        self.writer = OpWriter(store, self._committed)

    # ---------------------------------------------------------------- helpers (lock held)
    def on_loop(self) -> bool:
        return self.loop_thread == threading.get_ident()

    def _wake(self) -> None:
        if not self._wake_due and self.loop is not None and not self.loop.is_closed():
            self._wake_due = True
            self.loop.call_soon_threadsafe(self._pump)

    def _set(self, e: Entry, state: str, reason: str | None, op: bool = True) -> None:
        was = e.state in PENDING
        e.state, e.reason = state, reason
        now = state in PENDING
        if was != now:
            self.pending += 1 if now else -1
            self._changed.notify_all()
        if op:
            self.writer.put(("state", e.id, state, reason))
        if state == QUEUED:
            e.stamp += 1
            heapq.heappush(self._heap, (-e.priority, e.seq, e.stamp, e.id))
            self._wake()

    def state_of(self, job_id: int) -> str:
        e = self.entries.get(job_id)
        if e is not None:
            return e.state
        st = self._foreign.get(job_id)
        if st is None:
            try:
                st = self.store.get_job(job_id).state
            except StoreError:
                st = CANCELLED  # deleted meanwhile: it will never be done
            if st in FINAL_STATES:
                self._foreign[job_id] = st
        return st

    def evaluate(self, e: Entry, op: bool = True) -> None:
        """Move a job that has not started to what :func:`verdict` says (``op``: store the
        change; False when the caller stored the state already)."""
        if e.ending or e.state not in PENDING:
            return
        state, reason = verdict(e, self.state_of, self.entries)
        if state == DEPENDENCY_FAILED:
            self.end(e, DEPENDENCY_FAILED, reason, ErrorInfo("DependencyFailed", reason or ""))
        elif (state, reason) != (e.state, e.reason) or (state == QUEUED and not e.stamp):
            self._set(e, state, reason, op and (state, reason) != (e.state, e.reason))
        if any(d not in self.entries for d in (*e.after, *e.after_any)):
            self._watch_foreign(e)

    def _watch_foreign(self, e: Entry) -> None:
        if e.state == WAITING:
            self._polled.add(e.id)
            if not self._poll_due and self.loop is not None:
                self._poll_due = True
                self.loop.call_soon_threadsafe(self.loop.call_later, 0.5, self._poll)
        else:
            self._polled.discard(e.id)

    def _poll(self) -> None:
        with self.lock:
            self._poll_due = False
            for jid in list(self._polled):
                e = self.entries.get(jid)
                self._polled.discard(jid)
                if e is not None:
                    self.evaluate(e)

    def end(self, e: Entry, state: str, reason: str | None, error: ErrorInfo | None,
            result: Any = None, result_kind: str | None = None, text: str | None = None) -> None:
        """Decide a job's final state; it becomes visible once stored (:meth:`_committed`)."""
        e.ending = True
        e.error, e.result, e.result_kind = error, result, result_kind
        e.ended_at = time.time()
        err = (None, None, None) if error is None else (error.type, error.message,
                                                         error.traceback)
        self.writer.put(("end", e.id, state, reason, e.attempts, e.ended_at, text,
                         result_kind, *err))

    # ---------------------------------------------------------------- submitting
    def wait_for_space(self, block: bool, timeout: float | None) -> None:
        """QueueFull unless a new job fits under ``max_queue_size`` (lock held)."""
        limit = self.max_queue_size
        if limit is None or self.pending < limit:
            return
        if not block or self.on_loop():
            where = " (on the scheduler's own loop a submit cannot wait)" if block else ""
            raise QueueFull(f"the queue is full: {self.pending} jobs waiting{where}")
        if not self._changed.wait_for(lambda: self.pending < limit or self.closing, timeout):
            raise QueueFull(f"the queue stayed full for {timeout}s")

    def add(self, e: Entry, op: bool = False) -> None:
        """Register a stored job and place it (lock held; ``op``: store its new state)."""
        self.entries[e.id] = e
        if e.group is not None and e.id not in e.group.members:
            e.group.members.append(e.id)
        for d in (*e.after, *e.after_any):
            dep = self.entries.get(d)
            if dep is not None:
                dep.dependents.append(e.id)
        if e.state in PENDING:
            self.pending += 1
        if e.state in FINAL_STATES:
            e.done.set()
        self.evaluate(e, op=op)

    # ---------------------------------------------------------------- running
    def _pump(self) -> None:
        with self.lock:
            self._wake_due = False
            deferred = []
            heap = self._heap
            while heap and self.running < self.workers and not self.closing:
                item = heapq.heappop(heap)
                e = self.entries[item[3]]
                if item[2] != e.stamp or e.state != QUEUED or e.ending:
                    continue
                g = e.group
                if g is not None and g.workers is not None and g.running >= g.workers:
                    deferred.append(item)
                    continue
                self._start(e)
            for item in deferred:
                heapq.heappush(heap, item)

    def _start(self, e: Entry) -> None:
        assert self.loop is not None
        self._set(e, RUNNING, None, op=False)
        e.attempts += 1
        e.started_at = time.time()
        self.running += 1
        if e.group is not None:
            e.group.running += 1
        self.writer.put(("start", e.id, e.attempts, e.started_at))
        e.task = self.loop.create_task(self._attempt(e))

    async def _attempt(self, e: Entry) -> None:
        error: ErrorInfo | None = None
        value: Any = None
        files_state: str | None = None
        interrupted = False
        try:
            if e.kind == "files":
                assert self.run_files is not None
                files_state, error = await self.run_files(e.id)
            else:
                assert e.func is not None
                value = await self.attempts.run(e.exec, e.func, e.ref, e.args, e.kwargs,
                                                e.timeout)
        except asyncio.CancelledError:
            interrupted = e.cancel_reason is None
        except ChildError as exc:
            error = ErrorInfo(exc.type_name, exc.message, exc.tb)
        except Exception as exc:
            error = ErrorInfo.from_exception(exc)
        with self.lock:
            self.running -= 1
            if e.group is not None:
                e.group.running -= 1
            e.task = None
            self._outcome(e, error, value, files_state, interrupted)
            self._changed.notify_all()
            self._wake()

    def _outcome(self, e: Entry, error: ErrorInfo | None, value: Any,
                 files_state: str | None, interrupted: bool) -> None:
        if e.cancel_reason is not None:
            self.end(e, CANCELLED, e.cancel_reason, ErrorInfo("Cancelled", e.cancel_reason))
        elif interrupted or files_state == INTERRUPTED:
            self._set(e, INTERRUPTED, "the batch closed while it ran")
        elif files_state is not None:
            self.end(e, files_state, None if error is None else str(error), error)
        elif error is None:
            text = result_json(value)
            kind = "json" if text is not None else "memory"
            if text is None:
                import json

                text = json.dumps({"type": type(value).__qualname__, "pid": os.getpid()})
            self.end(e, DONE, None, None, value, kind, text)
        elif e.attempts <= e.retries and not self.closing:
            delay = min(e.backoff * 2 ** (e.attempts - 1), BACKOFF_MAX)
            delay *= 1 + random.uniform(-0.1, 0.1)
            e.error = error
            self._set(e, WAITING, f"attempt {e.attempts}/{e.retries + 1} failed ({error}); "
                                  f"retrying in {delay:.1f}s")
            assert self.loop is not None
            self.loop.call_later(delay, self._retry_due, e)
        else:
            self.end(e, FAILED, None, error)

    def _retry_due(self, e: Entry) -> None:
        with self.lock:
            if not e.ending and e.state == WAITING and not self.closing:
                self._set(e, PAUSED if e.paused else QUEUED,
                          "paused by user" if e.paused else e.reason)

    def _committed(self, ops: list[Op], error: StoreError | None) -> None:
        """Writer thread: a batch is on disk; the jobs it ended become final on the loop."""
        ends = [(op[1], op[2], op[3]) for op in ops if op[0] == "end"]
        if error is not None:
            print(f"tui-batch: scheduler: {error}", file=sys.stderr)
        if ends:
            loop = self.loop
            if loop is not None and not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(self._finalise, ends)
                    return
                except RuntimeError:
                    pass
            self._finalise(ends)

    def _finalise(self, ends: list[tuple[int, str, str | None]]) -> None:
        callbacks: list[Callable[[], None]] = []
        with self.lock:
            ended = []
            for jid, state, reason in ends:
                e = self.entries.get(jid)
                if e is None:
                    continue
                self._set(e, state, reason, op=False)
                e.ending = False
                e.done.set()
                callbacks.extend(e.callbacks)
                e.callbacks.clear()
                ended.append(e)
            for e in ended:
                self._after_end(e)
        for cb in callbacks:
            try:
                cb()
            except Exception:  # a host's callback must not stop the scheduler
                traceback.print_exc()

    def _after_end(self, e: Entry) -> None:
        g = e.group
        if g is not None and g.cancel_on_failure and e.state == FAILED:
            label = f"group {g.name!r}" if g.name else f"group {g.id}"
            for jid in g.members:
                if jid != e.id:
                    self.cancel(jid, f"cancelled: job {e.id} of {label} failed")
        for jid in e.dependents:
            d = self.entries.get(jid)
            if d is not None:
                self.evaluate(d)
        if g is not None and g.sequential:
            for jid in g.members:
                other = self.entries.get(jid)
                if jid > e.id and other is not None and other.state in PENDING:
                    self.evaluate(other)
                    break  # the next one in line; the rest wait for it in turn

    # ---------------------------------------------------------------- controls (any thread)
    def cancel(self, job_id: int, reason: str = "cancelled by user") -> bool:
        with self.lock:
            e = self.entries[job_id]
            if e.final or e.ending or e.cancel_reason is not None:
                return False
            if e.task is not None:
                e.cancel_reason = reason
                assert self.loop is not None
                self.loop.call_soon_threadsafe(e.task.cancel)
            else:
                self.end(e, CANCELLED, reason, ErrorInfo("Cancelled", reason))
            return True

    def pause(self, job_id: int) -> None:
        with self.lock:
            e = self.entries[job_id]
            e.paused = True
            self.evaluate(e)

    def resume(self, job_id: int) -> None:
        with self.lock:
            e = self.entries[job_id]
            e.paused = False
            if e.state == PAUSED:
                self._set(e, WAITING, None, op=False)
                self.evaluate(e)

    def set_priority(self, job_id: int, priority: int) -> None:
        with self.lock:
            e = self.entries[job_id]
            e.priority = priority
            self.writer.put(("prio", e.id, priority))
            if e.state == QUEUED and not e.ending:
                self._set(e, QUEUED, e.reason, op=False)

    def on_done(self, job_id: int, callback: Callable[[], None]) -> None:
        with self.lock:
            e = self.entries[job_id]
            if not e.done.is_set():
                e.callbacks.append(callback)
                return
        callback()
