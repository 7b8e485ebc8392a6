"""Talking to a running job from another process: the blocking client the CLI commands use
(`tui-batch pause 3`, `workers`, `cancel`, `wait`, ...).

Blocking on purpose: each command makes one connection, a handshake and a call or two, and
is done in a few milliseconds; an event loop would only add start-up time. :func:`connect`
tells "the job is not running" (None: no socket, or a socket nobody listens on, which is
removed as stale) apart from "the job is running but refused us" (:class:`ControlError`), so
a command can say which one it is. Every wait has a timeout: a wedged job must not hang a
shell script.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ControlError
from .paths import socket_path
from .protocol import hello, peer_uid, recv_frame, send_frame

__all__ = ["ControlClient", "connect"]


class ControlClient:
    """One connection to a running job, after a successful handshake. Use as a context
    manager, or call :meth:`close`.

    One thread at a time: a thread that reads :meth:`events` owns the connection; send
    controls meanwhile on a second connection (as ``attach`` does)."""

    def __init__(self, sock: socket.socket, path: Path, info: dict[str, Any],
                 timeout: float) -> None:
        self._sock = sock
        self.path = path
        """The socket file."""
        self.info = info
        """The server's handshake answer: version, job_id, pid, db."""
        self.timeout = timeout
        self._next_id = 0
        self._events: deque[dict[str, Any]] = deque()  # event frames read while awaiting an answer
        self._ended = False

    @property
    def job_id(self) -> int:
        return int(self.info["job_id"])

    @property
    def pid(self) -> int:
        """The process that runs the job."""
        return int(self.info["pid"])

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Send one request and return the job's answer (``ok`` true). Raises
        :class:`ControlError` with the job's message when it refused, when it does not answer
        within ``timeout`` seconds, or when the connection ends (the job finished)."""
        self._next_id += 1
        rid = self._next_id
        self._sock.settimeout(self.timeout)
        try:
            send_frame(self._sock, {"id": rid, "op": op, **args})
            while True:
                frame = recv_frame(self._sock)
                if frame is None:
                    raise ControlError(
                        f"job {self.job_id} closed the connection before answering {op!r} "
                        "(it has ended)"
                    )
                if frame.get("id") == rid:
                    if not frame.get("ok"):
                        raise ControlError(str(frame.get("error") or f"{op!r} refused"))
                    return frame
                if "ev" in frame:
                    self._events.append(frame)
                elif frame.get("ok") is False:
                    raise ControlError(str(frame.get("error")))
        except TimeoutError:
            raise ControlError(
                f"job {self.job_id} did not answer {op!r} within {self.timeout:g} s"
            ) from None
        except (BrokenPipeError, ConnectionResetError):
            raise ControlError(
                f"job {self.job_id} closed the connection during {op!r} (it has ended)"
            ) from None

    def events(self, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """The event frames after ``call("subscribe")``: ``stats``, ``tasks``, ``log`` and a
        last ``end`` (``{"ev": "end", "state", "code"}``), after which the iteration stops.
        It also stops, without an ``end``, if the connection breaks (the job's process died:
        the store tells how it ended). ``timeout``: seconds to wait for each frame (None:
        forever); ControlError when it passes."""
        while self._events:
            queued = self._events.popleft()
            yield queued
            if queued.get("ev") == "end":
                self._ended = True
                return
        if self._ended:
            return
        self._sock.settimeout(timeout)
        while True:
            try:
                frame = recv_frame(self._sock)
            except TimeoutError:
                raise ControlError(
                    f"no news from job {self.job_id} within {timeout:g} s"
                ) from None
            except (ConnectionResetError, BrokenPipeError):
                return
            if frame is None:
                return
            if "ev" in frame:
                yield frame
                if frame["ev"] == "end":
                    self._ended = True
                    return
            elif frame.get("ok") is False and "id" not in frame:
                raise ControlError(str(frame.get("error")))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ControlClient(job {self.info.get('job_id')}, pid {self.info.get('pid')})"


def _remove_stale(path: Path, seen: os.stat_result) -> None:
    """Remove a socket file nobody listens on, unless it was replaced meanwhile (a new run
    of the job may have just bound a fresh one at the same path)."""
    try:
        now = os.lstat(path)
        if (now.st_ino, now.st_dev) == (seen.st_ino, seen.st_dev):
            os.unlink(path)
    except OSError:
        pass


def connect(db_path: str, job_id: int, timeout: float = 2.0) -> ControlClient | None:
    """A connection to job ``job_id`` of the store at ``db_path``, handshake done.

    None when the job is not being served (no socket; a stale socket of a dead process is
    removed). Raises :class:`ControlError` when the runtime folder is unsafe, the job refuses
    (permission denied, version mismatch) or does not answer within ``timeout`` seconds."""
    path = socket_path(db_path, job_id, create=False)
    try:
        seen = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ControlError(f"control socket {path}: {exc.strerror}") from None
    if not stat.S_ISSOCK(seen.st_mode):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        return _handshake(sock, path, seen, job_id, timeout)
    except BaseException:
        sock.close()
        raise


def _handshake(sock: socket.socket, path: Path, seen: os.stat_result, job_id: int,
               timeout: float) -> ControlClient | None:
    sock.settimeout(timeout)
    try:
        sock.connect(os.fspath(path))
    except (ConnectionRefusedError, FileNotFoundError):
        _remove_stale(path, seen)
        sock.close()
        return None
    except TimeoutError:
        raise ControlError(f"job {job_id} did not accept a connection within {timeout:g} s") \
            from None
    except OSError as exc:
        raise ControlError(f"cannot connect to job {job_id} at {path}: {exc.strerror}") from None
    uid = peer_uid(sock)
    if uid is not None and uid != os.getuid():
        raise ControlError(
            f"control socket {path} is served by uid {uid}, not by you: refusing to talk to it"
        )
    # the server may have refused us already (a peer check): its frame says why
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        send_frame(sock, hello())
    try:
        answer = recv_frame(sock)
    except TimeoutError:
        raise ControlError(f"job {job_id} did not answer the handshake within {timeout:g} s") \
            from None
    except ConnectionResetError:
        answer = None
    if answer is None:  # the job ended between connect and hello
        sock.close()
        return None
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error") or "the job refused the connection"))
    if answer.get("job_id") != job_id:
        raise ControlError(
            f"control socket {path} serves job {answer.get('job_id')}, not job {job_id}"
        )
    return ControlClient(sock, path, answer, timeout)
