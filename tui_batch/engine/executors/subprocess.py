"""The executor for command templates (``ExecKind.SUBPROCESS``): one child process per attempt.

Children start in a new process group, stdin /dev/null, stdout/stderr to per-slot spool files
(nameless temp files, reused; :mod:`.spool`), not pipes: a chatty command can never block on a
full pipe, nobody has to pump it, and the tail is one ``pread``. How they are spawned is chosen
by ``TUI_BATCH_SPAWN``:

- ``forkserver`` (the default): small helper processes spawn and reap (:mod:`.forkserver`,
  managed by :mod:`.fleet`); the loop only sends a request packet and gets the exit back as a
  message. Faster with several workers.
- ``loop``: ``os.posix_spawn`` on the event-loop thread and a pidfd for the exit
  (:mod:`.spawn`; asyncio's child watcher costs ~1.6x per job, shared/baselines).
- ``thread``: spawn and ``waitpid`` on a thread per worker (slowest: hand-off, GIL traffic).

This module is the policy: which mode, the spool files, what an exit status means, and when to
stop what. Stopping a command (timeout, cancel, Ctrl-C) signals its process group, and the
group keeps the grace period even when its leader dies first (:mod:`.groups`). Running out of
descriptors or processes while starting a command is reported as ``Outcome.resource``
(:mod:`.limits`): the engine lowers its concurrency and runs the attempt again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from ...actions import OutputError
from ...model.logfiles import DEFAULT_MAX_OUTPUT
from . import limits
from .base import Executor, Outcome
from .fleet import ForkServers, forkserver_setting
from .forkclient import ForkServerDied, _CannotStart, _ForkServer, _Running, _signame
from .groups import kill_group
from .spawn import Spawner
from .spool import Spool, SpoolFolder

if TYPE_CHECKING:
    from ...actions import Action, TaskContext
    from ..task import Task

log = logging.getLogger(__name__)

SPAWN_MODES = ("loop", "thread", "forkserver")
DEFAULT_SPAWN = "forkserver"


def _spawn_setting(value: str | None) -> str:
    if value is None or value == "":
        return DEFAULT_SPAWN
    if value not in SPAWN_MODES:
        log.warning("tui-batch: TUI_BATCH_SPAWN=%r is not one of %s; using %s",
                    value, ", ".join(SPAWN_MODES), DEFAULT_SPAWN)
        return DEFAULT_SPAWN
    return value


class SubprocessExecutor(Executor):
    """Runs command templates in their own process groups (see the module docstring for the
    spawn modes)."""

    kills_itself = True

    def __init__(self, action: Action, *, kill_grace: float = 5.0, workers: int = 1,
                 log_dir: str | None = None, max_output: int = DEFAULT_MAX_OUTPUT) -> None:
        self.action: Any = action
        self.kill_grace = kill_grace
        self.log_dir = log_dir
        """The job's log folder: commands write into its slot files (None: tails only)."""
        self.max_output = max_output
        self._spools: SpoolFolder | None = None
        self._free: list[Spool] = []
        self._target = max(1, workers)
        self._running: dict[int, _Running] = {}  # task id -> running child
        self._spawner = Spawner(self._running)
        mode = _spawn_setting(os.environ.get("TUI_BATCH_SPAWN"))
        self.spawn_mode = mode
        """``loop``: posix_spawn on the event loop + pidfd; ``thread``: spawn and waitpid on a
        thread per worker; ``forkserver``: ask a helper process (see forkserver.py)."""
        self.spawn_in_loop = mode == "loop"
        self._fleet = ForkServers(self._spawner, self._no_servers)
        if mode == "forkserver" and getattr(sys, "frozen", False):
            mode = self.spawn_mode = "loop"  # sys.executable is not a Python we can run
            self.spawn_in_loop = True
        if mode == "forkserver":
            self._fleet.wanted = forkserver_setting(os.environ.get("TUI_BATCH_FORKSERVERS"))
            try:
                self._fleet.add(workers)  # they start up while the scan runs
            except _CannotStart as exc:
                self._no_servers(str(exc))

    @property
    def _servers(self) -> list[_ForkServer]:
        """The fork servers running now (tests and diagnostics look at them)."""
        return self._fleet.servers

    def _no_servers(self, why: str) -> None:
        """Fork servers cannot work here: spawn on the loop from now on (slower, same
        results)."""
        log.warning("tui-batch: %s; spawning commands in-process instead", why)
        self.spawn_mode = "loop"
        self.spawn_in_loop = True  # (servers already running finish their jobs; aclose ends them)

    # ------------------------------------------------------------------ spool files
    def _take_spool(self, slot: int) -> Spool:
        """A spool for an attempt on worker slot ``slot``: with a log folder, the one of that
        slot (its files are ``slot-K.out``/``.err``, K = ``{%}`` = ``TUI_BATCH_SLOT``)."""
        free = self._free
        for i in range(len(free) - 1, -1, -1):
            if free[i].slot in (slot, 0) or not slot:
                sp = free.pop(i)
                sp.reset()
                return sp
        if self._spools is None:
            self._spools = SpoolFolder(self.log_dir, self.max_output)
        return Spool(self._spools, slot)

    def _give_back(self, spool: Spool) -> None:
        # keep no more open spools than the workers can use (they hold two descriptors each,
        # in every fork server too: after the engine lowered its concurrency they are freed)
        if len(self._free) + len(self._running) >= self._target:
            self._close_spool(spool)
        else:
            self._free.append(spool)

    def _close_spool(self, spool: Spool) -> None:
        self._fleet.forget(spool)
        spool.close()

    # ------------------------------------------------------------------ one attempt
    async def run(self, task: Task, ctx: TaskContext, timeout: float | None) -> Outcome:
        try:
            spool = self._take_spool(ctx.slot)
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
        spool.begin(task.id, task.attempts)
        running = _Running(0, spool)
        running.task_env = (ctx.job_id, task.id, ctx.slot, ctx.attempt)
        self._running[task.id] = running
        loop = asyncio.get_running_loop()
        if timeout is not None:
            running.kill_handle = loop.call_later(timeout, self._on_timeout, running)
        try:
            if self.spawn_in_loop:
                status = await self._spawner.in_loop(loop, argv, running)
            elif self.spawn_mode == "forkserver":
                status = await self._fleet.spawn(loop, argv, running)
            else:
                status = await self._spawner.in_thread(loop, argv, running)
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
            out, err, logref = spool.end()
            self._give_back(spool)
        code = os.waitstatus_to_exitcode(status)
        ok = code == 0 and not running.cancelled and not running.timed_out
        finish_error = None
        try:
            self.action.finish(prepared, ok)
        except OutputError as exc:
            ok, finish_error = False, str(exc)
        outcome = Outcome(ok=ok, stdout_tail=out, stderr_tail=err, log=logref)
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
    def _signal(self, running: _Running, sig: int) -> None:
        server = running.server
        if server is not None and server.dead is None:
            server.kill(running, sig)  # also right when the server has not started it yet
        elif running.pid:  # else not spawned yet (the spawning thread sees .cancelled) or reaped
            kill_group(running.pid, sig)
        if sig == signal.SIGKILL:
            running.killed = True
            if running.held is not None:  # the group is dead now: the leader may go
                self._spawner.reap(running, running.held)

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
        return running.spool.live_tails()

    def resize(self, n: int) -> None:
        self._target = max(1, n)
        while self._free and len(self._free) + len(self._running) > self._target:
            self._close_spool(self._free.pop())
        if self.spawn_mode == "forkserver":
            try:
                self._fleet.add(n)
            except _CannotStart as exc:
                self._no_servers(str(exc))

    async def aclose(self) -> None:
        for running in list(self._running.values()):
            self._signal(running, signal.SIGKILL)
        self._spawner.stop_polling()
        self._fleet.close()  # after the kills: a server handles them before it sees EOF
        self._spawner.close_threads()
        for sp in self._free:
            sp.close()
        self._free.clear()
        if self._spools is not None:
            self._spools.close()
            self._spools = None
        self._spawner.close()
