"""The executor for CPU-bound Python actions (``ExecKind.PROCESS``): a pool of worker processes.

The action is re-resolved by name in the worker (``run_in_process``), so only its reference and
the task's context cross the process boundary. An attempt that runs too long (or is cancelled)
cannot be asked to stop (it runs plain Python code): its worker process is ended (SIGKILL) and
the pool replaced. Attempts that shared the old pool did nothing wrong: they run again on the
new one, transparently. A worker that dies on its own (a native parser's segfault, the OOM
killer) fails the attempt it was running, named by :mod:`.crashes` ("worker process died
(SIGSEGV)"); the pool is replaced and the other attempts run again, so the batch goes on.

Worker processes are forked from the engine and would inherit its asyncio signal set-up: a
signal to a worker would then be written to the *engine's* wakeup descriptor (one Ctrl-C
counted twice, a worker's SIGTERM taken for the user's). :func:`~.crashes.worker_signals`
undoes that.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
from typing import TYPE_CHECKING, Any

from . import limits
from .base import Executor, Outcome, exception_outcome, result_outcome, retrieve, timed_out
from .crashes import (
    PoolWatch,
    death_text,
    new_lock,
    post_mortem,
    tracked_run,
    worker_init,
    worker_signals,
)

if TYPE_CHECKING:
    from ...actions import TaskContext
    from ..task import Task


class ProcessExecutor(Executor):
    """CPU-bound actions in worker processes; the action is re-resolved by name in the child."""

    def __init__(self, ref: str, max_workers: int) -> None:
        self.ref = ref
        self.max_workers = max_workers
        self.watch = PoolWatch(max_workers)
        self.pool = self._new_pool()
        self.generation = 0  # bumped whenever the pool is replaced
        self._ended: list[Any] = []  # worker processes ended on purpose; SIGKILLed at close
        # generation -> the post-mortem of that pool when it broke on its own (task id -> exit
        # code of the tasks whose worker died); every attempt it broke waits for the verdict
        self._verdicts: dict[int, asyncio.Future[dict[int, int]]] = {}
        self._unexplained: dict[int, int] = {}  # task id -> breaks nobody could be blamed for

    def _replace_pool(self, generation: int, *, end_workers: bool) -> None:
        """A new pool for what comes next (once per generation, whoever asks first)."""
        if generation != self.generation:
            return
        old = self.pool
        self.generation += 1
        self.watch = PoolWatch(self.max_workers)
        self.pool = self._new_pool()
        if end_workers:
            procs = list((getattr(old, "_processes", None) or {}).values())
            _kill_all(procs)
            self._ended.extend(procs)
        old.shutdown(wait=False, cancel_futures=True)

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        pool = cf.ProcessPoolExecutor(self.max_workers, initializer=worker_init,
                                      initargs=(self.watch.table, new_lock()))
        self.watch.attach(pool)
        return pool

    def _broke(self, generation: int, watch: PoolWatch) -> asyncio.Future[dict[int, int]]:
        """The pool of ``generation`` broke on its own: replace it (once) and start its
        post-mortem (once); the verdict every attempt it broke waits for."""
        verdict = self._verdicts.get(generation)
        if verdict is None:
            verdict = asyncio.ensure_future(asyncio.to_thread(post_mortem, watch))
            self._verdicts[generation] = verdict
            for old in [g for g in self._verdicts if g < generation - 8]:
                del self._verdicts[old]
            self._replace_pool(generation, end_workers=False)
        return verdict

    async def run(self, task: Task, ctx: TaskContext, timeout: float | None) -> Outcome:
        while True:
            generation, watch = self.generation, self.watch
            try:
                cfut = self.pool.submit(tracked_run, self.ref, ctx)
            except cf.BrokenExecutor:  # a worker died just now: start a fresh pool
                self._broke(generation, watch)
                continue
            except (OSError, RuntimeError) as exc:
                kind = limits.shortage(exc)
                if kind is None:
                    raise
                return Outcome(ok=False, error=limits.describe(exc), resource=kind)
            cfut.add_done_callback(watch.on_break)
            fut = asyncio.wrap_future(cfut)
            try:
                done, _ = await asyncio.wait({fut}, timeout=timeout)
            except asyncio.CancelledError:
                fut.add_done_callback(retrieve)
                self._replace_pool(generation, end_workers=True)
                raise
            if not done:
                fut.add_done_callback(retrieve)
                self._replace_pool(generation, end_workers=True)
                return timed_out(timeout)
            try:
                result = fut.result()
            except cf.BrokenExecutor as exc:
                if self.generation != generation and generation not in self._verdicts:
                    continue  # we ended that pool for another attempt: this one runs again
                culprits = await asyncio.shield(self._broke(generation, watch))
                code = culprits.get(task.id)
                if code is not None:
                    sig = -code if code < 0 else None
                    return Outcome(ok=False, signal=sig, error=death_text(code))
                if culprits:
                    continue  # another attempt's worker died: this one runs again
                # Nobody can be named (the pool broke for another reason): run again, but
                # not forever, or a task that breaks every pool would never end.
                seen = self._unexplained.get(task.id, 0) + 1
                self._unexplained[task.id] = seen
                if seen < 2:
                    continue
                return Outcome(ok=False, error=f"worker process died: {exc}")
            except Exception as exc:
                return exception_outcome(exc)
            return result_outcome(result)

    async def aclose(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        _kill_all(self._ended)
        self._ended.clear()


def _worker_init() -> None:
    """In each worker of a pool without crash tracking (the scheduler's call pool)."""
    worker_signals()


def _kill_all(procs: list[Any]) -> None:
    for proc in procs:
        with contextlib.suppress(OSError, AttributeError, ValueError):
            if proc.is_alive():
                proc.kill()

