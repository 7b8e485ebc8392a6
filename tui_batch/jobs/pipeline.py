"""Running a pipeline job: one engine per step on one loop, a file's step N+1 made and started
as soon as its step N succeeded.

Why a module of its own: the engine runs one action and knows nothing of steps, and every
client (the headless CLI, the TUI, the control socket, the service, the Python API) drives a
job through one object with the :class:`~tui_batch.engine.Engine` controls. So
:class:`Pipeline` *is* that object for a job with ``[[steps]]``: it presents the engine's
interface (events, tasks, statistics, pause, workers, cancel, retry, stop) over one real
engine per step (each keeping its commands' whole output in its own step folder of the job's
logs, :func:`~tui_batch.model.logfiles.step_log_dir`), and owns what only a pipeline needs:

* a step's done event makes the same file's next-step task (:func:`~.pipeline_setup.child_of`),
  written to the store *together with* that end (one transaction: a kill never leaves a done
  step without its successor) and submitted to the next step's engine at once;
* ``keep = false``: a step's output is removed once the next step of that file succeeded;
* the job ends when no step has anything left to run; its statistics count step-tasks, the
  tasks not made yet (later steps of files still on their way) counted as queued, so the
  total is what the whole job will run and the progress bar never goes backwards for long;
* per-step counts (:meth:`Pipeline.step_counts`) for the progress line and the dashboard.

Controls apply to every step: pause and resume all engines, ``workers N`` sets every step's
count, cancel-all cancels every step (and a task ending after it does not start the next),
retry-failed retries at every step. A step's events reach the subscribers with the task ids
the store uses; :meth:`Pipeline.step_of` says which step a task is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterable, Sequence

from ..actions import Action
from ..engine import Engine, EngineEvent, Event, SharedLimit, Stats, StatsEvent, Task, TaskEvent
from ..engine.events import Subscribers
from ..model import JobSpec, Priority, TaskState
from ..model.logfiles import step_log_dir
from ..store import Store
from .pipeline_setup import child_of, same_file, step_counts_text, step_settings, step_workers

__all__ = ["Pipeline", "counts_text"]

Q, R, D, INT, C = (TaskState.QUEUED, TaskState.RUNNING, TaskState.DONE, TaskState.INTERRUPTED,
                   TaskState.CANCELLED)
_FORWARDED = frozenset({"priority", "warning", "halted"})  # a step's engine events clients see
Mirror = Callable[[Store, Engine, Event], None]


class Pipeline(Engine):
    """The engines of a pipeline's steps, behind the :class:`Engine` interface.

    It runs no task itself (so it does not build an engine of its own: ``Engine.__init__``
    is not called); every public member of :class:`Engine` is provided here."""

    def __init__(self, store: Store, job_id: int, spec: JobSpec, actions: Sequence[Action],
                 *, mirror: Mirror, multi_root: bool, log_dir: str | None,
                 gate: SharedLimit | None = None, first_id: int = 0, spare: int = 0) -> None:
        """``first_id``/``spare``: the task ids reserved for next-step tasks
        (:meth:`~tui_batch.store.Store.reserve_task_ids`)."""
        self.store = store
        self.job_id = job_id
        self.spec = spec
        self.steps = spec.steps
        self.actions = list(actions)
        self.action = self.actions[0]
        self.settings = spec.settings
        self.out_dir = spec.settings.out_dir
        self.multi_root = multi_root
        self.options = dict(spec.steps[0].action.options)
        self.keep_open = False
        self.stats_interval = 0.25
        self._mirror = mirror
        self._subs = Subscribers()
        self.tasks: dict[int, Task] = {}
        """Every step's tasks by id (a file's later steps appear as they are made)."""
        self._step: dict[int, int] = {}
        self._state: dict[int, TaskState] = {}
        self._counts = [dict.fromkeys(TaskState, 0) for _ in self.steps]
        self._next_id, self._end_id = first_id, first_id + spare
        self._cancelled_all = False
        self._paused = False
        self._running = False
        self._stopping = False
        self._closing = False
        self._runs: dict[int, asyncio.Task[Stats]] = {}
        self._elapsed_before = 0.0
        self._started: float | None = None
        self.engines: list[Engine] = []
        for k, (step, action) in enumerate(zip(self.steps, self.actions, strict=True)):
            settings = step_settings(spec, step)
            settings.workers = step_workers(step, action, settings)
            # every step's slots are its own: its own slot files (model/logfiles.py)
            engine = Engine(action, settings, out_dir=self.out_dir,
                            multi_root=multi_root if k == 0 else False, keep_open=True,
                            options=step.action.options,
                            log_dir=None if log_dir is None else step_log_dir(log_dir, k),
                            job_id=job_id, gate=gate)
            engine.subscribe(self._forwarder(k))
            self.engines.append(engine)

    # ------------------------------------------------------------------ tasks
    def add_step_tasks(self, step: int, tasks: Iterable[Task]) -> None:
        """Hand a step's stored tasks to its engine (the runner, before :meth:`run`)."""
        tasks = list(tasks)
        engine = self.engines[step]
        engine.submit(tasks)
        counts = self._counts[step]
        for t in tasks:
            self.tasks[t.id] = t
            self._step[t.id] = step
            self._state[t.id] = t.state
            counts[t.state] += 1

    def submit(self, tasks: Iterable[Task]) -> None:
        """New files enter at the first step."""
        self.add_step_tasks(0, tasks)

    def step_of(self, task_id: int) -> int | None:
        """The step (0-based) a task belongs to, or None for an unknown id."""
        return self._step.get(task_id)

    def step_counts(self) -> list[dict[TaskState, int]]:
        """Tasks per state at each step, step 1 first (live; copies)."""
        return [dict(c) for c in self._counts]

    def _engine_of(self, task_id: int) -> Engine | None:
        k = self._step.get(task_id)
        return None if k is None else self.engines[k]

    def _take_id(self) -> int:
        if self._next_id >= self._end_id:  # more next steps than foreseen (never, normally)
            self._next_id = self.store.reserve_task_ids(1024)
            self._end_id = self._next_id + 1024
        tid = self._next_id
        self._next_id += 1
        return tid

    # ------------------------------------------------------------------ events
    def _forwarder(self, k: int) -> Callable[[Event], None]:
        last = len(self.steps) - 1
        counts = self._counts[k]
        states = self._state
        emit = self._subs.emit
        tasks = self.tasks

        def forward(ev: Event) -> None:
            if type(ev) is TaskEvent:
                tid, new = ev.task_id, ev.state
                old = states.get(tid)
                if old is not new:
                    if old is not None:
                        counts[old] -= 1
                    counts[new] += 1
                    states[tid] = new
                child = None
                if new is D and k < last and ev.duration is not None:
                    child = self._spawn(k, tasks[tid], ev)
                else:
                    self._mirror(self.store, self, ev)
                emit(ev)
                if new is D and k > 0 and not self.steps[k - 1].keep:
                    with contextlib.suppress(OSError):  # the previous step's output, now used
                        if same_file(tasks[tid]):  # (not a newer version's: watch mode)
                            os.unlink(tasks[tid].path)
                if child is not None:
                    self._start_child(k + 1, child)
                if new is not R:
                    self._check_idle()
            elif type(ev) is EngineEvent and ev.kind in _FORWARDED:
                self._mirror(self.store, self, ev)
                emit(ev)

        return forward

    def _spawn(self, k: int, task: Task, ev: TaskEvent) -> Task:
        """Step ``k`` of ``task``'s file succeeded: store its end with the next step's task."""
        nxt = self.steps[k + 1]
        assert self.out_dir is not None  # resolve_steps refuses a pipeline without --out
        row, child = child_of(task, k + 1, self.actions[k], self.out_dir,
                              self.multi_root if k == 0 else False, self.job_id, nxt.priority,
                              self._cancelled_all, self._take_id())
        self.store.record_end_with_child(
            row, ev.task_id, ev.attempt, ev.state.value,
            started_at=task.started_at or ev.time, ended_at=task.ended_at or ev.time,
            exit_code=ev.exit_code, signal=ev.signal, error=ev.error,
            stdout_tail=task.stdout_tail or None, stderr_tail=task.stderr_tail or None,
            reason=ev.reason, log=task.log,
        )
        return child

    def _start_child(self, step: int, child: Task) -> None:
        self.add_step_tasks(step, [child])
        # clients learn of a task by its events: this one tells them it exists
        self._subs.emit(TaskEvent(child.id, child.state, 0, time.time(), error=child.error,
                                  reason=child.reason))

    def _check_idle(self) -> None:
        """End the run once no step has a task waiting or running (nothing can make more)."""
        if not self._running or self._closing:
            return
        for k, c in enumerate(self._counts):
            if (c[Q] or c[R]) and k in self._runs and not self._runs[k].done():
                return
        self._closing = True
        asyncio.get_running_loop().call_soon(self._close_if_idle)

    def _close_if_idle(self) -> None:
        self._closing = False
        for k, c in enumerate(self._counts):
            if (c[Q] or c[R]) and k in self._runs and not self._runs[k].done():
                return  # something arrived meanwhile (a retry)
        for e in self.engines:
            e.close()

    # ------------------------------------------------------------------ controls
    @property
    def retain_finished(self) -> int | None:
        return None

    @retain_finished.setter
    def retain_finished(self, n: int | None) -> None:
        raise ValueError("a pipeline job keeps every task (a watch's: watch/pipeline.py)")

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def workers(self) -> int:
        return max(e.workers for e in self.engines)

    def pause(self) -> None:
        if not self._paused:
            self._paused = True
            for e in self.engines:
                e.pause()
            self._subs.emit(EngineEvent("paused"))

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            for e in self.engines:
                e.resume()
            self._subs.emit(EngineEvent("resumed"))

    def set_workers(self, n: int) -> None:
        """Every step gets ``n`` workers."""
        n = max(1, int(n))
        for e in self.engines:
            e.set_workers(n)
        self._subs.emit(EngineEvent("workers", f"{n} workers", {"workers": n}))

    def set_priority(self, task_id: int, priority: Priority) -> bool:
        engine = self._engine_of(task_id)
        return engine is not None and engine.set_priority(task_id, priority)

    def cancel(self, task_id: int) -> bool:
        engine = self._engine_of(task_id)
        return engine is not None and engine.cancel(task_id)

    def cancel_all(self) -> None:
        """Cancel every step's tasks; a task that still succeeds after this (it was ending)
        makes its next step cancelled, not queued."""
        self._cancelled_all = True
        for e in self.engines:
            e.cancel_all()

    def retry_failed(self) -> int:
        self._cancelled_all = False
        n = 0
        for k, e in enumerate(self.engines):
            got = e.retry_failed()
            n += got
            run = self._runs.get(k)
            if got and self._running and (run is None or run.done()):
                self._start_run(k)
        return n

    def stop(self) -> None:
        first = not self._stopping
        self._stopping = True
        for e in self.engines:
            e.stop()
        if first:
            self._subs.emit(EngineEvent("stopping"))

    def close(self) -> None:
        for e in self.engines:
            e.close()

    def live_output(self, task_id: int) -> tuple[str, str]:
        engine = self._engine_of(task_id)
        return ("", "") if engine is None else engine.live_output(task_id)

    # ------------------------------------------------------------------ statistics
    def projected(self) -> int:
        """Tasks not made yet: the later steps of files still on their way."""
        last = len(self.steps) - 1
        return sum((last - k) * (c[Q] + c[R] + c[INT]) for k, c in enumerate(self._counts))

    def snapshot(self) -> Stats:
        snaps = [e.snapshot() for e in self.engines]
        more = self.projected()
        st = Stats(
            total=sum(s.total for s in snaps) + more,
            queued=sum(s.queued for s in snaps) + more,
            running=sum(s.running for s in snaps), done=sum(s.done for s in snaps),
            failed=sum(s.failed for s in snaps), cancelled=sum(s.cancelled for s in snaps),
            skipped=sum(s.skipped for s in snaps), retrying=sum(s.retrying for s in snaps),
            bytes_total=sum(s.bytes_total for s in snaps),
            bytes_done=sum(s.bytes_done for s in snaps),
            elapsed=self._elapsed(), files_per_s=sum(s.files_per_s for s in snaps),
            bytes_per_s=sum(s.bytes_per_s for s in snaps), workers=self.workers,
            paused=self._paused, halted=any(s.halted for s in snaps),
            finished=not self._running,
        )
        left = st.queued + st.running
        if st.files_per_s > 0 and left and not self._paused:
            st.eta = left / st.files_per_s
        return st

    def _elapsed(self) -> float:
        if self._started is None:
            return self._elapsed_before
        return self._elapsed_before + time.monotonic() - self._started

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.stats_interval)
            if self._subs.callbacks:
                self._subs.emit(StatsEvent(self.snapshot()))

    # ------------------------------------------------------------------ running
    def _start_run(self, k: int) -> None:
        engine = self.engines[k]
        engine.keep_open = True
        self._runs[k] = asyncio.get_running_loop().create_task(engine.run())

    async def run(self) -> Stats:
        """Run every step until no task of any step is left to run (or stopped / halted)."""
        if self._running:
            raise RuntimeError("Pipeline.run() is already running")
        self._running, self._stopping, self._closing = True, False, False
        self._started = time.monotonic()
        ticker = asyncio.create_task(self._ticker())
        try:
            for k in range(len(self.engines)):
                self._start_run(k)
            self._check_idle()
            while self._runs:
                await asyncio.wait(list(self._runs.values()),
                                   return_when=asyncio.FIRST_COMPLETED)
                for k, run in list(self._runs.items()):
                    if run.done():
                        del self._runs[k]
                        run.result()
                if self._runs:
                    self._check_idle()
        except BaseException:
            for e in self.engines:
                e.stop()
            runs = list(self._runs.values())
            for run in runs:
                run.cancel()
            await asyncio.gather(*runs, return_exceptions=True)
            self._runs.clear()
            raise
        finally:
            ticker.cancel()
            self._running = False
            self._elapsed_before = self._elapsed()
            self._started = None
        stats = self.snapshot()
        self._subs.emit(StatsEvent(stats))
        self._subs.emit(EngineEvent("finished"))
        return stats

    async def aclose(self) -> None:
        for e in self.engines:
            await e.aclose()

    def __repr__(self) -> str:
        return f"<Pipeline job={self.job_id} steps={len(self.steps)}>"


def counts_text(pipeline: Pipeline) -> str:
    """``step 1 extract-text 40/50  step 2 compress 38/40``: per step, the tasks done of
    those made so far (a step's tasks are made as the previous step succeeds), and the
    failed ones when there are some."""
    return step_counts_text([c for c in pipeline.step_counts()],
                            [a.name for a in pipeline.actions])
