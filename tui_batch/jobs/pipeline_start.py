"""Starting (and resuming) a pipeline job from the store, and its job-level end.

Why a module of its own: :class:`~.runner.JobRunner` rebuilds a one-action job's engine from
its stored tasks in a few lines; a pipeline needs more, all of it before the first task
starts, and all of it the same on the first run and on every ``resume``: every step checked,
the tasks a killed run left running made runnable again, each task handed to its step's
engine (a file continues at the step where it stopped; a step that succeeded is never run
again), a done step whose next step a kill left unmade given it now, the ``keep = false``
outputs already used removed, task ids reserved for the next steps still to be made, and each
step's job hooks and leftover temporary outputs dealt with as a one-action job's are.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..actions.jobhooks import JobReport
from ..actions.leftovers import remove_leftovers
from ..engine import SharedLimit, Task
from ..model import JobSpec, Priority, TaskState
from ..store import ChildTask, Store, TaskRecord
from .hooks import finish as finish_hook
from .hooks import prepare as prepare_hook
from .pipeline import Mirror, Pipeline
from .pipeline_setup import child_of, orphans, remove_used, resolve_steps, spare_ids

__all__ = ["finish_pipeline", "start_pipeline"]


def _task(rec: TaskRecord, recheck: bool) -> Task:
    state = TaskState(rec.state)
    return Task(
        id=rec.id, path=rec.path, root=rec.root, rel=rec.rel, size=rec.size,
        mtime_ns=rec.mtime_ns, dev=rec.dev, ino=rec.ino, priority=Priority(rec.priority),
        state=state, attempts=rec.attempts, exit_code=rec.exit_code, error=rec.error,
        reason=rec.reason, retry_base=rec.attempts, seq=rec.seq + 1,
        check_file=recheck or not rec.attempts,
    )


def _repair(store: Store, job_id: int, spec: JobSpec, records: list[TaskRecord],
            actions: Sequence[Any], multi_root: bool) -> list[TaskRecord]:
    """Make the next step of done tasks that have none (see ``orphans``); returns the
    records with the new tasks."""
    lost = orphans(records, len(spec.steps))
    if not lost:
        return records
    assert spec.settings.out_dir is not None
    first = store.reserve_task_ids(len(lost))
    rows: list[ChildTask] = []
    for n, rec in enumerate(lost):
        parent = _task(rec, True)
        nxt = spec.steps[rec.step + 1]
        row, _ = child_of(parent, rec.step + 1, actions[rec.step],
                          spec.settings.out_dir, multi_root if rec.step == 0 else False,
                          job_id, nxt.priority, False, first + n)
        rows.append(row)
    store.add_child_tasks(rows)
    return store.load_tasks(job_id)


def start_pipeline(store: Store, job_id: int, spec: JobSpec, *, multi_root: bool,
                   mirror: Mirror, gate: SharedLimit | None = None) -> tuple[Pipeline, int, int]:
    """The job's :class:`Pipeline`, its tasks submitted, ready to run. Returns it with the
    number of tasks found running (they run again) and of leftover temporary outputs
    removed. Only call it holding the job's run lock."""
    actions = resolve_steps(spec)
    recovered = store.recover_interrupted(job_id)
    records = _repair(store, job_id, spec, store.load_tasks(job_id), actions, multi_root)
    remove_used(records, spec)
    spare = spare_ids(records, len(spec.steps))
    first = store.reserve_task_ids(spare) if spare else 0
    pipeline = Pipeline(store, job_id, spec, actions, mirror=mirror, multi_root=multi_root,
                        log_dir=store.log_dir(job_id), gate=gate, first_id=first, spare=spare)
    by_step: list[list[TaskRecord]] = [[] for _ in spec.steps]
    for rec in records:
        if 0 <= rec.step < len(by_step):
            by_step[rec.step].append(rec)
    out_dir = spec.settings.out_dir
    leftovers = 0
    for k, (action, recs) in enumerate(zip(actions, by_step, strict=True)):
        tasks = [_task(r, action.repeat_safe) for r in recs]
        roots = spec.filter.roots if k == 0 else [out_dir or os.curdir]
        multi = multi_root if k == 0 else False
        prepare_hook(store, job_id, action, roots, multi, out_dir, spec.steps[k].action.options,
                     tasks)
        leftovers += remove_leftovers(
            action, out_dir, ((t.root, t.rel) for t in tasks if t.state is not TaskState.SKIPPED),
            multi)
        pipeline.add_step_tasks(k, tasks)
    return pipeline, recovered, leftovers


def finish_pipeline(store: Store, job_id: int, pipeline: Pipeline,
                    multi_root: bool) -> JobReport | None:
    """Every step's ``finish_job`` hook (a checksum manifest of the last step's outputs),
    on that step's tasks; one report of all their lines."""
    spec = pipeline.spec
    lines: list[str] = []
    failed = False
    any_report = False
    for k, action in enumerate(pipeline.actions):
        roots = spec.filter.roots if k == 0 else [spec.settings.out_dir or os.curdir]
        report = finish_hook(store, job_id, action, roots, multi_root if k == 0 else False,
                             spec.settings.out_dir, spec.steps[k].action.options, step=k)
        if report is not None:
            any_report = True
            lines.extend(report.lines)
            failed = failed or report.failed
    return JobReport(lines, failed) if any_report else None
