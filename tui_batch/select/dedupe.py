"""Find files with identical content among scanned entries, reading as little as possible.

Why each step exists:

1. Group by size. A file whose size is unique cannot have a duplicate and is never opened.
2. Hardlinks (same ``dev``/``ino``) are one file: the extra links are duplicates of the first
   link in scan order, decided without reading anything.
3. Hash a prefix (first ``prefix_bytes``, xxh3_64) of every remaining file. Files no longer
   than the prefix are read whole by this one read, so they get their final digest right away
   (xxh3_128 of the whole content, cache kind ``"full"``): 64 bits are not enough to declare
   two files equal, and the 128-bit hash costs the same on data already in memory.
4. Only where prefixes collide (same size, same prefix digest, longer than the prefix) is the
   whole file hashed (xxh3_128).
5. Every file read is re-checked with ``fstat`` on the open descriptor after hashing: if its
   size, mtime or inode is no longer what the scan saw, it changed under us and is not a
   duplicate of anything (counted in ``stats.changed``); its digest is not cached. The same
   check catches a file modified between the scan and the hashing.

Empty files are never duplicates: an empty file carries no content, only its name, so
skipping it as a "duplicate" would silently drop work such as processing marker or
placeholder files (jdupes makes the same choice by default). Hardlinked empty files are still
one file and are marked as such.

``prefix_bytes`` defaults to 4 KiB (one page): on the standard benchmark tree (100k files of
0-64 KiB, 5% duplicates, warm page cache, 2 CPUs) one 4 KiB read per candidate plus a whole-file
pass on the ~9k files whose prefixes collide took 0.97 s, against 1.11 s with 16 KiB and
1.31 s with 64 KiB (one read per file, no second pass); bench/bench_dedupe.py prints all three.
On larger files the gap only grows, since a prefix is all that most candidates need.

A :class:`HashCache` (the job store implements it) keeps digests keyed by
``(dev, ino, size, mtime_ns)``: a re-run over unchanged files reads nothing. This module owns
the grouping (which files to read, and what their digests prove); reading and the cache
protocol are :mod:`.hashing`'s.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import groupby

import xxhash

from ..model import FileEntry
from .hashing import DEFAULT_PREFIX_BYTES, OPEN_FLAGS, READ_CHUNK, HashCache, HashKey, Reader

__all__ = ["DedupeResult", "DedupeStats", "OnHashed", "find_duplicates"]

OnHashed = Callable[[int, int, int], None]
"""``progress(done, total, bytes_read)``: files checked (read or found in the cache) of the
files that may have a duplicate, and the bytes read so far."""


@dataclass(slots=True)
class DedupeStats:
    """What the detection cost; shown by the CLI (``--json``) and the preview screen."""

    files: int = 0  # entries given
    size_groups: int = 0  # sizes shared by 2+ files (the only ones looked at)
    hardlinks: int = 0  # extra links marked without reading
    prefix_hashed: int = 0  # files read once (prefix, or whole file if <= prefix)
    full_hashed: int = 0  # files read whole because their prefix collided
    bytes_read: int = 0
    cache_hits: int = 0  # digests taken from the cache instead of read
    changed: int = 0  # files that changed while being hashed (never duplicates)
    errors: int = 0  # files that could not be read (treated as unique)
    duplicates: int = 0  # entries marked as duplicates

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def __getitem__(self, key: str) -> int:
        # Allows stats["bytes_read"] as well as stats.bytes_read.
        value: int = getattr(self, key)
        return value


@dataclass(slots=True)
class DedupeResult:
    """``duplicate_of`` maps each duplicate's path to its original (first in scan order)."""

    duplicate_of: dict[str, str] = field(default_factory=dict)
    stats: DedupeStats = field(default_factory=DedupeStats)
    changed_paths: list[str] = field(default_factory=list)
    cancelled: bool = False

    def groups(self) -> dict[str, list[str]]:
        """original path -> its duplicates, in scan order (for reports)."""
        out: dict[str, list[str]] = {}
        for dup, orig in self.duplicate_of.items():
            out.setdefault(orig, []).append(dup)
        return out

    def is_duplicate(self, path: str) -> bool:
        return path in self.duplicate_of



def find_duplicates(
    entries: Sequence[FileEntry] | Iterable[FileEntry],
    *,
    cache: HashCache | None = None,
    prefix_bytes: int = DEFAULT_PREFIX_BYTES,
    cancel: threading.Event | None = None,
    progress: OnHashed | None = None,
) -> DedupeResult:
    """Mark every entry whose content equals an earlier entry's (see the module doc).

    On ``cancel`` the files not yet hashed are treated as unique and ``result.cancelled`` is
    set: what is marked is still correct, some duplicates may be missed.

    ``progress`` is called every 64 prefix reads, every 8 whole files and every MiB of a large
    file, then once at the end with the exact counts (not after a cancel). ``total`` is the
    number of files sharing their size with another; it grows once, by the files whose
    prefixes collide, when the whole-file pass begins. Not throttled (see ``jobs.progress``).
    """
    if prefix_bytes < 1:
        raise ValueError("prefix_bytes must be at least 1")
    ents: list[FileEntry] = entries if isinstance(entries, list) else list(entries)
    return _find(ents, cache, prefix_bytes, cancel, progress)


