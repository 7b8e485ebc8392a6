"""The store's file locks: a job's run lock, a watch's lock, and who holds them.

Why a module of its own: the job store only knows what was last written. A run killed by
``kill -9`` (or a crash, or a reboot) leaves its job ``running`` with tasks ``running``, and
every screen that shows jobs (``tui-batch jobs``, its ``--json``, the TUI's jobs screen) must
not repeat that. The truth is the job's lock: an ``flock`` that the kernel releases when its
holder dies, so a crashed run never leaves a stale lock behind. This module takes those locks
and is the one place that reads them (:func:`job_liveness`), without taking them for more
than an instant and without creating anything (it is used by read-only commands).

* ``<db>.locks/<job id>``: the run lock, taken by :func:`lock_job` for ``run`` / ``resume``.
* ``.<db name>.watch-<key>.lock`` beside the database: the watch lock (:class:`WatchLock`),
  held by a running watch for its job.

Both files hold the pid of their holder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from .core import Store

__all__ = [
    "WatchLock",
    "effective_counts",
    "effective_state",
    "flock_exclusive",
    "identity_key",
    "job_liveness",
    "job_lock_path",
    "lock_job",
    "tasks_left",
    "unlock_job",
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


# ---- the run lock ------------------------------------------------------------------------

_held_locks: dict[int, tuple[int, int]] = {}
"""Run-lock fds this process took -> (st_dev, st_ino) of the lock file (see below)."""


def _close_locks_in_child() -> None:
    # A forked pool worker must not keep the job's run lock after a kill -9 of its parent
    # (the job would look alive, and refuse resume, while the worker finishes its item).
    # Only fds that still are that lock file: a caller may have closed one itself, and the
    # number may now belong to something else.
    for fd, ident in list(_held_locks.items()):
        with contextlib.suppress(OSError):
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == ident:
                os.close(fd)
    _held_locks.clear()


os.register_at_fork(after_in_child=_close_locks_in_child)


def lock_job(store: Store, job_id: int) -> int:
    """Take the job's run lock (an flock beside the database) or refuse.

    Two processes resuming one job would both mark the other's running tasks interrupted and
    run them again. flock is released by the kernel when the holder dies, even by kill -9, so
    a crashed run never leaves a stale lock behind. The file is readable by others (0644, it
    holds only the pid) so that :func:`job_liveness` can tell them who runs the job.
    """
    path = job_lock_path(store.path, job_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        flock_exclusive(fd)
    except BlockingIOError:
        owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise InputError(
            "JOB_ID", f"job {job_id} is already running in another process (pid {owner})"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    st = os.fstat(fd)
    _held_locks[fd] = (st.st_dev, st.st_ino)
    return fd


def unlock_job(fd: int) -> None:
    """Release a run lock taken by :func:`lock_job`."""
    _held_locks.pop(fd, None)
    os.close(fd)


# ---- the watch lock ----------------------------------------------------------------------


def identity_key(identity: str) -> str:
    """The short key of a watch identity that names its lock file (``WatchLock``)."""
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


class WatchLock:
    """One running watch per identity and database: two would both queue every file.

    An ``flock`` on a small file beside the database; the kernel releases it when the process
    dies, so a crash never leaves a stale lock behind. :func:`job_liveness` reads it (a
    shared lock for an instant) to tell a live watch's job from a dead one's.
    """

    def __init__(self, db_path: str, identity_key: str) -> None:
        folder, base = os.path.split(os.path.abspath(db_path))
        self.path = os.path.join(folder, f".{base}.watch-{identity_key}.lock")
        self._fd: int | None = None

    def acquire(self, field: str = "--watch-id") -> None:
        """Take the lock or raise :class:`InputError` naming the process that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            flock_exclusive(fd)
        except OSError as e:
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                holder = os.pread(fd, 64, 0).decode().strip()
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EACCES):
                who = f" (pid {holder})" if holder else ""
                raise InputError(
                    field,
                    f"this folder is already being watched with the same filter and action by "
                    f"another tui-batch{who}; stop it first, or give a different --watch-id",
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (the pid is cleared first, so nobody reads a stale one)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


# ---- who holds them ----------------------------------------------------------------------


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
    # A Batch host holds one lock for all its call jobs (spec.host), as a watch does.
    watch = (spec.get("watch") or spec.get("host")) if isinstance(spec, Mapping) else None
    identity = watch.get("identity") if isinstance(watch, Mapping) else None
    if held is not True and isinstance(identity, str):
        # A watch runs its job under its watch lock (a resume would take the run lock).
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
