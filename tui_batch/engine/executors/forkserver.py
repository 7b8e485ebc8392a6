"""Fork server: a tiny helper process that starts commands for :class:`SubprocessExecutor`.

Why: ``os.posix_spawn`` uses ``clone(CLONE_VFORK)``, so the spawning thread waits until the
child's ``execve`` is done (~0.3-0.5 ms on the VMs we measure on). On the engine's event loop
that stalls the engine for every exec and serialises the workers' execs. With
``TUI_BATCH_SPAWN=forkserver`` the executor keeps one server per worker (up to one per CPU)
and only sends each a small request; the server spawns, the engine goes on, and the exit comes
back as a message on the same socket.

The server is this file run as a script (``python -I -S forkserver.py FD``): it imports only a
few built-in modules (~3 MB anonymous RSS) and never ``tui_batch``. It is single-threaded: one
``poll`` loop over its socket and one pidfd per child. Its environment *is* the executor's
environment (``Popen(env=...)``, once), so no environment is converted per job in the engine.

Inside the server the spawn is ``posix_spawn`` as well, not ``fork``: forking even a 3 MB
Python process costs page-table copies and copy-on-write faults in both processes (measured
here: ~1.5 ms of CPU per job for a fork server against ~1.1 ms), while a blocked server only
delays its own next spawn -- which is why there is one server per worker. Servers run as
``SCHED_BATCH`` (commands are set back to ``SCHED_OTHER`` by posix_spawn, one syscall): a
request then does not preempt the engine that sent it; the server runs when a CPU is free,
usually the moment the engine goes back to waiting (~15% more jobs/s measured here).

Protocol (``AF_UNIX`` ``SOCK_SEQPACKET``: one request per packet, replies batched)::

    engine -> server   HEAD(b"S", slot, 0)   + SCM_RIGHTS [stdout, stderr]   register a slot
                       HEAD(b"U", slot, 0)                                   forget a slot
                       HEAD(b"R", rid, slot) + TASK + path NUL argv0 NUL ... run (raw bytes)
                       HEAD(b"K", rid, sig)                                  killpg, if alive
    server -> engine   REC(b"H", 0, pid)        hello: ready for requests (sent once, first)
                       REC(b"P", rid, pid)      started; the pid is also the process group
                       REC(b"X", rid, status)   exited and reaped (a waitpid status)
                       REC(b"E", rid, errno)    could not start (the spawn failed; no X follows)

``TASK`` holds the job id, task id, worker slot and attempt of the run: the child gets them
as ``TUI_BATCH_JOB_ID``, ``TUI_BATCH_TASK_ID``, ``TUI_BATCH_SLOT`` and ``TUI_BATCH_ATTEMPT`` in
its environment (set in the server's one environment dict before each spawn: it is
single-threaded, so no copy per job).

"P" records wait up to ``LINGER_MS`` for company, so a short job costs the engine one wake-up
(its "P" and "X" arrive in one packet). The engine needs the pid only to clean up after a dead
server: kills go through the server, which reaps its children itself and so never signals a
group whose leader is already reaped (no pid-reuse race, no "cancel before the pid is known"
race: the kill request queues behind the run request).

Children get stdin = the server's stdin (/dev/null), stdout/stderr = the slot's spool files, a
new process group, default signal dispositions, an empty signal mask and no other fds. When
the engine's end of the socket closes (it exited or died), the server exits; running commands
are left alone, as ``xargs`` would leave them, except groups the engine was stopping (SIGKILL).

Stopping keeps the whole group in view (see ``engine/executors/groups.py``): once a run got a
signal other than SIGKILL, its leader's exit is not reaped (and so not reported) while other
members of its group live; the zombie keeps the group id from being reused, so the engine's SIGKILL
after the grace period still reaches the group. ``live_groups`` below is a copy of
``groups.live_groups`` (this file imports nothing of the package).

Running out of descriptors must not kill the server: a slot whose descriptors did not arrive
(``MSG_CTRUNC``) answers its next run with ``E`` EMFILE (the engine registers it again), and a
child whose pidfd cannot be opened is watched by polling ``waitid`` instead.
"""

import _signal
import _socket
import errno
import os
import select
import struct
import sys
import time

