"""Running a stored job to its end, with the store kept in step with the engine.

Every client runs jobs through here (the headless CLI, the TUI and the Python API), so a crash
at any moment leaves a job that ``resume`` can finish: :class:`JobRunner` rebuilds the engine
from the stored tasks (those found running are run again), holds the job's run lock while it
runs, serves its control socket (:mod:`tui_batch.control`: other shells pause, cancel and
watch it), and :func:`mirror_event` writes each engine event into the store (watch mode mirrors its
own engine with it too). Planning and creating a job are :mod:`.plan`'s.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..actions.leftovers import remove_leftovers
from ..control import ControlServer, serve_engine
from ..engine import Engine, EngineEvent, Event, SharedLimit, Stats, Task, TaskEvent
from ..model import (
    ActionSpec,
    EngineSettings,
    FilterSpec,
    JobSpec,
    Priority,
    StepSpec,
    TaskState,
)
from ..store import Store, lock_job, unlock_job
from .hooks import finish as finish_hook
from .hooks import prepare as prepare_hook
from .pipeline import Pipeline
from .pipeline_start import finish_pipeline, start_pipeline
from .plan import create_job, plan_job, resolve_checked_action
from .states import (
    CANCELLED,
    DONE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    FAILED,
    INTERRUPTED,
    RUNNING,
)

__all__ = ["JobRunner", "mirror_event", "run_spec"]


def _spec_from_store(data: dict[str, Any]) -> JobSpec:
    """A stored spec, without re-validating the filter: roots may be gone by resume time and
    the filter is not needed to finish the tasks already chosen."""
    flt = FilterSpec(**{k: v for k, v in (data.get("filter") or {}).items()
                        if k in FilterSpec.__dataclass_fields__})
    spec = JobSpec(
        filter=flt,
        action=ActionSpec.from_dict(data.get("action") or {}),
        settings=EngineSettings.from_dict(data.get("settings") or {}),
        name=data.get("name"),
    )
    if data.get("steps"):  # a pipeline (jobs/pipeline.py)
        spec.set_steps([StepSpec.from_dict(t, i) for i, t in enumerate(data["steps"], 1)])
    return spec


def mirror_event(store: Store, engine: Engine, ev: Event) -> None:
    """Write one engine event into the store (the store batches the writes).

    Shared by JobRunner and the watcher: an attempt that ended (``duration`` set) becomes an
    attempt row, a start marks the task running, any other change is a plain state change.
    """
    if type(ev) is TaskEvent:
        state = ev.state
        task = engine.tasks.get(ev.task_id)
        if state is TaskState.RUNNING:
            if task is not None:
                store.record_start(ev.task_id, ev.attempt, task.started_at or ev.time)
        elif ev.duration is not None and task is not None:
            store.record_end(
                ev.task_id, ev.attempt, state.value,
                started_at=task.started_at or ev.time, ended_at=task.ended_at or ev.time,
                exit_code=ev.exit_code, signal=ev.signal, error=ev.error,
                stdout_tail=task.stdout_tail or None, stderr_tail=task.stderr_tail or None,
                reason=ev.reason, log=task.log,
            )
        else:
            store.set_task_state(ev.task_id, state.value, ev.reason)
    elif type(ev) is EngineEvent and ev.kind == "priority":
        data: Any = ev.data
        store.set_task_priority(int(data["task_id"]), int(data["priority"]))


class JobRunner:
    """Runs one stored job to the end, keeping the store in step with the engine."""

    def __init__(self, store: Store, job_id: int, *, workers: int | None = None,
                 gate: SharedLimit | None = None) -> None:
        """``gate``: a worker limit shared with other jobs (the service's, engine/gate.py)."""
        self.store = store
        self.job_id = job_id
        job = store.get_job(job_id)
        self._lock_fd: int | None = lock_job(store, job_id)
        try:
            self._setup(job, workers, gate)
        except BaseException:
            self._unlock()
            raise

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            unlock_job(self._lock_fd)
            self._lock_fd = None

    def _setup(self, job: Any, workers: int | None, gate: SharedLimit | None) -> None:
        store, job_id = self.store, self.job_id
        self.spec = _spec_from_store(job.spec)
        if workers is not None:
            self.spec.settings.workers = workers
        self.report: list[str] = []
        """What the action's ``finish_job`` hook said when the job ended (headless: stderr)."""
        self._multi_root = bool(job.spec.get("multi_root"))
        self.stopped = False
        self.pipeline: Pipeline | None = None
        """The steps' engines of a pipeline job (then also :attr:`engine`), else None."""
        if self.spec.steps:
            self.pipeline, self.recovered, self.leftovers_removed = start_pipeline(
                store, job_id, self.spec, multi_root=self._multi_root, mirror=mirror_event,
                gate=gate)
            self.engine: Engine = self.pipeline
            self.action = self.pipeline.action
            return
        self.action = resolve_checked_action(self.spec)
        self.recovered = store.recover_interrupted(job_id)
        """Tasks found 'running' (the previous process died): they run again."""
        self.engine = Engine(
            self.action,
            self.spec.settings,
            out_dir=self.spec.settings.out_dir,
            multi_root=bool(job.spec.get("multi_root")),
            options=self.spec.action.options,
            log_dir=store.log_dir(job_id),
            job_id=job_id,
            gate=gate,
        )
        # An action that is not safe to repeat (move) decides itself what a task that already
        # ran means when its file is gone (moved before the kill) instead of the engine's skip.
        recheck = self.action.repeat_safe
        tasks = []
        for rec in store.load_tasks(job_id):
            state = TaskState(rec.state)
            tasks.append(
                Task(
                    id=rec.id, path=rec.path, root=rec.root, rel=rec.rel, size=rec.size,
                    mtime_ns=rec.mtime_ns, dev=rec.dev, ino=rec.ino,
                    priority=Priority(rec.priority), state=state, attempts=rec.attempts,
                    exit_code=rec.exit_code, error=rec.error, reason=rec.reason,
                    retry_base=rec.attempts, seq=rec.seq + 1,
                    check_file=recheck or not rec.attempts,
                )
            )
        prepare_hook(store, job_id, self.action, self.spec.filter.roots, self._multi_root,
                     self.spec.settings.out_dir, self.spec.action.options, tasks)
        self.leftovers_removed = remove_leftovers(
            self.action, self.spec.settings.out_dir,
            ((t.root, t.rel) for t in tasks if t.state is not TaskState.SKIPPED),
            bool(job.spec.get("multi_root")),
        )
        """Temporary outputs a killed earlier run left for this job's outputs (now removed)."""
        self.engine.submit(tasks)
        self.engine.subscribe(self._on_event)

    def _on_event(self, ev: Event) -> None:
        mirror_event(self.store, self.engine, ev)

    def stop(self) -> None:
        """Ctrl-C / quit: stop starting tasks, stop running ones, keep the job resumable.
        A second call kills running commands at once."""
        self.stopped = True
        self.engine.stop()

    async def run(self) -> int:
        """Run what is left; returns the exit code of the brief (0, 1 or 130). While it runs,
        the job serves its control socket (other shells pause, cancel, watch it)."""
        self.store.set_job_state(self.job_id, RUNNING)
        server = await self._serve()
        code, state = EXIT_INTERRUPTED, INTERRUPTED
        try:
            try:
                stats = await self.engine.run()
            except BaseException:
                await asyncio.shield(asyncio.to_thread(self._save, INTERRUPTED))
                raise
            code, state = self.outcome(stats)
            if state != INTERRUPTED:
                code, state = await asyncio.to_thread(self._finish_job, code, state)
            await asyncio.to_thread(self._save, state)
        finally:
            if server is not None:
                await server.close(state, code)
        return code

    async def _serve(self) -> ControlServer | None:
        """Start the job's control socket (a job that cannot serve one still runs)."""
        return await serve_engine(self.engine, self.store.path, self.job_id, self.spec.name,
                                  self.stop)

    def outcome(self, stats: Stats) -> tuple[int, str]:
        """Exit code and job state for a finished engine run: ``cancelled`` when tasks were
        cancelled by the user and none failed (exit 1 either way: the brief's "some task
        failed or was cancelled")."""
        if self.stopped or stats.queued or stats.running:
            return EXIT_INTERRUPTED if self.stopped else EXIT_FAILED, INTERRUPTED
        if stats.failed:
            return EXIT_FAILED, FAILED
        if stats.cancelled:
            return EXIT_FAILED, CANCELLED
        return EXIT_OK, DONE

    def _finish_job(self, code: int, state: str) -> tuple[int, str]:
        """The action's job-level end (a manifest written, missing files counted): its
        report is kept in :attr:`report`; a failed one fails a job whose tasks all succeeded."""
        if self.pipeline is not None:
            report = finish_pipeline(self.store, self.job_id, self.pipeline, self._multi_root)
        else:
            report = finish_hook(self.store, self.job_id, self.action, self.spec.filter.roots,
                                 self._multi_root, self.spec.settings.out_dir,
                                 self.spec.action.options)
        if report is None:
            return code, state
        self.report = list(report.lines)
        if report.failed and code == EXIT_OK:
            return EXIT_FAILED, FAILED
        return code, state

    def _save(self, state: str) -> None:
        self.store.flush()
        self.store.set_job_state(self.job_id, state)

    async def aclose(self) -> None:
        """Release the executor and the job's run lock."""
        try:
            await self.engine.aclose()
        finally:
            self._unlock()


async def run_spec(
    spec: JobSpec, store: Store, *, on_event: Any = None
) -> tuple[int, int]:
    """Plan, create and run a job in one go (the Python API's simplest entry point).
    Returns (job_id, exit code)."""
    plan = await asyncio.to_thread(plan_job, spec, store=store)
    job_id = create_job(store, plan)
    runner = JobRunner(store, job_id)
    if on_event is not None:
        runner.engine.subscribe(on_event)
    try:
        code = await runner.run()
    finally:
        await runner.aclose()
    return job_id, code
