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
                       HEAD(b"R", rid, slot) + path NUL argv0 NUL argv1 ...  run (raw bytes)
                       HEAD(b"K", rid, sig)                                  killpg, if alive
    server -> engine   REC(b"H", 0, pid)        hello: ready for requests (sent once, first)
                       REC(b"P", rid, pid)      started; the pid is also the process group
                       REC(b"X", rid, status)   exited and reaped (a waitpid status)
                       REC(b"E", rid, errno)    could not start (the spawn failed; no X follows)

"P" records wait up to ``LINGER_MS`` for company, so a short job costs the engine one wake-up
(its "P" and "X" arrive in one packet). The engine needs the pid only to clean up after a dead
server: kills go through the server, which reaps its children itself and so never signals a
group whose leader is already reaped (no pid-reuse race, no "cancel before the pid is known"
race: the kill request queues behind the run request).

Children get stdin = the server's stdin (/dev/null), stdout/stderr = the slot's spool files, a
new process group, default signal dispositions, an empty signal mask and no other fds. When
the engine's end of the socket closes (it exited or died), the server exits; running commands
are left alone, as ``xargs`` would leave them.
"""

import _signal
import _socket
import os
import select
import struct
import sys

HEAD = struct.Struct("=cII")
"""Request header: kind, rid (slot id for b"S"), argument (slot id for b"R", signal for b"K")."""
REC = struct.Struct("=cIi")
"""Reply record: kind, rid, value (pid / wait status / errno). Replies are concatenated."""
LINGER_MS = 10
MAX_REQUEST = 1 << 17
"""Bigger run requests are never sent (the engine spawns those itself)."""

REGISTER, RUN, KILL = b"S", b"R", b"K"
HELLO, STARTED, EXITED, FAILED = b"H", b"P", b"X", b"E"


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
    children: dict[int, tuple[int, int]] = {}  # pidfd -> (pid, rid), until reaped
    rids: dict[int, int] = {}  # rid -> pid, until reaped
    buf = bytearray(HEAD.size + MAX_REQUEST)
    view = memoryview(buf)
    anc_size = _socket.CMSG_SPACE(2 * 4)
    out: list[bytes] = []
    unpack_head = HEAD.unpack_from
    pack = REC.pack
    spawn = os.posix_spawn
    pidfd_open = os.pidfd_open
    waitpid = os.waitpid
    recvmsg_into = sock.recvmsg_into
    dup2 = os.POSIX_SPAWN_DUP2

    sock.send(pack(HELLO, 0, os.getpid()))
    urgent = False
    while True:
        events = poller.poll(LINGER_MS if out else None)
        if not events:
            urgent = True  # "started" records waited long enough
        for ready, _ev in events:
            if ready != fd:  # a child exited
                pid, rid = children.pop(ready)
                poller.unregister(ready)
                os.close(ready)
                status = waitpid(pid, 0)[1]
                del rids[rid]
                out.append(pack(EXITED, rid, status))
                urgent = True
                continue
            n, anc, _flags, _addr = recvmsg_into((buf,), anc_size)
            if n < HEAD.size:
                return  # EOF: the engine is gone
            kind, rid, arg = unpack_head(buf)
            if kind == RUN:
                argv = bytes(view[HEAD.size : n]).split(b"\0")
                path = argv.pop(0)
                try:
                    pid = spawn(path, argv, env, file_actions=slots[arg], **options)
                except OSError as exc:
                    out.append(pack(FAILED, rid, exc.errno or 0))
                    urgent = True
                    continue
                except (KeyError, ValueError):  # unknown slot / NUL byte: engine bug
                    out.append(pack(FAILED, rid, 22))  # EINVAL
                    urgent = True
                    continue
                pidfd = pidfd_open(pid)
                poller.register(pidfd, pollin)
                children[pidfd] = (pid, rid)
                rids[rid] = pid
                out.append(pack(STARTED, rid, pid))
            elif kind == KILL:
                pid = rids.get(rid, 0)
                if pid:
                    try:  # noqa: SIM105 (contextlib is not worth its import here)
                        os.killpg(pid, arg)
                    except OSError:
                        pass
            elif kind == REGISTER:
                fds: list[int] = []
                for level, typ, data in anc:
                    if level == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS:
                        fds.extend(struct.unpack(f"{len(data) // 4}i", data))
                for received in fds:
                    os.set_inheritable(received, False)  # only the dup2 copies reach children
                slots[rid] = [(dup2, fds[0], 1), (dup2, fds[1], 2)]
        if urgent:
            if out:
                sock.send(b"".join(out))
                out.clear()
            urgent = False


if __name__ == "__main__":
    serve(int(sys.argv[1]))
