"""What every executor is to the engine: the :class:`Executor` interface and the
:class:`Outcome` of one attempt.

The engine knows nothing else of how an attempt runs, so another kind (a distributed one, say)
can be added without touching the engine. The small helpers below build the outcomes the
in-process kinds share (:mod:`.coro`, :mod:`.thread`, :mod:`.process`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...actions import ActionError, TaskSkipped

if TYPE_CHECKING:
    from ...actions import TaskContext
    from ...model.logfiles import LogRef
    from ..task import Task


@dataclass(slots=True)
class Outcome:
    """Result of one attempt."""

    ok: bool
    exit_code: int | None = None
    signal: int | None = None
    error: str | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    timed_out: bool = False
    cancelled: bool = False
    no_retry: bool = False  # the failure cannot get better by retrying (command not found)
    log: LogRef | None = None
    """Where the attempt's whole output is kept (the job's log files), if it wrote any."""
    resource: str | None = None
    """The attempt could not start because the tool itself ran out of something (a
    :mod:`.limits` kind: descriptors, processes, memory). Not the file's fault: the engine
    lowers its concurrency and runs the attempt again without spending a retry."""
    skipped: str | None = None
    """With ``ok``: the action chose not to act on the file (it raised
    :class:`~tui_batch.actions.TaskSkipped`), and this is why; the task ends skipped."""


class Executor:
    """Runs attempts. ``kills_itself``: cancel() stops the attempt, which then returns an
    Outcome with ``cancelled``; otherwise the engine cancels the awaiting worker."""

    kills_itself = False

    async def run(self, task: Task, ctx: TaskContext, timeout: float | None) -> Outcome:
        raise NotImplementedError

    def cancel(self, task: Task, grace: float) -> None:
        """Ask a running attempt to stop (only used when ``kills_itself``)."""

    def live_output(self, task: Task) -> tuple[str, str]:
        """stdout/stderr tails while the attempt runs (empty when not available)."""
        return "", ""

    def resize(self, n: int) -> None:
        """The engine's worker count changed to ``n``."""

    def kill_now(self) -> None:
        """Second Ctrl-C: stop waiting for running attempts' grace periods."""

    async def aclose(self) -> None:
        """Release pools, spool files, ..."""


# ---------------------------------------------------------------- outcomes of Python actions
def error_text(exc: BaseException) -> str:
    """``Type: message`` (or just the type) of what a Python action raised; an
    :class:`~tui_batch.actions.ActionError` is an expected failure worded for the user: its
    message alone ("encrypted PDF: ...")."""
    text = str(exc)
    if isinstance(exc, ActionError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def exception_outcome(exc: Exception) -> Outcome:
    """A Python action raised: a failure with its text, or a skip (``TaskSkipped``)."""
    if isinstance(exc, TaskSkipped):
        return Outcome(ok=True, exit_code=0, skipped=str(exc))
    return Outcome(ok=False, exit_code=1, error=error_text(exc))


def result_outcome(result: object) -> Outcome:
    """A Python action returned: success, its result (if any) as the output tail."""
    return Outcome(ok=True, exit_code=0, stdout_tail="" if result is None else str(result))


def timed_out(timeout: float | None) -> Outcome:
    """The attempt ran longer than ``timeout`` (and was stopped or abandoned)."""
    return Outcome(ok=False, timed_out=True, error=f"timed out after {timeout:g}s")


def retrieve(future: asyncio.Future[Any]) -> None:
    """Done callback of an abandoned attempt: its late exception is nobody's business (and
    would be logged as 'Future exception was never retrieved' otherwise)."""
    if not future.cancelled():
        future.exception()
