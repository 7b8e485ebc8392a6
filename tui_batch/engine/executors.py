"""Executors: how one attempt of one task is run.

The engine only knows the small :class:`Executor` interface, so a distributed executor can be
added later without touching the engine. Four are built in:

* :class:`SubprocessExecutor` for command templates. Children start in a new process group,
  stdin /dev/null, stdout/stderr to per-slot spool files (nameless temp files, reused;
  :mod:`.spool`), not pipes: a chatty command can never block on a full pipe, nobody has to
  pump it, and the tail is one ``pread``. How they are spawned is chosen by ``TUI_BATCH_SPAWN``:

  - ``loop``: ``os.posix_spawn`` on the event-loop thread (glibc uses ``clone(CLONE_VFORK)``,
    so no page tables are copied) and a pidfd registered on the loop for the exit, with no
    waiter thread per child (asyncio's child watcher costs ~1.6x per job, shared/baselines).
    The loop is blocked for each exec, though (vfork waits for it).
  - ``forkserver``: small helper processes spawn and reap (:mod:`.forkserver`); the loop only
    sends a request packet and gets the exit back as a message. Faster with several workers.
  - ``thread``: spawn and ``waitpid`` on a thread per worker (slowest: hand-off, GIL traffic).
* :class:`~.pools.ThreadExecutor` (blocking I/O Python actions),
  :class:`~.pools.ProcessExecutor` (CPU-bound Python actions) and :class:`~.pools.AsyncExecutor`
  (coroutines, awaited inline by the worker) live in :mod:`.pools`.

Stopping a command (timeout, cancel, Ctrl-C) signals its process group, and the group keeps the
grace period even when its leader dies first (:mod:`.groups`). Running out of descriptors or
processes while starting a command is reported as ``Outcome.resource`` (:mod:`.limits`): the
engine lowers its concurrency and runs the attempt again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..actions import OutputError, TaskContext
from . import groups, limits
from .forkclient import ForkServerDied, _CannotStart, _ForkServer, _Gone, _Running, _signame
from .groups import kill_group
from .spool import TAIL_BYTES, Spool, SpoolFolder, read_tail
from .threads import DaemonThreadPool

if TYPE_CHECKING:
    from ..actions import Action
    from .core import Task

log = logging.getLogger(__name__)

__all__ = ["TAIL_BYTES", "Executor", "ForkServerDied", "Outcome", "SubprocessExecutor"]


@dataclass(slots=True)
class Outcome:
    """Result of one attempt."""

    ok: bool
    exit_code: int | None = None
    signal: int | None = None
    error: str | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    timed_out: bool = False
    cancelled: bool = False
    no_retry: bool = False  # the failure cannot get better by retrying (command not found)
    resource: str | None = None
    """The attempt could not start because the tool itself ran out of something (a
    :mod:`.limits` kind: descriptors, processes, memory). Not the file's fault: the engine
    lowers its concurrency and runs the attempt again without spending a retry."""


class Executor:
    """Runs attempts. ``kills_itself``: cancel() stops the attempt, which then returns an
    Outcome with ``cancelled``; otherwise the engine cancels the awaiting worker."""

    kills_itself = False

    async def run(self, task: Task, ctx: TaskContext, timeout: float | None) -> Outcome:
        raise NotImplementedError

    def cancel(self, task: Task, grace: float) -> None:
        """Ask a running attempt to stop (only used when ``kills_itself``)."""

    def live_output(self, task: Task) -> tuple[str, str]:
        """stdout/stderr tails while the attempt runs (empty when not available)."""
        return "", ""

    def resize(self, n: int) -> None:
        """The engine's worker count changed to ``n``."""

    def kill_now(self) -> None:
        """Second Ctrl-C: stop waiting for running attempts' grace periods."""

    async def aclose(self) -> None:
        """Release pools, spool files, ..."""


