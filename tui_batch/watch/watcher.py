"""The :class:`Watcher`: one watch session, wired from the parts of this package.

It owns what belongs to the session as a whole: its settings (checked by :mod:`.settings`),
the watch lock, the job (:mod:`.job`) and the live engine it feeds (:mod:`.engines`: a job of
``[[steps]]`` gets a :mod:`.pipeline`), the event stream to its clients (:mod:`.events`), and
stopping (signals, ``--on-stop``). The parts each own their
state and are called through small methods: the listener (:mod:`.listen`) delivers change
batches, the intake (:mod:`.intake`) turns them into candidates, the settle table
(:mod:`.settle`) holds them until stable, the admitter (:mod:`.admit`) makes tasks of new
content versions, the output guard (:mod:`.outputs`) recognises what the action wrote, and
the reconciler (:mod:`.reconcile`) rescans. No Textual here: the TUI drives a Watcher through
``engine``, ``subscribe`` and ``stop`` like the headless CLI does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from watchfiles import Change

from ..control import serve_engine
from ..engine import Engine, Event, SharedLimit, TaskEvent
from ..jobs import mirror_event, resolve_checked_action, scan_filter
from ..jobs.pipeline_setup import resolve_steps
from ..model import JobSpec, TaskState
from ..select import CompiledFilter, compile_filter
from ..store import Store, WatchLock, WatchState, identity_key
from .admit import Admitter, Ready
from .engines import open_engine
from .events import EventHub, WatchError, WatchEvent
from .fields import WatchFields
from .intake import Intake
from .job import WatchJob, watch_identity, with_roots
from .listen import Listener
from .outputs import OutputGuard
from .pipeline import WatchPipeline, step_output
from .reconcile import Reconciler
from .settings import DEFAULT_RESCAN, DEFAULT_RETAIN, DEFAULT_SETTLE, check_settings
from .settle import Pending, Resolved, SettleTable
from .temp import compile_temp_patterns

__all__ = ["Watcher"]


class Watcher:
    """Watches the roots of a job spec and feeds every new file version to a live engine.

    Use (headless or from a Textual worker)::

        watcher = Watcher(spec, store, settle=2.0)
        watcher.subscribe(on_watch_event)      # WatchEvent: arrived, queued, ...
        watcher.engine.subscribe(on_engine)    # TaskEvent / StatsEvent as for `run`
        code = await watcher.run()             # until stop(); 0 (or 130 after interrupt())
        watcher.stop()                         # from a signal handler or a key binding

    The constructor opens (or reuses) the watch's job and queues what the last session left
    unfinished; ``engine`` and ``job_id`` are ready before :meth:`run`. It raises
    :class:`InputError` for bad settings and when the same watch already runs elsewhere.
    """

    def __init__(
        self,
        spec: JobSpec,
        store: Store,
        *,
        settle: float = DEFAULT_SETTLE,
        poll: bool = False,
        rescan: float | None = DEFAULT_RESCAN,
        on_stop: str = "finish",
        watch_id: str | None = None,
        temp_patterns: Sequence[str] = (),
        retain_finished: int = DEFAULT_RETAIN,
        poll_delay_ms: int = 300,
        stats_interval: float = 0.25,
        gate: SharedLimit | None = None,
    ) -> None:
        """``gate``: a worker limit shared with other jobs (the service's, or its group's
        inside it: engine/gate.py), held by the watch's engine as a JobRunner's is."""
        check_settings(settle=settle, rescan=rescan, retain_finished=retain_finished,
                       on_stop=on_stop)
        temp_extra = compile_temp_patterns(temp_patterns)
        self.store = store
        self.settle = float(settle)
        self.poll = poll
        self.rescan = rescan or None
        self.on_stop = on_stop
        self.poll_delay_ms = poll_delay_ms
        # Absolute roots: events, scans and the store then agree on one spelling of each path.
        self.spec = with_roots(spec, [os.path.abspath(r) for r in spec.filter.roots])
        flt = self.spec.filter
        # a pipeline's steps, each checked (resolve_steps), or the one action
        self.actions = resolve_steps(self.spec) if self.spec.steps else [
            resolve_checked_action(self.spec)]
        self.action = self.actions[0]
        self.cf: CompiledFilter = compile_filter(scan_filter(self.spec))
        self.roots: tuple[str, ...] = tuple(flt.roots)
        self.multi_root = len(self.roots) > 1
        self.out_dir = self.spec.settings.out_dir
        self._intake = Intake(self.roots, self.cf, self.out_dir, temp_extra)
        self.identity, self.label = watch_identity(self.spec, watch_id)

        self.state = WatchState(store.path)
        self._lock = WatchLock(store.path, identity_key(self.identity))
        try:
            self._lock.acquire()
            self._open_job(retain_finished, stats_interval, gate)
        except BaseException:
            self._lock.release()
            self.state.close()
            raise

        self._events = EventHub()
        self._emit = self._events.emit
        self._warn = self._events.warn
        self._stopping = False
        self._interrupted = False
        self._fatal: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scan_cancel = threading.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._closed = False
        self._settle = SettleTable(self.settle, self._intake.stat,
                                   lambda p: self._emit(WatchEvent("arrived", p)))
        self._outputs = OutputGuard(siblings=not self.out_dir, stat=self._intake.stat)
        self._admitter = Admitter(
            cf=self.cf, stat=self._intake.stat, state=self.state, watch_row=self.watch_row,
            store=store, job_id=self.job_id, settings=self.spec.settings,
        )
        self._listener = Listener(
            self.roots, polling=poll, poll_delay_ms=poll_delay_ms,
            on_changes=self._on_changes, on_started=self._on_started,
            rescan=self._request_rescan, warn=self._warn, stopping=lambda: self._stopping,
            open_watch=self._open_watch,
        )
        self._reconciler = Reconciler(
            period=self.rescan, cf=self.cf, state=self.state, watch_row=self.watch_row,
            stat=self._intake.stat, is_temp=self._intake.is_temp, settle=self._settle,
            cancel=self._scan_cancel, roots_unchanged=self._listener.roots_unchanged,
            emit=self._emit, warn=self._warn, stopping=lambda: self._stopping,
        )
        self.engine.subscribe(self._on_engine_event)
        self.ready = asyncio.Event()
        """Set once the OS watch is in place: files written from then on are noticed (those
        from before, by the start-up scan that begins right after)."""

    # -- set-up ------------------------------------------------------------------------------

    def _open_job(self, retain_finished: int, stats_interval: float,
                  gate: SharedLimit | None) -> None:
        """Find or create the watch's job, and take over what the last session left."""
        self._job = WatchJob(self.store, self.state, self.identity, self.label)
        self._job.open(self.spec, multi_root=self.multi_root,
                       watch={"settle": self.settle, "rescan": self.rescan, "poll": self.poll})
        self.watch_row: int = self._job.watch_row
        self.job_id: int = self._job.job_id
        self.resumed = self._job.resumed
        self.engine: Engine
        self.pipeline: WatchPipeline | None
        """A job of ``[[steps]]``: the steps' engines (then also :attr:`engine`), else None."""
        self.engine, self.pipeline, self.leftover = open_engine(
            self._job, self.spec, self.actions, multi_root=self.multi_root,
            retain=retain_finished, stats_interval=stats_interval, gate=gate)
        """``leftover``: tasks the previous session of this watch left queued or running
        (run again; a pipeline's at the step where they stopped)."""

    # -- public API --------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[WatchEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every :class:`WatchEvent`, on the loop thread."""
        return self._events.subscribe(callback)

    @property
    def settling(self) -> int:
        """Files waiting for their size and mtime to stay put (the settle window)."""
        return self._settle.settling

    @property
    def mode(self) -> str:
        """How changes are noticed: ``inotify`` (the OS's notifications) or ``polling``."""
        return self._listener.mode

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def _pending(self) -> dict[str, Pending]:
        """The settle table's paths (tests and benchmarks check that it empties)."""
        return self._settle.pending

    def stop(self, mode: str | None = None) -> None:
        """Stop watching and end :meth:`run` (SIGTERM, SIGHUP, quit). Idempotent; a second
        call stops running tasks at once (and a third kills them).

        ``mode`` (default: ``on_stop``): ``finish`` lets running tasks end within the
        engine's kill grace, then stops what is left; ``stop`` stops them now. Tasks stopped
        or never started stay in the job and run when the watch starts again.
        """
        if self._stopping:
            self.engine.stop()
            return
        self._stopping = True
        self._emit(WatchEvent("stopping", message=mode or self.on_stop))
        self._wake_all()
        if (mode or self.on_stop) == "stop" or self._loop is None:
            self.engine.stop()
        else:
            self.engine.pause()
            self._tasks.append(self._loop.create_task(self._finish_running()))

    def interrupt(self) -> None:
        """Ctrl-C: like ``stop("stop")``, and :meth:`run` returns 130."""
        self._interrupted = True
        self.stop("stop")

    async def run(self) -> int:
        """Watch until :meth:`stop`; returns 0 (130 after :meth:`interrupt`).

        Raises :class:`WatchError` when watching becomes impossible (state is saved first).
        """
        if not self._stopping:
            await asyncio.to_thread(self._job.mark_running)
        server = None if self._stopping else await serve_engine(
            self.engine, self.store.path, self.job_id, self.label, self.stop,
            extra=WatchFields(self))  # the header's fields, for an attached dashboard
        if self._stopping:  # stopped before it started
            await asyncio.shield(asyncio.to_thread(self._job.save))
            if server is not None:
                await server.close(None, 130 if self._interrupted else 0)
            return 130 if self._interrupted else 0
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._settle.start()
        self._listener.start()
        self._reconciler.start()
        # (no await between here and the engine's first step: a stop() from now on reaches
        # a running engine)
        engine_task = loop.create_task(self.engine.run())
        watch_task = loop.create_task(self._listener.run())
        watch_task.add_done_callback(self._on_watch_done)
        settle_task = loop.create_task(self._settle.run(self._on_due, lambda: self._stopping))
        scan_task: asyncio.Task[None] | None = None
        try:
            ready = loop.create_task(self.ready.wait())
            await asyncio.wait({ready, watch_task, engine_task},
                               return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if self.ready.is_set() and not self._stopping:
                scan_task = loop.create_task(self._reconciler.run())
            await engine_task
        finally:
            self._stopping = True
            self._wake_all()
            if not engine_task.done():
                self.engine.stop()
                with contextlib.suppress(BaseException):
                    await engine_task
            for t in (watch_task, settle_task, scan_task, *self._tasks):
                if t is None:
                    continue
                if t is not settle_task:  # an admission in flight is finished, not dropped
                    t.cancel()
                with contextlib.suppress(BaseException):
                    await t
            await asyncio.shield(asyncio.to_thread(self._job.save))
            if server is not None:
                await server.close(None, 130 if self._interrupted else 0)
        if self._fatal is not None:
            raise WatchError(f"watching stopped: {self._fatal}") from self._fatal
        return 130 if self._interrupted else 0

    async def aclose(self) -> None:
        """Release the engine's executor, the watch state and the watch lock."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.engine.aclose()
        finally:
            self.state.close()
            self._lock.release()

    # -- internals: starting and stopping ----------------------------------------------------

    def _open_watch(self, polling: bool) -> Any:
        """The watchfiles generator (a method so tests can provoke the limit fallback)."""
        return self._listener.awatch(polling)

    def _on_started(self) -> None:
        self.ready.set()
        self._emit(WatchEvent("watching", message=self.mode))

    def _wake_all(self) -> None:
        """Stopping: end scans and the OS watch, and wake every loop that waits."""
        self._scan_cancel.set()
        self._listener.stop()
        self._settle.wake()
        self._reconciler.wake()

    async def _finish_running(self) -> None:
        """--on-stop finish: no new task starts; running ones get the kill grace to end."""
        deadline = time.monotonic() + max(0.0, self.engine.settings.kill_grace)
        while self.engine.snapshot().running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.engine.stop()

    def _on_watch_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not self._stopping:
            self._fatal = exc
            self._warn(f"watching failed: {exc}")
            self.stop("finish")

    def _request_rescan(self, delay: float) -> None:
        self._reconciler.request(delay)

    # -- internals: the store mirror and output recognition ----------------------------------

    def _on_engine_event(self, ev: Event) -> None:
        """Mirror engine events into the store (as JobRunner does; a pipeline mirrors its
        own); the output guard learns what the action itself wrote (every step's output,
        in a pipeline), the admitter which versions never ran."""
        pipeline = self.pipeline
        if pipeline is None:
            mirror_event(self.store, self.engine, ev)
        if type(ev) is TaskEvent:
            task = self.engine.tasks.get(ev.task_id)
            if task is None:
                return
            if pipeline is None or pipeline.step_of(task.id) == 0:
                self._outputs.on_task_event(ev, task)
                self._admitter.on_task_event(ev, task)
            if pipeline is not None and ev.state is TaskState.DONE:
                self._outputs.note_output(step_output(pipeline, task), self._intake.inside)

    # -- internals: from events to tasks -----------------------------------------------------

    async def _on_changes(self, changes: set[tuple[Change, str]]) -> None:
        if not changes:
            return  # a quiet second (yield_on_timeout): only the root check runs
        now = time.monotonic()
        for _change, path in changes:
            if self._stopping:
                return
            keep, st = self._intake.check(path)
            if keep:
                self._settle.observe(path, now, st, event=True)
        await asyncio.sleep(0)

    async def _on_due(self, due: list[Pending]) -> None:
        try:
            await self._take_settled(await self._settle.resolve(due))
        except Exception as exc:  # the store busy for too long, a disk error: go on
            if self._stopping:
                return  # (and the settle loop ends)
            self._warn(f"could not queue {len(due)} settled file(s): {exc}; "
                       "they are picked up by the next reconcile scan")
            self._request_rescan(max(self.settle, 5.0))

    async def _take_settled(self, res: Resolved) -> None:
        """The paths whose window ended: unchanged files are admitted, missing ones are
        forgotten, folders are walked."""
        guard = self._outputs
        ready = [
            Ready(p.path, st.st_size, st.st_mtime_ns, guard.own_version(p.path),
                  guard.written_by_a_run(p.path, p.last_event))
            for p, st in res.settled
        ]
        never_ran = self._admitter.take_never_ran()
        if res.gone or never_ran:
            await asyncio.to_thread(self._admitter.forget, res.gone, never_ran)
        for folder in res.folders:
            found = await asyncio.to_thread(self._intake.walk, folder, self._scan_cancel)
            now = time.monotonic()
            for path, st in found:
                self._settle.observe(path, now, st, event=True)
        if not ready:
            return
        result = await asyncio.to_thread(self._admitter.admit, ready)
        if result.tasks:
            self.engine.submit(result.tasks)
        for ev in result.events:
            self._emit(ev)
        now = time.monotonic()
        for path in result.again:
            self._settle.observe(path, now, self._intake.stat(path), event=False)
