"""The executor for CPU-bound Python actions (``ExecKind.PROCESS``): a pool of worker processes.

The action is re-resolved by name in the worker (``run_in_process``), so only its reference and
the task's context cross the process boundary. An attempt that runs too long (or is cancelled)
cannot be asked to stop (it runs plain Python code): its worker process is ended (SIGKILL) and
the pool replaced. Attempts that shared the old pool did nothing wrong: they run again on the
new one, transparently.

Worker processes are forked from the engine and would inherit its asyncio signal set-up: a
signal to a worker would then be written to the *engine's* wakeup descriptor (one Ctrl-C
counted twice, a worker's SIGTERM taken for the user's). :func:`_worker_init` undoes that.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import signal
from typing import TYPE_CHECKING, Any

from ...actions import run_in_process
from . import limits
from .base import Executor, Outcome, error_text, result_outcome, retrieve, timed_out

if TYPE_CHECKING:
    from ...actions import TaskContext
    from ..task import Task


class ProcessExecutor(Executor):
    """CPU-bound actions in worker processes; the action is re-resolved by name in the child."""

    def __init__(self, ref: str, max_workers: int) -> None:
        self.ref = ref
        self.max_workers = max_workers
        self.pool = self._new_pool()
        self.generation = 0  # bumped whenever the pool is replaced
        self._ended: list[Any] = []  # worker processes ended on purpose; SIGKILLed at close

    def _replace_pool(self, generation: int, *, end_workers: bool) -> None:
        """A new pool for what comes next (once per generation, whoever asks first)."""
        if generation != self.generation:
            return
        old = self.pool
        self.generation += 1
        self.pool = self._new_pool()
        if end_workers:
            procs = list((getattr(old, "_processes", None) or {}).values())
            _kill_all(procs)
            self._ended.extend(procs)
        old.shutdown(wait=False, cancel_futures=True)

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.max_workers, initializer=_worker_init)

    async def run(self, task: Task, ctx: TaskContext, timeout: float | None) -> Outcome:
        while True:
            generation = self.generation
            try:
                cfut = self.pool.submit(run_in_process, self.ref, ctx)
            except cf.BrokenExecutor:  # a worker died earlier: start a fresh pool
                self._replace_pool(generation, end_workers=False)
                continue
            except (OSError, RuntimeError) as exc:
                kind = limits.shortage(exc)
                if kind is None:
                    raise
                return Outcome(ok=False, error=limits.describe(exc), resource=kind)
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
                if self.generation != generation:
                    continue  # we ended that pool for another attempt: this one runs again
                self._replace_pool(generation, end_workers=False)
                return Outcome(ok=False, error=f"worker process died: {exc}")
            except Exception as exc:
                return Outcome(ok=False, exit_code=1, error=error_text(exc))
            return result_outcome(result)

    async def aclose(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        _kill_all(self._ended)
        self._ended.clear()


def _worker_init() -> None:
    """In each pool worker: signals are the worker's own again (see the module docstring)."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the engine's to handle


def _kill_all(procs: list[Any]) -> None:
    for proc in procs:
        with contextlib.suppress(OSError, AttributeError, ValueError):
            if proc.is_alive():
                proc.kill()

