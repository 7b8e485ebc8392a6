"""The watch's job: one job per watch identity, found again after a restart.

Tasks live in one job per watch identity (roots + filter + action or steps + ``--out``, or
``--watch-id``). Restarting the same watch reuses that job, runs what it left queued or running
(at-least-once for those, as ``resume``), and ``tui-batch jobs`` shows its counts growing. This
module owns that life cycle in the store (identity, find or create, take over the leftovers,
the final state); it does not run the engine or watch anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from ..engine import Task
from ..errors import TuiBatchError
from ..jobs import DONE, INTERRUPTED, RUNNING
from ..model import FilterSpec, JobSpec, Priority, TaskState
from ..store import KIND_TASK, SeenRow, Store, WatchState

__all__ = ["STATE_LEFT", "WatchJob", "watch_identity", "with_roots"]

STATE_LEFT = ("queued", "running", "interrupted")
"""Task states a session may leave behind (run again by the next session)."""


def watch_identity(spec: JobSpec, watch_id: str | None = None) -> tuple[str, str]:
    """``(identity, label)`` of a watch: what its remembered state and its job belong to.

    Roots, filter, action and output folder decide it, so the same command line finds its
    state again after a restart and a different filter or action starts afresh. Relative
    ``--newer``/``--older`` values are left out (they are re-anchored at every start).
    ``--watch-id NAME`` names it instead (keep the state while changing the command).
    """
    if watch_id:
        return f"id:{watch_id}", watch_id
    flt = spec.filter.to_dict()
    flt["roots"] = [os.path.abspath(r) for r in spec.filter.roots]
    flt.pop("newer", None)
    flt.pop("older", None)
    canon: dict[str, Any] = {
        "filter": flt,
        "action": spec.action.to_dict(),
        "out": os.path.abspath(spec.settings.out_dir) if spec.settings.out_dir else None,
    }
    if spec.steps:  # (a one-action watch keeps the identity it always had)
        canon["steps"] = [s.to_dict() for s in spec.steps]
    digest = hashlib.sha256(json.dumps(canon, sort_keys=True).encode("utf-8", "surrogateescape"))
    label = " ".join(flt["roots"])
    return f"auto:{digest.hexdigest()[:16]}", label


def with_roots(spec: JobSpec, roots: list[str]) -> JobSpec:
    """``spec`` watching ``roots`` instead (absolute ones: one spelling of each path in
    events, scans, the store and the identity), its steps kept."""
    flt = FilterSpec(**{**spec.filter.to_dict(), "roots": roots})
    out = JobSpec(filter=flt, action=spec.action, settings=spec.settings, name=spec.name)
    out.set_steps(spec.steps)
    return out


class WatchJob:
    """The job of one watch identity in the store, and its row in the seen table.

    :meth:`open` finds (or creates) it; the attributes ``watch_row``, ``job_id`` and
    ``resumed`` are then set.
    """

    watch_row: int
    job_id: int
    resumed: bool

    def __init__(self, store: Store, state: WatchState, identity: str, label: str) -> None:
        self.store = store
        self.state = state
        self.identity = identity
        self.label = label

    def open(self, spec: JobSpec, *, multi_root: bool, watch: dict[str, Any]) -> None:
        """Find or create the watch's job (``watch``: the settings recorded in a new job) and
        mark what the last session left running as interrupted."""
        self.watch_row, job_id = self.state.open_watch(self.identity, self.label)
        if job_id is not None:
            try:
                self.store.get_job(job_id)
            except TuiBatchError:
                job_id = None  # the job was deleted: start a new one
        self.resumed = job_id is not None
        if job_id is None:
            data = spec.to_dict()
            data["multi_root"] = multi_root
            data["watch"] = {"identity": self.identity, **watch}
            job_id = self.store.create_job(data, name=f"watch {self.label}")
            self.state.set_job(self.watch_row, job_id)
        self.job_id = job_id
        self.store.recover_interrupted(job_id)

    def take_over(self) -> list[Task]:
        """The tasks the last session left queued or running, to run again; the seen table
        learns they are this watch's tasks."""
        left = self.store.load_tasks(self.job_id, states=STATE_LEFT)
        tasks = [
            Task(
                id=r.id, path=r.path, root=r.root, rel=r.rel, size=r.size, mtime_ns=r.mtime_ns,
                dev=r.dev, ino=r.ino, priority=Priority(r.priority), state=TaskState(r.state),
                attempts=r.attempts, exit_code=r.exit_code, error=r.error, reason=r.reason,
                retry_base=r.attempts, seq=r.seq + 1,
            )
            for r in left
        ]
        self.state.adopt_tasks(
            self.watch_row,
            [SeenRow(t.path, t.size, t.mtime_ns, t.dev, t.ino, None, KIND_TASK, t.id)
             for t in tasks],
        )
        return tasks

    def mark_running(self) -> None:
        self.store.set_job_state(self.job_id, RUNNING)

    def save(self) -> None:
        """The job's state when the watch ends: interrupted if tasks are left, else done."""
        self.store.flush()
        counts = self.store.task_counts(self.job_id)
        left = sum(counts.get(s, 0) for s in STATE_LEFT)
        self.store.set_job_state(self.job_id, INTERRUPTED if left else DONE)
