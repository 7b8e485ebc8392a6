"""What a scheduled job's failure looks like to its caller, and the scheduler's own refusals.

Why a module of its own: the same details (exception type, message, traceback text) are built
where an attempt fails (:mod:`.calls`), stored by the scheduler, read back in another process
by the API, and raised by ``job.result()``; one definition keeps them identical everywhere.
"""

from __future__ import annotations

import asyncio
import os
import traceback as tb_mod
from dataclasses import dataclass

from ..errors import TuiBatchError

__all__ = ["ErrorInfo", "JobFailed", "QueueFull", "ResultNotKept"]


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why a job did not end done: an exception's type name, message and traceback text, or
    for a cancelled / dependency-failed job the pseudo type ``Cancelled`` /
    ``DependencyFailed`` with the reason as message and no traceback."""

    type: str
    message: str
    traceback: str = ""

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        """The details of ``exc``, its traceback without the scheduler's own frames (the
        user's function is what they want to read about)."""
        frames = [f for f in tb_mod.extract_tb(exc.__traceback__) if not _ours(f.filename)]
        text = "Traceback (most recent call last):\n" if frames else ""
        text += "".join(tb_mod.format_list(frames))
        text += "".join(tb_mod.format_exception_only(type(exc), exc))
        return cls(type(exc).__name__, str(exc), text)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


_OWN_DIRS = (
    os.path.join(os.path.dirname(os.path.dirname(__file__)), "scheduler", ""),
    os.path.join(os.path.dirname(os.path.dirname(__file__)), "engine", "executors", ""),
    os.path.dirname(asyncio.__file__) + os.sep,
)


def _ours(filename: str) -> bool:
    return filename.startswith(_OWN_DIRS)


class JobFailed(TuiBatchError, RuntimeError):
    """``job.result()`` of a job that failed, was cancelled or whose dependency failed.

    ``type``, ``message`` and ``traceback`` are the original exception's (as text: the
    exception object itself may not survive a restart or another process); ``state`` is the
    job's final state and ``job_id`` its id."""

    def __init__(self, job_id: int, state: str, info: ErrorInfo) -> None:
        self.job_id = job_id
        self.state = state
        self.info = info
        self.type = info.type
        self.message = info.message
        self.traceback = info.traceback
        super().__init__(f"job {job_id} {state}: {info}")


class QueueFull(TuiBatchError, RuntimeError):
    """``submit_call(..., block=False)`` (or a blocking submit that timed out, or one made on
    the scheduler's own loop, which must not block) found ``max_queue_size`` jobs waiting."""


class ResultNotKept(TuiBatchError, LookupError):
    """The job is done but its return value was not JSON-serialisable: it was kept in the
    memory of the process that ran it, and this is another process (or a later one)."""
