"""Calling an action's job-level hooks (``prepare_job``, ``finish_job``) with the store's data.

The hooks themselves are declared in :mod:`tui_batch.actions.jobhooks`; actions cannot see
the store, so this module gathers what they need: every task of the job as stored (tasks
finished by an earlier, killed run included) and, for ``finish_job``, the text each done task
returned. :class:`~.runner.JobRunner` calls :func:`prepare` before it hands the tasks to the
engine and :func:`finish` once the engine ran them all to an end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..actions.jobhooks import JobInfo, JobReport, JobTask
from ..engine import Task
from ..model import TaskState
from ..store import Store

__all__ = ["finish", "prepare"]


def _info(job_id: int, roots: Sequence[str], multi_root: bool, out_dir: str | None,
          options: dict[str, str], tasks: list[JobTask]) -> JobInfo:
    return JobInfo(job_id, tuple(roots), multi_root, out_dir, options, tasks)


def prepare(store: Store, job_id: int, action: Any, roots: Sequence[str], multi_root: bool,
            out_dir: str | None, options: dict[str, str], tasks: list[Task]) -> int:
    """Run ``action.prepare_job`` (if it has one) and mark the queued tasks it names skipped,
    in the engine's tasks and in the store. Returns how many were skipped."""
    hook = getattr(action, "prepare_job", None)
    if not callable(hook):
        return 0
    seen = [JobTask(t.id, t.path, t.root, t.rel, t.state.value) for t in tasks]
    skips: dict[int, str] = hook(_info(job_id, roots, multi_root, out_dir, options, seen)) or {}
    n = 0
    for t in tasks:
        reason = skips.get(t.id)
        if reason and t.state is TaskState.QUEUED:
            t.state = TaskState.SKIPPED
            t.reason = reason
            store.set_task_state(t.id, TaskState.SKIPPED.value, reason)
            n += 1
    return n


def _results(store: Store, ids: Sequence[int]) -> dict[int, str]:
    """The text the last successful attempt of each task returned (its stdout tail)."""
    out: dict[int, str] = {}
    for task_id, attempts in store.attempts_of(ids).items():
        for a in reversed(attempts):
            if a.state == TaskState.DONE.value:
                if a.stdout_tail is not None:
                    out[task_id] = a.stdout_tail
                break
    return out


def finish(store: Store, job_id: int, action: Any, roots: Sequence[str], multi_root: bool,
           out_dir: str | None, options: dict[str, str],
           step: int | None = None) -> JobReport | None:
    """Run ``action.finish_job`` (if it has one) on every task of the job, as stored now
    (``step``: only that pipeline step's tasks, 0-based).
    A hook that raises fails the job with its error as the report (the tasks' work stays)."""
    hook = getattr(action, "finish_job", None)
    if not callable(hook):
        return None
    store.flush()
    tasks = [JobTask(r.id, r.path, r.root, r.rel, r.state) for r in store.load_tasks(job_id)
             if step is None or r.step == step]
    info = _info(job_id, roots, multi_root, out_dir, options, tasks)
    info.results = lambda ids: _results(store, ids)
    try:
        report: JobReport | None = hook(info)
    except Exception as exc:
        text = str(exc) or type(exc).__name__
        return JobReport([f"{getattr(action, 'name', 'action')}: {text}"], failed=True)
    return report
