"""Opening a viewer's connection to a job's control socket: connect, check, say hello.

Why a module of its own: :class:`~.remote.RemoteJob` keeps one asyncio connection for its
stream and its requests; how that connection is made (the peer's uid checked before a byte
is sent, the version hello, the job id the socket answers for) is the same careful sequence
the blocking :mod:`.client` follows, kept apart from what the viewer then does with it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ..errors import ControlError
from .aio import read_frame
from .paths import socket_path
from .protocol import encode, hello, peer_uid

__all__ = ["open_job"]

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]]


async def open_job(db_path: str, job_id: int, timeout: float) -> Streams | None:
    """The connection to job ``job_id``'s socket, greeted: ``(reader, writer, the job's
    hello answer)``. None when nobody serves the job (it is not running, or it ended during
    the hello); ControlError when it refuses us or does not answer within ``timeout``."""
    path = socket_path(db_path, job_id, create=False)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(os.fspath(path)), timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    except TimeoutError:
        raise ControlError(f"job {job_id} did not accept a connection within "
                           f"{timeout:g} s") from None
    except OSError as exc:
        raise ControlError(f"cannot connect to job {job_id} at {path}: "
                           f"{exc.strerror}") from None
    try:
        answer = await asyncio.wait_for(_hello(reader, writer, path, job_id), timeout)
    except BaseException:
        writer.close()
        raise
    if answer is None:
        writer.close()
        return None
    return reader, writer, answer


async def _hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 path: os.PathLike[str], job_id: int) -> dict[str, Any] | None:
    sock = writer.get_extra_info("socket")
    uid = None if sock is None else peer_uid(sock)
    if uid is not None and uid != os.getuid():
        raise ControlError(f"control socket {path} is served by uid {uid}, not by you: "
                           "refusing to talk to it")
    writer.write(encode(hello()))
    try:
        answer = await read_frame(reader)
    except (ConnectionError, asyncio.IncompleteReadError):
        return None
    if answer is None:
        return None
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error") or "the job refused the connection"))
    if answer.get("job_id") != job_id:
        raise ControlError(f"control socket {path} serves job {answer.get('job_id')}, "
                           f"not job {job_id}")
    return answer
