"""Starting a command in this process and learning when its process group is over.

The ``loop`` and ``thread`` spawn modes of :class:`~.subprocess.SubprocessExecutor` (and the
fallback of the ``forkserver`` mode) live here; which mode runs, and when to stop what, is the
executor's policy. Children start with ``os.posix_spawn`` in a new process group, stdin
/dev/null, stdout/stderr to the attempt's spool files (:mod:`.spool`):

* ``loop``: ``posix_spawn`` on the event-loop thread (glibc uses ``clone(CLONE_VFORK)``, so no
  page tables are copied) and a pidfd registered on the loop for the exit, with no waiter
  thread per child. The loop is blocked for each exec, though (vfork waits for it).
* ``thread``: spawn and ``waitid`` on a thread per worker (slowest: hand-off, GIL traffic).

Either way the child is reaped on the loop, and not at once when its group is being stopped
and still has live members: the zombie keeps the group id ours until they are gone or the
grace period's SIGKILL (:mod:`.groups`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal

from . import groups
from .forkclient import TASK_ENV_NAMES, _Running
from .groups import kill_group
from .threads import DaemonThreadPool

_SIGDEF = (signal.SIGPIPE, signal.SIGXFSZ)  # Python ignores these; children must not inherit it


def _wait_exit(pid: int) -> None:
    """Until ``pid`` exited, without reaping it (the loop decides when; see groups.py)."""
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            return
        except InterruptedError:
            continue


class Spawner:
    """Spawns commands in-process and reaps them. ``running`` is the executor's table of the
    commands it runs (task id -> :class:`~.forkclient._Running`), read to find held leaders."""

    def __init__(self, running: dict[int, _Running]) -> None:
        self.env = dict(os.environ)  # a plain dict converts much faster than os.environ
        self.devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self._running = running
        self._which: dict[str, str] = {}
        self._pool: DaemonThreadPool | None = None  # waiter threads ("thread" mode, fallbacks)
        self._hold_timer: asyncio.TimerHandle | None = None

    def resolve(self, name: str) -> str:
        """PATH lookup once per command name, not per task (execvp would try every PATH entry
        for every file)."""
        path = self._which.get(name)
        if path is None:
            if "/" in name:
                path = name
            else:
                found = shutil.which(name, path=self.env.get("PATH", os.defpath))
                if found is None:
                    raise FileNotFoundError(2, "command not found", name)
                path = found
            self._which[name] = path
        return path

    def _spawn(self, argv: list[str], running: _Running) -> int:
        env = self.env.copy()  # a copy per spawn: "thread" mode spawns from several threads
        for name, value in zip(TASK_ENV_NAMES, running.task_env, strict=True):
            env[name] = str(value)
        return os.posix_spawn(
            self.resolve(argv[0]),
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, self.devnull, 0),
                (os.POSIX_SPAWN_DUP2, running.spool.out, 1),
                (os.POSIX_SPAWN_DUP2, running.spool.err, 2),
            ],
            setpgroup=0,
            setsigdef=_SIGDEF,
        )

    def _threads(self) -> DaemonThreadPool:
        if self._pool is None:
            self._pool = DaemonThreadPool("tui-batch-spawn")
        return self._pool

    # ------------------------------------------------------------------ the two modes
    def in_loop(
        self, loop: asyncio.AbstractEventLoop, argv: list[str], running: _Running
    ) -> asyncio.Future[int]:
        """Spawn on the loop thread and learn about the exit through a pidfd: no thread, no
        hand-off, no GIL traffic; the loop is blocked only for the execve itself (vfork)."""
        pid = self._spawn(argv, running)
        running.pid = pid
        future: asyncio.Future[int] = loop.create_future()
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # no descriptor left for it: a thread waits for the exit instead
            self._watch_in_thread(loop, running, future)
            return future

        def on_exit() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._exited(running, future)

        loop.add_reader(pidfd, on_exit)
        return future

    def _watch_in_thread(
        self, loop: asyncio.AbstractEventLoop, running: _Running, future: asyncio.Future[int]
    ) -> None:
        try:
            waiter = self._threads().submit(_wait_exit, running.pid)
        except RuntimeError as exc:  # no thread either: this attempt cannot be watched
            kill_group(running.pid, signal.SIGKILL)
            os.waitpid(running.pid, 0)
            running.pid = 0
            raise OSError(errno.EAGAIN, "cannot watch the command: no thread left") from exc

        def done(_: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(self._exited, running, future)

        waiter.add_done_callback(done)

    def _spawn_wait(self, argv: list[str], running: _Running) -> None:
        """Runs on a pool thread: spawn, then block until the exit (both release the GIL), so
        spawns of different workers overlap instead of queueing behind one event loop. The
        child is reaped on the loop (:meth:`_exited`)."""
        pid = self._spawn(argv, running)
        running.pid = pid
        if running.cancelled:  # cancelled before the pid was known
            kill_group(pid, signal.SIGTERM)
        _wait_exit(pid)

    def in_thread(
        self, loop: asyncio.AbstractEventLoop, argv: list[str], running: _Running
    ) -> asyncio.Future[int]:
        """Spawn and wait for the exit on a pool thread."""
        future: asyncio.Future[int] = loop.create_future()
        try:
            waiter = self._threads().submit(self._spawn_wait, argv, running)
        except RuntimeError as exc:  # no thread can start: as short of processes as EAGAIN
            raise OSError(errno.EAGAIN, str(exc)) from exc
        spawned = asyncio.wrap_future(waiter)

        def after(f: asyncio.Future[None]) -> None:
            # also when run() was cancelled meanwhile: the child must be reaped all the same
            exc = None if f.cancelled() else f.exception()
            if exc is None and running.pid:
                self._exited(running, future)
            elif not future.done():
                future.set_exception(exc or asyncio.CancelledError())

        spawned.add_done_callback(after)
        return future

    # ------------------------------------------------------------------ the group's end
    def _exited(self, running: _Running, future: asyncio.Future[int]) -> None:
        """The leader exited and is not reaped yet. If its group is being stopped and has
        live members, keep the zombie (the group id stays ours) until they are gone or the
        grace period's SIGKILL; else reap it now."""
        if (
            (running.cancelled or running.timed_out)
            and not running.killed
            and groups.live_groups({running.pid})
        ):
            running.held = future
            if self._hold_timer is None:
                self._hold_timer = future.get_loop().call_later(groups.HOLD_POLL, self._poll)
            return
        self.reap(running, future)

    def reap(self, running: _Running, future: asyncio.Future[int]) -> None:
        """Reap the leader: the attempt is over (its exit status resolves ``future``)."""
        pid = running.pid
        running.held = None
        if not pid:
            return
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError as exc:  # reaped by someone else: the status is lost
            running.pid = 0
            if not future.done():
                future.set_exception(exc)
            return
        running.pid = 0  # reaped: the group id may be reused from now on
        if not future.done():
            future.set_result(status)

    def _poll(self) -> None:
        self._hold_timer = None
        held = {r.pid: r for r in self._running.values() if r.held is not None and r.pid}
        if not held:
            return
        alive = groups.live_groups(set(held))
        for pid, running in held.items():
            if pid not in alive and running.held is not None:
                self.reap(running, running.held)
        if any(r.held is not None for r in self._running.values()):
            loop = asyncio.get_running_loop()
            self._hold_timer = loop.call_later(groups.HOLD_POLL, self._poll)

    # ------------------------------------------------------------------ closing
    def stop_polling(self) -> None:
        """No more looks at held groups (the executor closes; they were SIGKILLed)."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None

    def close_threads(self) -> None:
        """No more waiter threads (those still waiting die with the process)."""
        if self._pool is not None:
            self._pool.shutdown()

    def close(self) -> None:
        """Release /dev/null (last: fork servers got it as their stdin)."""
        with contextlib.suppress(OSError):
            os.close(self.devnull)
