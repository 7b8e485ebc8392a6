"""Checksum lines and manifests in the format ``sha256sum``, ``md5sum`` and ``xxh128sum`` share.

``checksum`` prints and writes these lines and ``verify`` reads them back, so both sides of the
format live here: ``<hex>  <name>``, where a name holding a backslash, a newline or a carriage
return is escaped (``\\\\``, ``\\n``, ``\\r``) and the line starts with a backslash, as GNU
coreutils (and xxhsum 0.8) write it. Names are ``str`` possibly carrying surrogate escapes (a
non-UTF-8 name): a manifest is read and written as bytes with ``surrogateescape``, so a name
comes back as the very bytes the file system has.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import xxhash

from ..errors import InputError
from .output import atomic_write, display_path

__all__ = [
    "ALGOS",
    "Manifest",
    "algo_from_name",
    "hash_file",
    "load_manifest",
    "parse_manifest",
    "sum_line",
    "write_manifest",
]

ALGOS = {"sha256": 64, "md5": 32, "xxh3-128": 32}
"""Supported algorithms and the length of their hex digest."""

SIDECAR_EXT = {"sha256": ".sha256", "md5": ".md5", "xxh3-128": ".xxh128"}
"""The extension of a sidecar file per algorithm (``.xxh128``: what xxh128sum users use)."""

_CHUNK = 1 << 20
_HEX = re.compile(rb"[0-9a-fA-F]+")


def hash_file(path: str, algo: str) -> str:
    """The hex digest of the file's content (streamed: big files are never held in memory)."""
    with open(path, "rb", buffering=0) as f:
        if algo != "xxh3-128":
            return hashlib.file_digest(f, algo).hexdigest()
        h = xxhash.xxh3_128()
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        while n := f.readinto(view):
            h.update(view[:n])
        return h.hexdigest()


def sum_line(digest: str, name: str) -> str:
    """``<hex>  <name>`` as ``sha256sum`` prints it: a name holding a backslash, a newline or a
    carriage return is escaped (``\\\\``, ``\\n``, ``\\r``) and the line starts with a
    backslash. ``name`` may hold surrogate escapes (a non-UTF-8 name): they stay, so the line
    encodes back to the name's own bytes (``surrogateescape``), as ``sha256sum`` writes them."""
    if "\\" in name or "\n" in name or "\r" in name:
        name = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {name}"
    return f"{digest}  {name}"


def digest_of_line(line: str | None) -> str | None:
    """The digest a :func:`sum_line` line starts with (``None`` if it is not such a line)."""
    if not line:
        return None
    head = line[1:] if line.startswith("\\") else line
    digest, sep, _ = head.partition("  ")
    if not sep or not digest or not _HEX.fullmatch(digest.encode("ascii", "replace")):
        return None
    return digest.lower()


def algo_from_name(path: str) -> str | None:
    """The algorithm a manifest's file name announces (``SHA256SUMS``, ``x.md5``, ...)."""
    name = os.path.basename(path).lower()
    for algo, words in (("sha256", ("sha256",)), ("md5", ("md5",)),
                        ("xxh3-128", ("xxh128", "xxh3"))):
        if any(w in name for w in words):
            return algo
    return None


def _unescape(name: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(name):
        c = name[i : i + 1]
        if c == b"\\" and i + 1 < len(name):
            nxt = name[i + 1 : i + 2]
            out += {b"\\": b"\\", b"n": b"\n", b"r": b"\r"}.get(nxt, b"\\" + nxt)
            i += 2
            continue
        out += c
        i += 1
    return bytes(out)


def _clean_name(name: bytes) -> str:
    while name.startswith(b"./"):
        name = name[2:]
    return os.fsdecode(name)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A parsed manifest: ``entries`` maps each name (as under the root) to its digest."""

    path: str
    algo: str
    entries: dict[str, str]


def parse_manifest(data: bytes, path: str, algo: str | None) -> Manifest:
    """Parse GNU ``<hex>  name`` / ``<hex> *name`` lines (``#`` comments and blank lines
    skipped). ``algo`` ``None``: guessed from the file name, then from the digest length
    (64: sha256; 32 is md5 or xxh3-128, so the name or ``--opt algo`` must say which).
    A malformed line is refused naming its number."""
    shown = display_path(path)
    entries: dict[str, str] = {}
    length: int | None = None
    for n, raw in enumerate(data.split(b"\n"), 1):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if not line.strip() or line.startswith(b"#"):
            continue
        escaped = line.startswith(b"\\")
        body = line[1:] if escaped else line
        digest, sep, name = body.partition(b" ")
        name = name[1:] if sep and name[:1] in (b" ", b"*") else b""  # "  " text, " *" binary
        if not name or not _HEX.fullmatch(digest) or len(digest) not in (32, 64):
            raise InputError("--opt", f"manifest {shown}, line {n}: not a checksum line "
                                      "('<hex>  <name>')")
        if length is None:
            length = len(digest)
        elif len(digest) != length:
            raise InputError("--opt", f"manifest {shown}, line {n}: digests of two lengths "
                                      "in one manifest")
        entries[_clean_name(_unescape(name) if escaped else name)] = digest.decode().lower()
    if algo is None:
        algo = algo_from_name(path)
    if algo is None:
        if length == 64 or length is None:
            algo = "sha256"
        else:
            raise InputError("--opt", f"manifest {shown}: 32-digit digests are md5 or "
                                      "xxh3-128: say which with --opt algo=md5 or algo=xxh3-128")
    if length is not None and length != ALGOS[algo]:
        raise InputError("--opt", f"manifest {shown}: its digests have {length} digits, "
                                  f"{algo} has {ALGOS[algo]}")
    return Manifest(path, algo, entries)


_cache_lock = threading.Lock()
_cache: dict[tuple[str, str | None], tuple[tuple[int, int, int], Manifest]] = {}


def load_manifest(path: str, algo: str | None) -> Manifest:
    """Read and parse a manifest, once per process while the file stays the same (every task
    of a ``verify`` job needs it: a worker parses it on its first task)."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            key = (st.st_size, st.st_mtime_ns, st.st_ino)
            with _cache_lock:
                hit = _cache.get((path, algo))
            if hit is not None and hit[0] == key:
                return hit[1]
            data = f.read()
    except OSError as exc:
        raise InputError("--opt", f"cannot read the manifest {display_path(path)}: "
                                  f"{exc.strerror or exc}") from None
    manifest = parse_manifest(data, path, algo)
    with _cache_lock:
        _cache[(path, algo)] = (key, manifest)
    return manifest


def write_manifest(path: str, lines: Iterable[tuple[str, str]]) -> int:
    """Write ``(name, digest)`` pairs as one manifest, atomically (the old one stays until
    the new one is whole), sorted by the names' bytes. Returns the number of lines."""
    rows = sorted(((os.fsencode(name), digest) for name, digest in lines))
    with atomic_write(path, fsync=True) as f:
        for name, digest in rows:
            line = sum_line(digest, os.fsdecode(name))
            f.write(line.encode("utf-8", "surrogateescape") + b"\n")
    return len(rows)
