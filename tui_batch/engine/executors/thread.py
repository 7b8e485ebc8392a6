"""The executor for blocking Python actions (``ExecKind.THREAD``): one daemon thread each.

A thread cannot be stopped. When an attempt runs too long or is cancelled, its
``ctx.cancel_event`` is set, the engine waits up to the kill grace for the action to notice and
return, then leaves the thread behind. Threads come from
:class:`~.threads.DaemonThreadPool`, so a thread that never returns does not keep the process
alive at exit. A thread that cannot start counts as the tool's own shortage (:mod:`.limits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import limits
from .base import (
    Executor,
    Outcome,
    error_text,
    exception_outcome,
    result_outcome,
    retrieve,
    timed_out,
)
from .threads import DaemonThreadPool

if TYPE_CHECKING:
    from ...actions import TaskContext
    from ..task import Task


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
                    fut.add_done_callback(retrieve)
                    return timed_out(timeout)
                result = fut.result()
        except asyncio.CancelledError:
            # cancelled by the user / Ctrl-C (or the engine shutting down): tell the action
            event.set()
            if task.cancel_requested:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._grace(fut)
            fut.add_done_callback(retrieve)
            raise
        except Exception as exc:
            kind = limits.shortage(exc, spawning=False)
            if kind is not None:
                return Outcome(ok=False, error=error_text(exc), resource=kind)
            return exception_outcome(exc)
        return result_outcome(result)

    def kill_now(self) -> None:
        for hurry in list(self._hurry):
            if not hurry.done():
                hurry.set_result(None)

    async def aclose(self) -> None:
        self.pool.shutdown()
