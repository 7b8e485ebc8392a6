"""The live engine a watch feeds: one action's :class:`~tui_batch.engine.Engine`, or for a
job of ``[[steps]]`` the :class:`~.pipeline.WatchPipeline` (one engine per step behind the same
interface), with what the last session of the watch left unfinished submitted to it.

Why a module of its own: the :class:`~.watcher.Watcher` only needs *an* engine (to submit new
versions to, to mirror, to serve on the control socket, to stop); which one, and how the last
session's tasks go back into it, depends on the job's shape and is decided here, once.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..actions import Action
from ..engine import Engine, SharedLimit
from ..model import JobSpec
from .job import WatchJob
from .pipeline import WatchPipeline, start_watch_pipeline

__all__ = ["open_engine"]


def open_engine(
    job: WatchJob, spec: JobSpec, actions: Sequence[Action], *, multi_root: bool,
    retain: int, stats_interval: float, gate: SharedLimit | None,
) -> tuple[Engine, WatchPipeline | None, int]:
    """``(engine, the pipeline or None, tasks taken over)`` for the opened watch ``job``:
    the tasks the previous session left queued or running are in it (they run again)."""
    store = job.store
    if spec.steps:
        pipeline, left = start_watch_pipeline(
            store, job.state, job.watch_row, job.job_id, spec, actions, multi_root=multi_root,
            retain=retain, stats_interval=stats_interval, gate=gate)
        return pipeline, pipeline, left
    action = actions[0]
    engine = Engine(
        action, spec.settings, out_dir=spec.settings.out_dir, multi_root=multi_root,
        keep_open=True, options=spec.action.options, retain_finished=max(1, retain),
        stats_interval=stats_interval, log_dir=store.log_dir(job.job_id), job_id=job.job_id,
        gate=gate,
    )
    tasks = job.take_over()
    for t in tasks:  # as JobRunner does: move decides itself about a file it moved
        t.check_file = action.repeat_safe or not t.attempts
    engine.submit(tasks)
    return engine, None, len(tasks)
