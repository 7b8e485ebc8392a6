"""Watch mode with ``[[steps]]``: every new content version of a file goes through step 1,
then step 2 on step 1's output, and so on, as ``run --recipe`` takes a file through them.

Why a module of its own: :class:`~tui_batch.jobs.pipeline.Pipeline` runs a job's steps (one
engine per step, a file's next-step task made in the store with its previous step's success)
and ends once nothing is left to run; a watch never ends by itself, runs for months, and
starts again where its last session stopped. :class:`WatchPipeline` is the pipeline with what
a watch needs on top, the way a watch's :class:`~tui_batch.engine.Engine` has ``keep_open``
and ``retain_finished``:

* it stays open when idle (more files arrive) and ends when the watch stops it; a step whose
  engine ends by itself (a halt) stops the whole watch, as a one-action watch's engine does;
* each step keeps only the last ``retain`` finished tasks in memory (the counts go on);
* its statistics say when it went idle, and give no ETA (there is no end to reach).

:func:`start_watch_pipeline` takes over what the last session left: the tasks queued, running
or interrupted at *any* step go back to that step's engine (a file continues at its step; a
step that succeeded never runs again), a done step whose next step a kill left unmade gets
it, and the ``keep = false`` outputs already used are removed (never one that a newer version
of the same file wrote since, which its own next step still needs).
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..actions import Action
from ..actions.leftovers import remove_leftovers
from ..engine import Event, SharedLimit, Stats, Task, TaskEvent
from ..jobs import mirror_event
from ..jobs.pipeline import Pipeline
from ..jobs.pipeline_setup import child_of, orphans, same_file, spare_ids
from ..model import JobSpec, Priority, TaskState
from ..store import KIND_TASK, ChildTask, SeenRow, Store, TaskRecord, WatchState
from .job import STATE_LEFT

__all__ = ["WatchPipeline", "start_watch_pipeline", "step_output"]


class WatchPipeline(Pipeline):
    """A :class:`Pipeline` that stays open until stopped and keeps only the last ``retain``
    finished tasks of each step in :attr:`tasks` (None: all of them)."""

    def __init__(self, *args: Any, retain: int | None = None, **kw: Any) -> None:
        self._retain = retain
        self._finished: list[deque[int]] = []  # per step (filled by _forwarder, called below)
        super().__init__(*args, **kw)
        self.keep_open = True
        """Stay open when no step has anything to run (watch mode), until :meth:`stop`."""
        self.retain_finished = retain

    @property
    def retain_finished(self) -> int | None:
        return self._retain

    @retain_finished.setter
    def retain_finished(self, n: int | None) -> None:
        self._retain = n
        for e in self.engines:
            e.retain_finished = n

    def add_step_tasks(self, step: int, tasks: Iterable[Task]) -> None:
        tasks = list(tasks)
        super().add_step_tasks(step, tasks)
        for t in tasks:
            if t.state.terminal:  # a skipped duplicate: finished as it arrives
                self._finish(step, t.id)

    def _forwarder(self, k: int) -> Callable[[Event], None]:
        forward = super()._forwarder(k)
        self._finished.append(deque())

        def forward_and_forget(ev: Event) -> None:
            forward(ev)
            if type(ev) is TaskEvent and ev.state.terminal:
                self._finish(k, ev.task_id)

        return forward_and_forget

    def _finish(self, k: int, task_id: int) -> None:
        """A task of step ``k`` finished: forget the oldest finished ones beyond ``retain``
        (those its step's engine forgot too: a retried one it keeps, and so does this)."""
        if self._retain is None:
            return
        finished = self._finished[k]
        finished.append(task_id)
        kept = self.engines[k].tasks
        while len(finished) > max(1, self._retain):
            old = finished.popleft()
            if old not in kept:
                self.tasks.pop(old, None)
                self._step.pop(old, None)
                self._state.pop(old, None)

    def _check_idle(self) -> None:
        if not self.keep_open:
            super()._check_idle()
            return
        if self._running and not self._stopping and any(
            k not in self._runs or self._runs[k].done() for k in range(len(self.engines))
        ):
            self.stop()  # a step's engine ended by itself (halted): the watch ends with it

    def close(self) -> None:
        self.keep_open = False
        super().close()

    def snapshot(self) -> Stats:
        st = super().snapshot()
        st.eta = None
        idle = [e.snapshot().idle_since for e in self.engines]
        if st.running or st.queued or any(i is None for i in idle):
            st.idle_since = None
        else:
            st.idle_since = max(i for i in idle if i is not None)
        return st


def step_output(pipeline: Pipeline, task: Task) -> str | None:
    """The file ``task`` (of any step) writes, or None (unknown task, or it writes none)."""
    k = pipeline.step_of(task.id)
    if k is None:
        return None
    return pipeline.actions[k].out_path_for(pipeline.out_dir, task.root, task.rel,
                                            pipeline.multi_root if k == 0 else False)


def _task(rec: TaskRecord, recheck: bool) -> Task:
    return Task(
        id=rec.id, path=rec.path, root=rec.root, rel=rec.rel, size=rec.size,
        mtime_ns=rec.mtime_ns, dev=rec.dev, ino=rec.ino, priority=Priority(rec.priority),
        state=TaskState(rec.state), attempts=rec.attempts, exit_code=rec.exit_code,
        error=rec.error, reason=rec.reason, retry_base=rec.attempts, seq=rec.seq + 1,
        check_file=recheck or not rec.attempts,
    )


def _repair(store: Store, job_id: int, spec: JobSpec, records: list[TaskRecord],
            actions: Sequence[Action], multi_root: bool) -> list[TaskRecord]:
    """Give done steps without a next-step task theirs (see ``orphans``); the records then."""
    lost = orphans(records, len(spec.steps))
    if not lost:
        return records
    assert spec.settings.out_dir is not None  # resolve_steps: a pipeline has --out
    first = store.reserve_task_ids(len(lost))
    rows: list[ChildTask] = []
    for n, rec in enumerate(lost):
        row, _ = child_of(_task(rec, True), rec.step + 1, actions[rec.step],
                          spec.settings.out_dir, multi_root if rec.step == 0 else False, job_id,
                          spec.steps[rec.step + 1].priority, False, first + n)
        rows.append(row)
    store.add_child_tasks(rows)
    return store.load_tasks(job_id)


def _remove_used(records: Sequence[TaskRecord], spec: JobSpec) -> None:
    """``keep = false`` outputs whose next step succeeded (a kill came between the two), unless
    a later task still reads that path (a newer version's step) or a newer version rewrote it."""
    needed = {r.path for r in records if r.state != TaskState.DONE.value}
    for r in records:
        if (r.step >= 1 and r.state == TaskState.DONE.value and not spec.steps[r.step - 1].keep
                and r.path not in needed):
            with contextlib.suppress(OSError):
                if same_file(_task(r, False)):
                    os.unlink(r.path)


def start_watch_pipeline(
    store: Store, state: WatchState, watch_row: int, job_id: int, spec: JobSpec,
    actions: Sequence[Action], *, multi_root: bool, retain: int, stats_interval: float,
    gate: SharedLimit | None,
) -> tuple[WatchPipeline, int]:
    """The watch job's :class:`WatchPipeline` with what the last session left submitted, each
    task at its step (the seen table learns the step-1 tasks are this watch's). Returns it
    and how many tasks were taken over. ``WatchJob.open`` has made running ones runnable."""
    records = _repair(store, job_id, spec, store.load_tasks(job_id), actions, multi_root)
    _remove_used(records, spec)
    left = [r for r in records if r.state in STATE_LEFT]
    spare = spare_ids(left, len(spec.steps))
    pipeline = WatchPipeline(
        store, job_id, spec, actions, mirror=mirror_event, multi_root=multi_root,
        log_dir=store.log_dir(job_id), gate=gate,
        first_id=store.reserve_task_ids(spare) if spare else 0, spare=spare,
        retain=max(1, retain),
    )
    pipeline.stats_interval = stats_interval
    by_step: list[list[Task]] = [[] for _ in spec.steps]
    for rec in left:
        if 0 <= rec.step < len(by_step):
            by_step[rec.step].append(_task(rec, actions[rec.step].repeat_safe))
    out_dir = spec.settings.out_dir
    for k, (action, tasks) in enumerate(zip(actions, by_step, strict=True)):
        remove_leftovers(action, out_dir, ((t.root, t.rel) for t in tasks),
                         multi_root if k == 0 else False)
        pipeline.add_step_tasks(k, tasks)
    state.adopt_tasks(watch_row, [
        SeenRow(t.path, t.size, t.mtime_ns, t.dev, t.ino, None, KIND_TASK, t.id)
        for t in by_step[0]
    ])
    return pipeline, len(left)
