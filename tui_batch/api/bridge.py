"""Thread-safe control of a job that runs on an asyncio loop (used by :mod:`.batch`).

The engine is single-threaded by design: its controls wake idle workers (asyncio futures),
create worker tasks and signal running commands, all of which must happen on the loop that runs
it, and its subscribers are promised the loop thread. A script, however, typically blocks one
thread in ``job.run()`` and controls the job from another (a GUI, a signal handler, a web
request). :class:`LoopBridge` is the one place that knows which loop a job runs on and hands a
control to it: called on the loop thread, the control runs at once; from any other thread, it is
scheduled with ``loop.call_soon_threadsafe`` and the caller waits (with a timeout) for its
result, so that for instance "no new task starts" really holds once ``pause()`` returns.

A control may race with the end of the run. The bridge answers :data:`ENDED` instead of calling
the engine once the engine has finished, including for calls that were already scheduled but
that the loop will never get to; the caller then falls back to what applies to a job that is not
running (see ``Job`` in :mod:`tui_batch.api`) through :meth:`LoopBridge.when_idle`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

from ..errors import TuiBatchError

__all__ = ["ENDED", "JobNotRunning", "LoopBridge"]

T = TypeVar("T")

IDLE, RUNNING, FINISHING = "idle", "running", "finishing"


class JobNotRunning(TuiBatchError, RuntimeError):
    """A control that only makes sense during a run (pause, resume) was used outside one."""


class _Ended:
    """Type of :data:`ENDED` (a sentinel, so a control's own ``None`` result stays distinct)."""

    def __repr__(self) -> str:
        return "ENDED"


ENDED: Final = _Ended()
"""What :meth:`LoopBridge.call` returns when the engine is not (or no longer) running."""


class LoopBridge:
    """Knows the loop and phase of one job's run and hands controls to that loop.

    Phases: ``idle`` (no run), ``running`` (the engine may be called), ``finishing`` (the engine
    has returned; the runner is still releasing its executor and the run lock). Phase changes
    happen on the loop thread only, under ``_cond``, so a scheduled control and a phase change
    never interleave.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._phase = IDLE
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._pending: set[concurrent.futures.Future[Any]] = set()

    @property
    def phase(self) -> str:
        return self._phase

    def on_loop_thread(self) -> bool:
        """True when called on the thread of the current run's loop."""
        return self._thread is not None and self._thread == threading.get_ident()

    def begin(self, what: str) -> None:
        """Enter ``running``; call on the loop, right before the engine is set up."""
        with self._cond:
            if self._phase != IDLE:
                raise RuntimeError(f"{what} is already running")
            self._loop = asyncio.get_running_loop()
            self._thread = threading.get_ident()
            self._phase = RUNNING

    def engine_done(self) -> None:
        """Enter ``finishing``: the engine must not be called any more. Calls scheduled but not
        yet run are answered :data:`ENDED` now, because the loop may stop before reaching them."""
        with self._cond:
            if self._phase != RUNNING:
                return
            self._phase = FINISHING
            pending, self._pending = self._pending, set()
        for fut in pending:
            if not fut.done() and fut.set_running_or_notify_cancel():
                fut.set_result(ENDED)

    def end(self) -> None:
        """Back to ``idle`` once the run has released everything (executor, run lock)."""
        self.engine_done()
        with self._cond:
            self._phase = IDLE
            self._loop = self._thread = None
            self._cond.notify_all()

    def when_idle(
        self, fn: Callable[[bool], T], timeout: float | None, what: str
    ) -> T | _Ended:
        """Run ``fn`` (the not-running form of a control) once no run of this job is in
        progress, holding off a new run meanwhile; :data:`ENDED` if a run started first (then
        use :meth:`call`). ``fn`` gets True when this job's own finishing run still holds the
        run lock: only possible on the loop thread, which must not wait for itself."""
        with self._cond:
            own_finishing = self._phase == FINISHING and self.on_loop_thread()
            if not own_finishing and not self._cond.wait_for(
                lambda: self._phase != FINISHING, timeout
            ):
                raise TimeoutError(f"{what} did not finish its run within {timeout}s")
            if self._phase == RUNNING:
                return ENDED
            # Under the lock: begin() waits, so a run cannot start halfway through fn.
            return fn(own_finishing)

    def call(self, fn: Callable[[], T], timeout: float | None, what: str) -> T | _Ended:
        """Run ``fn`` on the loop while the engine runs and return its result (or raise its
        exception); :data:`ENDED` if the engine is not running. Raises ``TimeoutError`` if the
        loop does not get to it within ``timeout`` seconds (it is then not run at all)."""
        with self._cond:
            if self._phase != RUNNING:
                return ENDED
            loop = self._loop
            assert loop is not None
            on_loop = self._thread == threading.get_ident()
            if not on_loop:
                fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
                self._pending.add(fut)
                loop.call_soon_threadsafe(self._run_scheduled, fut, fn)
        if on_loop:
            # Outside the lock: fn emits events, and a subscriber may well use the controls
            # of another job. The phase cannot change meanwhile: that happens on this thread.
            return fn()
        try:
            result: T | _Ended = fut.result(timeout)
        except concurrent.futures.TimeoutError:
            if fut.cancel():
                raise TimeoutError(
                    f"{what}: the event loop running it did not respond within {timeout}s"
                ) from None
            result = fut.result()  # the loop took it just now: it finishes promptly
        finally:
            with self._cond:
                self._pending.discard(fut)
        return result

    def _run_scheduled(self, fut: concurrent.futures.Future[Any], fn: Callable[[], Any]) -> None:
        """Loop side of :meth:`call`."""
        if fut.done() or not fut.set_running_or_notify_cancel():
            return  # answered by engine_done(), or the caller gave up waiting
        with self._cond:
            self._pending.discard(fut)
            running = self._phase == RUNNING
        if not running:
            fut.set_result(ENDED)
            return
        try:
            value = fn()
        except BaseException as exc:
            fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt / SystemExit belong to the loop's owner too
        else:
            fut.set_result(value)
