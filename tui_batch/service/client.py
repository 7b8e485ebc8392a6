"""Talking to the per-user service from a command (`run --detach`, `service status`, `group
add`): a blocking connection on the jobs' protocol (:mod:`tui_batch.control.protocol`).

:func:`connect_service` tells "no service" (None: no socket, or a socket nobody accepts on,
left by a service that died) apart from "a service that refused us" (:class:`ControlError`),
as :func:`tui_batch.control.connect` does for a job.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Any

from ..control.protocol import hello, peer_uid, recv_frame, send_frame
from ..errors import ControlError, InputError
from .paths import service_socket

__all__ = ["ServiceClient", "ServiceRefused", "connect_service"]


class ServiceRefused(ControlError):
    """The service answered a request with an error (``field`` set for a user mistake)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_input_error(self) -> InputError | None:
        return InputError(self.field, self.message) if self.field else None


class ServiceClient:
    """One connection to the service after its handshake."""

    def __init__(self, sock: socket.socket, path: Path, info: dict[str, Any],
                 timeout: float) -> None:
        self._sock = sock
        self.path = path
        self.info = info
        self.timeout = timeout
        self._next_id = 0

    @property
    def pid(self) -> int:
        return int(self.info["pid"])

    def call(self, op: str, timeout: float | None = None, **args: Any) -> dict[str, Any]:
        """One request; the answer (``ok`` true) or :class:`ServiceRefused` / ControlError."""
        self._next_id += 1
        rid = self._next_id
        self._sock.settimeout(timeout or self.timeout)
        try:
            send_frame(self._sock, {"id": rid, "op": op, **args})
            while True:
                frame = recv_frame(self._sock)
                if frame is None:
                    raise ControlError(f"the service closed the connection before answering "
                                       f"{op!r}")
                if frame.get("id") != rid and frame.get("ok") is not False:
                    continue
                if not frame.get("ok"):
                    raise ServiceRefused(str(frame.get("error") or f"{op!r} refused"),
                                         frame.get("field"))
                return frame
        except TimeoutError:
            raise ControlError(f"the service did not answer {op!r} within "
                               f"{timeout or self.timeout:g} s") from None
        except (BrokenPipeError, ConnectionResetError):
            raise ControlError(f"the service closed the connection during {op!r}") from None

    def wait_closed(self, timeout: float) -> bool:
        """Wait until the service closes this connection (it exits); False on timeout."""
        self._sock.settimeout(timeout)
        try:
            while recv_frame(self._sock) is not None:
                pass
        except TimeoutError:
            return False
        except (OSError, ControlError):
            pass
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_service(timeout: float = 5.0) -> ServiceClient | None:
    """A connection to the running service, or None when none runs."""
    path = service_socket(create=False)
    if not os.path.exists(path):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(os.fspath(path))
        except (ConnectionRefusedError, FileNotFoundError):
            sock.close()
            return None
        except OSError as exc:
            raise ControlError(f"cannot connect to the service at {path}: {exc.strerror}") \
                from None
        uid = peer_uid(sock)
        if uid is not None and uid != os.getuid():
            raise ControlError(f"service socket {path} is served by uid {uid}, not by you: "
                               "refusing to talk to it")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            send_frame(sock, hello())
        try:
            answer = recv_frame(sock)
        except ConnectionResetError:
            answer = None
        except TimeoutError:
            raise ControlError(f"the service did not answer within {timeout:g} s") from None
        if answer is None:
            sock.close()
            return None
        if not answer.get("ok") or not answer.get("service"):
            raise ControlError(str(answer.get("error") or f"{path} is not the tui-batch "
                                                           "service"))
        return ServiceClient(sock, path, answer, timeout)
    except BaseException:
        sock.close()
        raise
