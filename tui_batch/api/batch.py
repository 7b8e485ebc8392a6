"""What a script holds: a :class:`Batch` (one store connection) and the :class:`Job` objects.

They live together because each needs the other: a ``Job`` reads and writes through its
batch's store, and the batch hands out exactly one live ``Job`` object per job id, so that a
control made from any thread reaches the object whose run is in progress. Handing a control to
the loop that runs the engine is :mod:`.bridge`'s job; planning, creating and running a job are
the job system's (:mod:`tui_batch.jobs`): nothing here scans, schedules or spawns anything.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast, overload

from ..engine import EngineEvent, Event
from ..errors import StoreError
from ..jobs import CANCELLED, EXIT_FAILED, EXIT_OK, JobRunner, create_job, plan_job
from ..model import JobSpec, TaskState
from ..store import Store, TaskRecord, lock_job
from .bridge import ENDED, JobNotRunning, LoopBridge

__all__ = ["Batch", "Job"]

T = TypeVar("T")

_OPEN_STATES = (TaskState.QUEUED.value, TaskState.RUNNING.value, TaskState.INTERRUPTED.value)
"""Task states that a run would still start (or start again)."""


class Job:
    """A stored job: run it, watch it, control it, read its results.

    Every method may be called from any thread. While :meth:`run` (or :meth:`run_async`) is in
    progress, the controls (:meth:`pause`, :meth:`resume`, :meth:`cancel`, :meth:`stop`,
    :meth:`on_event`) are handed to the loop that runs the engine and return once the engine
    has applied them (a cancelled running task is then being stopped; :class:`TimeoutError`
    after :attr:`control_timeout` seconds if that loop does not respond, e.g. because a task's
    own code blocks it, and the control is then dropped). Outside a run, :meth:`cancel` works
    on the store, :meth:`stop` does nothing and :meth:`pause` / :meth:`resume` raise
    :class:`JobNotRunning`.
    """

    control_timeout: float = 30.0
    """Seconds a control made from another thread waits for the job's event loop."""

    def __init__(self, batch: Batch, job_id: int) -> None:
        self.batch = batch
        self.id = job_id
        self.runner: JobRunner | None = None
        self._listeners: list[Callable[[Event], None]] = []
        self._subscribed: list[Callable[[Event], None]] = []  # on the current run's engine
        self._bridge = LoopBridge()

    def on_event(self, callback: Callable[[Event], None]) -> None:
        """Receive engine events (TaskEvent, StatsEvent, EngineEvent) while the job runs, on
        the thread that runs it; added during a run, it takes effect at once."""
        self._listeners.append(callback)
        self._control(lambda runner: self._subscribe(runner, callback), lambda _own: None)

    def _subscribe(self, runner: JobRunner, callback: Callable[[Event], None]) -> None:
        if callback not in self._subscribed:  # once per run, even if added while it starts
            self._subscribed.append(callback)
            runner.engine.subscribe(callback)

    async def run_async(self) -> int:
        """Run what is left of the job; returns 0, 1 or 130 like the CLI."""
        bridge = self._bridge
        bridge.begin(f"job {self.id}")
        try:
            runner = JobRunner(self.batch.store, self.id)
            self.runner = runner

            def on_engine_event(ev: Event) -> None:
                # From here on the engine starts nothing more: controls act on the store.
                if type(ev) is EngineEvent and ev.kind == "finished":
                    bridge.engine_done()

            runner.engine.subscribe(on_engine_event)  # before the listeners, which may react
            self._subscribed = []
            for cb in list(self._listeners):
                self._subscribe(runner, cb)
            try:
                return await runner.run()
            finally:
                bridge.engine_done()
                await runner.aclose()
        finally:
            bridge.end()

    def run(self) -> int:
        """Blocking version of :meth:`run_async` (not from inside a running event loop)."""
        return asyncio.run(self.run_async())

    # ------------------------------------------------------------------ live controls
    def pause(self) -> None:
        """No new task starts (once this returns); running ones finish."""
        self._control(lambda runner: runner.engine.pause(), self._only_live("pause"))

    def resume(self) -> None:
        """Start tasks again after :meth:`pause`."""
        self._control(lambda runner: runner.engine.resume(), self._only_live("resume"))

    @overload
    def cancel(self, task_id: None = None) -> None: ...
    @overload
    def cancel(self, task_id: int) -> bool: ...

    def cancel(self, task_id: int | None = None) -> bool | None:
        """Cancel one task (True if it was waiting or running), or all of them.

        Outside a run the tasks are marked cancelled in the store, so that a later run or
        ``resume`` does not start them."""
        if task_id is None:

            def cancel_stored(own_lock: bool) -> None:
                self._cancel_stored(None, own_lock)

            self._control(lambda runner: runner.engine.cancel_all(), cancel_stored)
            return None
        tid = task_id
        return self._control(
            lambda runner: runner.engine.cancel(tid), lambda own: self._cancel_stored(tid, own)
        )

    def stop(self) -> None:
        """Stop like Ctrl-C: the job stays resumable; a second call kills running commands
        at once. Outside a run there is nothing to stop."""
        self._control(lambda runner: runner.stop(), lambda _own: None)

    def _only_live(self, what: str) -> Callable[[bool], None]:
        def refuse(_own: bool) -> None:
            raise JobNotRunning(
                f"job {self.id} is not running: {what}() applies while job.run() is in progress"
            )

        return refuse

    def _control(self, live: Callable[[JobRunner], T], offline: Callable[[bool], T]) -> T:
        """``live(runner)`` on the loop of the current run, else ``offline(own_lock)``.

        Loops because a run may end (or begin) between the two checks; each round trip is
        decided under the bridge's lock, so this settles at once in practice."""
        bridge, what, timeout = self._bridge, f"job {self.id}", self.control_timeout

        def on_loop() -> T:
            assert self.runner is not None  # set before the first control can reach the loop
            return live(self.runner)

        while True:
            result = bridge.call(on_loop, timeout, what)
            if result is not ENDED:
                return cast(T, result)
            result = bridge.when_idle(offline, timeout, what)
            if result is not ENDED:
                return cast(T, result)

    def _cancel_stored(self, task_id: int | None, own_lock: bool) -> bool:
        """Cancel a stored job's open tasks (or one of them) while no engine runs it.

        Takes the job's run lock (unless this job's own finishing run still holds it), so a
        run in another process is never changed behind its back (that raises InputError)."""
        store = self.batch.store
        fd = None if own_lock else lock_job(store, self.id)
        try:
            if fd is not None:
                store.recover_interrupted(self.id)  # 'running' rows of a crashed run
            store.flush()
            if task_id is None:
                targets = store.load_tasks(self.id, states=_OPEN_STATES)
            else:
                try:
                    rec = store.get_task(task_id)
                except StoreError:
                    return False
                if rec.job_id != self.id or rec.state not in _OPEN_STATES:
                    return False
                targets = [rec]
            for rec in targets:
                store.set_task_state(rec.id, TaskState.CANCELLED.value, "cancelled by user")
            store.flush()
            if targets and not own_lock:  # a finishing run saves its own outcome next
                counts = store.task_counts(self.id)
                if not any(counts.get(s, 0) for s in _OPEN_STATES):
                    store.set_job_state(self.id, CANCELLED)
            return bool(targets)
        finally:
            if fd is not None:
                os.close(fd)

    # ------------------------------------------------------------------ results
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
        # One live Job object per job id: a control must reach the object whose run() is in
        # progress (another object would find the run lock taken and could only refuse).
        self._jobs: weakref.WeakValueDictionary[int, Job] = weakref.WeakValueDictionary()
        self._jobs_lock = threading.Lock()

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    def submit(self, spec: JobSpec) -> Job:
        """Plan (scan, dedupe) and store a job. Raises InputError on a bad spec."""
        plan = plan_job(spec, store=self.store)
        return self._job_object(create_job(self.store, plan))

    def job(self, job_id: int) -> Job:
        """An existing job, e.g. to resume it (the same object while one is in use)."""
        self.store.get_job(job_id)
        return self._job_object(job_id)

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
