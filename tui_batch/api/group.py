"""A :class:`Group` of jobs in a Batch: sequential or parallel, with a worker cap and
cancel-the-rest-on-failure; stored, so it holds across restarts.

Why a module of its own: a group is a handle on its members (waiting for all, cancelling all)
and on its stored rules; the rules themselves are applied by the scheduler
(:mod:`tui_batch.scheduler.entry` and ``core``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..jobs.states import CANCELLED, DEPENDENCY_FAILED, DONE, FAILED, FINAL_STATES
from ..scheduler import GroupInfo

if TYPE_CHECKING:
    from .batch import Batch
    from .job import Job

__all__ = ["Group"]


class Group:
    """Jobs join with ``batch.submit_call(..., group=g)`` (or ``submit(spec, group=g)``)."""

    def __init__(self, batch: Batch, info: GroupInfo) -> None:
        self.batch = batch
        self.info = info

    @property
    def id(self) -> int:
        return self.info.id

    @property
    def name(self) -> str | None:
        return self.info.name

    @property
    def sequential(self) -> bool:
        return self.info.sequential

    @property
    def cancel_on_failure(self) -> bool:
        return self.info.cancel_on_failure

    @property
    def workers(self) -> int | None:
        return self.info.workers

    @property
    def jobs(self) -> list[Job]:
        """The members, in submission order."""
        with self.batch._host_or_fail().sched.lock:
            ids = list(self.info.members)
        return [self.batch._job_object(i) for i in ids]

    def __repr__(self) -> str:
        return f"<Group {self.id} {self.name!r} {len(self.info.members)} jobs>"

    def wait(self, timeout: float | None = None) -> str:
        """Block until every member has ended; returns ``done`` when all are done, else the
        worst of failed, dependency failed, cancelled. TimeoutError after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        states = []
        for job in self.jobs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            states.append(job.wait(left))
        for worst in (FAILED, DEPENDENCY_FAILED, CANCELLED):
            if worst in states:
                return worst
        return DONE if all(s == DONE for s in states) else next(
            (s for s in states if s != DONE), DONE)

    def cancel(self) -> None:
        """Cancel every member that has not ended."""
        for job in self.jobs:
            if job.state not in FINAL_STATES:
                job.cancel()
