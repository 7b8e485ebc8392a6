"""What a script holds: a :class:`Batch` (one store, one scheduler) and its :class:`Job` and
:class:`Group` objects.

A Batch hands out exactly one live ``Job`` object per job id, so that a control made from any
thread reaches the object whose run is in progress. Its scheduler (:mod:`tui_batch.scheduler`)
starts on first use: on a thread of its own (``with Batch() as batch``, or no ``with`` at all),
or on the caller's loop (``async with Batch() as batch``). Call jobs (``submit_call``) always run
there; a file job (``submit``) runs there once it is given a place (``name``, ``priority``,
``after``, ``after_any``, ``group`` or ``start=True``), and otherwise keeps its own
``job.run()`` as before. One worker limit covers all the batch's jobs (a running file job takes
one slot; its tasks use its own ``workers`` setting).
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..jobs import EXIT_FAILED, EXIT_OK, create_job, plan_job
from ..jobs.states import DONE, INTERRUPTED
from ..model import JobSpec
from ..scheduler import ErrorInfo, GroupInfo, Host, resume_unfinished
from ..store import Store
from .group import Group
from .job import Job

__all__ = ["Batch", "Job"]


def _ids(jobs: Iterable[Any] | Any, field: str) -> list[int]:
    """Job ids from Job objects or ints (one or several)."""
    items: Iterable[Any] = [jobs] if isinstance(jobs, (Job, int)) else jobs
    out = []
    for j in items:
        if isinstance(j, Job):
            out.append(j.id)
        elif isinstance(j, int) and not isinstance(j, bool):
            out.append(j)
        else:
            from ..errors import InputError

            raise InputError(field, f"not a job or a job id: {j!r}")
    return out


class Batch:
    """Entry point of the API: a job store and the scheduler that runs its jobs.

    ``workers``: how many jobs run at once (default: ``min(32, cpus + 4)``);
    ``max_queue_size``: how many submitted jobs may wait to start (``submit_call`` blocks, or
    raises :class:`~tui_batch.scheduler.QueueFull` with ``block=False``); ``grace``: seconds
    :meth:`close` waits for running jobs before marking them interrupted (resumable)."""

    def __init__(
        self, db: str | os.PathLike[str] | None = None, workers: int | None = None, *,
        max_queue_size: int | None = None, grace: float = 30.0,
    ) -> None:
        self.store = Store(db)
        self.workers = workers or min(32, (os.cpu_count() or 1) + 4)
        self.max_queue_size = max_queue_size
        self.grace = grace
        self._host: Host | None = None
        self._attach = False
        # One live Job object per job id: a control must reach the object whose run() is in
        # progress (another object would find the run lock taken and could only refuse).
        self._jobs: weakref.WeakValueDictionary[int, Job] = weakref.WeakValueDictionary()
        self._jobs_lock = threading.RLock()

    # ------------------------------------------------------------------ life cycle
    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Batch:
        self._attach = True
        self._host_or_fail()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def close(self, grace: float | None = None) -> None:
        """Start no more jobs, wait up to ``grace`` seconds for running ones (those still
        running then are stopped and marked interrupted), store everything, close."""
        if self._host is not None:
            self._host.close(grace)
        self.store.close()

    async def aclose(self, grace: float | None = None) -> None:
        """:meth:`close` from a coroutine."""
        host = self._host
        if host is not None:
            if self._attach:
                await host.aclose(grace)
            else:
                await asyncio.to_thread(host.close, grace)
        self.store.close()

    def _host_or_fail(self) -> Host:
        with self._jobs_lock:
            if self._host is None:
                host = Host(self.store, self.workers, self.max_queue_size, self.grace)
                host.sched.run_files = self._run_files
                if self._attach:
                    host.attach()
                else:
                    host.start_thread()
                self._host = host
            return self._host

    # ------------------------------------------------------------------ jobs
    def submit_call(
        self, func: Callable[..., Any] | str, args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None, *, name: str | None = None,
        priority: str | int = "normal", retries: int = 0, backoff: float | None = None,
        timeout: float | None = None, kind: str | None = None, after: Any = (),
        after_any: Any = (), group: Group | int | None = None, block: bool = True,
        block_timeout: float | None = None,
    ) -> Job:
        """Run ``func(*args, **kwargs)`` as a job; returns at once with its :class:`Job`.

        ``func``: a function or a ``"module:function"`` reference (an importable function
        with JSON arguments survives a restart; a lambda or a closure runs in this process
        only). ``kind``: ``io`` (a thread; the default), ``cpu`` (a worker process) or
        ``async`` (the default for coroutine functions). ``retries`` more attempts after a
        failure, ``backoff`` seconds before the first (doubling, +/-10 % jitter), ``timeout``
        seconds per attempt. ``after``: jobs that must all be done first (one failing or
        cancelled ends this one ``dependency failed``); ``after_any``: jobs that must have
        ended, however. ``block=False``: raise QueueFull instead of waiting for room."""
        host = self._host_or_fail()
        e = host.submit_call(
            func, args, kwargs, name=name, priority=priority, retries=retries,
            backoff=backoff, timeout=timeout, kind=kind, after=_ids(after, "after"),
            after_any=_ids(after_any, "after_any"), group=self._group_info(group),
            block=block, block_timeout=block_timeout,
        )
        return self._job_object(e.id)

    def submit(
        self, spec: JobSpec, *, name: str | None = None, priority: str | int | None = None,
        after: Any = (), after_any: Any = (), group: Group | int | None = None,
        start: bool | None = None,
    ) -> Job:
        """Plan (scan, dedupe) and store a file job. Raises InputError on a bad spec.

        Without scheduling arguments nothing runs yet (``job.run()`` runs it here); with any
        of them, or ``start=True``, it joins the batch's scheduler like a call job."""
        plan = plan_job(spec, store=self.store)
        job_id = create_job(self.store, plan)
        after_ids, any_ids = _ids(after, "after"), _ids(after_any, "after_any")
        if start is None:
            start = bool(after_ids or any_ids or group is not None or priority is not None
                         or name is not None)
        if start:
            self._host_or_fail().schedule_files(
                job_id, name=name or spec.name, priority=priority or "normal",
                after=after_ids, after_any=any_ids, group=self._group_info(group),
            )
        return self._job_object(job_id)

    async def _run_files(self, job_id: int) -> tuple[str, ErrorInfo | None]:
        """How the scheduler runs a file job: the job's own run, on the scheduler's loop."""
        job = self._job_object(job_id)
        await job.run_async()
        rec = self.store.get_job(job_id)
        if rec.state in (DONE, INTERRUPTED):
            return rec.state, None
        counts = self.store.task_counts(job_id)
        bad = {k: v for k, v in counts.items() if k in ("failed", "cancelled") and v}
        text = ", ".join(f"{v} {k}" for k, v in bad.items()) or rec.error or rec.state
        return rec.state, ErrorInfo("TasksFailed", f"{text} of {sum(counts.values())} tasks")

    def group(
        self, name: str | None = None, sequential: bool = False,
        cancel_on_failure: bool = False, workers: int | None = None,
    ) -> Group:
        """A stored group; jobs join it with ``group=``. ``sequential``: one job at a time
        in submission order; ``workers``: at most that many at once; ``cancel_on_failure``:
        a failed job ends the rest as cancelled."""
        info = self._host_or_fail().group(name, sequential, cancel_on_failure, workers)
        return Group(self, info)

    def _group_info(self, group: Group | int | None) -> GroupInfo | None:
        if group is None:
            return None
        gid = group.id if isinstance(group, Group) else int(group)
        return self._host_or_fail().known_group(gid)

    def job(self, job_id: int) -> Job:
        """Any stored job, e.g. one submitted before a restart or by another process (the
        same object while one is in use)."""
        self.store.get_job(job_id)
        return self._job_object(job_id)

    def resume_unfinished(self) -> list[Job]:
        """Pick up every unfinished stored job (call jobs and file jobs) that no live process
        holds, in submission order; returns them. Done jobs never run again; a job that was
        running runs again; a lambda's job ends interrupted ("not resumable: ...")."""
        ids = resume_unfinished(self._host_or_fail())
        return [self._job_object(i) for i in ids]

    def _job_object(self, job_id: int) -> Job:
        with self._jobs_lock:
            job = self._jobs.get(job_id)
            if job is None:
                job = self._jobs[job_id] = Job(self, job_id)
            return job

    async def run_group_async(
        self, jobs: Sequence[Job], *, mode: str = "sequential", cancel_on_failure: bool = False
    ) -> int:
        """Run jobs one after another or all at once. With ``cancel_on_failure``, the first
        failing job stops the others (they stay resumable) / the ones after it never start."""
        if mode not in ("sequential", "parallel"):
            raise ValueError("mode must be 'sequential' or 'parallel'")
        codes: list[int] = []
        if mode == "sequential":
            for job in jobs:
                code = await job.run_async()
                codes.append(code)
                if code != EXIT_OK and cancel_on_failure:
                    break
        else:
            async def one(job: Job) -> int:
                code = await job.run_async()
                if code != EXIT_OK and cancel_on_failure:
                    for other in jobs:
                        if other is not job:
                            other.stop()
                return code

            codes = list(await asyncio.gather(*(one(j) for j in jobs)))
        return max(codes, default=EXIT_OK) if all(c in (0, 1, 130) for c in codes) else EXIT_FAILED

    def run_group(self, jobs: Sequence[Job], **kw: Any) -> int:
        return asyncio.run(self.run_group_async(jobs, **kw))
