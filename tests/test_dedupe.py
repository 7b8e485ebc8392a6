"""Duplicate detection on real files: size groups, hardlinks, prefix/full hashing, the cache,
files that change under us."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from tui_batch.model import FileEntry, FilterSpec
from tui_batch.select import (
    DEFAULT_PREFIX_BYTES,
    DedupeResult,
    HashKey,
    find_duplicates,
    hash_key,
    scan,
)


class DictHashCache:
    """In-memory HashCache (the real one is the job store); counts what it is asked."""

    def __init__(self) -> None:
        self.data: dict[tuple[HashKey, str], bytes] = {}
        self.gets = 0
        self.puts = 0

    def get_hashes(self, keys: Sequence[HashKey], kind: str) -> dict[HashKey, bytes]:
        self.gets += 1
        return {k: self.data[(k, kind)] for k in keys if (k, kind) in self.data}

    def put_hashes(self, rows: Sequence[tuple[HashKey, str, bytes]]) -> None:
        self.puts += 1
        for k, kind, d in rows:
            self.data[(k, kind)] = d


def write(p: Path, data: bytes) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def entries_of(root: Path) -> list[FileEntry]:
    return list(scan(FilterSpec(roots=[str(root)], hidden=True)))


def dups(result: DedupeResult, root: Path) -> dict[str, str]:
    return {
        os.path.relpath(k, root): os.path.relpath(v, root) for k, v in result.duplicate_of.items()
    }


BIG = DEFAULT_PREFIX_BYTES * 3 + 17  # longer than the prefix


def test_unique_sizes_are_never_opened(tmp_path: Path) -> None:
    write(tmp_path / "a", b"1")
    write(tmp_path / "b", b"22")
    ents = entries_of(tmp_path)
    # a file that does not exist but has a unique size: opening it would be an error
    ents.append(FileEntry(str(tmp_path / "ghost"), str(tmp_path), "ghost", 999, 1, 1, 999999))
    r = find_duplicates(ents)
    assert r.duplicate_of == {}
    assert r.stats.errors == 0
    assert r.stats.prefix_hashed == 0
    assert r.stats.bytes_read == 0
    assert r.stats.files == 3


def test_identical_small_files(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", b"hello")
    write(tmp_path / "b.txt", b"hello")
    write(tmp_path / "c.txt", b"world")  # same size, other content
    write(tmp_path / "sub" / "d.txt", b"hello")
    r = find_duplicates(entries_of(tmp_path))
    assert dups(r, tmp_path) == {"b.txt": "a.txt", "sub/d.txt": "a.txt"}
    assert r.stats.size_groups == 1
    assert r.stats.prefix_hashed == 4
    assert r.stats.full_hashed == 0  # no longer than the prefix: one read decides
    assert r.stats.bytes_read == 20
    assert r.stats.duplicates == 2
    assert r.groups() == {
        str(tmp_path / "a.txt"): [str(tmp_path / "b.txt"), str(tmp_path / "sub/d.txt")]
    }


def test_same_prefix_different_tail(tmp_path: Path) -> None:
    head = os.urandom(DEFAULT_PREFIX_BYTES)
    write(tmp_path / "a.bin", head + b"A" * (BIG - len(head)))
    write(tmp_path / "b.bin", head + b"B" * (BIG - len(head)))
    write(tmp_path / "c.bin", head + b"A" * (BIG - len(head)))
    write(tmp_path / "d.bin", os.urandom(BIG))  # same size, other prefix: no full read
    r = find_duplicates(entries_of(tmp_path))
    assert dups(r, tmp_path) == {"c.bin": "a.bin"}
    assert r.stats.prefix_hashed == 4
    assert r.stats.full_hashed == 3
    assert r.stats.bytes_read == 4 * DEFAULT_PREFIX_BYTES + 3 * BIG


def test_last_byte_differs(tmp_path: Path) -> None:
    body = os.urandom(BIG - 1)
    write(tmp_path / "a", body + b"1")
    write(tmp_path / "b", body + b"2")
    assert find_duplicates(entries_of(tmp_path)).duplicate_of == {}


def test_hardlinks_are_one_file_without_reading(tmp_path: Path) -> None:
    a = write(tmp_path / "a.txt", b"same inode")
    os.link(a, tmp_path / "b.txt")
    os.link(a, tmp_path / "c.txt")
    r = find_duplicates(entries_of(tmp_path))
    assert dups(r, tmp_path) == {"b.txt": "a.txt", "c.txt": "a.txt"}
    assert r.stats.hardlinks == 2
    assert r.stats.bytes_read == 0
    assert r.stats.prefix_hashed == 0


def test_hardlinks_and_copies_share_the_first_original(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", b"content")  # first in scan order: the original
    b = write(tmp_path / "b.txt", b"content")
    os.link(b, tmp_path / "c.txt")
    r = find_duplicates(entries_of(tmp_path))
    assert dups(r, tmp_path) == {"b.txt": "a.txt", "c.txt": "a.txt"}
    assert r.stats.prefix_hashed == 2  # b and c are one file: read once


def test_empty_files_are_not_duplicates(tmp_path: Path) -> None:
    write(tmp_path / "a", b"")
    write(tmp_path / "b", b"")
    os.link(tmp_path / "a", tmp_path / "c")  # ...but a hardlink is still the same file
    r = find_duplicates(entries_of(tmp_path))
    assert dups(r, tmp_path) == {"c": "a"}
    assert r.stats.bytes_read == 0
    assert r.stats.size_groups == 0


def test_original_is_first_in_scan_order(tmp_path: Path) -> None:
    for name in ("z", "m", "a"):
        write(tmp_path / name, b"dup")
    ents = entries_of(tmp_path)
    assert [e.rel for e in ents] == ["a", "m", "z"]
    assert dups(find_duplicates(ents), tmp_path) == {"m": "a", "z": "a"}
    # the caller's order is what counts
    assert dups(find_duplicates(ents[::-1]), tmp_path) == {"m": "z", "a": "z"}


@pytest.mark.parametrize("prefix", [1, 7, 4096, 65536])
def test_result_does_not_depend_on_prefix_size(tmp_path: Path, prefix: int) -> None:
    base = os.urandom(70_000)
    write(tmp_path / "a", base)
    write(tmp_path / "b", base)
    write(tmp_path / "c", base[:-1] + bytes([base[-1] ^ 1]))  # last byte differs
    write(tmp_path / "d", base[:5000])
    write(tmp_path / "e", base[:5000])
    write(tmp_path / "f", bytes([base[0] ^ 1]) + base[1:5000])  # first byte differs
    r = find_duplicates(entries_of(tmp_path), prefix_bytes=prefix)
    assert dups(r, tmp_path) == {"b": "a", "e": "d"}


def test_cache_second_run_reads_nothing(tmp_path: Path) -> None:
    small = os.urandom(100)
    big = os.urandom(BIG)
    write(tmp_path / "a", small)
    write(tmp_path / "b", small)
    write(tmp_path / "c", big)
    write(tmp_path / "d", big)
    write(tmp_path / "e", os.urandom(BIG))
    cache = DictHashCache()
    first = find_duplicates(entries_of(tmp_path), cache=cache)
    assert first.stats.bytes_read > 0
    assert cache.puts == 1
    kinds = sorted({kind for (_, kind) in cache.data})
    assert kinds == ["full", f"prefix:{DEFAULT_PREFIX_BYTES}"]

    second = find_duplicates(entries_of(tmp_path), cache=cache)
    assert (
        second.duplicate_of
        == first.duplicate_of
        == {
            str(tmp_path / "b"): str(tmp_path / "a"),
            str(tmp_path / "d"): str(tmp_path / "c"),
        }
    )
    assert second.stats.bytes_read == 0
    assert second.stats.prefix_hashed == second.stats.full_hashed == 0
    assert second.stats.cache_hits == 5 + 2  # five first digests, two full ones

    # Proof that nothing is read: rewrite b's content behind the cache's back, keeping its key
    # (same size, same mtime, same inode). The cached answer still says "duplicate".
    b = tmp_path / "b"
    st = os.stat(b)
    with open(b, "r+b") as f:
        f.write(os.urandom(100))
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
    third = find_duplicates(entries_of(tmp_path), cache=cache)
    assert str(b) in third.duplicate_of
    assert third.stats.bytes_read == 0
    # and without the cache the truth comes back
    assert str(b) not in find_duplicates(entries_of(tmp_path)).duplicate_of


def test_cache_key_follows_mtime(tmp_path: Path) -> None:
    write(tmp_path / "a", b"same")
    write(tmp_path / "b", b"same")
    cache = DictHashCache()
    find_duplicates(entries_of(tmp_path), cache=cache)
    write(tmp_path / "b", b"diff")
    os.utime(tmp_path / "b", ns=(1, 1_000_000_000))  # a new mtime: a new key, a cache miss
    r = find_duplicates(entries_of(tmp_path), cache=cache)
    assert r.duplicate_of == {}
    assert r.stats.cache_hits == 1
    assert r.stats.prefix_hashed == 1


def test_entries_without_inode_are_not_cached(tmp_path: Path) -> None:
    write(tmp_path / "a", b"x")
    write(tmp_path / "b", b"x")
    ents = [FileEntry(e.path, e.root, e.rel, e.size, e.mtime_ns) for e in entries_of(tmp_path)]
    assert hash_key(ents[0]) is None
    cache = DictHashCache()
    r = find_duplicates(ents, cache=cache)
    assert dups(r, tmp_path) == {"b": "a"}
    assert cache.data == {}


def test_file_changed_after_scan_is_not_a_duplicate(tmp_path: Path) -> None:
    """The re-stat after hashing: the entries carry what the scan saw; the files change before
    they are hashed (the same check catches a change during hashing: fstat on the open file,
    after the read, compared with the scan's size/mtime/inode)."""
    body = os.urandom(BIG)
    for n in "abcd":
        write(tmp_path / n, body)
    ents = entries_of(tmp_path)
    st = os.stat(tmp_path / "b")
    os.utime(tmp_path / "b", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # mtime only
    with open(tmp_path / "c", "ab") as f:  # grown
        f.write(b"more")
    cache = DictHashCache()
    r = find_duplicates(ents, cache=cache)
    assert dups(r, tmp_path) == {"d": "a"}
    assert r.stats.changed == 2
    assert sorted(os.path.basename(p) for p in r.changed_paths) == ["b", "c"]
    # digests of changed files are not cached under the scan's (stale) key
    cached_inodes = {k[1] for (k, _) in cache.data}
    assert os.stat(tmp_path / "b").st_ino not in cached_inodes
    assert os.stat(tmp_path / "c").st_ino not in cached_inodes


def test_file_replaced_after_scan_is_not_a_duplicate(tmp_path: Path) -> None:
    for n in "ab":
        write(tmp_path / n, b"payload")
    ents = entries_of(tmp_path)
    st = os.stat(tmp_path / "b")
    write(tmp_path / "b.new", b"payload")
    os.utime(tmp_path / "b.new", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp_path / "b.new", tmp_path / "b")  # same size and mtime, another inode
    r = find_duplicates(ents)
    assert r.duplicate_of == {}
    assert r.stats.changed == 1


def test_vanished_file_is_an_error_not_a_duplicate(tmp_path: Path) -> None:
    for n in "abc":
        write(tmp_path / n, b"same")
    ents = entries_of(tmp_path)
    os.unlink(tmp_path / "a")
    r = find_duplicates(ents)
    assert dups(r, tmp_path) == {"c": "b"}
    assert r.stats.errors == 1


def test_cancel_before_start_marks_only_hardlinks(tmp_path: Path) -> None:
    write(tmp_path / "a", b"same")
    write(tmp_path / "b", b"same")
    os.link(tmp_path / "a", tmp_path / "c")
    ev = threading.Event()
    ev.set()
    r = find_duplicates(entries_of(tmp_path), cancel=ev)
    assert r.cancelled
    assert dups(r, tmp_path) == {"c": "a"}
    assert r.stats.bytes_read == 0


def test_non_utf8_duplicates(tmp_path: Path) -> None:
    broot = os.fsencode(tmp_path)
    names = [b"\xff-one", b"\xfe-two"]
    for n in names:
        with open(os.path.join(broot, n), "wb") as f:
            f.write(b"same bytes")
    r = find_duplicates(entries_of(tmp_path))
    ((dup, orig),) = r.duplicate_of.items()
    assert os.fsencode(dup) == os.path.join(broot, b"\xff-one")
    assert os.fsencode(orig) == os.path.join(broot, b"\xfe-two")


def test_stats_as_dict_and_items(tmp_path: Path) -> None:
    write(tmp_path / "a", b"1")
    r = find_duplicates(entries_of(tmp_path))
    assert r.stats.to_dict()["files"] == 1
    assert r.stats["files"] == 1
    with pytest.raises(ValueError):
        find_duplicates([], prefix_bytes=0)


def test_accepts_a_generator(tmp_path: Path) -> None:
    write(tmp_path / "a", b"z")
    write(tmp_path / "b", b"z")
    r = find_duplicates(scan(FilterSpec(roots=[str(tmp_path)])))
    assert dups(r, tmp_path) == {"b": "a"}
