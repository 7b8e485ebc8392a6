"""The UI-agnostic asyncio engine.

One :class:`Engine` runs one batch: tasks wait in a :class:`~.queue.ReadyQueue`, worker
coroutines (:mod:`.workers`, as many as the live worker count) take them one at a time and hand
each attempt to an :class:`~.executors.Executor`. Everything the outside world may want to know
leaves as plain events (:mod:`.events`), delivered synchronously to subscribers on the loop
thread; the engine itself never waits on a subscriber, never writes to the store and never
draws.

This module is the part that decides: the controls clients call, and what each attempt's
outcome does to its task (done, retried, cancelled, interrupted, failed, halting the batch).
The counting lives in :mod:`.stats`, the retry and halt rules in :mod:`.policy`, the tool's
own shortages in :mod:`.shortage`, how an attempt runs in :mod:`.executors`.

The hot path is kept short on purpose (target: 50,000 in-process tasks per second with the store
subscribed): no asyncio.Task per item, counters updated incrementally, events built only when
somebody listens.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable

from ..actions import Action, TaskContext
from ..model import EngineSettings, Priority, TaskState
from .events import EngineEvent, Event, Stats, StatsEvent, Subscribers
from .executors.base import Executor, Outcome
from .executors.choose import make_executor
from .gate import SharedLimit
from .ledger import Ledger
from .policy import RetryTimers, halt_reason, retry_delay, retry_reason, should_retry
from .queue import ReadyQueue
from .shortage import Shortage
from .stats import Meter
from .task import Task, stale_reason
from .workers import Workers

Q, R, D, F, C, S, INT = (TaskState.QUEUED, TaskState.RUNNING, TaskState.DONE, TaskState.FAILED,
                         TaskState.CANCELLED, TaskState.SKIPPED, TaskState.INTERRUPTED)


class Engine:
    """Runs tasks with a live-adjustable number of workers. See ARCHITECTURE.md for the API."""

    def __init__(
        self,
        action: Action,
        settings: EngineSettings | None = None,
        *,
        out_dir: str | None = None,
        multi_root: bool = False,
        executor: Executor | None = None,
        stats_interval: float = 0.25,
        keep_open: bool = False,
        options: dict[str, str] | None = None,
        retain_finished: int | None = None,
        log_dir: str | None = None,
        job_id: int = 0, gate: SharedLimit | None = None,  # gate: a limit shared by engines
    ) -> None:
        self.action = action
        self.job_id = job_id  # the store's job (TaskContext.job_id, TUI_BATCH_JOB_ID); 0: none
        self.settings = settings or EngineSettings()
        self.out_dir = out_dir if out_dir is not None else self.settings.out_dir
        self.multi_root = multi_root
        self.stats_interval = stats_interval
        self.keep_open = keep_open
        """Watch mode: keep running when the queue is empty, until close()."""
        self._ledger = Ledger(retain_finished)
        self.tasks: dict[int, Task] = self._ledger.tasks
        """Every submitted task, by id, in submission order. Read-only for clients."""
        target = (self.settings.workers or getattr(action, "default_workers", None)
                  or os.cpu_count() or 1)
        self._executor = executor or make_executor(action, self.settings, target, log_dir)
        self._ready = ReadyQueue()
        self._subs = Subscribers()
        self._meter = Meter(self._ledger)
        self._workers = Workers(target, self._executor, self.settings, self._next_task,
                                self._start_task, self._finish_task, gate, self._peek)
        self._timers = RetryTimers(self._requeue)  # tasks waiting for a retry delay
        self._paused = False
        self._halted = False
        self._stopping = False
        self._interrupting = False
        self._closed = False
        self._idle_since: float | None = None
        self._shortage = Shortage(self)
        self.options: dict[str, str] = dict(options or {})
        """Action options (--opt KEY=VALUE) passed to every TaskContext."""

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event, on the loop thread. Returns unsubscribe."""
        return self._subs.add(callback)

    # ------------------------------------------------------------------ tasks
    @property
    def retain_finished(self) -> int | None:
        """Watch mode: keep only this many finished tasks in ``tasks`` (the counters keep
        counting), so a service that runs for months does not grow without bound."""
        return self._ledger.retain

    @retain_finished.setter
    def retain_finished(self, n: int | None) -> None:
        self._ledger.retain = n

    def submit(self, tasks: Iterable[Task]) -> None:
        """Add tasks. Terminal ones (skipped duplicates, done on resume) are only counted."""
        self._ledger.add(tasks, self._ready.push)
        self._workers.wake(all_=True)

    # ------------------------------------------------------------------ controls
    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def workers(self) -> int:
        return self._workers.target

    def pause(self) -> None:
        """No new task starts; running ones finish."""
        if not self._paused:
            self._paused = True
            self._subs.emit(EngineEvent("paused"))

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._subs.emit(EngineEvent("resumed"))
            self._workers.wake(all_=True)
            self._workers.spawn()

    def set_workers(self, n: int) -> None:
        """Change concurrency while running. Lowering it lets running tasks finish."""
        n = max(1, int(n))
        if n == self._workers.target:
            return
        self._workers.target = n
        self._executor.resize(n)
        self._subs.emit(EngineEvent("workers", f"{n} workers", {"workers": n}))
        self._workers.spawn()
        self._workers.wake(all_=True)

    def set_priority(self, task_id: int, priority: Priority) -> bool:
        """Move a task to another priority level (only matters while it waits)."""
        task = self.tasks.get(task_id)
        if task is None:
            return False
        task.priority = Priority(priority)
        if task.qtoken:
            self._ready.push(task)
        self._subs.emit(
            EngineEvent("priority", "", {"task_id": task_id, "priority": int(priority)})
        )
        return True

    def cancel(self, task_id: int) -> bool:
        """Cancel one task: a waiting one never starts, a running one is stopped."""
        task = self.tasks.get(task_id)
        if task is None or task.state.terminal:
            return False
        if task.state == R:
            self._cancel_running(task)
            return True
        self._cancel_waiting(task, "cancelled by user")
        self._check_finished()
        return True

    def _cancel_waiting(self, task: Task, reason: str) -> None:
        self._ready.discard(task)
        self._timers.cancel(task)
        task.reason = reason
        self._ledger.set_state(task, C)
        self._subs.task_event(task)

    def _cancel_running(self, task: Task) -> None:
        task.cancel_requested = True
        if self._executor.kills_itself:
            self._executor.cancel(task, self.settings.kill_grace)
            return
        self._workers.cancel(task)

    def cancel_all(self) -> None:
        """Cancel every waiting and running task."""
        for task in list(self.tasks.values()):
            if task.state == Q:
                self._cancel_waiting(task, "cancelled by user")
        for task in list(self._workers.current.values()):
            self._cancel_running(task)
        self._check_finished()

    def retry_failed(self) -> int:
        """Queue failed and cancelled tasks again with a fresh retry budget."""
        n = 0
        for task in self.tasks.values():
            if task.state in (F, C):
                task.retry_base = task.attempts
                task.cancel_requested = False
                task.reason = "retried by user"
                self._ledger.set_state(task, Q)
                self._ready.push(task)
                self._subs.task_event(task)
                n += 1
        if n:
            self._halted = False
            self._workers.wake(all_=True)
            self._workers.spawn()
        return n

    def stop(self) -> None:
        """Ctrl-C / quit: start nothing more, stop running tasks, leave the rest resumable.

        Stopped tasks become INTERRUPTED (run again by resume), waiting ones stay QUEUED.
        """
        if self._stopping:
            self._executor.kill_now()  # second Ctrl-C: no more grace
            return
        self._stopping = True
        self._interrupting = True
        for task in list(self.tasks.values()):
            self._timers.cancel(task)
        for task in list(self._workers.current.values()):
            self._cancel_running(task)
        self._subs.emit(EngineEvent("stopping"))
        self._workers.wake(all_=True)
        self._check_finished()

    def close(self) -> None:
        """Watch mode: finish once the queue is empty and nothing runs."""
        self.keep_open = False
        self._workers.wake(all_=True)
        self._check_finished()

    def live_output(self, task_id: int) -> tuple[str, str]:
        """stdout/stderr tails of a task: live while it runs, the last attempt's after."""
        task = self.tasks.get(task_id)
        if task is None:
            return "", ""
        if task.state == R:
            out, err = self._executor.live_output(task)
            if out or err:
                return out, err
        return task.stdout_tail, task.stderr_tail

    # ------------------------------------------------------------------ statistics
    def snapshot(self) -> Stats:
        meter = self._meter
        eta = None
        if not self.keep_open and not self._paused:  # paused: unknown (no task starts)
            eta = meter.eta(self._workers.current.values())
        return meter.snapshot(
            retrying=self._timers.count, eta=eta, workers=self._workers.target,
            paused=self._paused, halted=self._halted, finished=self._workers.over(),
            idle_since=self._idle_since)

    def _tick(self) -> None:
        """Update the smoothed rates and publish statistics."""
        self._meter.tick()
        if self._subs.callbacks:
            self._subs.emit(StatsEvent(self.snapshot()))

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.stats_interval)
            self._tick()

    # ------------------------------------------------------------------ running
    async def run(self) -> Stats:
        """Run until every task is terminal (or halted / stopped). May be called again later
        (e.g. after retry_failed) to process what was queued since."""
        workers = self._workers
        if workers.running:
            raise RuntimeError("Engine.run() is already running")
        finished = workers.begin()
        self._stopping = self._interrupting = False
        self._halted = False
        self._meter.start()
        ticker = asyncio.create_task(self._ticker())
        try:
            workers.spawn()
            self._check_finished()
            await finished
        finally:
            ticker.cancel()
            await workers.stop()
            self._meter.stop()
            self._tick()
        self._subs.emit(EngineEvent("finished"))
        return self.snapshot()

    async def aclose(self) -> None:
        """Release the executor (pools, spool files). Call once when done with the engine."""
        if not self._closed:
            self._closed = True
            await self._executor.aclose()

    def _check_finished(self) -> None:
        """End the run when nothing runs and nothing will (or it is stopping or halted)."""
        workers = self._workers
        if workers.over():
            return
        c = self._ledger.counts
        if c[R]:
            return
        waiting = c[Q] + self._timers.count
        if self._stopping or self._halted or (not waiting and not self.keep_open):
            workers.end()
        elif not waiting and self._idle_since is None:
            self._idle_since = time.monotonic()

    def _next_task(self) -> Task | None:
        """For a worker: the task to start now, or None (nothing waits, or nothing may start)."""
        return None if self._paused or self._halted or self._stopping else self._ready.pop()

    def _peek(self) -> int | None:  # for a shared limit: the priority _next_task would give
        return None if self._paused or self._halted or self._stopping else self._ready.peek()

    # ------------------------------------------------------------------ one attempt
    def _start_task(self, task: Task) -> TaskContext | None:
        """A worker took ``task``: it runs now (the context of its attempt), or is skipped."""
        self._idle_since = None
        if task.check_file:
            stale = stale_reason(task)
            if stale is not None:
                task.reason = stale
                self._ledger.set_state(task, S)
                self._subs.task_event(task)
                self._check_finished()
                return None
        task.attempts += 1
        task.started_at = time.time()
        task.reason = None
        self._ledger.set_state(task, R)
        self._subs.task_event(task)
        out_path = None
        if self.out_dir is not None:
            out_path = self.action.out_path_for(self.out_dir, task.root, task.rel, self.multi_root)
        return TaskContext(
            task.path, task.root, task.rel, task.size, task.mtime_ns, self.out_dir, out_path,
            self.options, task.id, task.attempts, self.job_id, task.seq,
        )

    def _finish_task(self, task: Task, outcome: Outcome, duration: float) -> None:
        """The attempt is over: what its outcome does to ``task``."""
        task.ended_at = time.time()
        task.exit_code = outcome.exit_code
        task.signal = outcome.signal
        task.error = outcome.error
        task.stdout_tail = outcome.stdout_tail
        task.stderr_tail = outcome.stderr_tail
        task.log = outcome.log
        if outcome.ok and not task.cancel_requested:
            task.shortages = 0
            self._ledger.bytes_done += task.size
            self._ledger.set_state(task, D if outcome.skipped is None else S)
        elif outcome.resource is not None and not task.cancel_requested and self._shortage.retry(
            task, outcome
        ):
            self._subs.task_event(task)  # queued again; no duration: not an attempt that ran
            self._check_finished()
            return
        elif outcome.cancelled or task.cancel_requested:
            task.cancel_requested = False
            if self._interrupting:
                task.reason = "interrupted; runs again on resume"
                self._ledger.set_state(task, INT)
            else:
                task.reason = "cancelled by user"
                self._ledger.set_state(task, C)
        elif not (self._stopping or self._halted) and should_retry(self.settings, task, outcome):
            failed_attempts = task.attempts - task.retry_base
            delay = retry_delay(self.settings, failed_attempts)
            task.reason = retry_reason(self.settings, failed_attempts, delay)
            self._ledger.set_state(task, Q)
            self._timers.schedule(task, delay)
        else:
            self._ledger.set_state(task, F)
            self._check_halt()
        self._subs.task_event(task, duration)
        self._check_finished()

    def _requeue(self, task: Task) -> None:
        """A retry delay is over (see :class:`~.policy.RetryTimers`)."""
        if task.state != Q:
            return
        if self._stopping:
            self._check_finished()
            return
        self._ready.push(task)
        self._workers.wake()

    def _check_halt(self) -> None:
        c = self._ledger.counts
        reason = halt_reason(self.settings, c[D], c[F])
        if reason and not self._halted:
            self._halted = True
            self._subs.emit(EngineEvent("halted", f"halted: {reason}; no new tasks start"))
