"""The control socket's wire format, shared by the server (asyncio) and the client (blocking).

A frame is a 4-byte big-endian length and that many bytes of JSON holding one object. The
length comes first so that a reader knows how much to wait for and can refuse an oversized
frame before reading it (MAX_FRAME): a client, buggy or hostile, must never make a job
allocate without bound. JSON is written ASCII-only, so the bytes are always valid UTF-8 and a
path with surrogate escapes (a non-UTF-8 file name) travels as ``\\udcXX`` and comes back
byte-exact.

The first frame of every connection is the client's hello with the protocol version; a
server that speaks another version says so and closes, so an old `tui-batch` talking to a
newer job gets a clear message instead of misread answers.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from ..errors import ControlError

__all__ = [
    "HEADER",
    "MAX_FRAME",
    "VERSION",
    "FrameError",
    "check_hello",
    "check_length",
    "decode",
    "encode",
    "hello",
    "peer_uid",
    "recv_frame",
    "send_frame",
]

VERSION = 1
"""The protocol version: bumped on any change an older peer would misread."""
MAX_FRAME = 1 << 20
"""Bytes of JSON a frame may carry (1 MiB)."""
HEADER = struct.Struct(">I")
HELLO = "tui-batch"


class FrameError(ControlError):
    """A frame that breaks the protocol (too long, not JSON, not an object). The server
    answers it with an error and closes the connection; the job goes on."""


def encode(obj: dict[str, Any]) -> bytes:
    """One frame for ``obj``. Raises FrameError if it would be over MAX_FRAME."""
    data = json.dumps(obj, separators=(",", ":"), default=_plain).encode("ascii")
    if len(data) > MAX_FRAME:
        raise FrameError(f"message of {len(data)} bytes is over the limit of {MAX_FRAME}")
    return HEADER.pack(len(data)) + data


def _plain(value: object) -> object:
    """JSON for the few non-JSON values the engine hands out (enums, paths, sets)."""
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def check_length(n: int) -> None:
    """Refuse a length prefix over MAX_FRAME before anything is read."""
    if n > MAX_FRAME:
        raise FrameError(f"frame of {n} bytes is over the limit of {MAX_FRAME}")


def decode(payload: bytes) -> dict[str, Any]:
    """The object in one frame's payload, or FrameError saying what is wrong with it."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"frame is not UTF-8 (byte {exc.start})") from None
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"frame is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise FrameError(f"frame must hold a JSON object, not {type(obj).__name__}")
    return obj


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def hello() -> dict[str, Any]:
    """The client's first frame."""
    return {"hello": HELLO, "version": VERSION}


def check_hello(obj: dict[str, Any]) -> str | None:
    """What is wrong with a client's first frame, or None when it may go on."""
    if obj.get("hello") != HELLO:
        return "expected a hello frame first: {\"hello\": \"tui-batch\", \"version\": 1}"
    version = obj.get("version")
    if version != VERSION:
        return f"version mismatch: server {VERSION}, client {version}"
    return None


# --------------------------------------------------------------------- blocking side (client)
def send_frame(sock: socket.socket, obj: dict[str, Any]) -> None:
    """Write one frame on a blocking socket."""
    sock.sendall(encode(obj))


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            if got == 0:
                return None
            raise ControlError("the job closed the connection in the middle of a message")
        got += k
    return bytes(buf)


def recv_frame(sock: socket.socket) -> dict[str, Any] | None:
    """Read one frame from a blocking socket; None when the peer closed between frames."""
    head = _recv_exact(sock, HEADER.size)
    if head is None:
        return None
    (n,) = HEADER.unpack(head)
    check_length(n)
    payload = _recv_exact(sock, n)
    if payload is None:
        raise ControlError("the job closed the connection in the middle of a message")
    return decode(payload)


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (Linux: ``SO_PEERCRED``), or
    None where the OS cannot say (then the 0700 folder is the only gate)."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:
        return None
    size = struct.calcsize("3i")
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, opt, size))
    return int(uid)
