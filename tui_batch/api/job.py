"""The :class:`Job` a script holds: one handle for a call job and a file job alike.

Why a module of its own: a job can be in this process's scheduler (its live state, its
in-memory result, its controls act at once), or only in the store (submitted by another
process, or by this one before a restart). :class:`Job` answers the same questions either way:
``state``, ``wait``, ``result``, ``error``; the file-job run machinery it extends is
:mod:`.filejob`'s. Results of a done call job come from memory in the process that ran it, else
from the store as JSON; a value that was not JSON-serialisable says so (:class:`ResultNotKept`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from ..jobs.states import DONE, FINAL_STATES, INTERRUPTED, RUNNING
from ..model import Priority
from ..scheduler import Entry, ErrorInfo, JobFailed, ResultNotKept
from ..store import effective_state, job_liveness
from .filejob import FileJobBase

if TYPE_CHECKING:
    from .batch import Batch

__all__ = ["Job"]

_POLL = 0.05
"""Seconds between store reads while waiting for a job this process does not run."""


class Job(FileJobBase):
    """A job of a :class:`~tui_batch.api.Batch`. Every method may be called from any thread.

    Call jobs and scheduled file jobs: ``wait``, ``result``, ``state``, ``error``, ``pause``
    (a job that has not started is held; a running call job finishes its attempt, a retry
    waits), ``resume``, ``cancel`` (a running thread attempt is abandoned, a process attempt's
    worker killed, a coroutine cancelled), ``set_priority``, ``on_done``. A file job that is
    not scheduled keeps its own ``run()`` (see :class:`~tui_batch.api.filejob.FileJobBase`).
    """

    def __init__(self, batch: Batch, job_id: int) -> None:
        super().__init__(batch, job_id)

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.name!r} {self.state}>"

    def _entry(self) -> Entry | None:
        host = self.batch._host
        return None if host is None else host.sched.entries.get(self.id)

    # ------------------------------------------------------------------ what it is
    @property
    def name(self) -> str | None:
        e = self._entry()
        return e.name if e is not None else self.batch.store.get_job(self.id).name

    @property
    def state(self) -> str:
        """created, queued, waiting, running, paused, done, failed, cancelled,
        dependency failed or interrupted (see tui_batch.jobs.states)."""
        e = self._entry()
        if e is not None:
            return e.state
        job = self.batch.store.get_job(self.id)
        running, _pid = job_liveness(self.batch.store, self.id, spec=job.spec, state=job.state)
        state = effective_state(job.state, running)
        call = job.spec.get("call") if job.spec.get("kind") == "call" else None
        if call and call.get("not_resumable") and state not in FINAL_STATES and not running:
            return INTERRUPTED  # its host is gone, and nobody can run it again
        return state

    @property
    def reason(self) -> str | None:
        """What a waiting job waits for, why a job ended as it did."""
        e = self._entry()
        if e is not None:
            return e.reason
        job = self.batch.store.get_job(self.id)
        call = job.spec.get("call") or {}
        if self.state == INTERRUPTED and call.get("not_resumable"):
            return str(call["not_resumable"])
        return job.error

    @property
    def error(self) -> str | None:
        """``"Type: message"`` of a job that did not end done (None otherwise)."""
        failure = self.failure()
        return None if failure is None else str(failure.info)

    def failure(self) -> JobFailed | None:
        """The :class:`JobFailed` that :meth:`result` raises, or None."""
        state = self.state
        if state not in FINAL_STATES or state == DONE:
            if state == INTERRUPTED and self.reason:
                return JobFailed(self.id, state, ErrorInfo("Interrupted", self.reason))
            return None
        e = self._entry()
        if e is not None and e.error is not None:
            return JobFailed(self.id, state, e.error)
        rec = self.batch.store.get_sched(self.id)
        if rec is not None and rec.error_type:
            info = ErrorInfo(rec.error_type, rec.error_message or "", rec.traceback or "")
        else:
            info = ErrorInfo(state.title().replace(" ", ""), self.reason or state)
        return JobFailed(self.id, state, info)

    # ------------------------------------------------------------------ waiting
    def wait(self, timeout: float | None = None) -> str:
        """Block until the job has ended; returns its final state. ``TimeoutError`` after
        ``timeout`` seconds (the job is left as it is). Not on the scheduler's own loop:
        there, ``await job.wait_async()``."""
        e = self._entry()
        if e is not None:
            host = self.batch._host
            if host is not None and host.sched.on_loop() and not e.done.is_set():
                raise RuntimeError("job.wait() would block the scheduler's loop; "
                                   "use `await job.wait_async()`")
            if not e.done.wait(timeout):
                raise TimeoutError(f"job {self.id} did not end within {timeout}s "
                                   f"(it is {e.state})")
            return e.state
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self.state
            if state in FINAL_STATES or (state == INTERRUPTED and not self._resumable_here()):
                return state
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {self.id} did not end within {timeout}s "
                                   f"(it is {state})")
            time.sleep(_POLL)

    def _resumable_here(self) -> bool:
        return self._entry() is not None

    async def wait_async(self, timeout: float | None = None) -> str:
        """:meth:`wait` for coroutines (on any loop, the scheduler's included)."""
        e = self._entry()
        if e is None or not self.batch._host or not self.batch._host.sched.on_loop():
            return await asyncio.to_thread(self.wait, timeout)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not fut.done():
                fut.set_result(None)

        def done() -> None:
            loop.call_soon_threadsafe(settle)

        self.batch._host.sched.on_done(self.id, done)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise TimeoutError(f"job {self.id} did not end within {timeout}s") from None
        return e.state

    def result(self, timeout: float | None = 0) -> Any:
        """The return value of a done call job (a file job: its task counts). Raises
        :class:`JobFailed` for a failed, cancelled, dependency-failed or interrupted job,
        :class:`TimeoutError` if it has not ended within ``timeout`` seconds (default: do not
        wait; None: wait as long as it takes), :class:`ResultNotKept` if the value was not
        JSON-serialisable and this is not the process that ran the job."""
        if timeout != 0:
            self.wait(timeout)
        state = self.state
        if state != DONE:
            failure = self.failure()
            if failure is not None:
                raise failure
            raise TimeoutError(f"job {self.id} has not ended (it is {state})")
        e = self._entry()
        if e is not None and e.kind == "call" and e.result_kind is not None:
            return e.result
        job = self.batch.store.get_job(self.id)
        if job.spec.get("kind") != "call":
            return self.counts()
        rec = self.batch.store.get_sched(self.id)
        if rec is None or rec.result_kind is None:
            return None
        if rec.result_kind == "json":
            return json.loads(rec.result or "null")
        note = json.loads(rec.result or "{}")
        raise ResultNotKept(
            f"job {self.id} returned a {note.get('type', 'value')}, which is not "
            f"JSON-serialisable: it was kept in the memory of the process that ran it "
            f"(pid {note.get('pid', '?')}) and is not readable from here"
        )

    # ------------------------------------------------------------------ controls
    def _scheduled(self) -> Entry | None:
        """The entry, unless the job is a file job whose run is in progress (then the
        engine's controls apply)."""
        e = self._entry()
        if e is None or (e.kind == "files" and e.state == RUNNING):
            return None
        return e

    def pause(self) -> None:
        """Hold the job: it does not start (or retry) until :meth:`resume`. A running file
        job stops starting tasks; running ones finish."""
        e = self._scheduled()
        if e is None:
            self._pause_run()
        else:
            self.batch._host_or_fail().sched.pause(self.id)

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        e = self._scheduled()
        if e is None:
            self._resume_run()
        else:
            self.batch._host_or_fail().sched.resume(self.id)

    @overload
    def cancel(self, task_id: None = None) -> None: ...
    @overload
    def cancel(self, task_id: int) -> bool: ...

    def cancel(self, task_id: int | None = None) -> bool | None:
        """Cancel the job (its dependents end ``dependency failed``), or one task of a file
        job. A file job outside any run has its tasks cancelled in the store."""
        e = self._scheduled()
        if e is None or task_id is not None:
            return self._cancel_run(task_id)
        self.batch._host_or_fail().sched.cancel(self.id)
        return None

    def set_priority(self, priority: str | int | Priority) -> None:
        """Change where the job stands in the batch's queue (stored: a restart keeps it)."""
        p = int(Priority.parse(priority, "priority"))
        host = self.batch._host_or_fail()
        if self._entry() is None:
            raise RuntimeError(f"job {self.id} is not in this batch's scheduler")
        host.sched.set_priority(self.id, p)

    def on_done(self, callback: Callable[[Job], None]) -> None:
        """``callback(job)`` once the job has ended (at once, on this thread, if it has);
        otherwise on the scheduler's thread, right after its outcome was stored."""
        host = self.batch._host
        if host is None or self._entry() is None:
            if self.state not in FINAL_STATES:
                def later() -> None:
                    self.wait()
                    callback(self)

                threading.Thread(target=later, daemon=True).start()
                return
            callback(self)
            return
        host.sched.on_done(self.id, lambda: callback(self))

