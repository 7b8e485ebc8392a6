"""Fork server: a tiny helper process that starts commands for :class:`SubprocessExecutor`.

Why: ``os.posix_spawn`` uses ``clone(CLONE_VFORK)``, so the spawning thread waits until the
child's ``execve`` is done. On the event-loop thread that serialises the workers' execs and
stalls the engine for the whole exec (~0.5 ms here). This server spawns instead, so the engine
only sends a small request and goes on; exits come back as messages on the same socket.

The server is this file run as a script (``python -I -S forkserver.py FD METHOD``): it imports
only a handful of built-in modules (RSS ~3 MB anonymous), never ``tui_batch``. It is
single-threaded: one ``poll`` loop over its socket and a SIGCHLD wake-up pipe. Its environment
*is* the executor's environment (given once by ``Popen(env=...)``), so nothing is converted per
job.

Protocol (``AF_UNIX``/``SOCK_SEQPACKET``, one request per packet, replies batched)::

    engine -> server   HEAD(b"S", slot, 0)  + ancillary fds [stdout, stderr]   register a slot
                       HEAD(b"R", rid, slot) + path NUL argv0 NUL argv1 ...     run (bytes)
                       HEAD(b"K", rid, sig)                                    killpg, if alive
    server -> engine   REC(b"P", rid, pid)      started (group id = pid)
                       REC(b"X", rid, status)   exited and reaped (a waitpid status)
                       REC(b"E", rid, errno)    could not start (no X follows)

Children get stdin = the server's stdin (/dev/null), stdout/stderr = the slot's spool files, a
new process group, default signal dispositions and an empty signal mask. Kills go through the
server, which reaps its children itself: it never signals a group whose leader it has already
reaped, so a recycled pid can never be hit. When the engine's end of the socket closes (the
engine exited or died), the server exits; running commands are left alone, as ``xargs`` would
leave them.

METHOD ``spawn`` (default) uses ``os.posix_spawn`` (vfork: no page-table copy and no
copy-on-write faults in either process, which are expensive on VMs); ``fork`` uses ``os.fork``
+ ``os.execv`` (the server goes on while the child execs).
"""

import _signal
import os
import select
import struct
import sys

import _socket

HEAD = struct.Struct("=cII")
"""Request header: kind, rid (slot id for b"S"), argument (slot id for b"R", signal for b"K")."""
REC = struct.Struct("=cIi")
"""Reply record: kind, rid, value (pid / wait status / errno). Replies are concatenated."""
MAX_REQUEST = 1 << 17
"""Bigger run requests are not sent (the engine spawns those itself)."""

REGISTER, RUN, KILL = b"S", b"R", b"K"
STARTED, EXITED, FAILED = b"P", b"X", b"E"


def _noop(signum: int, frame: object) -> None:
    """SIGCHLD handler: the C-level handler already wrote to the wake-up fd."""


def serve(fd: int, method: str = "spawn") -> None:
    for signum in (_signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGINT):
        # children inherit ignored signals; SIGPIPE also makes us die with a vanished engine
        _signal.signal(signum, _signal.SIG_DFL)
    sock = _socket.socket(fileno=fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    _signal.signal(_signal.SIGCHLD, _noop)
    _signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(wake_r, select.POLLIN)

    env = dict(os.environb)  # a plain dict converts fast in posix_spawn
    slots: dict[int, list[tuple[int, int, int]]] = {}
    pids: dict[int, int] = {}  # pid -> rid, until reaped
    rids: dict[int, int] = {}  # rid -> pid, until reaped
    buf = bytearray(MAX_REQUEST + HEAD.size)
    view = memoryview(buf)
    anc_size = _socket.CMSG_SPACE(2 * 4)
    out: list[bytes] = []
    unpack_head = HEAD.unpack_from
    pack = REC.pack
    spawn = os.posix_spawn
    dup2 = os.POSIX_SPAWN_DUP2
    recvmsg_into = sock.recvmsg_into
    dontwait = _socket.MSG_DONTWAIT
    waitpid = os.waitpid
    wnohang = os.WNOHANG
    use_fork = method == "fork"

    while True:
        for ready, _ev in poller.poll():
            if ready == wake_r:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
                while pids:
                    try:
                        pid, status = waitpid(-1, wnohang)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    rid = pids.pop(pid, 0)
                    if rid:
                        del rids[rid]
                        out.append(pack(EXITED, rid, status))
                continue
            while True:
                try:
                    n, anc, _flags, _addr = recvmsg_into((buf,), anc_size, dontwait)
                except BlockingIOError:
                    break
                if n < HEAD.size:
                    return  # EOF (or garbage): the engine is gone
                kind, rid, arg = unpack_head(buf)
                if kind == RUN:
                    parts = bytes(view[HEAD.size : n]).split(b"\0")
                    path = parts[0]
                    del parts[0]
                    if use_fork:
                        pid = _fork_exec(path, parts, slots[arg], fd, rid)
                    else:
                        try:
                            pid = spawn(path, parts, env, file_actions=slots[arg], setpgroup=0)
                        except OSError as exc:
                            out.append(pack(FAILED, rid, exc.errno or 0))
                            continue
                    pids[pid] = rid
                    rids[rid] = pid
                    out.append(pack(STARTED, rid, pid))
                elif kind == KILL:
                    pid = rids.get(rid, 0)
                    if pid:
                        try:
                            os.killpg(pid, arg)
                        except OSError:
                            pass
                elif kind == REGISTER:
                    fds = []
                    for level, typ, data in anc:
                        if level == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS:
                            fds.extend(struct.unpack(f"{len(data) // 4}i", data))
                    for extra in fds:
                        os.set_inheritable(extra, False)
                    slots[rid] = [(dup2, fds[0], 1), (dup2, fds[1], 2)]
        if out:
            sock.send(b"".join(out))
            out.clear()


def _fork_exec(path: bytes, argv: list[bytes], actions: list[tuple[int, int, int]],
               sock_fd: int, rid: int) -> int:
    pid = os.fork()
    if pid == 0:  # child: as little Python as possible (every touched page is a COW fault)
        errno = 0
        try:
            os.setpgid(0, 0)
            os.dup2(actions[0][1], 1)
            os.dup2(actions[1][1], 2)
            os.execv(path, argv)
        except OSError as exc:
            errno = exc.errno or 0
        finally:
            try:
                os.write(sock_fd, REC.pack(FAILED, rid, errno))
            finally:
                os._exit(127)
    try:
        os.setpgid(pid, pid)  # also from this side: the group exists before "started" is sent
    except OSError:
        pass  # the child already exec'd (it did its own setpgid first)
    return pid


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "spawn")
