"""The codecs behind ``compress`` and ``decompress``: gzip and zstd, streamed both ways.

Why a module of its own: reading compressed data safely is most of the work. Output is bounded
per call (a few kilobytes of zstd or gzip can hold gigabytes of zeros, which must stream, not
land in memory); every gzip member and zstd frame is decoded (``cat a.gz b.gz`` is one valid
file); a file cut short fails (zstandard's streaming reader stops quietly at the end of its
input, so the frames are walked first, headers only); the checksum each zstd frame carries and
gzip's CRC are checked by the libraries.
"""

from __future__ import annotations

import gzip as _gzip
import os
import zlib
from collections.abc import Callable
from typing import BinaryIO

import zstandard

try:  # zlib-ng deflates the same gzip format about 1.7x faster than zlib (a dependency)
    from zlib_ng import gzip_ng as _gzip_writer
except ImportError:  # pragma: no cover - an install without it still writes gzip
    _gzip_writer = _gzip  # type: ignore[misc]

from .base import ActionError

__all__ = ["Filler", "gunzip", "gzip_filler", "sniff", "unzstd", "zstd_filler"]

_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

Filler = Callable[[BinaryIO, BinaryIO], None]
"""Reads the source file object, writes the destination one."""


def _chunks(src: BinaryIO) -> Callable[[], bytes]:
    return lambda: src.read(_CHUNK)


def gzip_filler(level: int, name: str, mtime: int) -> Filler:
    def fill(src: BinaryIO, dst: BinaryIO) -> None:
        # the header records the name and mtime, as gzip(1) does (``gzip -dN`` restores them)
        with _gzip_writer.GzipFile(filename=name, mode="wb", compresslevel=level,
                                   fileobj=dst, mtime=mtime) as gz:
            for chunk in iter(_chunks(src), b""):
                gz.write(chunk)
    return fill


def zstd_filler(level: int, size: int) -> Filler:
    """zstd with a checksum per frame. ``size`` (the file's, as zstd(1) records it) lets the
    library fit its parameters to the input: level 19 on a small file needs no 8 MiB window."""
    def fill(src: BinaryIO, dst: BinaryIO) -> None:
        cctx = zstandard.ZstdCompressor(level=level, write_checksum=True)
        co = cctx.compressobj(size=size)
        try:
            for chunk in iter(_chunks(src), b""):
                dst.write(co.compress(chunk))
            dst.write(co.flush())
        except zstandard.ZstdError as exc:
            raise ActionError(f"the file changed size while it was compressed ({exc})") from None
    return fill


def gunzip(src: BinaryIO, dst: BinaryIO) -> None:
    """Every member, output bounded per call (a small file of zeros can hold gigabytes);
    zero padding after the last member is allowed, as ``gzip -d`` allows it."""
    d = zlib.decompressobj(31)
    fed = False  # inside a member that has not ended
    padding = False
    carry = b""
    for chunk in iter(_chunks(src), b""):
        data = carry + chunk
        carry = b""
        while data:
            if padding:
                if data.strip(b"\0"):
                    raise ActionError("trailing data after the gzip stream is not gzip data")
                break
            if not fed:
                if len(data) < 2:
                    carry = data
                    break
                if data[:2] != _GZIP_MAGIC:
                    if data.strip(b"\0"):
                        raise ActionError("trailing data after the gzip stream is not gzip data")
                    padding = True
                    break
            fed = True
            data = _inflate(d, data, dst)
            if d.eof:
                data = d.unused_data  # another member may follow (``cat a.gz b.gz``)
                d = zlib.decompressobj(31)
                fed = False
    if fed or carry:
        raise ActionError("the gzip data is cut short (truncated file)")


def _inflate(d: zlib._Decompress, data: bytes, dst: BinaryIO) -> bytes:
    """Feed ``data``; write what comes out, never more than 8 MiB per call."""
    limit = 8 * _CHUNK
    try:
        while True:
            out = d.decompress(data, limit)
            dst.write(out)
            data = d.unconsumed_tail
            if d.eof or (not data and len(out) < limit):
                return b""
    except zlib.error as exc:
        raise ActionError(f"corrupt gzip data: {exc}") from None


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ActionError(f"the zstd data is cut short in {what} (truncated file)")
    return data


def _check_zstd_frames(f: BinaryIO) -> None:
    """Walk the frames and blocks (headers only, contents skipped) so a file cut short fails:
    the library's streaming reader stops quietly at the end of its input."""
    size = os.fstat(f.fileno()).st_size
    while f.tell() < size:
        magic = _read_exact(f, 4, "a frame header")
        if 0x184D2A50 <= int.from_bytes(magic, "little") <= 0x184D2A5F:  # skippable frame
            skip = int.from_bytes(_read_exact(f, 4, "a skippable frame"), "little")
            if f.tell() + skip > size:
                raise ActionError("the zstd data is cut short (truncated file)")
            f.seek(skip, os.SEEK_CUR)
            continue
        if magic != _ZSTD_MAGIC:
            raise ActionError("trailing data after the zstd stream is not zstd data")
        fhd = _read_exact(f, 1, "a frame header")[0]
        single = bool(fhd & 0x20)
        fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
        header = (0 if single else 1) + (0, 1, 2, 4)[fhd & 3] + fcs
        _read_exact(f, header, "a frame header")
        last = False
        while not last:
            bh = int.from_bytes(_read_exact(f, 3, "a block header"), "little")
            last = bool(bh & 1)
            kind, bsize = (bh >> 1) & 3, bh >> 3
            if kind == 3:
                raise ActionError("corrupt zstd data: reserved block type")
            skip = 1 if kind == 1 else bsize
            if f.tell() + skip > size:
                raise ActionError("the zstd data is cut short (truncated file)")
            f.seek(skip, os.SEEK_CUR)
        if fhd & 4:
            _read_exact(f, 4, "a frame checksum")
    f.seek(0)


def unzstd(src: BinaryIO, dst: BinaryIO) -> None:
    """Every frame, output bounded per read; the checksum each frame carries is checked."""
    _check_zstd_frames(src)
    reader = zstandard.ZstdDecompressor().stream_reader(
        src, read_size=_CHUNK, read_across_frames=True, closefd=False)
    try:
        for chunk in iter(lambda: reader.read(_CHUNK), b""):
            dst.write(chunk)
    except zstandard.ZstdError as exc:
        raise ActionError(f"corrupt zstd data: {exc}") from None


def sniff(path: str) -> str:
    """The format of a compressed file from its first bytes."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == _GZIP_MAGIC:
        return "gzip"
    if head == _ZSTD_MAGIC:
        return "zstd"
    if not head:
        raise ActionError("empty file: not gzip or zstd data")
    raise ActionError("not compressed: not gzip or zstd data")