HEAD = struct.Struct("=cII")
"""Request header: kind, rid (slot id for b"S"), argument (slot id for b"R", signal for b"K")."""
TASK = struct.Struct("=qqqq")
"""Of a run request, after HEAD: job id, task id, slot, attempt (the child's TUI_BATCH_*)."""
TASK_ENV = (b"TUI_BATCH_JOB_ID", b"TUI_BATCH_TASK_ID", b"TUI_BATCH_SLOT", b"TUI_BATCH_ATTEMPT")
REC = struct.Struct("=cIi")
"""Reply record: kind, rid, value (pid / wait status / errno). Replies are concatenated."""
LINGER_MS = 10
HOLD_POLL = 0.02
"""Seconds between two looks at held groups and at children watched without a pidfd."""
MAX_REQUEST = 1 << 17
"""Bigger run requests are never sent (the engine spawns those itself)."""

REGISTER, UNREGISTER, RUN, KILL = b"S", b"U", b"R", b"K"
HELLO, STARTED, EXITED, FAILED = b"H", b"P", b"X", b"E"


def live_groups(pgids: set) -> set:
    """Copy of ``tui_batch.engine.executors.groups.live_groups``: groups with a live member."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return set(pgids)
    alive: set = set()
    for name in names:
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        except OSError:
            return set(pgids)
        try:
            data = os.read(fd, 512)
        except OSError:
            continue
        finally:
            os.close(fd)
        fields = data.rpartition(b")")[2].split()
        if len(fields) < 3:
            continue
        pgrp = int(fields[2])
        if pgrp not in pgids or pgrp in alive:
            continue
        if fields[0] in (b"Z", b"X"):
            try:
                if len(os.listdir(f"/proc/{name}/task")) <= 1:
                    continue  # dead, waiting for its parent
            except OSError:
                continue
        alive.add(pgrp)
        if alive == pgids:
            break
    return alive


def serve(fd: int) -> None:
    for signum in (_signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGINT):
        # children would inherit ignored signals; and with SIGPIPE at its default we die, as
        # we should, if the engine vanishes while we write to it
        _signal.signal(signum, _signal.SIG_DFL)
    options: dict = {"setpgroup": 0}
    try:
        if os.sched_getscheduler(0) == os.SCHED_OTHER:  # else leave the user's choice alone
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
            options["scheduler"] = (os.SCHED_OTHER, os.sched_param(0))  # for the children
    except OSError:
        pass
    os.set_inheritable(fd, False)  # pass_fds made it inheritable: children must not get it
    sock = _socket.socket(fileno=fd)
    poller = select.poll()
    pollin = select.POLLIN
    poller.register(fd, pollin)

    env = dict(os.environb)  # a plain dict converts fastest in posix_spawn
    slots: dict[int, list[tuple[int, int, int]]] = {}  # slot id -> posix_spawn file actions
    lost: set[int] = set()  # slots whose descriptors did not arrive (we had none left)
    children: dict[int, tuple[int, int]] = {}  # pidfd -> (pid, rid), until the exit
    unwatched: dict[int, int] = {}  # pid -> rid: no pidfd could be opened, waitid polls it
    rids: dict[int, int] = {}  # rid -> pid, until reaped
    stopping: set[int] = set()  # rids whose group got a signal other than SIGKILL
    killed: set[int] = set()  # rids whose group got SIGKILL
    held: dict[int, int] = {}  # rid -> pid: leader exited, zombie kept while its group lives
    buf = bytearray(HEAD.size + MAX_REQUEST)
    view = memoryview(buf)
    anc_size = _socket.CMSG_SPACE(2 * 4)
    out: list[bytes] = []
    unpack_head = HEAD.unpack_from
    unpack_task = TASK.unpack_from
    pack = REC.pack
    spawn = os.posix_spawn
    pidfd_open = os.pidfd_open
    waitpid = os.waitpid
    recvmsg_into = sock.recvmsg_into
    dup2 = os.POSIX_SPAWN_DUP2
    sigkill = _signal.SIGKILL
    monotonic = time.monotonic
    next_check = 0.0

    def reap(pid: int, rid: int) -> None:
        status = waitpid(pid, 0)[1]
        del rids[rid]
        stopping.discard(rid)
        killed.discard(rid)
        out.append(pack(EXITED, rid, status))

    def exited(pid: int, rid: int) -> None:
        """The leader exited (not reaped yet): hold it while its group is being stopped."""
        if rid in stopping and rid not in killed and live_groups({pid}):
            held[rid] = pid
        else:
            reap(pid, rid)

    def close_slot(sid: int) -> None:
        actions = slots.pop(sid, None)
        if actions is not None:
            for _kind, slot_fd, _target in actions:
                try:  # noqa: SIM105 (contextlib is not worth its import here)
                    os.close(slot_fd)
                except OSError:
                    pass

    sock.send(pack(HELLO, 0, os.getpid()))
    urgent = False
    try:
        while True:
            timeout = LINGER_MS if out else None
            if held or unwatched:
                timeout = min(timeout or LINGER_MS, int(HOLD_POLL * 1000))
            events = poller.poll(timeout)
            if not events:
                urgent = True  # "started" records waited long enough
            for ready, _ev in events:
                if ready != fd:  # a child exited
                    pid, rid = children.pop(ready)
                    poller.unregister(ready)
                    os.close(ready)
                    exited(pid, rid)
                    urgent = True
                    continue
                n, anc, flags, _addr = recvmsg_into((buf,), anc_size)
                if n < HEAD.size:
                    return  # EOF: the engine is gone
                kind, rid, arg = unpack_head(buf)
                if kind == RUN:
                    for name, value in zip(TASK_ENV, unpack_task(buf, HEAD.size), strict=True):
                        env[name] = b"%d" % value
                    argv = bytes(view[HEAD.size + TASK.size : n]).split(b"\0")
                    path = argv.pop(0)
                    actions = slots.get(arg)
                    if actions is None:  # lost slot: EMFILE; unknown slot: engine bug
                        out.append(pack(FAILED, rid, errno.EMFILE if arg in lost else 22))
                        urgent = True
                        continue
                    try:
                        pid = spawn(path, argv, env, file_actions=actions, **options)
                    except OSError as exc:
                        out.append(pack(FAILED, rid, exc.errno or 0))
                        urgent = True
                        continue
                    except ValueError:  # NUL byte: engine bug
                        out.append(pack(FAILED, rid, 22))  # EINVAL
                        urgent = True
                        continue
                    rids[rid] = pid
                    try:
                        pidfd = pidfd_open(pid)
                    except OSError:  # no descriptor left: poll this one
                        unwatched[pid] = rid
                    else:
                        poller.register(pidfd, pollin)
                        children[pidfd] = (pid, rid)
                    out.append(pack(STARTED, rid, pid))
                elif kind == KILL:
                    pid = rids.get(rid, 0)
                    if pid:
                        try:  # noqa: SIM105
                            os.killpg(pid, arg)
                        except OSError:
                            pass
                        if arg == sigkill:
                            killed.add(rid)
                            if held.pop(rid, None) is not None:
                                reap(pid, rid)
                                urgent = True
                        elif arg:
                            stopping.add(rid)
                elif kind == REGISTER:
                    fds: list[int] = []
                    for level, typ, data in anc:
                        if level == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS:
                            fds.extend(struct.unpack(f"{len(data) // 4}i", data))
                    for received in fds:
                        os.set_inheritable(received, False)  # only dup2 copies reach children
                    close_slot(rid)
                    if len(fds) == 2 and not flags & _socket.MSG_CTRUNC:
                        slots[rid] = [(dup2, fds[0], 1), (dup2, fds[1], 2)]
                        lost.discard(rid)
                    else:  # we ran out of descriptors: the kernel dropped some
                        for received in fds:
                            os.close(received)
                        lost.add(rid)
                elif kind == UNREGISTER:
                    close_slot(rid)
                    lost.discard(rid)
            if (held or unwatched) and monotonic() >= next_check:
                next_check = monotonic() + HOLD_POLL
                for pid, rid in list(unwatched.items()):
                    try:
                        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                    except ChildProcessError:
                        info = None
                    if info is not None:
                        del unwatched[pid]
                        exited(pid, rid)
                        urgent = True
                if held:
                    alive = live_groups(set(held.values()))
                    for rid, pid in list(held.items()):
                        if pid not in alive:
                            del held[rid]
                            reap(pid, rid)
                            urgent = True
            if urgent:
                if out:
                    sock.send(b"".join(out))
                    out.clear()
                urgent = False
    finally:
        # The engine is gone (killed, or it crashed): what it was stopping gets no more
        # grace, and what still runs is stopped too (SIGTERM, then SIGKILL after a second).
        # Its job runs those tasks again on resume, so a command left running would be a
        # second copy of the same work, and a process nobody watches any more.
        for rid, pid in rids.items():
            try:  # noqa: SIM105
                os.killpg(pid, sigkill if rid in stopping else _signal.SIGTERM)
            except OSError:
                pass
        groups = set(rids.values())
        deadline = monotonic() + 1.0
        while groups and monotonic() < deadline:
            time.sleep(0.02)
            groups = live_groups(groups)
        for pid in groups:
            try:  # noqa: SIM105
                os.killpg(pid, sigkill)
            except OSError:
                pass


if __name__ == "__main__":
    serve(int(sys.argv[1]))
