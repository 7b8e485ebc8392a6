"""Executors for Python actions: coroutines inline, blocking functions on threads, CPU-bound
ones in worker processes.

What an attempt that runs too long (or is cancelled) turns into differs per kind, because
only some of them can be stopped:

* a coroutine is cancelled (``CancelledError`` inside it);
* a thread cannot be stopped: its ``ctx.cancel_event`` is set, the engine waits up to the kill
  grace for the action to notice and return, then leaves the thread behind. Threads come from
  :class:`~tui_batch.engine.threads.DaemonThreadPool`, so a thread that never returns does not
  keep the process alive at exit;
* a worker process is ended (SIGKILL: it runs plain Python code the engine cannot ask to stop)
  and the pool replaced. Attempts that shared the old pool did nothing wrong: they run again
  on the new one, transparently.

Worker processes are forked from the engine and would inherit its asyncio signal set-up: a
signal to a worker would then be written to the *engine's* wakeup descriptor (one Ctrl-C
counted twice, a worker's SIGTERM taken for the user's). :func:`_worker_init` undoes that.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..actions import TaskContext, run_in_process
from . import limits
from .executors import Executor, Outcome
from .threads import DaemonThreadPool

if TYPE_CHECKING:
    from .core import Task


def _format_exc(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _result_outcome(result: object) -> Outcome:
    return Outcome(ok=True, exit_code=0, stdout_tail="" if result is None else str(result))


def _timed_out(timeout: float | None) -> Outcome:
    return Outcome(ok=False, timed_out=True, error=f"timed out after {timeout:g}s")


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Done callback of an abandoned attempt: its late exception is nobody's business (and
    would be logged as 'Future exception was never retrieved' otherwise)."""
    if not future.cancelled():
        future.exception()


class AsyncExecutor(Executor):
    """Native coroutine actions, awaited inline by the worker (no Task per item)."""

    def __init__(self, func: Callable[[TaskContext], Any]) -> None:
        self.func = func

    async def run(self, task: Task, ctx: TaskContext, timeout: float | None) -> Outcome:
        try:
            if timeout is None:
                result = await self.func(ctx)
            else:
                async with asyncio.timeout(timeout):
                    result = await self.func(ctx)
        except TimeoutError:
            return _timed_out(timeout)
        except Exception as exc:
            return Outcome(ok=False, exit_code=1, error=_format_exc(exc))
        return _result_outcome(result)


class ThreadExecutor(Executor):
    """Blocking I/O actions on daemon threads. The engine's worker count bounds how many run
    at once (``max_workers`` is accepted for callers of the old signature and not needed)."""

    def __init__(
        self, func: Callable[[TaskContext], Any], max_workers: int = 1, *, kill_grace: float = 5.0
    ) -> None:
        self.func = func
        self.kill_grace = kill_grace
        self.pool = DaemonThreadPool("tui-batch")
        self._hurry: set[asyncio.Future[None]] = set()  # grace waits kill_now cuts short

    async def _grace(self, fut: asyncio.Future[Any]) -> None:
        """Give a cancelled action the kill grace to notice ``ctx.cancelled`` and return."""
        if self.kill_grace <= 0:
            return
        hurry: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._hurry.add(hurry)
        try:
            await asyncio.wait({fut, hurry}, timeout=self.kill_grace,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._hurry.discard(hurry)

    async def run(self, task: Task, ctx: TaskContext, timeout: float | None) -> Outcome:
        event = threading.Event()
        ctx.cancel_event = event
        try:
            cfut = self.pool.submit(self.func, ctx)
        except RuntimeError as exc:
            kind = limits.shortage(exc)
            if kind is None:
                raise
            return Outcome(ok=False, error=limits.describe(exc), resource=kind)
        fut = asyncio.wrap_future(cfut)
        try:
            if timeout is None:
                result = await asyncio.shield(fut)
            else:
                done, _ = await asyncio.wait({fut}, timeout=timeout)
                if not done:
                    event.set()
                    await self._grace(fut)
                    fut.add_done_callback(_retrieve)
                    return _timed_out(timeout)
                result = fut.result()
        except asyncio.CancelledError:
            # cancelled by the user / Ctrl-C (or the engine shutting down): tell the action
            event.set()
            if task.cancel_requested:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._grace(fut)
            fut.add_done_callback(_retrieve)
            raise
        except Exception as exc:
            kind = limits.shortage(exc, spawning=False)
            if kind is not None:
                return Outcome(ok=False, error=_format_exc(exc), resource=kind)
            return Outcome(ok=False, exit_code=1, error=_format_exc(exc))
        return _result_outcome(result)

    def kill_now(self) -> None:
        for hurry in list(self._hurry):
            if not hurry.done():
                hurry.set_result(None)

    async def aclose(self) -> None:
        self.pool.shutdown()


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
                fut.add_done_callback(_retrieve)
                self._replace_pool(generation, end_workers=True)
                raise
            if not done:
                fut.add_done_callback(_retrieve)
                self._replace_pool(generation, end_workers=True)
                return _timed_out(timeout)
            try:
                result = fut.result()
            except cf.BrokenExecutor as exc:
                if self.generation != generation:
                    continue  # we ended that pool for another attempt: this one runs again
                self._replace_pool(generation, end_workers=False)
                return Outcome(ok=False, error=f"worker process died: {exc}")
            except Exception as exc:
                return Outcome(ok=False, exit_code=1, error=_format_exc(exc))
            return _result_outcome(result)

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

