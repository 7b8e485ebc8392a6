"""A thread pool whose threads never hold the process at exit.

Why not :class:`concurrent.futures.ThreadPoolExecutor`: its threads are joined at interpreter
exit, so one action stuck in a call that never returns (a hung network mount, a deadlocked
library) keeps ``tui-batch`` alive long after the engine gave up on that attempt (issue 7, item
15). A thread cannot be killed; what the engine can do is stop waiting for it, tell the action
(``TaskContext.cancelled``) and make sure nothing waits for it at exit either. These threads are
daemon threads, so an abandoned one dies with the process.

The pool has no size limit of its own: the engine's worker count already bounds how many
attempts run at once, and an attempt the engine abandoned must not occupy one of the slots the
next attempts need. Idle threads are reused, and leave after :data:`IDLE_EXIT` seconds unused.
"""

from __future__ import annotations

import concurrent.futures as cf
import queue
import threading
from collections.abc import Callable
from itertools import count
from typing import Any

IDLE_EXIT = 30.0
"""Seconds an idle thread waits for work before it exits (watch mode idles for hours)."""

_Item = tuple["cf.Future[Any]", Callable[..., Any], tuple[Any, ...]] | None


class DaemonThreadPool:
    """``submit(fn, *args) -> concurrent.futures.Future`` on daemon threads (see the module
    docstring for why)."""

    def __init__(self, name: str = "tui-batch") -> None:
        self._name = name
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for work minus queued items not yet taken
        self._threads = 0
        self._closed = False
        self._ids = count(1)

    @property
    def threads(self) -> int:
        """Live threads (busy, idle or abandoned by the engine but still running)."""
        return self._threads

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> cf.Future[Any]:
        """Run ``fn(*args)`` on an idle thread, or on a new one if none is idle.

        Raises ``RuntimeError`` when the pool is shut down or no thread can be started (the
        caller treats the latter as running out of processes/threads).
        """
        future: cf.Future[Any] = cf.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            start = self._idle <= 0
            if start:
                self._threads += 1
            else:
                self._idle -= 1  # that idle thread will take this item
        if start:
            thread = threading.Thread(
                target=self._work, name=f"{self._name}-{next(self._ids)}", daemon=True
            )
            try:
                thread.start()
            except BaseException:
                with self._lock:
                    self._threads -= 1
                raise
        self._queue.put((future, fn, args))
        return future

    def _work(self) -> None:
        get = self._queue.get
        try:
            while True:
                try:
                    item = get(timeout=IDLE_EXIT)
                except queue.Empty:
                    with self._lock:
                        if self._idle > 0:  # nobody counts on this thread: leave
                            self._idle -= 1
                            return
                    continue  # a submit just reserved this thread: its item is coming
                if item is None:
                    return
                future, fn, args = item
                ran = future.set_running_or_notify_cancel()
                result: Any = None
                error: BaseException | None = None
                if ran:
                    try:
                        result = fn(*args)
                    except BaseException as exc:
                        error = exc
                # idle again *before* the caller learns the result: its next submit (which
                # may follow at once) then reuses this thread instead of starting another
                with self._lock:
                    closed = self._closed
                    if not closed:
                        self._idle += 1
                if ran:
                    if error is not None:
                        future.set_exception(error)
                    else:
                        future.set_result(result)
                del item, future, fn, args, result, error  # keep nothing alive while idle
                if closed:
                    return
        finally:
            with self._lock:
                self._threads -= 1

    def shutdown(self) -> None:
        """Start nothing more; idle threads exit now, busy ones when their call returns.
        Never waits (that is the point of this pool)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            waiting = max(0, self._idle)
        while True:  # what no thread took yet never runs (as cancel_futures=True would do)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
                waiting += 1  # the thread reserved for it is waiting still
        for _ in range(waiting):
            self._queue.put(None)
