"""Executors: how one attempt of one task is run.

The engine only knows the small :class:`Executor` interface, so a distributed executor can be
added later without touching the engine. Four are built in:

* :class:`SubprocessExecutor` for command templates. Children start in a new process group,
  stdin /dev/null, stdout/stderr to per-slot spool files (unlinked temp files, reused), not
  pipes: a chatty command can never block on a full pipe, nobody has to pump it, and the tail
  is one ``pread``. How they are spawned is chosen by ``TUI_BATCH_SPAWN``:

  - ``loop``: ``os.posix_spawn`` on the event-loop thread (glibc uses ``clone(CLONE_VFORK)``,
    so no page tables are copied) and a pidfd registered on the loop for the exit, with no
    waiter thread per child (asyncio's child watcher costs ~1.6x per job, shared/baselines).
    The loop is blocked for each exec, though (vfork waits for it).
  - ``forkserver``: small helper processes spawn and reap (:mod:`.forkserver`); the loop only
    sends a request packet and gets the exit back as a message. Faster with several workers.
  - ``thread``: spawn and ``waitpid`` on a thread per worker (slowest: hand-off, GIL traffic).
* :class:`ThreadExecutor` (blocking I/O Python actions), :class:`ProcessExecutor` (CPU-bound
  Python actions) and :class:`AsyncExecutor` (coroutines, awaited inline by the worker).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import errno
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any

from ..actions import OutputError, TaskContext, run_in_process
from . import forkserver

if TYPE_CHECKING:
    from ..actions import Action
    from .core import Task

log = logging.getLogger(__name__)

TAIL_BYTES = 4096
"""How much of each output stream is kept per attempt (the log pane and the store show it)."""


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

    async def aclose(self) -> None:
        """Release pools, spool files, ..."""


def _decode_tail(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    if len(data) >= TAIL_BYTES:
        # cut at a line start so the tail does not begin mid-line
        nl = text.find("\n")
        if 0 <= nl < len(text) - 1:
            text = text[nl + 1 :]
    return text


def _read_tail(fd: int) -> str:
    size = os.fstat(fd).st_size
    if size == 0:
        return ""
    start = max(0, size - TAIL_BYTES)
    return _decode_tail(os.pread(fd, size - start, start))


class _Spool:
    """A pair of unlinked temp files that receive one child's stdout and stderr."""

    __slots__ = ("err", "out", "sid", "used")
    _ids = count(1)

    def __init__(self, folder: str) -> None:
        self.sid = next(self._ids)  # slot id in the fork server
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        out_path = os.path.join(folder, f"out-{id(self)}")
        err_path = os.path.join(folder, f"err-{id(self)}")
        self.out = os.open(out_path, flags, 0o600)
        self.err = os.open(err_path, flags, 0o600)
        self.used = False  # something was written since the last reset
        os.unlink(out_path)
        os.unlink(err_path)

    def tails(self) -> tuple[str, str]:
        out, err = _read_tail(self.out), _read_tail(self.err)
        self.used = bool(out or err)
        return out, err

    def reset(self) -> None:
        # most commands print nothing: skip two syscalls per task when nothing was written
        if self.used:
            os.ftruncate(self.out, 0)
            os.ftruncate(self.err, 0)
            self.used = False

    def close(self) -> None:
        os.close(self.out)
        os.close(self.err)


@dataclass(slots=True)
class _Running:
    pid: int  # 0 until spawned and again once reaped
    spool: _Spool
    cancelled: bool = False
    timed_out: bool = False
    kill_handle: asyncio.TimerHandle | None = None
    server: _ForkServer | None = None  # the fork server running it, until it reports the exit
    rid: int = 0  # request id in that server


_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()