def _find(
    ents: list[FileEntry],
    cache: HashCache | None,
    pb: int,
    cancel: threading.Event | None,
    progress: OnHashed | None = None,
) -> DedupeResult:
    # Bookkeeping is in ints and bytes, not tuples: 100k long-lived tuples set off the cyclic
    # GC over and over (measured: it made the whole run ~1.5x slower).
    stats = DedupeStats(files=len(ents))
    result = DedupeResult(stats=stats)

    # 1. size groups: only entries whose size is shared, sorted by size (stable: scan order
    # within a size). Counter and the C-level key keep this off the per-entry Python path.
    sizes = [e.size for e in ents]
    shared = {s for s, c in Counter(sizes).items() if c > 1}
    order = sorted((i for i, s in enumerate(sizes) if s in shared), key=sizes.__getitem__)

    # hardlinks: extra links point at the first link (rep); reps of shared sizes get hashed
    extra_of: dict[int, list[int]] = {}  # rep -> its extra links
    groups: list[list[int]] = []  # distinct files of one size, 2 or more, size > 0
    # Common case first: no two entries share an inode, so no group needs the link check.
    with_ino = [(ents[i].dev << 64) | ents[i].ino for i in order if ents[i].ino]
    no_links = len(set(with_ino)) == len(with_ino)
    del with_ino
    for size, grp in groupby(order, sizes.__getitem__):
        group = list(grp)
        if no_links:
            if size:
                stats.size_groups += 1
                groups.append(group)
            continue
        links: dict[int, int] = {}
        distinct: list[int] = []
        for i in group:
            e = ents[i]
            if e.ino:
                k = (e.dev << 64) | e.ino
                r = links.get(k)
                if r is not None:
                    extra_of.setdefault(r, []).append(i)
                    continue
                links[k] = i
            distinct.append(i)
        if size:  # empty files are never duplicates (module doc); their hardlinks still are
            stats.size_groups += 1
            if len(distinct) > 1:
                groups.append(distinct)
    stats.hardlinks = sum(len(v) for v in extra_of.values())
    reps = [r for g in groups for r in g]

    kind_prefix = f"prefix:{pb}"
    kind_full = "full"
    keep = cache is not None  # only then are fresh digests worth remembering
    fresh_first: list[int] = []
    fresh_full: list[int] = []
    changed: list[int] = []

    def cached(idxs: list[int], kind: str) -> dict[int, bytes]:
        if cache is None or not idxs:
            return {}
        keyed: dict[HashKey, int] = {}
        for i in idxs:
            e = ents[i]
            if e.ino:
                keyed[(e.dev, e.ino, e.size, e.mtime_ns)] = i
        if not keyed:
            return {}
        hits = cache.get_hashes(list(keyed), kind)
        stats.cache_hits += len(hits)
        return {keyed[k]: d for k, d in hits.items() if k in keyed}

    def stopped() -> bool:
        if cancel is not None and cancel.is_set():
            result.cancelled = True
        return result.cancelled

    inos = [e.ino for e in ents]

    def disk_order(idxs: list[int]) -> list[int]:
        # inode order: on a cold disk it roughly follows the layout; warm, it costs ~nothing
        return sorted(idxs, key=inos.__getitem__)

    # 2. first read: xxh3_64 of the prefix, or xxh3_128 of a file no longer than the prefix.
    # The hot loop of the whole module (one iteration per candidate file), hence inlined.
    first: dict[int, bytes] = {}
    if cache is not None:
        first.update(cached([r for r in reps if sizes[r] <= pb], kind_full))
        first.update(cached([r for r in reps if sizes[r] > pb], kind_prefix))
    todo = disk_order([r for r in reps if r not in first] if first else reps)
    poll = cancel is not None or progress is not None  # one test per file when neither is
    total = len(reps)
    base = total - len(todo)  # found in the cache: checked already
    if progress is not None:
        progress(base, total, 0)
    reader = Reader(max(READ_CHUNK, pb))
    mv = reader.mv
    iov_prefix = [mv[:pb]]
    os_open, readv, fstat, close = os.open, os.readv, os.fstat, os.close
    h64, h128 = xxhash.xxh3_64_digest, xxhash.xxh3_128_digest
    flags = OPEN_FLAGS
    nread = errors = 0
    bytes_read = 0
    for n, r in enumerate(todo):
        if poll and not n & 63:
            if stopped():
                break
            if progress is not None:
                progress(base + n, total, bytes_read)
        e = ents[r]
        size = e.size
        want = size if size < pb else pb
        try:
            fd = os_open(e.path, flags)
            try:
                got = readv(fd, iov_prefix if want == pb else [mv[:want]])
                while 0 < got < want:  # short reads: network and FUSE file systems
                    k = readv(fd, [mv[got:want]])
                    if not k:
                        break
                    got += k
                st = fstat(fd)
            finally:
                close(fd)
        except OSError:
            errors += 1
            continue
        nread += 1
        bytes_read += got
        if (
            got != want
            or st.st_size != size
            or st.st_mtime_ns != e.mtime_ns
            or (e.ino and (st.st_ino != e.ino or st.st_dev != e.dev))
        ):
            changed.append(r)
            continue
        first[r] = h128(mv[:got]) if size <= pb else h64(mv[:got])
        if keep and e.ino:
            fresh_first.append(r)
    stats.prefix_hashed = nread
    stats.errors = errors
    reader.bytes_read = bytes_read

    # 3. whole-file xxh3_128 only where prefixes of longer files collide (per size group)
    need_full: list[int] = []
    for g in groups:
        if sizes[g[0]] <= pb:
            continue
        if len(g) == 2:  # most groups: no dict needed
            da = first.get(g[0])
            if da is not None and da == first.get(g[1]):
                need_full.extend(g)
            continue
        seen: dict[bytes, int] = {}
        hit: set[int] = set()
        for r in g:
            d = first.get(r)
            if d is None:
                continue
            o = seen.setdefault(d, r)
            if o != r:
                hit.add(o)
                hit.add(r)
        need_full.extend(r for r in g if r in hit)
    full = cached(need_full, kind_full)
    full_todo = disk_order([r for r in need_full if r not in full])
    base = total  # every file had its first read
    total += len(full_todo)
    done = [base]  # the file being read, for the per-MiB calls of a large one
    if progress is not None and full_todo:
        on_hashed = progress

        def large_file(nbytes: int) -> None:
            on_hashed(done[0], total, nbytes)

        reader.progress = large_file
    for n, r in enumerate(full_todo):
        if result.cancelled:
            break
        if poll and not n & 7:
            if stopped():
                break
            if progress is not None:
                progress(base + n, total, reader.bytes_read)
        done[0] = base + n
        e = ents[r]
        try:
            d, ok = reader.full(e)
        except OSError:
            stats.errors += 1
            continue
        stats.full_hashed += 1
        if not ok:
            changed.append(r)
            continue
        full[r] = d
        if keep and e.ino:
            fresh_full.append(r)
    stats.bytes_read = reader.bytes_read
    if progress is not None and not result.cancelled:
        progress(total, total, reader.bytes_read)
    stats.changed = len(changed)
    result.changed_paths = [ents[i].path for i in sorted(changed)]

    if cache is not None and (fresh_first or fresh_full):
        rows: list[tuple[HashKey, str, bytes]] = []
        for r in fresh_first:
            e = ents[r]
            kind = kind_full if e.size <= pb else kind_prefix
            rows.append(((e.dev, e.ino, e.size, e.mtime_ns), kind, first[r]))
        for r in fresh_full:
            e = ents[r]
            rows.append(((e.dev, e.ino, e.size, e.mtime_ns), kind_full, full[r]))
        cache.put_hashes(rows)

    # 4. same content (or same inode): the first in scan order is the original
    dup_groups: list[list[int]] = []
    for g in groups:
        ident = full if sizes[g[0]] > pb else first
        if len(g) == 2:
            da = ident.get(g[0])
            if da is not None and da == ident.get(g[1]):
                dup_groups.append(g + [x for r in g for x in extra_of.get(r, ())])
            continue
        members: dict[bytes, list[int]] = {}
        for r in g:
            d = ident.get(r)
            if d is not None:
                m = members.get(d)
                if m is None:
                    members[d] = [r]
                else:
                    m.append(r)
        for rs in members.values():
            if len(rs) > 1:
                dup_groups.append(rs + [x for r in rs for x in extra_of.get(r, ())])
    in_dup_group = {r for rs in dup_groups for r in rs}
    dup_groups.extend([r, *xs] for r, xs in extra_of.items() if r not in in_dup_group)
    marked: list[tuple[int, int]] = []
    for dg in dup_groups:
        o = min(dg)
        marked.extend((i, o) for i in dg if i != o and ents[i].path != ents[o].path)
    marked.sort()  # duplicate_of in scan order: stable output for previews and tests
    dup = result.duplicate_of
    for i, o in marked:
        dup[ents[i].path] = ents[o].path
    stats.duplicates = len(dup)
    return result
