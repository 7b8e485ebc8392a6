"""The scheduler's writes to the store, batched on a thread of their own.

Why a module of its own: the scheduler's loop must never wait for SQLite, and one transaction
per state change would cap a Batch at a few thousand jobs a second. :class:`OpWriter` takes the
scheduler's changes (a job started, ended, changed state or priority) from any thread, commits
everything that queued up meanwhile in one transaction, and only then hands the ops back
(``on_committed``): a job is reported ended, and its dependents move on, once its outcome is on
disk, so ``job.wait()`` returning means ``batch.job(id).result()`` works from any process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..errors import StoreError
from ..store import Store

__all__ = ["OpWriter"]

Op = tuple[Any, ...]


class OpWriter:
    """A thread committing queued ops in batches; ``on_committed(ops, error)`` gets each batch
    after its commit (``error``: the StoreError that lost it, the ops are then dropped)."""

    def __init__(
        self, store: Store, on_committed: Callable[[list[Op], StoreError | None], None]
    ) -> None:
        self.store = store
        self._on_committed = on_committed
        self._cond = threading.Condition()
        self._ops: list[Op] = []
        self._busy = False
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="tui-batch-sched-writer",
                                        daemon=True)
        self._thread.start()

    def put(self, op: Op) -> None:
        with self._cond:
            self._ops.append(op)
            if len(self._ops) == 1:
                self._cond.notify()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is committed (and handed back)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._ops and not self._busy, timeout)

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._ops or self._stop)
                if not self._ops and self._stop:
                    return
                ops, self._ops = self._ops, []
                self._busy = True
            error: StoreError | None = None
            try:
                self.store.apply_sched_ops(ops)
            except StoreError as exc:
                error = exc
            try:
                self._on_committed(ops, error)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
