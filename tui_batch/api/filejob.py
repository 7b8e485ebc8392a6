"""A file job's own run: running it on the caller's loop, its live controls, its task results.

Why a module of its own: this is the part of :class:`~tui_batch.api.Job` that predates the
scheduler (``job.run()`` blocking the caller's thread, controls from any other thread through
:mod:`.bridge`, cancelling in the store when no run is in progress). :mod:`.job` adds the
scheduler's face (wait, result, state, priorities) on top, for call jobs and file jobs alike.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from ..engine import EngineEvent, Event
from ..errors import StoreError
from ..jobs import CANCELLED, JobRunner
from ..model import TaskState
from ..store import TaskRecord, lock_job
from .bridge import ENDED, JobNotRunning, LoopBridge

if TYPE_CHECKING:
    from .batch import Batch

__all__ = ["FileJobBase"]

T = TypeVar("T")

_OPEN_STATES = (TaskState.QUEUED.value, TaskState.RUNNING.value, TaskState.INTERRUPTED.value)
"""Task states that a run would still start (or start again)."""


class FileJobBase:
    """A stored file job: run it, watch it, control it, read its results.

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
    def _pause_run(self) -> None:
        """No new task starts (once this returns); running ones finish."""
        self._control(lambda runner: runner.engine.pause(), self._only_live("pause"))

    def _resume_run(self) -> None:
        """Start tasks again after :meth:`pause`."""
        self._control(lambda runner: runner.engine.resume(), self._only_live("resume"))

    def _cancel_run(self, task_id: int | None = None) -> bool | None:
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
