"""The executor for coroutine actions (``ExecKind.ASYNC``): awaited inline by the worker.

No asyncio.Task per item and no thread: the cheapest kind, and the one the engine's hot path is
measured with. A coroutine that runs too long (or is cancelled) is cancelled: it sees
``CancelledError`` inside, at its next ``await``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .base import Executor, Outcome, exception_outcome, result_outcome, timed_out

if TYPE_CHECKING:
    from ...actions import TaskContext
    from ..task import Task


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
            return timed_out(timeout)
        except Exception as exc:
            return exception_outcome(exc)
        return result_outcome(result)
