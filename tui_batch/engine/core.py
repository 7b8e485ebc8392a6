"""The UI-agnostic asyncio engine.

One :class:`Engine` runs one batch: tasks wait in a :class:`ReadyQueue`, a set of worker
coroutines (as many as the live worker count) take them one at a time and hand each attempt to
an :class:`Executor`. Everything the outside world may want to know leaves as plain events
(:mod:`tui_batch.engine.events`), delivered synchronously to subscribers on the loop thread; the
engine itself never waits on a subscriber, never writes to the store and never draws.

The hot path is kept short on purpose (target: 50,000 in-process tasks per second with the store
subscribed): no asyncio.Task per item, counters updated incrementally, events built only when
somebody listens.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..actions import Action, TaskContext
from ..model import EngineSettings, ExecKind, Priority, TaskState
from .events import EngineEvent, Event, Stats, StatsEvent, TaskEvent
from .executors import Executor, Outcome, SubprocessExecutor
from .pools import AsyncExecutor, ProcessExecutor, ThreadExecutor
from .queue import ReadyQueue
from .shortage import Shortage

log = logging.getLogger(__name__)

_TERMINAL = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED})

Q, R, D, F, C, S, INT = (
    TaskState.QUEUED,
    TaskState.RUNNING,
    TaskState.DONE,
    TaskState.FAILED,
    TaskState.CANCELLED,
    TaskState.SKIPPED,
    TaskState.INTERRUPTED,
)


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
    command: list[str] | None = None
    check_file: bool = True  # skip when the file vanished or changed since the scan
    # engine bookkeeping
    qtoken: int = 0
    retry_base: int = 0  # attempts made before the last manual retry (retry budget restarts)
    retry_handle: asyncio.TimerHandle | None = None
    cancel_requested: bool = False
    shortages: int = 0  # attempts in a row that could not start for the tool's own shortage


def make_executor(action: Action, settings: EngineSettings, workers: int) -> Executor:
    """The executor that fits the action's declared kind."""
    kind = action.kind
    if kind == ExecKind.SUBPROCESS:
        return SubprocessExecutor(action, kill_grace=settings.kill_grace, workers=workers)
    func: Any = getattr(action, "func", None)
    if kind == ExecKind.ASYNC:
        return AsyncExecutor(func)
    if kind == ExecKind.PROCESS:
        pool_size = max(workers, os.cpu_count() or 1)
        return ProcessExecutor(getattr(action, "ref", action.name), pool_size)
    return ThreadExecutor(func, workers, kill_grace=settings.kill_grace)


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
    ) -> None:
        self.action = action
        self.settings = settings or EngineSettings()
        self.out_dir = out_dir if out_dir is not None else self.settings.out_dir
        self.multi_root = multi_root
        self.stats_interval = stats_interval
        self.keep_open = keep_open
        """Watch mode: keep running when the queue is empty, until close()."""
        self.tasks: dict[int, Task] = {}
        """Every submitted task, by id, in submission order. Read-only for clients."""
        self.retain_finished = retain_finished
        """Watch mode: keep only this many finished tasks in ``tasks`` (the counters keep
        counting), so a service that runs for months does not grow without bound."""
        self._finished_ids: deque[int] = deque()
        self._target = self.settings.workers or os.cpu_count() or 1
        self._executor = executor or make_executor(action, self.settings, self._target)
        self._ready = ReadyQueue()
        self._subscribers: list[Callable[[Event], None]] = []
        self._counts: dict[TaskState, int] = dict.fromkeys(TaskState, 0)
        self._bytes_total = 0
        self._total = 0
        self._bytes_done = 0
        self._delayed = 0  # tasks waiting for a retry delay
        self._workers: set[asyncio.Task[None]] = set()
        self._current: dict[asyncio.Task[None], Task] = {}
        self._idle: list[asyncio.Future[None]] = []
        self._paused = False
        self._halted = False
        self._stopping = False
        self._interrupting = False
        self._closed = False
        self._running_loop = False
        self._finished: asyncio.Future[None] | None = None
        self._started_mono: float | None = None
        self._elapsed_before = 0.0
        self._rate_files = 0.0
        self._rate_bytes = 0.0
        self._last_tick: tuple[float, int, int] | None = None
        self._idle_since: float | None = None
        self._last_yield = 0.0
        self._shortage = Shortage(self)
        self.options: dict[str, str] = dict(options or {})
        """Action options (--opt KEY=VALUE) passed to every TaskContext."""

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event, on the loop thread. Returns unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, event: Event) -> None:
        for cb in self._subscribers:
            try:
                cb(event)
            except Exception:  # a broken client must not stop the batch
                log.exception("engine subscriber %r failed; unsubscribed", cb)
                self._subscribers.remove(cb)

    def _task_event(self, task: Task, duration: float | None = None) -> None:
        if self._subscribers:
            self._emit(
                TaskEvent(
                    task.id, task.state, task.attempts, time.time(), task.exit_code,
                    task.signal, task.error, task.reason, duration,
                )
            )

    # ------------------------------------------------------------------ state bookkeeping
    def _set_state(self, task: Task, state: TaskState) -> None:
        counts = self._counts
        counts[task.state] -= 1
        counts[state] += 1
        task.state = state
        if self.retain_finished is not None and state in _TERMINAL:
            self._evict(task.id)

    def _evict(self, task_id: int) -> None:
        ids = self._finished_ids
        ids.append(task_id)
        limit = self.retain_finished or 0
        while len(ids) > max(1, limit):
            old = self.tasks.get(ids.popleft())
            if old is not None and old.state in _TERMINAL:
                del self.tasks[old.id]

    def submit(self, tasks: Iterable[Task]) -> None:
        """Add tasks. Terminal ones (skipped duplicates, done on resume) are only counted."""
        counts = self._counts
        push = self._ready.push
        for task in tasks:
            if task.id in self.tasks:
                raise ValueError(f"task {task.id} submitted twice")
            self.tasks[task.id] = task
            self._total += 1
            self._bytes_total += task.size
            if task.state in (R, INT):  # resumed after a crash: run again (at-least-once)
                task.state = Q
            counts[task.state] += 1
            if task.state == Q:
                push(task)
            elif task.state == D:
                self._bytes_done += task.size
            if self.retain_finished is not None and task.state in _TERMINAL:
                self._evict(task.id)  # submitted finished (a skipped duplicate): bounded too
        self._wake(all_=True)

    # ------------------------------------------------------------------ controls
    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def workers(self) -> int:
        return self._target

    def pause(self) -> None:
        """No new task starts; running ones finish."""
        if not self._paused:
            self._paused = True
            self._emit(EngineEvent("paused"))

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._emit(EngineEvent("resumed"))
            self._wake(all_=True)
            self._spawn_workers()

    def set_workers(self, n: int) -> None:
        """Change concurrency while running. Lowering it lets running tasks finish."""
        n = max(1, int(n))
        if n == self._target:
            return
        self._target = n
        self._executor.resize(n)
        self._emit(EngineEvent("workers", f"{n} workers", {"workers": n}))
        self._spawn_workers()
        self._wake(all_=True)

    def set_priority(self, task_id: int, priority: Priority) -> bool:
        """Move a task to another priority level (only matters while it waits)."""
        task = self.tasks.get(task_id)
        if task is None:
            return False
        task.priority = Priority(priority)
        if task.qtoken:
            self._ready.push(task)
        self._emit(EngineEvent("priority", "", {"task_id": task_id, "priority": int(priority)}))
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
        if task.retry_handle is not None:
            task.retry_handle.cancel()
            task.retry_handle = None
            self._delayed -= 1
        task.reason = reason
        self._set_state(task, C)
        self._task_event(task)

    def _cancel_running(self, task: Task) -> None:
        task.cancel_requested = True
        if self._executor.kills_itself:
            self._executor.cancel(task, self.settings.kill_grace)
            return
        for worker, current in self._current.items():
            if current is task:
                worker.cancel()

    def cancel_all(self) -> None:
        """Cancel every waiting and running task."""
        for task in list(self.tasks.values()):
            if task.state == Q:
                self._cancel_waiting(task, "cancelled by user")
        for task in list(self._current.values()):
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
                self._set_state(task, Q)
                self._ready.push(task)
                self._task_event(task)
                n += 1
        if n:
            self._halted = False
            self._wake(all_=True)
            self._spawn_workers()
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
            if task.retry_handle is not None:
                task.retry_handle.cancel()
                task.retry_handle = None
                self._delayed -= 1
        for task in list(self._current.values()):
            self._cancel_running(task)
        self._emit(EngineEvent("stopping"))
        self._wake(all_=True)
        self._check_finished()

    def close(self) -> None:
        """Watch mode: finish once the queue is empty and nothing runs."""
        self.keep_open = False
        self._wake(all_=True)
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
        c = self._counts
        elapsed = self._elapsed_before
        if self._started_mono is not None:
            elapsed += time.monotonic() - self._started_mono
        remaining = c[Q] + c[R]
        eta: float | None = None
        if self._rate_files > 0 and remaining and not self.keep_open and not self._paused:
            # Paused: unknown (no task starts). Never below what the oldest running task has
            # run already: quick failures or cancels make the rate high while long tasks run.
            now = time.time()
            ran = max((now - (t.started_at or now) for t in self._current.values()), default=0.0)
            eta = max(remaining / self._rate_files, ran)
        return Stats(
            total=self._total,
            queued=c[Q],
            running=c[R],
            done=c[D],
            failed=c[F],
            cancelled=c[C],
            skipped=c[S],
            retrying=self._delayed,
            bytes_total=self._bytes_total,
            bytes_done=self._bytes_done,
            elapsed=elapsed,
            files_per_s=self._rate_files,
            bytes_per_s=self._rate_bytes,
            eta=eta,
            workers=self._target,
            paused=self._paused,
            halted=self._halted,
            finished=self._finished is None or self._finished.done(),
            idle_since=self._idle_since,
        )

    def _tick(self) -> None:
        """Update the smoothed rates (EWMA, ~3 s time constant) and publish statistics."""
        now = time.monotonic()
        c = self._counts
        finished = c[D] + c[F] + c[C]
        if self._last_tick is not None:
            t0, n0, b0 = self._last_tick
            dt = now - t0
            if dt > 0:
                alpha = 1.0 - math.exp(-dt / 3.0)
                inst_f = (finished - n0) / dt
                inst_b = (self._bytes_done - b0) / dt
                if self._rate_files == 0.0 and self._rate_bytes == 0.0:
                    self._rate_files, self._rate_bytes = inst_f, inst_b
                else:
                    self._rate_files += alpha * (inst_f - self._rate_files)
                    self._rate_bytes += alpha * (inst_b - self._rate_bytes)
        self._last_tick = (now, finished, self._bytes_done)
        if self._subscribers:
            self._emit(StatsEvent(self.snapshot()))

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.stats_interval)
            self._tick()

    # ------------------------------------------------------------------ running
    async def run(self) -> Stats:
        """Run until every task is terminal (or halted / stopped). May be called again later
        (e.g. after retry_failed) to process what was queued since."""
        if self._running_loop:
            raise RuntimeError("Engine.run() is already running")
        self._running_loop = True
        loop = asyncio.get_running_loop()
        self._finished = loop.create_future()
        self._stopping = self._interrupting = False
        self._halted = False
        self._started_mono = time.monotonic()
        self._last_tick = (self._started_mono, self._counts[D] + self._counts[F] + self._counts[C],
                           self._bytes_done)
        ticker = asyncio.create_task(self._ticker())
        try:
            self._spawn_workers()
            self._check_finished()
            await self._finished
        finally:
            ticker.cancel()
            for w in list(self._workers):
                w.cancel()
            if self._workers:
                await asyncio.gather(*self._workers, return_exceptions=True)
            self._workers.clear()
            self._elapsed_before += time.monotonic() - self._started_mono
            self._started_mono = None
            self._running_loop = False
            self._tick()
        self._emit(EngineEvent("finished"))
        return self.snapshot()

    async def aclose(self) -> None:
        """Release the executor (pools, spool files). Call once when done with the engine."""
        if not self._closed:
            self._closed = True
            await self._executor.aclose()

    def _spawn_workers(self) -> None:
        if not self._running_loop:
            return
        while len(self._workers) < self._target:
            w = asyncio.get_running_loop().create_task(self._worker())
            self._workers.add(w)
            w.add_done_callback(self._workers.discard)

    def _wake(self, all_: bool = False) -> None:
        idle = self._idle
        while idle:
            fut = idle.pop()
            if not fut.done():
                fut.set_result(None)
                if not all_:
                    return

    def _check_finished(self) -> None:
        fin = self._finished
        if fin is None or fin.done():
            return
        c = self._counts
        if c[R]:
            return
        waiting = c[Q] + self._delayed
        if self._stopping or self._halted or (not waiting and not self.keep_open):
            fin.set_result(None)
            self._wake(all_=True)
        elif not waiting and self._idle_since is None:
            self._idle_since = time.monotonic()

    def _can_start(self) -> bool:
        return not (self._paused or self._halted or self._stopping)

    async def _worker(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        loop = asyncio.get_running_loop()
        ready = self._ready
        while True:
            if len(self._workers) > self._target:
                self._workers.discard(me)  # before returning, so only the surplus leaves
                return
            task = ready.pop() if self._can_start() else None
            if task is None:
                fin = self._finished
                if fin is None or fin.done():
                    return
                fut = loop.create_future()
                self._idle.append(fut)
                await fut
                continue
            self._idle_since = None
            await self._run_task(task, me)
            now = loop.time()
            if now - self._last_yield > 0.002:
                # In-process tasks may never suspend: let the UI and timers breathe. The budget
                # is shared by all workers, so 8 workers do not each take 2 ms in turn.
                self._last_yield = now
                await asyncio.sleep(0)

    def _skip(self, task: Task, reason: str) -> None:
        task.reason = reason
        self._set_state(task, S)
        self._task_event(task)

    async def _run_task(self, task: Task, me: asyncio.Task[None]) -> None:
        if task.check_file:
            try:
                st = os.stat(task.path)
            except FileNotFoundError:
                self._skip(task, "file vanished since the scan")
                self._check_finished()
                return
            except OSError as exc:
                self._skip(task, f"cannot stat: {exc.strerror}")
                self._check_finished()
                return
            if st.st_size != task.size or st.st_mtime_ns != task.mtime_ns:
                self._skip(task, "file changed since the scan")
                self._check_finished()
                return
        task.attempts += 1
        task.started_at = time.time()
        task.reason = None
        self._set_state(task, R)
        self._task_event(task)
        out_path = None
        if self.out_dir is not None:
            out_path = self.action.out_path_for(self.out_dir, task.root, task.rel, self.multi_root)
        ctx = TaskContext(
            task.path, task.root, task.rel, task.size, task.mtime_ns, self.out_dir, out_path,
            self.options, task.id, task.attempts,
        )
        self._current[me] = task
        t0 = time.monotonic()
        try:
            outcome = await self._executor.run(task, ctx, self.settings.timeout)
        except asyncio.CancelledError:
            if not task.cancel_requested or (self._finished is not None and self._finished.done()):
                del self._current[me]
                raise
            me.uncancel()
            outcome = Outcome(ok=False, cancelled=True, error="cancelled")
        except Exception as exc:  # an executor bug must not kill the worker
            log.exception("executor failed on task %s", task.id)
            outcome = Outcome(ok=False, error=f"internal error: {exc!r}")
        del self._current[me]
        if task.cancel_requested and me.cancelling():
            me.uncancel()
        self._finish_task(task, outcome, time.monotonic() - t0)

    def _finish_task(self, task: Task, outcome: Outcome, duration: float) -> None:
        task.ended_at = time.time()
        task.exit_code = outcome.exit_code
        task.signal = outcome.signal
        task.error = outcome.error
        task.stdout_tail = outcome.stdout_tail
        task.stderr_tail = outcome.stderr_tail
        if outcome.ok and not task.cancel_requested:
            task.shortages = 0
            self._bytes_done += task.size
            self._set_state(task, D)
        elif outcome.resource is not None and not task.cancel_requested and self._shortage.retry(
            task, outcome
        ):
            self._task_event(task)  # queued again; no duration: not an attempt that ran
            self._check_finished()
            return
        elif outcome.cancelled or task.cancel_requested:
            task.cancel_requested = False
            if self._interrupting:
                task.reason = "interrupted; runs again on resume"
                self._set_state(task, INT)
            else:
                task.reason = "cancelled by user"
                self._set_state(task, C)
        elif self._should_retry(task, outcome):
            delay = self._retry_delay(task.attempts - task.retry_base)
            max_attempts = self.settings.retries + 1
            task.reason = (
                f"attempt {task.attempts - task.retry_base}/{max_attempts} failed; "
                f"retry in {delay:.1f}s"
            )
            self._set_state(task, Q)
            self._delayed += 1
            loop = asyncio.get_running_loop()
            task.retry_handle = loop.call_later(delay, self._requeue, task)
        else:
            self._set_state(task, F)
            self._check_halt()
        self._task_event(task, duration)
        self._check_finished()

    def _should_retry(self, task: Task, outcome: Outcome) -> bool:
        s = self.settings
        if outcome.no_retry or self._stopping or self._halted:
            return False
        if outcome.exit_code is not None and outcome.exit_code in s.no_retry_exit_codes:
            return False
        return task.attempts - task.retry_base <= s.retries

    def _retry_delay(self, failed_attempts: int) -> float:
        """Exponential backoff with jitter: backoff * 2^(n-1), capped, +/- jitter."""
        s = self.settings
        delay = min(s.backoff * (2 ** (failed_attempts - 1)), s.backoff_max)
        if s.jitter:
            delay *= 1 + random.uniform(-s.jitter, s.jitter)
        return max(0.0, delay)

    def _requeue(self, task: Task) -> None:
        task.retry_handle = None
        self._delayed -= 1
        if task.state != Q:
            return
        if self._stopping:
            self._check_finished()
            return
        self._ready.push(task)
        self._wake()

    def _check_halt(self) -> None:
        s = self.settings
        failed = self._counts[F]
        reason = None
        if s.halt_after_failures is not None and failed >= s.halt_after_failures:
            reason = f"{failed} tasks failed (--halt-after {s.halt_after_failures})"
        elif s.halt_failure_percent is not None:
            ran = self._counts[D] + failed
            if ran >= 10 and failed * 100.0 / ran >= s.halt_failure_percent:
                reason = f"{failed * 100.0 / ran:.0f}% of tasks failed"
        if reason and not self._halted:
            self._halted = True
            self._emit(EngineEvent("halted", f"halted: {reason}; no new tasks start"))
