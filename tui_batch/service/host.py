"""The jobs the per-user service runs, under one worker limit and one priority order.

Why this module: it is the service's state, apart from its socket (:mod:`.server`) and its
process (:mod:`.process`). Each job is a :class:`~tui_batch.jobs.JobRunner` (which serves
the job's own control socket, so `tui-batch pause/cancel/workers/wait JOB` work as for any
job) whose engine holds the service's :class:`~tui_batch.engine.SharedLimit` (or the limit of
its group, inside the global one). Every job is written to the :class:`~.registry.Registry`
before it starts and taken out when it ends, so a service killed at any moment finds its jobs
at the next start (:meth:`Service.restore`): the runner marks the tasks that were running
interrupted and runs them again (at-least-once), queued work continues, done tasks never
rerun. A watch (`watch --detach`, kind ``watch``) is a :class:`~.watching.WatchRunner` under
the same limits; after a restart its Watcher finds its job by the watch's identity, runs what
was left and its start-up scan queues the files that arrived while the service was down.

`service stop` stops every job resumably (interrupted) and takes it out of the registry: the
user finishes it with `tui-batch resume`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from ..control.target import stats_dict
from ..engine import SharedLimit
from ..errors import ControlError, InputError, StoreError
from ..jobs import JobRunner
from ..jobs.deps import READY
from ..jobs.states import CREATED, FINAL_STATES, QUEUED, RUNNING, WAITING
from ..model import limits
from ..store import Store
from .deps import DepWait
from .registry import Entry, Registry
from .watching import WatchRunner

__all__ = ["Service", "ServiceJob"]

log = logging.getLogger(__name__)

GROUP_NAME_MAX = 64
LIVE_WATCH_STATES = frozenset({CREATED, QUEUED, WAITING, RUNNING})
"""A watch's job states that say the service died with it in its care: one stopped since
(interrupted or done: by `service stop`, or by a foreground session that took it up after the
crash) is not started again behind the user's back."""


def check_group_name(name: object) -> str:
    """A group name: a short word (letters, digits, ``-``, ``_``, ``.``)."""
    if not isinstance(name, str) or not name or len(name) > GROUP_NAME_MAX or not all(
        c.isalnum() or c in "-_." for c in name
    ):
        raise InputError("NAME", f"group name {name!r} must be 1 to {GROUP_NAME_MAX} letters, "
                                 "digits, '-', '_' or '.'")
    return name


def check_workers(n: object, field: str = "--workers") -> int:
    if not isinstance(n, int) or isinstance(n, bool):
        raise InputError(field, "must be a whole number")
    return int(limits.CLI_WORKERS.check(n, field))


@dataclass(eq=False)
class ServiceJob:
    """One job in the service's care."""

    entry: Entry
    store: Store
    runner: JobRunner | WatchRunner | None = None
    deps: DepWait | None = None
    task: asyncio.Task[None] | None = None
    started: float = 0.0
    code: int | None = None

    def row(self) -> dict[str, Any]:
        """The job as `service status` shows it."""
        e = self.entry
        out: dict[str, Any] = {"db": e.db, "job_id": e.job_id, "group": e.group,
                               "kind": e.kind, "since": self.started}
        runner = self.runner
        if runner is None:
            reason = self.deps.reason if self.deps is not None else None
            out.update(state=WAITING if self.deps is not None else "starting", reason=reason,
                       name=None, stats=None)
            return out
        engine = runner.engine
        state = "stopping" if runner.stopped else "paused" if engine.paused else "running"
        out.update(state=state, workers=engine.workers, stats=stats_dict(engine.snapshot()))
        if isinstance(runner, WatchRunner):
            out.update(name=runner.name, watch=runner.info())
        else:
            out.update(name=runner.spec.name)
        return out


