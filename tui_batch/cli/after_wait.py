"""`run --after JOB` and `resume` of such a job: wait in the foreground until the jobs it runs
after are done, then let it run; end it ``dependency failed`` if one of them failed.

Why a module of its own: the waiting is the same for ``run`` and ``resume``, headless or
before the dashboard opens, and it has its own rules. The job is stored first, with its
``after`` links (the ``job_deps`` rows a Batch uses, so ``Batch.job(id)`` and a Batch's
scheduler see them) and the state ``waiting`` with the reason "waiting for job N", so that
``tui-batch jobs`` shows it. While it waits, this process holds a host lock named in the job's
spec (``spec.host``, as a Batch host does): other processes see a live job (a Batch's
``resume_unfinished()`` and another ``resume`` leave it alone), and once this process is gone
the job shows interrupted. The jobs waited for may run in any process: the store is polled
(:func:`tui_batch.jobs.deps.wait_for_jobs`). Ctrl-C, SIGTERM or SIGHUP while waiting store it
interrupted (exit 130; ``resume`` waits again); a dependency that failed, was cancelled or
could not run ends it ``dependency failed`` (exit 1; its tasks never start).

A job cannot wait for itself, nor close a cycle: it can only name jobs that exist before it
is stored.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import StoreError
from ..jobs import EXIT_FAILED, EXIT_INTERRUPTED, JobRunner, resume_advice, resume_command
from ..jobs.deps import READY, STOPPED, wait_for_jobs
from ..jobs.states import DEPENDENCY_FAILED, DONE, INTERRUPTED, QUEUED, WAITING
from ..store import Store, WatchLock, identity_key
from .options import fail
from .task_output import OutputChoice

__all__ = ["Waiter", "check_after", "run_after", "store_after", "wait_for_after"]


def check_after(store: Store, ids: Iterable[int], field: str = "--after") -> tuple[int, ...]:
    """The job ids of ``--after``, each in the store (exit 2 naming the first that is not)."""
    out = tuple(dict.fromkeys(ids))
    for jid in out:
        try:
            store.get_job(jid)
        except StoreError:
            fail(field, f"no job {jid} in {store.path}")
    return out


def store_after(store: Store, job_id: int, after: Sequence[int], priority: int) -> None:
    """Give a stored file job its ``after`` links (and a scheduler row: priority, reason)."""
    store.schedule_job(job_id, name=None, state=WAITING, group_id=None, priority=priority,
                       after=after, reason=f"waiting for job {after[0]}" if after else None)


class _Stop:
    """Set by SIGINT / SIGTERM / SIGHUP while waiting. A flag polled by sleeping, not a
    threading.Event: a signal handler must not take a lock the interrupted code may hold."""

    def __init__(self) -> None:
        self.flag = False
        self.signal: int | None = None

    def wait(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while not self.flag and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))
        return self.flag

    def __call__(self, signum: int, _frame: Any) -> None:
        self.flag, self.signal = True, signum


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Waiter:
    """The foreground wait of one stored job for its ``after`` / ``after_any`` links."""

    def __init__(self, store: Store, job_id: int, style: str) -> None:
        self.store = store
        self.job_id = job_id
        self.style = style
        self.after, self.after_any = store.sched_links(job_id)
        self._lock: WatchLock | None = None

    def _say(self, text: str, **obj: Any) -> None:
        if self.style == "json":
            print(json.dumps({"job": self.job_id, **obj}), flush=True)
        else:
            print(f"tui-batch: {text}", file=sys.stderr, flush=True)

    def _hold(self) -> None:
        identity = f"tui-batch-wait:{uuid.uuid4().hex}"
        lock = WatchLock(self.store.path, identity_key(identity))
        lock.acquire("JOB")
        self._lock = lock
        self.store.adopt_jobs([self.job_id], identity)

    def release(self) -> None:
        """Let go of the host lock (once the job's runner holds its run lock, or at exit)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _on_change(self, verdict: str, reason: str | None,
                   states: Mapping[int, tuple[str, str | None]]) -> None:
        if verdict != WAITING:
            return
        self.store.apply_sched_ops([("state", self.job_id, WAITING, reason)])
        pending = [d for d in (*self.after, *self.after_any) if states[d][0] != DONE]
        shown = ", ".join(f"job {d} {states[d][0]}" for d in pending)
        stuck = [d for d in pending if states[d][0] == INTERRUPTED]
        hint = "".join(f"; {resume_command(d, self.store.path)} finishes job {d}"
                       for d in stuck)
        self._say(f"job {self.job_id} {reason} ({shown}{hint}); Ctrl-C stops waiting "
                  "(resumable)", event="waiting", reason=reason,
                  after={str(d): states[d][0] for d in pending})

    def wait(self) -> int | None:
        """Wait; None when the job may run now (the host lock is still held: call
        :meth:`release` once its runner holds the run lock), else the exit code (1: a
        dependency failed, 130: stopped) after saying why."""
        if not self.after and not self.after_any:
            return None
        self._hold()
        stop = _Stop()
        old = {s: signal.signal(s, stop) for s in _SIGNALS}
        try:
            verdict, reason = wait_for_jobs(self.store, self.after, stop,
                                            after_any=self.after_any,
                                            on_change=self._on_change)
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        if verdict == READY:
            self.store.apply_sched_ops([("state", self.job_id, QUEUED, None)])
            return None
        try:
            return self._ended(verdict, reason)
        finally:
            self.release()

    def _ended(self, verdict: str, reason: str | None) -> int:
        jid = self.job_id
        if verdict == STOPPED:
            why = f"stopped while {reason}" if reason else "stopped while waiting"
            self.store.apply_sched_ops([("state", jid, INTERRUPTED, why)])
            advice = resume_advice(jid, self.store.path)
            self._say(f"job {jid} interrupted while {reason}; {advice}", event="summary",
                      state=INTERRUPTED, reason=why, exit_code=EXIT_INTERRUPTED,
                      resume=resume_command(jid, self.store.path))
            return EXIT_INTERRUPTED
        assert verdict == DEPENDENCY_FAILED and reason is not None
        rec = self.store.get_sched(jid)
        self.store.apply_sched_ops([(
            "end", jid, DEPENDENCY_FAILED, reason, 0 if rec is None else rec.attempts,
            time.time(), None, None, "DependencyFailed", reason, "",
        )])
        self._say(f"job {jid} dependency failed: {reason}, so it did not run", event="summary",
                  state=DEPENDENCY_FAILED, reason=reason, exit_code=EXIT_FAILED)
        return EXIT_FAILED


def wait_for_after(store: Store, job_id: int, style: str) -> int | None:
    """Wait for the job's links before the dashboard opens on it: None to open it, else the
    exit code (the host lock is released: the dashboard takes the run lock itself)."""
    waiter = Waiter(store, job_id, style)
    try:
        return waiter.wait()
    finally:
        waiter.release()


def run_after(store: Store, job_id: int, style: str, workers: int | None,
              choice: OutputChoice | None) -> int:
    """Wait for the job's links, then run it headless (the run lock is taken before the
    host lock is let go, so no other process can start it in between)."""
    from .headless import run_runner

    waiter = Waiter(store, job_id, style)
    try:
        code = waiter.wait()
        if code is not None:
            return code
        runner = JobRunner(store, job_id, workers=workers)
    finally:
        waiter.release()
    return asyncio.run(run_runner(runner, style, choice))
