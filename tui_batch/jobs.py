"""Jobs: the glue between scanning, the job store and the engine.

Every client goes through here: the headless CLI, the TUI and the Python API. A job is planned
(scan + dedupe + preview, no side effects), created (spec and tasks written to the store), then
run by a :class:`JobRunner`, which mirrors the engine's events into the store so that a crash at
any moment leaves a job that ``resume`` can finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .actions import Action, default_dedupe, resolve_action
from .actions.leftovers import remove_leftovers
from .engine import Engine, EngineEvent, Event, Stats, Task, TaskEvent
from .errors import InputError
from .filters import check_out_dir
from .liveness import flock_exclusive, job_liveness, job_lock_path
from .model import FileEntry, FilterSpec, JobSpec, Priority, TaskState
from .preview import Preview, build_preview
from .scanner import ScanIssue, scan
from .store import NewTask, Store

__all__ = [
    "CANCELLED", "CREATED", "DONE", "FAILED", "INTERRUPTED", "RUNNING", "JobRunner", "Plan",
    "create_job", "job_liveness", "lock_job", "mirror_event", "plan_job", "run_spec",
    "unlock_job",
]

# Job states as stored.
CREATED, RUNNING, DONE, FAILED, INTERRUPTED, CANCELLED = (
    "created", "running", "done", "failed", "interrupted", "cancelled",
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass
class Plan:
    """What a job would do: the files, their duplicates and outputs. Nothing written yet."""

    spec: JobSpec
    action: Action
    entries: list[FileEntry]
    issues: list[ScanIssue]
    preview: Preview
    multi_root: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_checked_action(spec: JobSpec) -> Action:
    """Resolve the action and let it check the settings it depends on (e.g. --out)."""
    spec.action.check()
    spec.settings.check()  # the ranges every client gets (an API-built spec too)
    action = resolve_action(spec.action)
    action.check(spec.action, spec.settings)
    if spec.settings.dedupe is None:  # not chosen: the action's default, stored with the job
        spec.settings.dedupe = default_dedupe(action, spec.settings.out_dir)
    return action


def _scan_filter(spec: JobSpec) -> FilterSpec:
    """The job's filter, with the output folder excluded so outputs never become inputs."""
    flt = spec.filter
    out = spec.settings.out_dir
    if out:
        check_out_dir(flt.roots, out)
        out_abs = os.path.abspath(out)
        if out_abs not in flt.excludes:
            flt = FilterSpec(**{**flt.to_dict(), "excludes": [*flt.excludes, out_abs]})
    return flt


def plan_job(
    spec: JobSpec, *, store: Store | None = None, cancel: threading.Event | None = None
) -> Plan:
    """Scan, dedupe and preview. Blocking (run it in a thread from a UI); cancellable."""
    action = resolve_checked_action(spec)
    issues: list[ScanIssue] = []
    flt = _scan_filter(spec)
    entries = list(scan(flt, on_issue=issues.append, cancel=cancel))
    multi_root = len(spec.filter.roots) > 1
    out_dir = spec.settings.out_dir

    def out_path_for(entry: FileEntry) -> str | None:
        if out_dir is None:
            return None
        return action.out_path_for(out_dir, entry.root, entry.rel, multi_root)

    preview = build_preview(
        entries,
        action=action,
        out_dir=out_dir,
        roots=spec.filter.roots,
        dedupe=spec.settings.dedupe,
        cache=store,
        out_path_for=out_path_for,
    )
    return Plan(spec, action, entries, issues, preview, multi_root)


def create_job(
    store: Store,
    plan: Plan,
    *,
    exclude: Iterable[str] = (),
    priorities: Mapping[str, Priority] | None = None,
) -> int:
    """Write the job and its tasks, in one transaction (a kill never leaves a job without
    its tasks). ``exclude``: paths deselected in the preview."""
    excluded = set(exclude)
    prios = priorities or {}
    default = plan.spec.settings.priority
    spec = plan.spec.to_dict()
    spec["multi_root"] = plan.multi_root
    rows: list[NewTask] = []
    for row in plan.preview.rows:
        e = row.entry
        if e.path in excluded:
            continue
        state, reason = TaskState.QUEUED.value, None
        if row.duplicate_of is not None:
            state, reason = TaskState.SKIPPED.value, f"duplicate of {row.duplicate_of}"
        rows.append(
            NewTask(
                path=e.path, root=e.root, rel=e.rel, size=e.size, mtime_ns=e.mtime_ns,
                dev=e.dev, ino=e.ino, priority=int(prios.get(e.path, default)), state=state,
                reason=reason, duplicate_of=row.duplicate_of,
            )
        )
    return store.create_job(spec, name=plan.spec.name, tasks=rows)


