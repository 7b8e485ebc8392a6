"""Engine side of the fork server (:mod:`.forkserver`): one :class:`_ForkServer` per helper
process, talking the packet protocol described there.

Split from the executor so that :mod:`.subprocess` reads as the policy (when to stop what),
:mod:`.fleet` as the choice of server, and this module as the mechanics (packets, replies, a
server's death).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from itertools import count

from . import forkserver
from .groups import kill_group
from .spool import Spool


@dataclass(slots=True)
class _Running:
    """One started (or starting) command, as the executor and its fork server client see it."""

    pid: int  # 0 until spawned and again once reaped
    spool: Spool
    cancelled: bool = False
    timed_out: bool = False
    kill_handle: asyncio.TimerHandle | None = None
    server: _ForkServer | None = None  # the fork server running it, until it reports the exit
    rid: int = 0  # request id in that server
    killed: bool = False  # its group got SIGKILL
    held: asyncio.Future[int] | None = None  # leader exited, kept unreaped while its group lives
    task_env: tuple[int, int, int, int] = (0, 0, 0, 0)
    """Job id, task id, slot and attempt: the child's ``TUI_BATCH_*`` variables (see
    :data:`TASK_ENV_NAMES`)."""


TASK_ENV_NAMES = ("TUI_BATCH_JOB_ID", "TUI_BATCH_TASK_ID", "TUI_BATCH_SLOT", "TUI_BATCH_ATTEMPT")
"""What every command finds in its environment, in the order of ``_Running.task_env``."""


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
    """Engine side of :mod:`tui_batch.engine.executors.forkserver` (see there for the
    protocol).

    Replies are read by a reader callback on the event loop and resolve one future per
    request. Per job the engine does one ``send`` and (usually) one ``recv``."""

    def __init__(self, env: dict[str, str], stdin: int) -> None:
        # the server's stderr goes to an unlinked file: its last words end up in the error
        self._errlog = tempfile.TemporaryFile(prefix="tui-batch-fs-")  # noqa: SIM115 (ours)
        try:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except BaseException:
            self._errlog.close()
            raise
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
        body = forkserver.TASK.pack(*running.task_env) + body
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

    def forget(self, spool: Spool) -> None:
        """The engine closes this spool: the server closes its copies of the descriptors."""
        if spool.sid in self.slots:
            self.slots.discard(spool.sid)
            with contextlib.suppress(OSError):
                self.sock.send(forkserver.HEAD.pack(forkserver.UNREGISTER, spool.sid, 0))

    def kill(self, running: _Running, sig: int) -> None:
        """killpg by the server, which knows whether the group leader is still unreaped."""
        try:
            self.sock.send(forkserver.HEAD.pack(forkserver.KILL, running.rid, sig))
        except OSError:  # gone: the pid, if we know it, is the best we have
            if running.pid:
                kill_group(running.pid, sig)

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
            if kind != b"X" and value in (errno.EMFILE, errno.ENFILE):
                self.slots.discard(running.spool.sid)  # its copy of the slot may be lost
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
                kill_group(running.pid, signal.SIGKILL)
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
