"""What the store remembers of a job's past runs, for a dashboard opened on it.

A job opened from the jobs screen has not run in this session, so its elapsed time comes from
the start and end times stored with its tasks (their last attempts). Runs of one job can be
days apart (interrupted, resumed later), so the elapsed time is the time during which at least
one of its tasks was running, the union of those intervals, not the span from the first start
to the last end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..store import Store


def busy_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Length of the union of ``(start, end)`` intervals (reversed ones are ignored)."""
    total = 0.0
    first: float | None = None
    last = 0.0
    for start, end in sorted(intervals):
        if end < start:
            continue
        if first is None or start > last:
            if first is not None:
                total += last - first
            first, last = start, end
        else:
            last = max(last, end)
    if first is not None:
        total += last - first
    return total


@dataclass(frozen=True, slots=True)
class JobHistory:
    """A stored job's past, as the dashboard shows it."""

    state: str
    """The job's stored state (done, failed, cancelled, interrupted, ...)."""
    elapsed: float
    """Seconds during which its tasks were running."""


def load_history(store: Store, job_id: int) -> JobHistory:
    """Read a job's history from the store (blocking: call it from a thread)."""
    state = store.get_job(job_id).state
    times = [
        (t.started_at, t.ended_at)
        for t in store.load_tasks(job_id)
        if t.started_at is not None and t.ended_at is not None
    ]
    return JobHistory(state, busy_seconds(times))
