"""The jobs screen's talk with running jobs, through their control sockets.

Why a module of its own: the jobs screen reads the store for every job (:mod:`.jobs_board`);
a job that runs right now also answers on its control socket, which knows more (its counts
this second, paused, workers) and takes controls: a second, blocking channel, asked from the
screen's threads only. One place says how each question is asked and what a job that does
not answer means.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeAlias

from .jobs_board import JobRow, live_jobs

__all__ = ["LIVE_TIMEOUT", "LiveAnswer", "live_snapshots", "resume_live", "serves_control"]

LiveAnswer: TypeAlias = tuple[str, str, dict[str, Any] | None]
"""A control's outcome as the screen tells it: ``(text, title, the job's snapshot now)``
(no snapshot: the job refused, the text says why)."""

LIVE_TIMEOUT = 0.5
"""Seconds a running job has to answer the jobs screen's snapshot (a wedged one is skipped)."""
KEY_TIMEOUT = 2.0
"""Seconds a running job has to answer a key press (a busy job is given time)."""


def live_snapshots(db_path: str, rows: Iterable[JobRow]) -> dict[int, dict[str, Any]]:
    """Each running file job's control snapshot (blocking: a connection and one request
    per job, a millisecond each; run it in a thread). A job that serves no socket, or does
    not answer within LIVE_TIMEOUT, is left out: its row keeps its store counts."""
    from ..control import ControlError, connect

    out: dict[int, dict[str, Any]] = {}
    for row in live_jobs(rows):
        try:
            client = connect(db_path, row.id, timeout=LIVE_TIMEOUT)
            if client is None:
                continue
            with client:
                out[row.id] = client.call("snapshot")
        except (ControlError, OSError):
            continue
    return out


def serves_control(db_path: str, job_id: int) -> bool:
    """Whether job ``job_id`` answers on its control socket now (it can be attached to)."""
    from ..control import ControlError, connect

    try:
        client = connect(db_path, job_id, timeout=KEY_TIMEOUT)
    except (ControlError, OSError):
        return False
    if client is None:
        return False
    client.close()
    return True


def resume_live(db_path: str, job_id: int) -> LiveAnswer | None:
    """Un-pause job ``job_id`` where it runs, as `tui-batch resume` does for a running job
    (blocking: run it in a thread); what to tell the user. None when no process serves it
    (it is not running: a resume finishes it here). ControlError when the job refuses or
    does not answer."""
    from ..control import connect

    client = connect(db_path, job_id, timeout=KEY_TIMEOUT)
    if client is None:
        return None
    with client:
        before = bool(client.call("snapshot").get("paused"))
        client.call("resume")
        snapshot = client.call("snapshot")
    if before:
        return f"Job {job_id} resumed: tasks start again.", "Resumed", snapshot
    return f"Job {job_id} is running (it was not paused).", "Running", snapshot