_SIGDEF = (signal.SIGPIPE, signal.SIGXFSZ)  # Python ignores these; children must not inherit it

SPAWN_MODES = ("loop", "thread", "forkserver")
FORKSERVER_START_TIMEOUT = 10.0
"""A fork server that has not said hello by then never will (we spawn in-process instead)."""
DEFAULT_SPAWN = "forkserver"
MAX_FORKSERVERS = 64
"""Hard upper bound for ``TUI_BATCH_FORKSERVERS`` (more would only cost memory and pids)."""


def _spawn_setting(value: str | None) -> str:
    if value is None or value == "":
        return DEFAULT_SPAWN
    if value not in SPAWN_MODES:
        log.warning("tui-batch: TUI_BATCH_SPAWN=%r is not one of %s; using %s",
                    value, ", ".join(SPAWN_MODES), DEFAULT_SPAWN)
        return DEFAULT_SPAWN
    return value


def _forkserver_setting(value: str | None) -> int:
    """``TUI_BATCH_FORKSERVERS``: 0 (unset or unusable) means one per worker, up to one per
    usable CPU; otherwise the number wanted, which the run clamps to its worker count."""
    if value is None or value.strip() == "":
        return 0
    try:
        n = int(value.strip())
    except ValueError:
        n = 0
    if n < 1:
        log.warning("tui-batch: TUI_BATCH_FORKSERVERS=%r is not a whole number from 1 to %d; "
                    "using the default (one per worker, up to one per CPU)",
                    value, MAX_FORKSERVERS)
        return 0
    if n > MAX_FORKSERVERS:
        log.warning("tui-batch: TUI_BATCH_FORKSERVERS=%s is more than %d; using at most %d",
                    value.strip(), MAX_FORKSERVERS, MAX_FORKSERVERS)
        return MAX_FORKSERVERS
    return n


def _wait_exit(pid: int) -> None:
    """Until ``pid`` exited, without reaping it (the loop decides when; see groups.py)."""
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            return
        except InterruptedError:
            continue


