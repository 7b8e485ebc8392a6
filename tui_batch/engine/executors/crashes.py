"""Which task killed a process-pool worker: the pool's own answer blames the wrong one.

When a worker process dies (a native parser's segfault, the OOM killer), ``concurrent.futures``
fails *every* attempt in flight with the same ``BrokenProcessPool`` and terminates the other
workers: it never says which process died or what it was running. Blaming the first future
that reports fails an innocent task (and runs the guilty one again, which kills the next pool).

So each pool gets a small shared-memory table: a worker claims a row at start-up (its pid), and
marks the task id it runs around every call (two stores to shared memory, no system call). When
the pool breaks, :func:`post_mortem` reaps the old workers and reads their exit statuses: the
pool ended the innocent ones with SIGTERM, so a worker that ended any other way (SIGSEGV,
SIGKILL, an exit status) was the one that died, and its row names the task it was running.
A worker that died of SIGTERM itself is recognised as the one already dead when the pool
noticed (:meth:`PoolWatch.on_break`, called from the pool's own thread before it terminates
the others).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import signal
import time
from multiprocessing.connection import wait as mp_wait
from typing import TYPE_CHECKING, Any

from ...actions import run_in_process

if TYPE_CHECKING:
    from ...actions import TaskContext

__all__ = ["PoolWatch", "death_text", "new_lock", "post_mortem", "tracked_run", "worker_init",
           "worker_signals"]

_ROW = 3  # pid, busy flag, task id
_REAP_WAIT = 10.0  # seconds to wait for the old workers' exit statuses

_table: Any = None  # this worker's table (set by worker_init in the child)
_row = -1


class PoolWatch:
    """The parent's side of one pool generation: the table its workers write, its processes."""

    def __init__(self, rows: int) -> None:
        # Rows for twice the pool's size: a pool may start a replacement worker before the old
        # one's row is reused; a worker that finds no free row simply runs untracked.
        self.rows = rows * 2
        self.table: Any = mp.RawArray("q", self.rows * _ROW)  # no lock: one writer per row
        self.processes: dict[int, Any] = {}
        self.dead_at_break: set[int] | None = None

    def attach(self, pool: cf.ProcessPoolExecutor) -> None:
        """Keep the pool's own process dict: it outlives ``shutdown`` (which drops the
        attribute), and the pool fills it as it starts workers."""
        procs = getattr(pool, "_processes", None)
        if isinstance(procs, dict):
            self.processes = procs

    def on_break(self, future: Any) -> None:
        """Done callback of every attempt: at the first broken one, note which workers are
        gone already (their sentinel is ready: a process that has just exited may not be
        reapable yet). The pool's thread calls this before it terminates the others."""
        if self.dead_at_break is not None:
            return
        with contextlib.suppress(Exception):
            if future.cancelled() or not isinstance(future.exception(), cf.BrokenExecutor):
                return  # a result or the action's own exception: the pool is fine
            by_sentinel = {proc.sentinel: pid for pid, proc in list(self.processes.items())}
            ready = mp_wait(list(by_sentinel), timeout=0)
            self.dead_at_break = {by_sentinel[s] for s in ready if s in by_sentinel}

    def running(self) -> dict[int, int]:
        """pid -> task id of every worker that was inside an attempt."""
        raw = list(self.table)
        found: dict[int, int] = {}
        for i in range(self.rows):
            pid, busy, task_id = raw[i * _ROW : i * _ROW + _ROW]
            if pid and busy:
                found[pid] = task_id
        return found


def post_mortem(watch: PoolWatch) -> dict[int, int]:
    """Blocking (run it in a thread): reap the broken pool's workers; task id -> exit code of
    each task whose worker died on its own (empty when none can be named)."""
    procs = list(watch.processes.items())
    deadline = time.monotonic() + _REAP_WAIT
    codes: dict[int, int | None] = {}
    for pid, proc in procs:
        code = None
        while code is None and time.monotonic() < deadline:
            with contextlib.suppress(AssertionError, ValueError, OSError):
                proc.join(min(0.5, max(0.0, deadline - time.monotonic())))
            code = proc.exitcode
            if code is None and not proc.is_alive():
                time.sleep(0.01)  # reaped by the pool's thread; its status lands in a moment
        if code is None:  # still alive long after the pool ended it: end it for good
            with contextlib.suppress(OSError, AttributeError, ValueError):
                proc.kill()
        codes[pid] = code
    died = {pid: code for pid, code in codes.items()
            if code is not None and code != -signal.SIGTERM}
    if not died and watch.dead_at_break:  # it died of SIGTERM itself: it was gone first
        died = {pid: code for pid, code in codes.items()
                if pid in watch.dead_at_break and code is not None}
    running = watch.running()
    return {running[pid]: code for pid, code in died.items() if pid in running}


def death_text(code: int) -> str:
    """``worker process died (SIGSEGV)`` and the like, from a multiprocessing exit code."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGKILL:
            name += ", killed: out of memory?"
        return f"worker process died ({name})"
    return f"worker process died (exit status {code})"


# -- worker side ---------------------------------------------------------------------------


def worker_init(table: Any, lock: Any) -> None:
    """In each pool worker: claim a row of the table (its pid), then the signal set-up."""
    global _table, _row
    pid = os.getpid()
    with lock:
        for i in range(len(table) // _ROW):
            if table[i * _ROW] in (0, pid):
                table[i * _ROW] = pid
                table[i * _ROW + 1] = 0
                _table, _row = table, i
                break
    worker_signals()


def worker_signals() -> None:
    """Forked from the engine, a worker inherits its asyncio signal set-up: a signal to the
    worker would be written to the *engine's* wakeup descriptor. Make them the worker's own."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the engine's to handle


def tracked_run(ref: str, ctx: TaskContext) -> str | None:
    """What the pool runs: the action, with this worker's row saying which task it is in."""
    table, base = _table, _row * _ROW
    if table is None or _row < 0:
        return run_in_process(ref, ctx)
    table[base + 2] = ctx.task_id
    table[base + 1] = 1
    try:
        return run_in_process(ref, ctx)
    finally:
        table[base + 1] = 0


def new_lock() -> Any:
    """The lock workers take to claim a row (at start-up only)."""
    return mp.Lock()

