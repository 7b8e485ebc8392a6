"""Reading frames on asyncio streams: the servers' (job and service) and the TUI's side.

Why a module of its own: the blocking client (:mod:`.client`, used by every control command)
must not import asyncio, and the two servers and the remote dashboard read frames the same
way, with the same refusals of a broken or oversized frame.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .protocol import HEADER, FrameError, check_length, decode

__all__ = ["linger", "read_frame"]


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next frame's object; None when the peer closed between frames. FrameError for a
    frame cut short, oversized (checked before reading it) or not a JSON object."""
    try:
        head = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise FrameError("connection closed in the middle of a length prefix") from None
    (n,) = HEADER.unpack(head)
    check_length(n)
    try:
        payload = await reader.readexactly(n)
    except asyncio.IncompleteReadError:
        raise FrameError(f"connection closed after a length prefix of {n} bytes") from None
    return decode(payload)


async def linger(reader: asyncio.StreamReader, seconds: float = 1.0) -> None:
    """After a refusal sent before the peer's hello: let the peer finish sending (its bytes
    are read and dropped, at most ``seconds``, until it closes), so that its hello does not
    meet a closed socket (a broken pipe) and it reads the refusal instead."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(1 << 16):
                pass
    except (TimeoutError, ConnectionError):
        pass