def _signame(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class ForkServerDied(RuntimeError):
    """The fork server went away while it was running a task (the task's group is killed)."""


class _Gone(Exception):
    """The fork server was found dead when a request was sent (nothing was started)."""


class _CannotStart(Exception):
    """The fork server died or hung before it said hello: it cannot work here."""



class _ForkServer:
    """Engine side of :mod:`tui_batch.engine.forkserver` (see there for the protocol).

    Replies are read by a reader callback on the event loop and resolve one future per
    request. Per job the engine does one ``send`` and (usually) one ``recv``."""

    def __init__(self, env: dict[str, str], stdin: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # the server's stderr goes to an unlinked file: its last words end up in the error
        self._errlog = tempfile.TemporaryFile(prefix="tui-batch-fs-")  # noqa: SIM115 (ours)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", forkserver.__file__, str(theirs.fileno())],
                stdin=stdin, stdout=subprocess.DEVNULL, stderr=self._errlog,
                pass_fds=(theirs.fileno(),), env=env, process_group=0,
            )
        except BaseException:
            ours.close()
            self._errlog.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self.sock = ours
        self.fd = ours.fileno()
        self.jobs: dict[int, tuple[_Running, asyncio.Future[int]]] = {}
        self.slots: set[int] = set()
        self.rids = count(1)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.dead: str | None = None  # why it is gone
        self.ready = False  # it said hello
        self._waiters: list[asyncio.Future[None]] = []

    async def wait_ready(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        """Until the server said hello (only the first requests of a server wait, and only
        while it starts). Raises :class:`_CannotStart`."""
        if loop is not self.loop:
            self.attach(loop)
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            self.proc.kill()
            self._died(f": no hello after {timeout:g}s")
            raise _CannotStart(self.dead) from None
        except ForkServerDied as exc:
            raise _CannotStart(str(exc)) from None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read replies on ``loop`` (an engine may run again under a new asyncio.run)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.remove_reader(self.fd)
        self.loop = loop
        loop.add_reader(self.fd, self._on_readable)
        for rid, (_, future) in list(self.jobs.items()):
            if future.get_loop() is not loop:  # nobody can await those any more
                del self.jobs[rid]

    def start(
        self, loop: asyncio.AbstractEventLoop, path: str, argv: list[str], running: _Running
    ) -> asyncio.Future[int] | None:
        """Ask for a child. None: the request does not fit in the socket (spawn it yourself).
        Raises :class:`_Gone` when the server turns out to be dead."""
        body = "\0".join([path, *argv]).encode(_FS_ENCODING, _FS_ERRORS)  # = os.fsencode
        if body.count(b"\0") != len(argv):
            raise ValueError("embedded null byte")
        if len(body) > forkserver.MAX_REQUEST:
            return None
        if loop is not self.loop:
            self.attach(loop)
        spool = running.spool
        rid = next(self.rids)
        try:
            if spool.sid not in self.slots:
                head = forkserver.HEAD.pack(forkserver.REGISTER, spool.sid, 0)
                socket.send_fds(self.sock, [head], [spool.out, spool.err])
                self.slots.add(spool.sid)
            self.sock.send(forkserver.HEAD.pack(forkserver.RUN, rid, spool.sid) + body)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            if exc.errno in (errno.EMSGSIZE, errno.ENOBUFS, errno.ENOMEM):
                return None
            self._died(f": {exc}")
            raise _Gone from exc
        future: asyncio.Future[int] = loop.create_future()
        running.server = self
        running.rid = rid
        self.jobs[rid] = (running, future)
        return future

    def kill(self, running: _Running, sig: int) -> None:
        """killpg by the server, which knows whether the group leader is still unreaped."""
        try:
            self.sock.send(forkserver.HEAD.pack(forkserver.KILL, running.rid, sig))
        except OSError:  # gone: the pid, if we know it, is the best we have
            if running.pid:
                SubprocessExecutor._kill_group(running.pid, sig)

    def _on_readable(self) -> None:
        # one packet per call: usually there is just one, and the loop calls again if not
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._died(f": {exc}")
            return
        if not data:
            self._died("")
            return
        jobs = self.jobs
        for kind, rid, value in forkserver.REC.iter_unpack(data):
            job = jobs.get(rid)
            if job is None:
                if kind == b"H":
                    self.ready = True
                    waiters, self._waiters = self._waiters, []
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
                continue
            if kind == b"P":
                job[0].pid = value
                continue
            del jobs[rid]
            running, future = job
            running.pid = 0
            running.server = None
            if future.done():
                continue
            if kind == b"X":
                future.set_result(value)
            else:
                future.set_exception(OSError(value, os.strerror(value)))

    def _died(self, why: str) -> None:
        """EOF: fail what was running (and kill it: nobody would reap or watch it now)."""
        if self.dead is not None:
            return
        try:
            code = self.proc.wait(1.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        what = f"exit code {code}" if code >= 0 else f"killed by {_signame(-code)}"
        self._errlog.seek(0)
        last = self._errlog.read().decode("utf-8", "replace").strip().splitlines()[-1:]
        self.dead = f"fork server died ({what}{': ' + last[0] if last else ''}{why})"
        self.close()
        jobs, self.jobs = self.jobs, {}
        for running, future in jobs.values():
            if running.pid:
                SubprocessExecutor._kill_group(running.pid, signal.SIGKILL)
            # else it died within LINGER_MS of starting this one: the pid never reached us
            running.server = None
            if not future.done() and not future.get_loop().is_closed():
                future.set_exception(ForkServerDied(self.dead))
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.set_exception(ForkServerDied(self.dead))

    def close(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.remove_reader(self.fd)
        self.loop = None
        self.sock.close()
        if self.dead is None:
            self.dead = "closed"
            if not self.ready:  # still starting (or not a fork server at all)
                self.proc.kill()
            try:
                self.proc.wait(2.0)  # EOF makes it exit at once
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._errlog.close()


_SIGDEF = (signal.SIGPIPE, signal.SIGXFSZ)  # Python ignores these; children must not inherit it

SPAWN_MODES = ("loop", "thread", "forkserver")
FORKSERVER_START_TIMEOUT = 10.0
"""A fork server that has not said hello by then never will (we spawn in-process instead)."""
DEFAULT_SPAWN = "forkserver"


class SubprocessExecutor(Executor):
    """Runs command templates in their own process groups (see the module docstring for the
    spawn modes)."""

    kills_itself = True

    def __init__(self, action: Action, *, kill_grace: float = 5.0, workers: int = 1) -> None:
        self.action: Any = action
        self.kill_grace = kill_grace
        self._spool_dir: str | None = None
        self._free: list[_Spool] = []
        self._running: dict[int, _Running] = {}  # task id -> running child
        self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self._env = dict(os.environ)  # a plain dict converts much faster than os.environ
        self._which: dict[str, str] = {}
        self._pool = cf.ThreadPoolExecutor(max(1, workers), thread_name_prefix="tui-batch-spawn")
        mode = os.environ.get("TUI_BATCH_SPAWN", DEFAULT_SPAWN)
        if mode not in SPAWN_MODES:
            mode = DEFAULT_SPAWN
        self.spawn_mode = mode
        """``loop``: posix_spawn on the event loop + pidfd; ``thread``: spawn and waitpid on a
        thread per worker; ``forkserver``: ask a helper process (see forkserver.py)."""
        self.spawn_in_loop = mode == "loop"
        self._servers: list[_ForkServer] = []
        count_env = os.environ.get("TUI_BATCH_FORKSERVERS", "")
        self._fs_count = int(count_env) if count_env.isdigit() else 0
        """Fork servers to keep (0: one per worker, up to one per usable CPU)."""
        if mode == "forkserver" and getattr(sys, "frozen", False):
            mode = self.spawn_mode = "loop"  # sys.executable is not a Python we can run
        if mode == "forkserver":
            try:
                self._add_servers(workers)  # they start up while the scan runs
            except _CannotStart as exc:
                self._no_servers(str(exc))

    def _take_spool(self) -> _Spool:
        if self._free:
            sp = self._free.pop()
            sp.reset()
            return sp
        if self._spool_dir is None:
            self._spool_dir = tempfile.mkdtemp(prefix="tui-batch-spool-")
        return _Spool(self._spool_dir)

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

    def _spawn_loop(
        self, loop: asyncio.AbstractEventLoop, argv: list[str], running: _Running
    ) -> asyncio.Future[int]:
        """Spawn on the loop thread and learn about the exit through a pidfd: no thread, no
        hand-off, no GIL traffic; the loop is blocked only for the execve itself (vfork)."""
        pid = self._spawn(argv, running)
        running.pid = pid
        future: asyncio.Future[int] = loop.create_future()
        pidfd = os.pidfd_open(pid)

        def on_exit() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            _, status = os.waitpid(pid, 0)
            running.pid = 0
            if not future.done():
                future.set_result(status)

        loop.add_reader(pidfd, on_exit)
        return future

    def _add_servers(self, workers: int) -> None:
        """One fork server per worker, up to one per CPU: a server is busy only while it
        spawns (vfork waits for the exec), so spawns for different workers overlap."""
        want = self._fs_count or min(max(1, workers), len(os.sched_getaffinity(0)))
        while len(self._servers) < want:
            self._servers.append(self._new_server())

    def _new_server(self) -> _ForkServer:
        try:
            return _ForkServer(self._env, self._devnull)
        except (OSError, subprocess.SubprocessError) as exc:
            raise _CannotStart(f"cannot start a fork server: {exc}") from exc

    def _no_servers(self, why: str) -> None:
        """Fork servers cannot work here: spawn on the loop from now on (slower, same
        results)."""
        log.warning("tui-batch: %s; spawning commands in-process instead", why)
        self.spawn_mode = "loop"
        self.spawn_in_loop = True  # (servers already running finish their jobs; aclose ends them)

    async def _spawn_server(
        self, loop: asyncio.AbstractEventLoop, argv: list[str], running: _Running
    ) -> int:
        """Hand the spawn to the least busy fork server: the loop only sends one packet."""
        path = self._resolve(argv[0])
        try:
            servers = self._servers
            if not servers:
                self._add_servers(1)
            fs = servers[0]
            if len(servers) > 1:
                for other in servers:
                    if len(other.jobs) < len(fs.jobs):
                        fs = other
            for _ in range(2):
                if fs.dead is not None:  # it died: start a new one in its place
                    servers[servers.index(fs)] = fs = self._new_server()
                if not fs.ready:
                    await fs.wait_ready(loop, FORKSERVER_START_TIMEOUT)
                    if running.cancelled or running.timed_out:
                        return signal.SIGTERM  # stopped while the server started: never run
                try:
                    future = fs.start(loop, path, argv, running)
                    break
                except _Gone:
                    continue
            else:
                raise ForkServerDied(fs.dead or "fork server died")
        except _CannotStart as exc:
            self._no_servers(str(exc))
            future = None
        if future is None:  # too big for one request (or no server): spawn it ourselves
            return await self._spawn_loop(loop, argv, running)
        return await future

    def _spawn_wait(self, argv: list[str], running: _Running) -> int:
        """Runs on a pool thread: spawn, then block in waitpid (both release the GIL), so
        spawns of different workers overlap instead of queueing behind one event loop."""
        pid = self._spawn(argv, running)
        running.pid = pid
        if running.cancelled:  # cancelled before the pid was known
            self._kill_group(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
        running.pid = 0  # reaped: the group id may be reused from now on
        return status

    async def run(self, task: Task, ctx: TaskContext, timeout: float | None) -> Outcome:
        try:
            prepared = self.action.prepare(ctx)
        except OutputError as exc:  # unsafe output path: this task fails, the batch goes on
            return Outcome(ok=False, error=str(exc), no_retry=True)
        argv: list[str] = prepared.argv
        task.command = argv
        spool = self._take_spool()
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
                status = await loop.run_in_executor(self._pool, self._spawn_wait, argv, running)
        except ForkServerDied as exc:
            self.action.finish(prepared, False)
            return Outcome(ok=False, error=str(exc))
        except OSError as exc:
            self.action.finish(prepared, False)
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
            self._free.append(spool)
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

    @staticmethod
    def _kill_group(pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    def _signal(self, running: _Running, sig: int) -> None:
        server = running.server
        if server is not None and server.dead is None:
            server.kill(running, sig)  # also right when the server has not started it yet
        elif running.pid:  # else not spawned yet (the spawning thread sees .cancelled) or reaped
            self._kill_group(running.pid, sig)

    def _terminate(self, running: _Running) -> None:
        """SIGTERM the whole group, SIGKILL it after the grace period if still there."""
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
        return _read_tail(running.spool.out), _read_tail(running.spool.err)

    def resize(self, n: int) -> None:
        _grow_pool(self._pool, n)
        if self.spawn_mode == "forkserver":
            try:
                self._add_servers(n)
            except _CannotStart as exc:
                self._no_servers(str(exc))

    async def aclose(self) -> None:
        for running in list(self._running.values()):
            self._signal(running, signal.SIGKILL)
        servers, self._servers = self._servers, []
        for fs in servers:
            if fs.dead is None:
                fs.close()  # after the kills: the server handles them before it sees EOF
        self._pool.shutdown(wait=False)
        for sp in self._free:
            sp.close()
        self._free.clear()
        if self._spool_dir is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self._spool_dir)
            self._spool_dir = None
        with contextlib.suppress(OSError):
            os.close(self._devnull)


def _grow_pool(pool: cf.ThreadPoolExecutor, n: int) -> None:
    """Let a thread pool use up to ``n`` threads. ThreadPoolExecutor has no public resize; it
    reads ``_max_workers`` each time it considers starting a thread, so raising it is enough
    (threads are never more than the engine's workers, which bound concurrency anyway)."""
    pool_any: Any = pool
    pool_any._max_workers = max(pool_any._max_workers, n)


def _format_exc(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _result_outcome(result: object) -> Outcome:
    return Outcome(ok=True, exit_code=0, stdout_tail="" if result is None else str(result))


class AsyncExecutor(Executor):
    """Native coroutine actions, awaited inline by the worker (no Task per item)."""

    def __init__(self, func: Callable[[TaskContext], Any]) -> None:
        self.func = func

    async def run(self, task: Task, ctx: TaskContext, timeout: float | None) -> Outcome:
        try:
            if timeout is None:
                result = await self.func(ctx)
            else:
                async with asyncio.timeout(timeout):
                    result = await self.func(ctx)
        except TimeoutError:
            return Outcome(ok=False, timed_out=True, error=f"timed out after {timeout:g}s")
        except Exception as exc:
            return Outcome(ok=False, exit_code=1, error=_format_exc(exc))
        return _result_outcome(result)


class _PoolExecutor(Executor):
    """Shared code of the thread and process pools: submit, await with an optional timeout."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def _submit(self, ctx: TaskContext) -> cf.Future[Any]:
        raise NotImplementedError

    async def run(self, task: Task, ctx: TaskContext, timeout: float | None) -> Outcome:
        fut = asyncio.wrap_future(self._submit(ctx))
        try:
            if timeout is None:
                result = await fut
            else:
                result = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            # A thread cannot be killed; its result will be ignored when it finishes.
            return Outcome(ok=False, timed_out=True, error=f"timed out after {timeout:g}s")
        except cf.process.BrokenProcessPool as exc:
            return Outcome(ok=False, error=f"worker process died: {exc}")
        except Exception as exc:
            return Outcome(ok=False, exit_code=1, error=_format_exc(exc))
        return _result_outcome(result)

    async def aclose(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class ThreadExecutor(_PoolExecutor):
    """Blocking I/O actions on a thread pool sized to the engine's worker count."""

    def __init__(self, func: Callable[[TaskContext], Any], max_workers: int) -> None:
        super().__init__(cf.ThreadPoolExecutor(max_workers, thread_name_prefix="tui-batch"))
        self.func = func

    def _submit(self, ctx: TaskContext) -> cf.Future[Any]:
        return self.pool.submit(self.func, ctx)

    def resize(self, n: int) -> None:
        _grow_pool(self.pool, n)


class ProcessExecutor(_PoolExecutor):
    """CPU-bound actions in worker processes; the action is re-resolved by name in the child."""

    def __init__(self, ref: str, max_workers: int) -> None:
        super().__init__(cf.ProcessPoolExecutor(max_workers))
        self.ref = ref

    def _submit(self, ctx: TaskContext) -> cf.Future[Any]:
        return self.pool.submit(run_in_process, self.ref, ctx)