class Service:
    """The service's jobs, limits and groups; every method runs on the service's loop."""

    def __init__(self, registry: Registry, workers: int | None = None) -> None:
        self.registry = registry
        n = workers or registry.workers or os.cpu_count() or 1
        self.limit = SharedLimit(n, name=None)
        self.groups: dict[str, SharedLimit] = {
            name: SharedLimit(k, parent=self.limit, name=name)
            for name, k in registry.groups.items()
        }
        if workers is not None and workers != registry.workers:
            registry.workers = workers
            registry.save()
        self.jobs: dict[tuple[str, int], ServiceJob] = {}
        self.stopping = False
        self.stopped = asyncio.Event()
        self._stores: dict[str, tuple[Store, int]] = {}
        self._stopper: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ stores
    async def _open_store(self, db: str) -> Store:
        held = self._stores.get(db)
        if held is not None:
            self._stores[db] = (held[0], held[1] + 1)
            return held[0]
        if not os.path.exists(db):
            raise ControlError(f"no job store at {db}")
        store = await asyncio.to_thread(Store, db)
        held = self._stores.get(db)  # another submit may have opened it meanwhile
        if held is not None:
            await asyncio.to_thread(store.close)
            self._stores[db] = (held[0], held[1] + 1)
            return held[0]
        self._stores[db] = (store, 1)
        return store

    async def _release_store(self, db: str) -> None:
        store, n = self._stores[db]
        if n > 1:
            self._stores[db] = (store, n - 1)
            return
        del self._stores[db]
        try:
            await asyncio.to_thread(store.close)
        except StoreError as exc:
            log.error("job store %s: %s", db, exc)

    # ------------------------------------------------------------------ jobs
    def _gate(self, group: str | None) -> SharedLimit:
        if group is None:
            return self.limit
        gate = self.groups.get(group)
        if gate is None:
            raise InputError("--group", f"no group {group!r} (make it with: tui-batch group "
                                        f"add {group} --workers N)")
        return gate

    async def submit(self, entry: Entry, *, restoring: bool = False) -> dict[str, Any]:
        """Take a stored job in: it runs (or waits for its ``after`` jobs) in the service.
        Raises ControlError / InputError / StoreError with the reason it cannot."""
        if self.stopping:
            raise ControlError("the service is stopping; it takes no new job")
        entry.db = os.path.realpath(entry.db)
        if entry.key in self.jobs:
            raise ControlError(f"job {entry.job_id} already runs in the service")
        gate = self._gate(entry.group)
        store = await self._open_store(entry.db)
        job = ServiceJob(entry, store, started=time.time())
        self.jobs[entry.key] = job  # from here the key is taken (no second submit)
        try:
            rec = await asyncio.to_thread(store.get_job, entry.job_id)
            if restoring and rec.state in FINAL_STATES:
                raise ControlError(f"job {entry.job_id} has ended ({rec.state})")
            if restoring and entry.kind == "watch" and rec.state not in LIVE_WATCH_STATES:
                raise ControlError(f"watch job {entry.job_id} was stopped since ({rec.state})")
            deps = DepWait(store, entry.job_id)
            if deps.needed:
                job.deps = deps
            else:
                job.runner = await self._runner(job, gate)
            if not restoring:
                self.registry.add(entry)
        except BaseException:
            self.jobs.pop(entry.key, None)
            await self._release_store(entry.db)
            raise
        job.task = asyncio.get_running_loop().create_task(self._run(job, gate))
        log.info("job %d of %s %s%s", entry.job_id, entry.db,
                 "waits for its dependencies" if job.deps else "runs",
                 f" (group {entry.group})" if entry.group else "")
        return {"job_id": entry.job_id, "db": entry.db,
                "state": WAITING if job.deps else "running", "group": entry.group}

    async def _run(self, job: ServiceJob, gate: SharedLimit) -> None:
        entry = job.entry
        ended = False
        try:
            if job.deps is not None and not await self._wait_deps(job, gate):
                ended = True
                return
            runner = job.runner
            assert runner is not None
            try:
                if self.stopping:  # stopped while it was being set up: it never started
                    ended = True
                    return
                job.code = await runner.run()
            finally:
                await runner.aclose()
            ended = True
            log.info("job %d of %s ended (exit %s)", entry.job_id, entry.db, job.code)
        except Exception:
            ended = True  # it cannot run here; the next start would fail the same way
            log.exception("job %d of %s failed in the service", entry.job_id, entry.db)
        finally:
            self.jobs.pop(entry.key, None)
            if ended:
                self.registry.remove(entry.key)
            await self._release_store(entry.db)

    async def _runner(self, job: ServiceJob, gate: SharedLimit) -> JobRunner | WatchRunner:
        """The job's runner, built in a thread (it reads the store); a watch's Watcher finds
        its job by the watch's identity, which must still be the job handed over."""
        entry = job.entry
        if entry.kind != "watch":
            return await asyncio.to_thread(JobRunner, job.store, entry.job_id, gate=gate)
        runner = await asyncio.to_thread(WatchRunner, job.store, entry, gate)
        if runner.job_id != entry.job_id:  # its job was deleted and replaced meanwhile
            await runner.aclose()
            raise ControlError(f"job {entry.job_id} is no longer the job of this watch (now "
                               f"job {runner.job_id}); detach it again")
        return runner

    async def _wait_deps(self, job: ServiceJob, gate: SharedLimit) -> bool:
        """Wait for the job's ``after`` jobs; True when it may run (its runner is built)."""
        deps = job.deps
        assert deps is not None
        try:
            verdict, reason = await asyncio.to_thread(deps.wait)
            if verdict != READY:
                log.info("job %d of %s: %s", job.entry.job_id, job.entry.db, reason)
                return False
            if self.stopping:
                return False
            job.runner = await self._runner(job, gate)
        finally:
            deps.release()
        job.deps = None
        return True

    async def restore(self) -> None:
        """Take the registry's jobs in again (the service died with them in its care)."""
        for entry in list(self.registry.jobs):
            try:
                await self.submit(entry, restoring=True)
            except (ControlError, InputError, StoreError, OSError) as exc:
                log.warning("job %d of %s not restored: %s", entry.job_id, entry.db, exc)
                self.registry.remove(entry.key)
            else:
                log.info("job %d of %s restored after a restart", entry.job_id, entry.db)

    # ------------------------------------------------------------------ limits and groups
    def set_workers(self, n: object) -> int:
        self.limit.set_limit(check_workers(n))
        self.registry.workers = self.limit.limit
        self.registry.save()
        return self.limit.limit

    def add_group(self, name: object, workers: object, *,
                  replace: bool = False) -> dict[str, Any]:
        name = check_group_name(name)
        n = check_workers(workers)
        gate = self.groups.get(name)
        if gate is not None and not replace:
            raise InputError("NAME", f"group {name!r} already exists ({gate.limit} workers); "
                                     f"change it with: tui-batch group set {name} --workers N")
        if gate is None:
            if replace:
                raise InputError("NAME", f"no group {name!r}")
            self.groups[name] = gate = SharedLimit(n, parent=self.limit, name=name)
        else:
            gate.set_limit(n)
        self.registry.groups[name] = n
        self.registry.save()
        return self._group_row(name, gate)

    def remove_group(self, name: object) -> str:
        name = check_group_name(name)
        if name not in self.groups:
            raise InputError("NAME", f"no group {name!r}")
        users = sorted(j.entry.job_id for j in self.jobs.values() if j.entry.group == name)
        if users:
            shown = ", ".join(str(i) for i in users)
            raise InputError("NAME", f"group {name!r} has jobs in the service ({shown}); "
                                     "remove it once they ended")
        del self.groups[name]
        self.registry.groups.pop(name, None)
        self.registry.save()
        return name

    def _group_row(self, name: str, gate: SharedLimit) -> dict[str, Any]:
        jobs = [j.entry.job_id for j in self.jobs.values() if j.entry.group == name]
        return {"name": name, "workers": gate.limit, "running": gate.in_use, "jobs": jobs}

    def group_rows(self) -> list[dict[str, Any]]:
        return [self._group_row(n, g) for n, g in sorted(self.groups.items())]

    def status(self) -> dict[str, Any]:
        return {"workers": self.limit.limit, "running_tasks": self.limit.in_use,
                "waiting_workers": self.limit.waiting, "groups": self.group_rows(),
                "jobs": [j.row() for j in self.jobs.values()], "stopping": self.stopping}

    # ------------------------------------------------------------------ stopping
    def begin_stop(self) -> int:
        """Stop every job resumably; :attr:`stopped` is set once all have saved. Returns
        how many jobs are being stopped."""
        if not self.stopping:
            self.stopping = True
            self._stopper = asyncio.get_running_loop().create_task(self._stop_all())
        return len(self.jobs)

    async def _stop_all(self) -> None:
        jobs = list(self.jobs.values())
        for job in jobs:
            if job.deps is not None:
                job.deps.stop()
            if job.runner is not None:
                job.runner.stop()
        tasks = [j.task for j in jobs if j.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for db in list(self._stores):
            store, _n = self._stores.pop(db)
            with contextlib.suppress(StoreError):
                await asyncio.to_thread(store.close)
        self.stopped.set()
