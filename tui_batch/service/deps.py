"""A service job stored with ``--after JOB``: wait, in the service, until those jobs are done.

The same rules and words as the foreground wait of ``tui-batch run --after`` (the CLI's
``after_wait``), on the same ground: the store, polled by
:func:`tui_batch.jobs.deps.wait_for_jobs` (the jobs waited for may run in any process).
While it waits the service holds a host lock named in the job's spec (``spec.host``), so
`tui-batch jobs` shows it waiting in a live process, and interrupted once the service is gone
(the next service start waits again). A dependency that failed, was cancelled or could not run
ends the job ``dependency failed``: its tasks never start.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping

from ..jobs.deps import READY, STOPPED, wait_for_jobs
from ..jobs.states import DEPENDENCY_FAILED, INTERRUPTED, QUEUED, WAITING
from ..store import Store, WatchLock, identity_key

__all__ = ["DepWait"]


class DepWait:
    """The wait of one stored job for its links, run in a thread; :meth:`stop` ends it."""

    def __init__(self, store: Store, job_id: int) -> None:
        self.store = store
        self.job_id = job_id
        self.after, self.after_any = store.sched_links(job_id)
        self.reason: str | None = None
        self._stop = threading.Event()
        self._lock: WatchLock | None = None

    @property
    def needed(self) -> bool:
        return bool(self.after or self.after_any)

    def stop(self) -> None:
        self._stop.set()

    def release(self) -> None:
        """Let go of the host lock (once the job's runner holds its run lock)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _on_change(self, verdict: str, reason: str | None,
                   states: Mapping[int, tuple[str, str | None]]) -> None:
        self.reason = reason
        if verdict == WAITING:
            self.store.apply_sched_ops([("state", self.job_id, WAITING, reason)])

    def wait(self) -> tuple[str, str | None]:
        """Blocking: ``(READY | DEPENDENCY_FAILED | STOPPED, reason)``, the store updated
        (queued, dependency failed, or interrupted while waiting). The host lock is still
        held after READY: call :meth:`release` once the runner took the run lock."""
        identity = f"tui-batch-service:{uuid.uuid4().hex}"
        lock = WatchLock(self.store.path, identity_key(identity))
        lock.acquire("JOB")
        self._lock = lock
        self.store.adopt_jobs([self.job_id], identity)
        verdict, reason = wait_for_jobs(self.store, self.after, self._stop,
                                        after_any=self.after_any, on_change=self._on_change)
        jid = self.job_id
        if verdict == READY:
            self.store.apply_sched_ops([("state", jid, QUEUED, None)])
            return verdict, None
        self.release()
        if verdict == STOPPED:
            why = f"stopped while {reason}" if reason else "stopped while waiting"
            self.store.apply_sched_ops([("state", jid, INTERRUPTED, why)])
            return verdict, why
        rec = self.store.get_sched(jid)
        self.store.apply_sched_ops([(
            "end", jid, DEPENDENCY_FAILED, reason, 0 if rec is None else rec.attempts,
            time.time(), None, None, "DependencyFailed", reason, "",
        )])
        return verdict, reason
