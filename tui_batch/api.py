"""The Python API: the same jobs the CLI and TUI run, from a script.

    from tui_batch import Batch, JobSpec, FilterSpec, ActionSpec

    spec = JobSpec(FilterSpec(roots=["logs"], extensions=[".log"]),
                   ActionSpec(template="gzip -k {}"))
    with Batch(db="jobs.db") as batch:
        job = batch.submit(spec)          # scan + dedupe + store; nothing runs yet
        code = job.run()                  # blocking; or `await job.run_async()`
        for task in job.results():        # TaskRecord rows from the store
            ...

Groups run several jobs sequentially or in parallel, optionally cancelling the rest when one
fails; a job can wait for other jobs (``depends_on``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

from .engine import Event
from .jobs import EXIT_FAILED, EXIT_OK, JobRunner, create_job, plan_job
from .model import JobSpec
from .store import Store, TaskRecord


class Job:
    """A stored job: run it, watch it, control it, read its results."""

    def __init__(self, batch: Batch, job_id: int) -> None:
        self.batch = batch
        self.id = job_id
        self.runner: JobRunner | None = None
        self._listeners: list[Callable[[Event], None]] = []

    def on_event(self, callback: Callable[[Event], None]) -> None:
        """Receive engine events (TaskEvent, StatsEvent, EngineEvent) while the job runs."""
        self._listeners.append(callback)

    async def run_async(self) -> int:
        """Run what is left of the job; returns 0, 1 or 130 like the CLI."""
        runner = JobRunner(self.batch.store, self.id)
        for cb in self._listeners:
            runner.engine.subscribe(cb)
        self.runner = runner
        try:
            return await runner.run()
        finally:
            await runner.aclose()

    def run(self) -> int:
        """Blocking version of :meth:`run_async` (not from inside a running event loop)."""
        return asyncio.run(self.run_async())

    # live controls (valid while run/run_async is in progress)
    def pause(self) -> None:
        self._engine().pause()

    def resume(self) -> None:
        self._engine().resume()

    def cancel(self, task_id: int | None = None) -> None:
        """Cancel one task, or all of them."""
        if task_id is None:
            self._engine().cancel_all()
        else:
            self._engine().cancel(task_id)

    def stop(self) -> None:
        """Stop like Ctrl-C: the job stays resumable."""
        if self.runner is not None:
            self.runner.stop()

    def _engine(self) -> Any:
        if self.runner is None:
            raise RuntimeError("the job is not running")
        return self.runner.engine

    def results(self) -> list[TaskRecord]:
        return self.batch.store.load_tasks(self.id)

    def counts(self) -> dict[str, int]:
        return self.batch.store.task_counts(self.id)

    @property
    def state(self) -> str:
        return self.batch.store.get_job(self.id).state


class Batch:
    """Entry point of the API: owns a job store connection."""

    def __init__(self, db: str | os.PathLike[str] | None = None) -> None:
        self.store = Store(db)

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    def submit(self, spec: JobSpec) -> Job:
        """Plan (scan, dedupe) and store a job. Raises InputError on a bad spec."""
        plan = plan_job(spec, store=self.store)
        return Job(self, create_job(self.store, plan))

    def job(self, job_id: int) -> Job:
        """An existing job, e.g. to resume it."""
        self.store.get_job(job_id)
        return Job(self, job_id)

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
