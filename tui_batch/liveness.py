"""Is a stored job being run right now, and by which process?

Why a module of its own: the job store only knows what was last written. A run killed by
``kill -9`` (or a crash, or a reboot) leaves its job ``running`` with tasks ``running``, and
every screen that shows jobs (``tui-batch jobs``, its ``--json``, the TUI's jobs screen) must
not repeat that. The truth is the job's run lock: an ``flock`` that the kernel releases when its
holder dies. This module is the one place that reads it, without taking it for more than an
instant and without creating anything (it is used by read-only commands).

* ``<db>.locks/<job id>``: taken by :func:`tui_batch.jobs.lock_job` for ``run`` / ``resume``.
* the watch lock (:class:`tui_batch.watch_state.WatchLock`) for a watch's job.

Both files hold the pid of their holder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Mapping
from typing import Any

from .store import Store

__all__ = [
    "effective_counts",
    "effective_state",
    "flock_exclusive",
    "job_liveness",
    "job_lock_path",
    "tasks_left",
]

_LEFT_STATES = ("queued", "running", "interrupted")


def job_lock_path(db_path: str, job_id: int) -> str:
    """The run lock file of job ``job_id`` in the store at ``db_path``."""
    return os.path.join(f"{db_path}.locks", str(job_id))


def flock_exclusive(fd: int, tries: int = 20) -> None:
    """LOCK_EX without waiting for a holder, but retried for ~0.1 s: a liveness probe
    (:func:`job_liveness`, from ``tui-batch jobs`` or the jobs screen) holds a shared lock for
    an instant, and must not make a starting run or watch believe another one holds it.
    Raises the last BlockingIOError."""
    for i in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if i == tries - 1:
                raise
            time.sleep(0.005)


def _probe(path: str) -> tuple[bool | None, int | None]:
    """(held?, pid written in it). held is None when the file cannot be read (another user's
    lock from an older version, 0600): then nobody can tell."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False, None
    except OSError:
        return None, None
    try:
        try:
            # A shared lock, dropped at once: fails only while the runner holds its exclusive
            # one. (The runner retries for a moment if it meets this probe.)
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None, None
            pid = None
            with contextlib.suppress(OSError, ValueError):
                pid = int(os.pread(fd, 32, 0).decode().strip() or "0") or None
            return True, pid
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False, None
    finally:
        os.close(fd)


def job_liveness(
    store: Store, job_id: int, *, spec: Mapping[str, Any] | None = None,
    state: str | None = None,
) -> tuple[bool, int | None]:
    """``(running, pid)``: whether a live process holds job ``job_id``'s run lock (or, for a
    watch's job, its watch lock), and that process's pid when known.

    ``spec`` / ``state`` are the job's stored spec and state, when the caller already has them
    (a job list): saves reading the job again. When the lock cannot be read at all (another
    user's store), the stored state is believed: ``running`` if it says so.
    """
    if spec is None or state is None:
        job = store.get_job(job_id)
        spec, state = job.spec, job.state
    held, pid = _probe(job_lock_path(store.path, job_id))
    watch = spec.get("watch") if isinstance(spec, Mapping) else None
    identity = watch.get("identity") if isinstance(watch, Mapping) else None
    if held is not True and isinstance(identity, str):
        # A watch runs its job under its watch lock (a resume would take the run lock).
        from .watch_state import WatchLock, identity_key

        w_held, w_pid = _probe(WatchLock(store.path, identity_key(identity)).path)
        if w_held is not False:
            held, pid = w_held, w_pid
    if held is None:
        return state == "running", None
    return held, pid if held else None


def effective_state(state: str, running: bool) -> str:
    """The state to show: a job whose lock is held is running, whatever was last written; one
    that says running (or paused) with nobody holding its lock was interrupted."""
    if running:
        return "running"
    if state in ("running", "paused"):
        return "interrupted"
    return state


def effective_counts(counts: Mapping[str, int], running: bool) -> dict[str, int]:
    """Task counts to show: without a live runner no task is running; those left 'running'
    are interrupted (resume runs them again)."""
    out = dict(counts)
    if not running and out.get("running"):
        out["interrupted"] = out.get("interrupted", 0) + out["running"]
        out["running"] = 0
    return out


def tasks_left(counts: Mapping[str, int]) -> int:
    """Tasks a resume would run: queued, interrupted, or left running by a dead process."""
    return sum(counts.get(s, 0) for s in _LEFT_STATES)
