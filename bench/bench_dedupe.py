"""Duplicate detection speed: tui_batch.select.find_duplicates against the naive way.

    /tmp/venv/bin/python bench/bench_dedupe.py [--files N] [--runs R] [--dir DIR]

Naive = what a script would do: MD5 of the first MiB of every file, grouped by digest.
tui-batch = size groups, hardlinks, xxh3_64 of a prefix, xxh3_128 only on prefix collisions,
fstat re-check. Both get the same scanned entry list; R runs alternate the two, each timed
run right after an untimed run of the same tool (warm page cache); medians are reported.
Also printed: the prefix size trade-off (4/16/64 KiB), and a re-run with a hash cache (the
job store on a temp database when tui_batch.store is there, else a dict): it reads nothing.
Prints figures and ratios; asserts no timings. Target: >= 5x the naive files/s.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from make_tree import ensure_tree  # noqa: E402

from tui_batch.model import FileEntry, FilterSpec  # noqa: E402
from tui_batch.select import DEFAULT_PREFIX_BYTES, HashKey, find_duplicates, scan  # noqa: E402

MIB = 1 << 20


def naive(entries: Sequence[FileEntry]) -> dict[str, str]:
    groups: dict[bytes, str] = {}
    dup: dict[str, str] = {}
    for e in entries:
        with open(e.path, "rb") as f:
            d = hashlib.md5(f.read(MIB)).digest()
        first = groups.setdefault(d, e.path)
        if first != e.path:
            dup[e.path] = first
    return dup


class DictCache:
    def __init__(self) -> None:
        self.data: dict[tuple[HashKey, str], bytes] = {}

    def get_hashes(self, keys: Sequence[HashKey], kind: str) -> dict[HashKey, bytes]:
        return {k: self.data[(k, kind)] for k in keys if (k, kind) in self.data}

    def put_hashes(self, rows: Sequence[tuple[HashKey, str, bytes]]) -> None:
        for k, kind, d in rows:
            self.data[(k, kind)] = d


def open_cache(tmp: str) -> tuple[Any, str]:
    try:
        from tui_batch.store import Store
    except ImportError:
        return DictCache(), "dict"
    if not hasattr(Store, "get_hashes"):
        return DictCache(), "dict"
    return Store(os.path.join(tmp, "bench.db")), "store"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--prefix-runs", type=int, default=5)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()

    tree = ensure_tree(args.files, args.dir, rebuild=args.rebuild)
    entries = list(scan(FilterSpec(roots=[tree], hidden=True, use_ignore=False)))
    n = len(entries)
    total_bytes = sum(e.size for e in entries)
    buf = bytearray(MIB)
    for e in entries:  # warm the page cache (untimed)
        with open(e.path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass

    times: dict[str, list[float]] = {"naive_md5_1mib": [], "tui_batch": []}
    res_naive: dict[str, str] = {}
    res_ours: Any = None
    for _ in range(args.runs):
        # Each timed run follows an untimed run of the same tool: on these machines the page
        # cache is trimmed every few seconds even with free memory, so "warm" has to mean
        # "warm for this tool's own reads", re-established right before it is timed.
        naive(entries)
        t, res_naive = timed(lambda: naive(entries))
        times["naive_md5_1mib"].append(t)
        find_duplicates(entries)
        t, res_ours = timed(lambda: find_duplicates(entries))
        times["tui_batch"].append(t)

    prefix_times: dict[int, tuple[float, Any]] = {}
    prefix_runs: dict[int, list[float]] = {4096: [], 16384: [], 65536: []}
    prefix_stats: dict[int, Any] = {}
    for _ in range(args.prefix_runs):  # round-robin, so load changes hit every size alike
        for pb, runs in prefix_runs.items():
            t0 = time.perf_counter()
            prefix_stats[pb] = find_duplicates(entries, prefix_bytes=pb).stats
            runs.append(time.perf_counter() - t0)
    for pb, runs in prefix_runs.items():
        prefix_times[pb] = (statistics.median(runs), prefix_stats[pb])

    with tempfile.TemporaryDirectory() as tmp:
        cache, cache_kind = open_cache(tmp)
        t_fill, _ = timed(lambda: find_duplicates(entries, cache=cache))
        t_hit, res_cached = timed(lambda: find_duplicates(entries, cache=cache))
        if hasattr(cache, "close"):
            cache.close()

    # The naive way calls empty files duplicates of each other; tui-batch does not (by design).
    empty = {e.path for e in entries if e.size == 0}
    naive_cmp = {k: v for k, v in res_naive.items() if k not in empty}
    agree = naive_cmp == res_ours.duplicate_of == res_cached.duplicate_of

    print(f"# bench_dedupe {platform.python_version()} {platform.machine()} {os.cpu_count()} cpus")
    print(f"dedupe.tree {tree}")
    print(f"dedupe.files {n} files, {total_bytes / 1e6:.0f} MB")
    print(
        f"dedupe.duplicates {len(res_ours.duplicate_of)} (naive {len(res_naive)}, of which "
        f"{len(res_naive) - len(naive_cmp)} empty files)"
    )
    print(f"dedupe.results_agree {'yes' if agree else 'NO'}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, ts in times.items():
        print(
            f"dedupe.{k}.time {med[k]:.3f} s (min {min(ts):.3f}, max {max(ts):.3f}, "
            f"{len(ts)} runs) -> {n / med[k]:,.0f} files/s"
        )
    print(f"dedupe.ratio_vs_naive {med['naive_md5_1mib'] / med['tui_batch']:.2f}x  (target >= 5x)")
    s = res_ours.stats
    print(
        f"dedupe.tui_batch.work prefix={DEFAULT_PREFIX_BYTES} size_groups={s.size_groups} "
        f"prefix_hashed={s.prefix_hashed} full_hashed={s.full_hashed} "
        f"bytes_read={s.bytes_read / 1e6:.0f} MB"
    )
    for pb, (t, st) in prefix_times.items():
        print(
            f"dedupe.prefix_{pb // 1024}k.time {t:.3f} s -> {n / t:,.0f} files/s "
            f"(full_hashed={st.full_hashed}, read {st.bytes_read / 1e6:.0f} MB)"
        )
    cs = res_cached.stats
    print(f"dedupe.cache.kind {cache_kind}")
    print(f"dedupe.cache.first_run {t_fill:.3f} s (hashes stored)")
    print(
        f"dedupe.cache.rerun {t_hit:.3f} s -> {n / t_hit:,.0f} files/s "
        f"(cache_hits={cs.cache_hits}, bytes_read={cs.bytes_read})"
    )
    if not agree:
        sys.exit("results differ")


if __name__ == "__main__":
    main()