class SubprocessExecutor(Executor):
    """Runs command templates in their own process groups (see the module docstring for the
    spawn modes)."""

    kills_itself = True

    def __init__(self, action: Action, *, kill_grace: float = 5.0, workers: int = 1) -> None:
        self.action: Any = action
        self.kill_grace = kill_grace
        self._spools: SpoolFolder | None = None
        self._free: list[Spool] = []
        self._target = max(1, workers)
        self._running: dict[int, _Running] = {}  # task id -> running child
        self._hold_timer: asyncio.TimerHandle | None = None
        self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self._env = dict(os.environ)  # a plain dict converts much faster than os.environ
        self._which: dict[str, str] = {}
        self._pool: DaemonThreadPool | None = None  # waiter threads ("thread" mode, fallbacks)
        mode = _spawn_setting(os.environ.get("TUI_BATCH_SPAWN"))
        self.spawn_mode = mode
        """``loop``: posix_spawn on the event loop + pidfd; ``thread``: spawn and waitpid on a
        thread per worker; ``forkserver``: ask a helper process (see forkserver.py)."""
        self.spawn_in_loop = mode == "loop"
        self._servers: list[_ForkServer] = []
        self._fs_count = 0
        """Fork servers wanted (0: one per worker, up to one per usable CPU)."""
        self._fs_limited = False  # a server could not start: keep the ones we have
        self._fs_worked = False  # some server said hello: a failed start is not "cannot work"
        if mode == "forkserver" and getattr(sys, "frozen", False):
            mode = self.spawn_mode = "loop"  # sys.executable is not a Python we can run
            self.spawn_in_loop = True
        if mode == "forkserver":
            self._fs_count = _forkserver_setting(os.environ.get("TUI_BATCH_FORKSERVERS"))
            try:
                self._add_servers(workers)  # they start up while the scan runs
            except _CannotStart as exc:
                self._no_servers(str(exc))

    # ------------------------------------------------------------------ spool files
    def _take_spool(self) -> Spool:
        if self._free:
            sp = self._free.pop()
            sp.reset()
            return sp
        if self._spools is None:
            self._spools = SpoolFolder()
        return Spool(self._spools)

    def _give_back(self, spool: Spool) -> None:
        # keep no more open spools than the workers can use (they hold two descriptors each,
        # in every fork server too: after the engine lowered its concurrency they are freed)
        if len(self._free) + len(self._running) >= self._target:
            self._close_spool(spool)
        else:
            self._free.append(spool)

    def _close_spool(self, spool: Spool) -> None:
        for fs in self._servers:
            if fs.dead is None:
                fs.forget(spool)
        spool.close()

    # ------------------------------------------------------------------ spawning
    def _resolve(self, name: str) -> str:
        """PATH lookup once per command name, not per task (execvp would try every PATH entry
        for every file)."""
        path = self._which.get(name)
        if path is None:
            if "/" in name:
                path = name
            else:
                found = shutil.which(name, path=self._env.get("PATH", os.defpath))
                if found is None:
                    raise FileNotFoundError(2, "command not found", name)
                path = found
            self._which[name] = path
        return path

    def _spawn(self, argv: list[str], running: _Running) -> int:
        return os.posix_spawn(
            self._resolve(argv[0]),
            argv,
            self._env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, self._devnull, 0),
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

    def _spawn_loop(
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
            self._kill_group(running.pid, signal.SIGKILL)
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
            self._kill_group(pid, signal.SIGTERM)
        _wait_exit(pid)

    def _spawn_thread(
        self, loop: asyncio.AbstractEventLoop, argv: list[str], running: _Running
    ) -> asyncio.Future[int]:
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
        self._reap(running, future)

    def _reap(self, running: _Running, future: asyncio.Future[int]) -> None:
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
                self._reap(running, running.held)
        if any(r.held is not None for r in self._running.values()):
            loop = asyncio.get_running_loop()
            self._hold_timer = loop.call_later(groups.HOLD_POLL, self._poll)

    # ------------------------------------------------------------------ fork servers
    def _add_servers(self, workers: int) -> None:
        """One fork server per worker, up to one per CPU (or ``TUI_BATCH_FORKSERVERS``, never
        more than the workers): a server is busy only while it spawns (vfork waits for the
        exec), so spawns for different workers overlap. Raises :class:`_CannotStart` only
        when not even one server runs."""
        workers = max(1, workers)
        if self._fs_count:
            want = min(self._fs_count, workers)
        else:
            want = min(workers, len(os.sched_getaffinity(0)))
        if self._fs_limited:
            want = min(want, max(1, len(self._servers)))
        while len(self._servers) < want:
            try:
                self._servers.append(self._new_server())
            except _CannotStart as exc:
                if not self._servers:
                    raise
                self._fewer_servers(str(exc))
                return

    def _new_server(self) -> _ForkServer:
        try:
            return _ForkServer(self._env, self._devnull)
        except (OSError, subprocess.SubprocessError) as exc:
            raise _CannotStart(f"cannot start a fork server: {exc}") from exc

    def _fewer_servers(self, why: str) -> None:
        """Some servers run, another cannot start: go on with those (one message)."""
        if not self._fs_limited:
            self._fs_limited = True
            log.warning("tui-batch: %s; going on with %d fork server(s)",
                        why, len(self._servers))

    def _no_servers(self, why: str) -> None:
        """Fork servers cannot work here: spawn on the loop from now on (slower, same
        results)."""
        log.warning("tui-batch: %s; spawning commands in-process instead", why)
        self.spawn_mode = "loop"
        self.spawn_in_loop = True  # (servers already running finish their jobs; aclose ends them)

    def _pick_server(self) -> _ForkServer | None:
        """The least busy server (a dead one is replaced); None: spawn in-process from now on."""
        servers = self._servers
        while True:
            if not servers:
                try:
                    servers.append(self._new_server())
                except _CannotStart as exc:
                    self._no_servers(str(exc))
                    return None
            fs = servers[0]
            if len(servers) > 1:
                for other in servers:
                    if len(other.jobs) < len(fs.jobs):
                        fs = other
            if fs.dead is None:
                return fs
            try:  # it died: start a new one in its place
                new = self._new_server()
            except _CannotStart as exc:
                servers.remove(fs)
                if not servers:
                    self._no_servers(str(exc))
                    return None
                self._fewer_servers(str(exc))
                continue
            servers[servers.index(fs)] = new
            return new

    async def _spawn_server(
        self, loop: asyncio.AbstractEventLoop, argv: list[str], running: _Running
    ) -> int:
        """Hand the spawn to the least busy fork server: the loop only sends one packet."""
        path = self._resolve(argv[0])
        future: asyncio.Future[int] | None = None
        fs: _ForkServer | None = None
        for _ in range(3):
            fs = self._pick_server()
            if fs is None:
                break
            if not fs.ready:
                try:
                    await fs.wait_ready(loop, FORKSERVER_START_TIMEOUT)
                except _CannotStart as exc:
                    if fs in self._servers:
                        self._servers.remove(fs)
                    if not self._fs_worked or not self._servers:
                        self._no_servers(str(exc))  # none ever worked: they cannot, here
                        fs = None
                        break
                    self._fewer_servers(str(exc))
                    continue
                self._fs_worked = True
                if running.cancelled or running.timed_out:
                    return signal.SIGTERM  # stopped while the server started: never run
            try:
                future = fs.start(loop, path, argv, running)
                break
            except _Gone:
                continue
        else:
            raise ForkServerDied(fs.dead if fs is not None and fs.dead else "fork server died")
        if future is None:  # too big for one request (or no server): spawn it ourselves
            return await self._spawn_loop(loop, argv, running)
        return await future

    # ------------------------------------------------------------------ one attempt
    async def run(self, task: Task, ctx: TaskContext, timeout: float | None) -> Outcome:
        try:
            spool = self._take_spool()
        except OSError as exc:
            kind = limits.shortage(exc)
            if kind is not None:
                return Outcome(ok=False, error=limits.describe(exc), resource=kind)
            return Outcome(ok=False, error=f"cannot create a spool file: {exc}")
        try:
            prepared = self.action.prepare(ctx)
        except OutputError as exc:  # unsafe output path: this task fails, the batch goes on
            self._give_back(spool)
            return Outcome(ok=False, error=str(exc), no_retry=True)
        except OSError as exc:
            self._give_back(spool)
            kind = limits.shortage(exc)
            return Outcome(ok=False, error=str(exc), resource=kind)
        except BaseException:
            self._give_back(spool)
            raise
        argv: list[str] = prepared.argv
        task.command = argv
        running = _Running(0, spool)
        self._running[task.id] = running
        loop = asyncio.get_running_loop()
        if timeout is not None:
            running.kill_handle = loop.call_later(timeout, self._on_timeout, running)
        try:
            if self.spawn_in_loop:
                status = await self._spawn_loop(loop, argv, running)
            elif self.spawn_mode == "forkserver":
                status = await self._spawn_server(loop, argv, running)
            else:
                status = await self._spawn_thread(loop, argv, running)
        except ForkServerDied as exc:
            self.action.finish(prepared, False)
            return Outcome(ok=False, error=str(exc))
        except OSError as exc:
            self.action.finish(prepared, False)
            kind = limits.shortage(exc)
            if kind is not None:  # the tool's own shortage, not the file's fault
                return Outcome(ok=False, error=limits.describe(exc), resource=kind)
            nf = isinstance(exc, FileNotFoundError)
            what = "command not found" if nf else exc.strerror
            return Outcome(ok=False, exit_code=127 if nf else 126,
                           error=f"{what}: {argv[0]}", no_retry=True)
        except asyncio.CancelledError:
            # the engine gave up on us (shutdown): never leave a child behind
            self._signal(running, signal.SIGKILL)
            raise
        finally:
            if running.kill_handle is not None:
                running.kill_handle.cancel()
            del self._running[task.id]
            out, err = spool.tails()
            self._give_back(spool)
        code = os.waitstatus_to_exitcode(status)
        ok = code == 0 and not running.cancelled and not running.timed_out
        finish_error = None
        try:
            self.action.finish(prepared, ok)
        except OutputError as exc:
            ok, finish_error = False, str(exc)
        outcome = Outcome(ok=ok, stdout_tail=out, stderr_tail=err)
        if code < 0:
            outcome.signal = -code
        else:
            outcome.exit_code = code
        if running.timed_out:
            outcome.timed_out = True
            outcome.error = f"timed out after {timeout:g}s"
        elif running.cancelled:
            outcome.cancelled = True
            outcome.error = "cancelled"
        elif finish_error is not None:
            outcome.error = finish_error
            outcome.no_retry = True
        elif not ok:
            if code < 0:
                outcome.error = f"killed by {_signame(-code)}"
            else:
                outcome.error = f"exit code {code}"
        return outcome

    # ------------------------------------------------------------------ stopping
    _kill_group = staticmethod(kill_group)

    def _signal(self, running: _Running, sig: int) -> None:
        server = running.server
        if server is not None and server.dead is None:
            server.kill(running, sig)  # also right when the server has not started it yet
        elif running.pid:  # else not spawned yet (the spawning thread sees .cancelled) or reaped
            self._kill_group(running.pid, sig)
        if sig == signal.SIGKILL:
            running.killed = True
            if running.held is not None:  # the group is dead now: the leader may go
                self._reap(running, running.held)

    def _terminate(self, running: _Running) -> None:
        """SIGTERM the whole group, SIGKILL it after the grace period if still there (the
        attempt ends only then, or when nothing of the group is left: see :meth:`_exited`)."""
        self._signal(running, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        if running.kill_handle is not None:
            running.kill_handle.cancel()
        running.kill_handle = loop.call_later(self.kill_grace, self._kill_late, running)

    def _kill_late(self, running: _Running) -> None:
        self._signal(running, signal.SIGKILL)

    def _on_timeout(self, running: _Running) -> None:
        running.timed_out = True
        self._terminate(running)

    def cancel(self, task: Task, grace: float) -> None:
        running = self._running.get(task.id)
        if running is None or running.cancelled:
            return
        running.cancelled = True
        self._terminate(running)

    def kill_now(self) -> None:
        """Second Ctrl-C: SIGKILL every running group at once."""
        for running in list(self._running.values()):
            running.cancelled = True
            self._signal(running, signal.SIGKILL)

    def live_output(self, task: Task) -> tuple[str, str]:
        running = self._running.get(task.id)
        if running is None:
            return "", ""
        return read_tail(running.spool.out), read_tail(running.spool.err)

    def resize(self, n: int) -> None:
        self._target = max(1, n)
        while self._free and len(self._free) + len(self._running) > self._target:
            self._close_spool(self._free.pop())
        if self.spawn_mode == "forkserver":
            try:
                self._add_servers(n)
            except _CannotStart as exc:
                self._no_servers(str(exc))

    async def aclose(self) -> None:
        for running in list(self._running.values()):
            self._signal(running, signal.SIGKILL)
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        servers, self._servers = self._servers, []
        for fs in servers:
            if fs.dead is None:
                fs.close()  # after the kills: the server handles them before it sees EOF
        if self._pool is not None:
            self._pool.shutdown()
        for sp in self._free:
            sp.close()
        self._free.clear()
        if self._spools is not None:
            self._spools.close()
            self._spools = None
        with contextlib.suppress(OSError):
            os.close(self._devnull)