def _spec_from_store(data: dict[str, Any]) -> JobSpec:
    """A stored spec, without re-validating the filter: roots may be gone by resume time and
    the filter is not needed to finish the tasks already chosen."""
    from .model import ActionSpec, EngineSettings

    flt = FilterSpec(**{k: v for k, v in (data.get("filter") or {}).items()
                        if k in FilterSpec.__dataclass_fields__})
    return JobSpec(
        filter=flt,
        action=ActionSpec.from_dict(data.get("action") or {}),
        settings=EngineSettings.from_dict(data.get("settings") or {}),
        name=data.get("name"),
    )


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
                reason=ev.reason,
            )
        else:
            store.set_task_state(ev.task_id, state.value, ev.reason)
    elif type(ev) is EngineEvent and ev.kind == "priority":
        data: Any = ev.data
        store.set_task_priority(int(data["task_id"]), int(data["priority"]))


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


class JobRunner:
    """Runs one stored job to the end, keeping the store in step with the engine."""

    def __init__(self, store: Store, job_id: int, *, workers: int | None = None) -> None:
        self.store = store
        self.job_id = job_id
        job = store.get_job(job_id)
        self._lock_fd: int | None = lock_job(store, job_id)
        try:
            self._setup(job, workers)
        except BaseException:
            self._unlock()
            raise

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            unlock_job(self._lock_fd)
            self._lock_fd = None

    def _setup(self, job: Any, workers: int | None) -> None:
        store, job_id = self.store, self.job_id
        self.spec = _spec_from_store(job.spec)
        if workers is not None:
            self.spec.settings.workers = workers
        self.action = resolve_checked_action(self.spec)
        self.recovered = store.recover_interrupted(job_id)
        """Tasks found 'running' (the previous process died): they run again."""
        self.engine = Engine(
            self.action,
            self.spec.settings,
            out_dir=self.spec.settings.out_dir,
            multi_root=bool(job.spec.get("multi_root")),
            options=self.spec.action.options,
        )
        tasks = []
        for rec in store.load_tasks(job_id):
            state = TaskState(rec.state)
            tasks.append(
                Task(
                    id=rec.id, path=rec.path, root=rec.root, rel=rec.rel, size=rec.size,
                    mtime_ns=rec.mtime_ns, dev=rec.dev, ino=rec.ino,
                    priority=Priority(rec.priority), state=state, attempts=rec.attempts,
                    exit_code=rec.exit_code, error=rec.error, reason=rec.reason,
                    retry_base=rec.attempts,
                )
            )
        self.leftovers_removed = remove_leftovers(
            self.action, self.spec.settings.out_dir,
            ((t.root, t.rel) for t in tasks if t.state is not TaskState.SKIPPED),
            bool(job.spec.get("multi_root")),
        )
        """Temporary outputs a killed earlier run left for this job's outputs (now removed)."""
        self.engine.submit(tasks)
        self.engine.subscribe(self._on_event)
        self.stopped = False

    def _on_event(self, ev: Event) -> None:
        mirror_event(self.store, self.engine, ev)

    def stop(self) -> None:
        """Ctrl-C / quit: stop starting tasks, stop running ones, keep the job resumable.
        A second call kills running commands at once."""
        self.stopped = True
        self.engine.stop()

    async def run(self) -> int:
        """Run what is left; returns the exit code of the brief (0, 1 or 130)."""
        self.store.set_job_state(self.job_id, RUNNING)
        try:
            stats = await self.engine.run()
        except BaseException:
            await asyncio.shield(asyncio.to_thread(self._save, INTERRUPTED))
            raise
        code, state = self.outcome(stats)
        await asyncio.to_thread(self._save, state)
        return code

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
