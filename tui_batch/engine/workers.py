"""The engine's worker coroutines: how many run, where idle ones wait, when a run is over,
and how an attempt is awaited on the executor.

A worker is a plain coroutine that takes the next task, awaits its attempt, and takes the next
one; there is no asyncio.Task per item (the hot path stays short). Workers live for one run of
the engine: :meth:`Workers.begin` opens it, :meth:`Workers.end` ends it (the engine decides
when), :meth:`Workers.stop` cancels what is left. The count follows ``target`` live: surplus
workers leave after their current task, missing ones are spawned.

Each attempt runs on a slot, the lowest number free at its start (``TaskContext.slot``:
``{%}`` in templates, and the job's log files ``slot-K.out`` of commands).

An executor that cannot stop an attempt itself is stopped by cancelling the worker awaiting it
(:meth:`Workers.cancel`); the worker survives that, and the attempt ends as cancelled. Which
task comes next, what starting it means and what its outcome does are the engine's business
(``next_task``, ``start`` and ``finish``).

With a shared limit (``gate``, :mod:`.gate`: the service's one queue for the machine), a
worker takes a permit before it takes its next task and gives it back when that attempt ends;
``peek`` tells the limit the priority of the task the engine would start next.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .executors.base import Executor, Outcome

if TYPE_CHECKING:
    from ..actions import TaskContext
    from ..model import EngineSettings
    from .gate import Peek, SharedLimit
    from .task import Task

log = logging.getLogger(__name__)

YIELD_EVERY = 0.002
"""Seconds of loop time after which a worker yields to the event loop, shared by all workers."""


class Workers:
    """The worker coroutines of one engine and the future that ends a run."""

    __slots__ = ("_executor", "_finish", "_free_slots", "_gate", "_idle", "_last_yield", "_next",
                 "_peek", "_settings", "_slots_made", "_start", "_tasks", "current", "finished",
                 "running", "target")

    def __init__(
        self,
        target: int,
        executor: Executor,
        settings: EngineSettings,
        next_task: Callable[[], Task | None],
        start: Callable[[Task], TaskContext | None],
        finish: Callable[[Task, Outcome, float], None],
        gate: SharedLimit | None = None,
        peek: Peek | None = None,
    ) -> None:
        self.target = target
        """How many workers there should be (the engine's live worker count)."""
        self.current: dict[asyncio.Task[None], Task] = {}
        """The task each busy worker runs (the engine fills it in while an attempt runs)."""
        self.finished: asyncio.Future[None] | None = None
        self.running = False
        self._executor = executor
        self._settings = settings  # its timeout applies to every attempt
        self._next = next_task  # None: nothing may start now (empty, paused, halted...)
        self._start = start  # None: the task did not start (skipped)
        self._finish = finish
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle: list[asyncio.Future[None]] = []
        self._last_yield = 0.0
        self._free_slots: list[int] = []  # slot numbers free again (a heap: lowest first)
        self._slots_made = 0
        self._gate = gate if peek is not None else None
        self._peek: Peek = peek or (lambda: None)

    def begin(self) -> asyncio.Future[None]:
        """A run starts: returns the future :meth:`end` resolves."""
        self.running = True
        self.finished = asyncio.get_running_loop().create_future()
        return self.finished

    def over(self) -> bool:
        """No run is going on (never started, or ended)."""
        fin = self.finished
        return fin is None or fin.done()

    def end(self) -> None:
        """End the run: idle workers leave, busy ones after their attempt."""
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(None)
        self.wake(all_=True)

    async def stop(self) -> None:
        """After the run: cancel the workers still there and wait until they are gone."""
        tasks = self._tasks
        for w in list(tasks):
            w.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        tasks.clear()
        self.running = False

    def spawn(self) -> None:
        """Start workers until there are ``target`` (only while a run goes on)."""
        if not self.running:
            return
        tasks = self._tasks
        while len(tasks) < self.target:
            w = asyncio.get_running_loop().create_task(self._worker())
            tasks.add(w)
            w.add_done_callback(tasks.discard)

    def wake(self, all_: bool = False) -> None:
        """Wake one idle worker (or all): there may be something to do."""
        if self._gate is not None:
            self._gate.dispatch()  # a waiter passed over (paused, nothing queued) may go now
        idle = self._idle
        while idle:
            fut = idle.pop()
            if not fut.done():
                fut.set_result(None)
                if not all_:
                    return

    def cancel(self, task: Task) -> None:
        """Cancel the worker awaiting ``task``'s attempt (for executors that cannot stop an
        attempt themselves)."""
        for worker, current in self.current.items():
            if current is task:
                worker.cancel()

    async def _worker(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        loop = asyncio.get_running_loop()
        next_task = self._next
        gate = self._gate
        while True:
            if len(self._tasks) > self.target:
                self._tasks.discard(me)  # before returning, so only the surplus leaves
                return
            if gate is None:
                task = next_task()
            elif gate.try_take():  # the fast path: no coroutine, no future
                task = next_task()
                if task is None:
                    gate.release()
            else:
                task = await self._gated_next(gate)
            if task is None:
                fin = self.finished
                if fin is None or fin.done():
                    return
                fut = loop.create_future()
                self._idle.append(fut)
                await fut
                continue
            ctx = self._start(task)
            try:
                if ctx is not None:
                    await self._attempt(task, ctx, me)
            finally:
                if gate is not None:
                    gate.release()
            now = loop.time()
            if now - self._last_yield > YIELD_EVERY:
                # In-process tasks may never suspend: let the UI and timers breathe. The budget
                # is shared by all workers, so 8 workers do not each take 2 ms in turn.
                self._last_yield = now
                await asyncio.sleep(0)

    async def _gated_next(self, gate: SharedLimit) -> Task | None:
        """The next task once a permit of the shared limit is held for it (no permit free
        now); None (and no permit held) when nothing may start now."""
        if self._peek() is None:
            return None
        await gate.acquire(self._peek)
        task = self._next()
        if task is None:  # taken meanwhile, paused, cancelled: the permit goes to another
            gate.release()
        return task

    def _take_slot(self) -> int:
        """The lowest free slot number: never above the number of attempts running at once,
        so with ``-j N`` slots are 1..N (GNU parallel's ``{%}``)."""
        free = self._free_slots
        if free:
            return heapq.heappop(free)
        self._slots_made += 1
        return self._slots_made

    async def _attempt(self, task: Task, ctx: TaskContext, me: asyncio.Task[None]) -> None:
        current = self.current
        current[me] = task
        slot = ctx.slot = self._take_slot()
        t0 = time.monotonic()
        try:
            outcome = await self._executor.run(task, ctx, self._settings.timeout)
        except asyncio.CancelledError:
            if not task.cancel_requested or self.over():
                del current[me]
                heapq.heappush(self._free_slots, slot)
                raise
            me.uncancel()
            outcome = Outcome(ok=False, cancelled=True, error="cancelled")
        except Exception as exc:  # an executor bug must not kill the worker
            log.exception("executor failed on task %s", task.id)
            outcome = Outcome(ok=False, error=f"internal error: {exc!r}")
        del current[me]
        heapq.heappush(self._free_slots, slot)
        if task.cancel_requested and me.cancelling():
            me.uncancel()
        if outcome.skipped is not None:
            task.reason = outcome.skipped  # the engine ends it skipped, with this reason
        self._finish(task, outcome, time.monotonic() - t0)
