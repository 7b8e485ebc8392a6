"""The service as a process: running it (in the foreground, for systemd), starting it in the
background (on first use), and stopping it.

One service per user: the running service holds an ``flock`` on ``service.lock`` for its
whole life (the kernel drops it however the process dies), so two first uses at the same
moment start one service, and a socket file left by a killed one is known to be stale.
:func:`start_background` does not fork the calling process (which may hold threads and a
store): it starts ``python -m tui_batch service start --foreground`` in a new session
(``setsid``: no terminal, so no SIGHUP when the SSH connection drops), stdin from /dev/null,
stdout and stderr to ``service.log``, its folder the home folder, and returns once the socket
answers.

SIGTERM and SIGINT stop the service as `service stop` does: every job is stopped resumably
(interrupted), the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time

from ..errors import ControlError
from .client import ServiceClient, connect_service
from .host import Service
from .paths import lock_path, log_path, pid_path, registry_path, service_socket
from .registry import Registry
from .server import ServiceServer

__all__ = ["AlreadyRunning", "run_foreground", "start_background", "stop_service"]

log = logging.getLogger(__name__)

START_TIMEOUT = 20.0
"""Seconds a first use waits for a new service to answer (it restores its jobs first)."""


class AlreadyRunning(ControlError):
    """Another service holds the lock (its pid in :attr:`pid`, when known)."""

    def __init__(self, pid: str) -> None:
        super().__init__(f"the tui-batch service is already running (pid {pid or '?'})")
        self.pid = pid


def _take_lock() -> int:
    fd = os.open(lock_path(), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise AlreadyRunning(holder) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def run_foreground(workers: int | None) -> int:
    """Run the service in this process until it is stopped; the exit code (0)."""
    fd = _take_lock()
    pid_file = pid_path()
    try:
        pid_file.write_text(f"{os.getpid()}\n", encoding="ascii")
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s tui-batch service[%(process)d]: %(message)s")
        asyncio.run(_serve(workers))
        return 0
    finally:
        with contextlib.suppress(OSError):
            pid_file.unlink()
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


async def _serve(workers: int | None) -> None:
    registry = Registry.load(registry_path())
    service = Service(registry, workers)
    server = ServiceServer(service, service_socket())
    await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.begin_stop)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)  # a daemon has no terminal to lose
    log.info("started: socket %s, %d workers, %d groups", server.path, service.limit.limit,
             len(service.groups))
    try:
        await service.restore()
        await service.stopped.wait()
    finally:
        await server.close()
        log.info("stopped")


def start_background(workers: int | None = None,
                     timeout: float = START_TIMEOUT) -> tuple[ServiceClient, bool]:
    """A connection to the service, started in the background if none runs; the bool says
    whether this call started it. Raises ControlError when it does not come up (with the
    end of its log)."""
    client = connect_service()
    if client is not None:
        return client, False
    cmd = [sys.executable, "-m", "tui_batch", "service", "start", "--foreground"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    logfile = log_path()
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, cwd=os.path.expanduser("~"),
        )
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        client = connect_service()
        if client is not None:
            return client, client.pid == proc.pid
        code = proc.poll()
        if code is not None and code != 0:
            raise ControlError(f"the service did not start (exit {code}): {_log_tail(logfile)}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    raise ControlError(f"the service did not answer within {timeout:g} s; see {logfile}")


def _log_tail(path: os.PathLike[str], lines: int = 5) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4096))
            text = fh.read().decode(errors="replace")
    except OSError:
        return f"see {os.fspath(path)}"
    return " | ".join(text.strip().splitlines()[-lines:]) or f"see {os.fspath(path)}"


def stop_service(client: ServiceClient, timeout: float = 120.0) -> int:
    """Ask the service to stop and wait until its process is gone; how many jobs it stopped."""
    pid = client.pid
    answer = client.call("stop")
    client.wait_closed(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.02)
    if _alive(pid):
        raise ControlError(f"the service (pid {pid}) did not stop within {timeout:g} s")
    return int(answer.get("jobs") or 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (our own child, not reaped yet) is gone for every purpose
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True
