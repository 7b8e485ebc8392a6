"""The journal's file format: how one hot-path record becomes a frame, and how a file of
frames is read back.

Why a module of its own: the format is the contract between a process that is killed and
the one that replays what it left (journal.py owns the files, their locks and their life
cycle; this module only knows bytes), and its encoder sits on the engine's hot path, so its
cost is measured in hundreds of nanoseconds.

Frames: ``<u32 length><u32 crc32>`` + body, from offset 0 of the (preallocated, grown when
needed) file. The body of a task's end (the store's 19-field record, one per task: the hot
one; its last seven fields say where the attempt's output is kept, or are all None) is packed
with ``struct`` (half the cost of marshal); anything else is ``b"M"`` +
``marshal.dumps((seq, record))``. ``seq`` grows by one per record, across both
files, so a file is read up to the first frame that is damaged, cut short, or not newer than
the one before it (bytes left from an earlier turn of that file); clearing a file zeroes its
first frame header. marshal is version-specific: a journal written by another Python version may
not decode, and is then skipped (those tasks run again, as before this journal existed).
"""

from __future__ import annotations

import marshal
import struct
import zlib
from collections.abc import Iterator
from typing import Any

__all__ = ["CLEARED", "HEADER_SIZE", "frame", "read_frames"]

_FRAME = struct.Struct("<II")
_pack = _FRAME.pack
_crc = zlib.crc32
_dumps = marshal.dumps
_END = struct.Struct("<BQqiddqqBB")
"""End record head: op, seq, task id, attempt, started, ended, exit code, signal, which of the
four optional texts follow (bits), length of the state name (which follows first)."""
_END_FIELDS = 19
_LOG = struct.Struct("<qqqqqqq")
_NO_LOG = (None,) * 7
_U32 = struct.Struct("<I")
_u32 = _U32.pack
_NONE = -(1 << 63)  # None for the exit code and the signal
_MARSHAL = b"M"
_state_bytes: dict[Any, bytes] = {}
_READ_STEP = 1 << 16

HEADER_SIZE = _FRAME.size
"""Bytes of a frame header; a file must keep room for one after its last frame."""
CLEARED = bytes(_FRAME.size)
"""A zero frame header: written at offset 0, it empties a file (see read_frames)."""


def frame(seq: int, item: tuple[Any, ...]) -> bytes:
    """The frame of record ``item``, numbered ``seq``: header and body."""
    body = _encode_end(seq, item) if len(item) == _END_FIELDS else None
    if body is None:
        try:
            body = _MARSHAL + _dumps((seq, item))
        except ValueError:  # a str / int subclass (a TaskState passed as the state)
            body = _MARSHAL + _dumps((seq, tuple(map(_plain, item))))
    return _pack(len(body), _crc(body)) + body


def _text(v: str) -> bytes:
    b = v.encode("utf-8", "surrogatepass")  # lone surrogates (non-UTF-8 names) round-trip
    return _u32(len(b)) + b


def _encode_end(seq: int, item: tuple[Any, ...]) -> bytes | None:
    """The packed body of an end record, or None when a field does not fit the layout."""
    op, tid, attempt, state, started, ended, code, sig, error, out, err, reason = item[:12]
    logref = item[12:]
    sb = _state_bytes.get(state)
    try:
        if sb is None:
            sb = _state_bytes[state] = str.__str__(state).encode()
        mask = 0
        tail = b""
        if error is not None:
            mask |= 1
            tail += _text(error)
        if out is not None:
            mask |= 2
            tail += _text(out)
        if err is not None:
            mask |= 4
            tail += _text(err)
        if reason is not None:
            mask |= 8
            tail += _text(reason)
        if logref[0] is not None:
            mask |= 16
            tail += _LOG.pack(*logref)
        return _END.pack(
            op, seq, tid, attempt, started, ended, _NONE if code is None else code,
            _NONE if sig is None else sig, mask, len(sb),
        ) + sb + tail
    except (struct.error, TypeError, AttributeError, UnicodeError, OverflowError):
        return None


def _decode(body: bytes) -> tuple[int, tuple[Any, ...]]:
    """(seq, record) from a frame body (see _encode_end and frame)."""
    if body[:1] == _MARSHAL:
        seq, item = marshal.loads(body[1:])
        return seq, item
    op, seq, tid, attempt, started, ended, code, sig, mask, slen = _END.unpack_from(body, 0)
    pos = _END.size
    state = body[pos : pos + slen].decode()
    pos += slen
    texts: list[str | None] = []
    for bit in (1, 2, 4, 8):
        if mask & bit:
            (n,) = _U32.unpack_from(body, pos)
            pos += _U32.size
            texts.append(body[pos : pos + n].decode("utf-8", "surrogatepass"))
            pos += n
        else:
            texts.append(None)
    logref = _LOG.unpack_from(body, pos) if mask & 16 else _NO_LOG
    return seq, (
        op, tid, attempt, state, started, ended, None if code == _NONE else code,
        None if sig == _NONE else sig, *texts, *logref,
    )


def _plain(v: Any) -> Any:
    """The built-in value of a record field (marshal takes exact built-in types only)."""
    if v is None or type(v) in (int, float, str, bytes):
        return v
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    return repr(v)


def read_frames(path: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """One file's records, read only as far as they go (the rest of the file is zeros)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - read step by step below
    except OSError:
        return
    with fh:
        data = b""
        pos, size, last = 0, _FRAME.size, 0
        while True:
            if len(data) - pos < size:
                more = fh.read(_READ_STEP)
                if not more:
                    return
                data = data[pos:] + more
                pos = 0
                continue
            length, crc = _FRAME.unpack_from(data, pos)
            if length == 0:
                return  # a cleared file, or the end of this turn's records
            while len(data) - pos - size < length:
                more = fh.read(max(_READ_STEP, length))
                if not more:
                    return  # cut short
                data = data[pos:] + more
                pos = 0
            body = data[pos + size : pos + size + length]
            if _crc(body) != crc:
                return  # torn or damaged: nothing after it can be trusted
            try:
                seq, item = _decode(body)
            except (ValueError, EOFError, TypeError, struct.error, UnicodeError):
                return
            if not isinstance(seq, int) or seq <= last:
                return  # left from an earlier turn of this file: committed long ago
            last = seq
            yield seq, item
            pos += size + length


