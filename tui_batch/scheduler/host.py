"""Where a Batch's scheduler runs, how jobs enter it, and how it stops.

Why a module of its own: :class:`.core.Scheduler` is the state machine; a :class:`Host` gives
it an event loop (a thread of its own for ``with Batch()``, the caller's loop for ``async with
Batch()``), builds the entries of submitted jobs (checking everything a submit can get wrong
before anything is stored, then storing the job and its links in one transaction), holds the
host lock that tells other processes these jobs have a live owner (``spec.host``, read by
``job_liveness``), and closes: no new attempt starts, running ones get ``grace`` seconds, those
still running are marked interrupted (resumable), the store receives every outcome.

A job can only wait for jobs that exist before it, so a submit can never close a cycle; a
dependency on a job that is not in the store is refused (InputError naming the field).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InputError, StoreError
from ..jobs.states import DEPENDENCY_FAILED, INTERRUPTED, WAITING
from ..model import Priority
from ..store import Store, WatchLock, identity_key
from .calls import check_kind, default_kind, json_args, reference_of, resolve
from .core import PENDING, Scheduler
from .entry import Entry, GroupInfo, verdict
from .errors import ErrorInfo

__all__ = ["NOT_RESUMABLE", "Host"]

NOT_RESUMABLE = "not resumable: not an importable function"
NOT_RESUMABLE_ARGS = "not resumable: its arguments are not JSON"


def _number(value: Any, field: str, *, minimum: float, allow_none: bool = True) -> Any:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or value < minimum:
        raise InputError(field, f"must be a number >= {minimum:g}, not {value!r}")
    return value


class Host:
    """One scheduler, its loop, its host lock."""

    def __init__(
        self, store: Store, workers: int, max_queue_size: int | None, grace: float
    ) -> None:
        self.store = store
        self.grace = grace
        self.sched = Scheduler(store, workers, max_queue_size)
        self.identity = f"batch-host:{uuid.uuid4().hex}"
        self._host_lock = WatchLock(store.path, identity_key(self.identity))
        self._host_lock.acquire("Batch")
        self._thread: threading.Thread | None = None
        self.closed = False

    # ------------------------------------------------------------------ the loop
    def start_thread(self) -> None:
        """Run the scheduler on a loop of its own, in a daemon thread (a forgotten close()
        never holds the process at exit; the jobs stay stored)."""
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self.sched.loop, self.sched.loop_thread = loop, threading.get_ident()
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=main, name="tui-batch-scheduler", daemon=True)
        self._thread.start()
        ready.wait()

    def attach(self) -> None:
        """Run the scheduler on the running loop (``async with Batch()``)."""
        self.sched.loop = asyncio.get_running_loop()
        self.sched.loop_thread = threading.get_ident()

    # ------------------------------------------------------------------ entering
    def check_deps(self, ids: Iterable[int], field: str) -> tuple[int, ...]:
        out = []
        for jid in ids:
            if jid not in self.sched.entries:
                try:
                    self.store.get_job(jid)
                except StoreError:
                    raise InputError(field, f"no job {jid} in {self.store.path}") from None
            out.append(jid)
        return tuple(dict.fromkeys(out))

    def submit_call(
        self, func: Callable[..., Any] | str, args: Sequence[Any], kwargs: dict[str, Any] | None,
        *, name: str | None, priority: Any, retries: int, backoff: float | None,
        timeout: float | None, kind: str | None, after: Iterable[int], after_any: Iterable[int],
        group: GroupInfo | None, block: bool, block_timeout: float | None,
    ) -> Entry:
        ref: str | None
        if isinstance(func, str):
            fn, ref = resolve(func), func
        elif callable(func):
            fn, ref = func, reference_of(func)
        else:
            raise InputError("func", f"not a function or 'module:function': {func!r}")
        if not isinstance(args, (list, tuple)):
            raise InputError("args", "must be a tuple or a list")
        kwargs = dict(kwargs or {})
        exec_kind = check_kind(kind or default_kind(fn), fn, ref)
        stored = json_args(tuple(args), kwargs)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InputError("retries", f"must be a whole number >= 0, not {retries!r}")
        backoff = _number(1.0 if backoff is None else backoff, "backoff", minimum=0)
        timeout = _number(timeout, "timeout", minimum=0.001)
        qual = str(getattr(fn, "__qualname__", None) or type(fn).__name__)
        why = NOT_RESUMABLE if ref is None else NOT_RESUMABLE_ARGS if stored is None else None
        spec = {
            "kind": "call",
            "action": {"name": ref or f"{qual} (in-process)"},
            "host": {"identity": self.identity},
            "call": {"func": ref, "qualname": qual, "exec": exec_kind,
                     "args": stored if ref is not None else None, "retries": retries,
                     "backoff": backoff, "timeout": timeout, "not_resumable": why},
        }
        e = Entry(id=-1, name=name or str(qual), kind="call",
                  priority=int(Priority.parse(priority, "priority")), seq=0, func=fn, ref=ref,
                  exec=exec_kind, args=tuple(args), kwargs=kwargs, retries=retries,
                  backoff=backoff, timeout=timeout, resumable=why is None)
        return self._enter(e, spec, None, after, after_any, group, block, block_timeout)

    def schedule_files(
        self, job_id: int, *, name: str | None, priority: Any, after: Iterable[int],
        after_any: Iterable[int], group: GroupInfo | None,
    ) -> Entry:
        """A stored file job joins the scheduler (it runs through ``sched.run_files``)."""
        e = Entry(id=-1, name=name, kind="files",
                  priority=int(Priority.parse(priority, "priority")), seq=0)
        return self._enter(e, None, job_id, after, after_any, group, True, None)

    def _enter(
        self, e: Entry, spec: dict[str, Any] | None, job_id: int | None, after: Iterable[int],
        after_any: Iterable[int], group: GroupInfo | None, block: bool,
        block_timeout: float | None,
    ) -> Entry:
        sched = self.sched
        with sched.lock:
            if self.closed or sched.closing:
                raise RuntimeError("this Batch is closed")
            e.after = self.check_deps(after, "after")
            e.after_any = self.check_deps(after_any, "after_any")
            e.group = group
            sched.wait_for_space(block, block_timeout)
            state, reason = verdict(e, sched.state_of, sched.entries)
            failed = state == DEPENDENCY_FAILED
            if failed:
                state = WAITING
            e.state, e.reason = state, reason
            kw = dict(name=e.name, state=state, group_id=None if group is None else group.id,
                      priority=e.priority, after=e.after, after_any=e.after_any, reason=reason)
            try:
                if spec is not None:
                    e.id = self.store.create_scheduled_job(spec, **kw)  # type: ignore[arg-type]
                else:
                    assert job_id is not None
                    self.store.schedule_job(job_id, **kw)  # type: ignore[arg-type]
                    e.id = job_id
            except StoreError as exc:
                raise InputError("after", str(exc)) from None
            e.seq = e.id
            sched.add(e)
            if failed:
                sched.end(e, DEPENDENCY_FAILED, reason, ErrorInfo("DependencyFailed",
                                                                  reason or ""))
            return e

    def group(self, name: str | None, sequential: bool, cancel_on_failure: bool,
              workers: int | None) -> GroupInfo:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                    or workers < 1):
            raise InputError("workers", f"must be a whole number >= 1, not {workers!r}")
        gid = self.store.create_sched_group(name, sequential=sequential,
                                            cancel_on_failure=cancel_on_failure, workers=workers)
        with self.sched.lock:
            g = self.sched.groups[gid] = GroupInfo(gid, name, sequential, cancel_on_failure,
                                                   workers)
        return g

    def known_group(self, group_id: int) -> GroupInfo:
        """A group of this scheduler, or a stored one loaded into it (with its members)."""
        with self.sched.lock:
            g = self.sched.groups.get(group_id)
            if g is not None:
                return g
            rec = self.store.get_group(group_id)
            if rec is None:
                raise InputError("group", f"no group {group_id} in {self.store.path}")
            g = GroupInfo(rec.id, rec.name, rec.mode == "sequential", rec.cancel_on_failure,
                          rec.workers)
            g.members = self.store.group_members(group_id)
            self.sched.groups[group_id] = g
            return g

    # ------------------------------------------------------------------ closing
    def _stop_starting(self) -> None:
        with self.sched.lock:
            self.sched.closing = True
            self.sched._changed.notify_all()

    def _interrupt_running(self) -> None:
        sched = self.sched
        with sched.lock:
            for e in sched.entries.values():
                if e.task is not None and sched.loop is not None:
                    sched.loop.call_soon_threadsafe(e.task.cancel)

    def _settle(self) -> list[Entry]:
        """After the last attempt: in-process jobs cannot outlive us; say so, and wake every
        waiter (a job still queued stays stored for resume_unfinished)."""
        sched = self.sched
        with sched.lock:
            for e in sched.entries.values():
                if not e.resumable and e.state in PENDING and not e.ending:
                    sched._set(e, INTERRUPTED, NOT_RESUMABLE)
            return list(sched.entries.values())

    def _finish(self, entries: list[Entry]) -> None:
        self.sched.writer.stop()
        self.sched.attempts.close()
        self._host_lock.release()
        for e in entries:
            e.done.set()
        self.closed = True

    def close(self, grace: float | None = None) -> None:
        """Stop starting work, wait up to ``grace`` seconds for running work, store all."""
        if self.closed:
            return
        sched = self.sched
        grace = self.grace if grace is None else grace
        self._stop_starting()
        if sched.on_loop():
            raise RuntimeError("close a Batch from outside its scheduler's loop")
        with sched.lock:
            if not sched._changed.wait_for(lambda: sched.running == 0, grace):
                self._interrupt_running()
                sched._changed.wait_for(lambda: sched.running == 0, 10.0)
        entries = self._settle()
        sched.writer.drain()
        if self._thread is not None and sched.loop is not None:
            sched.loop.call_soon_threadsafe(sched.loop.stop)
            self._thread.join()
        self._finish(entries)

    async def aclose(self, grace: float | None = None) -> None:
        """:meth:`close` on the scheduler's own (the caller's) loop."""
        if self.closed:
            return
        sched = self.sched
        grace = self.grace if grace is None else grace
        self._stop_starting()
        deadline = time.monotonic() + grace
        while sched.running and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if sched.running:
            self._interrupt_running()
            while sched.running:
                await asyncio.sleep(0.01)
        entries = self._settle()
        await asyncio.to_thread(sched.writer.drain)
        for _ in range(3):  # the committed outcomes' callbacks, scheduled on this loop
            await asyncio.sleep(0)
        self._finish(entries)
