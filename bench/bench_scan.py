"""Scan + filter speed: tui_batch.select.scan against `find`, measured in the same run.

    /tmp/venv/bin/python bench/bench_scan.py [--files N] [--runs R] [--dir DIR]

Filter in both: regular files named *.log bigger than 1 KiB (find: -name '*.log' -size +1k,
i.e. > 1024 bytes; tui-batch: --ext .log --min-size 1025). Warm cache: one untimed run of each
first, then R runs alternating the two; medians are reported. `find` is timed as a whole
process (spawn included, ~1 ms); scan() is timed in-process (interpreter start excluded: it is
paid once per command, not per file). A plain os.scandir walk (no sorting, no features) is
printed as the Python floor. Prints figures and ratios; asserts no timings.
Target: scan >= 0.45x find's files/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from make_tree import ensure_tree  # noqa: E402

from tui_batch.select import filter_from_options, scan  # noqa: E402


def scandir_floor(top: str) -> int:
    """The least a Python walker can do (scan_baseline.sh's py_scandir): the reference floor."""
    stack, n = [top], 0
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif (
                    e.name.endswith(".log")
                    and e.is_file(follow_symlinks=False)
                    and e.stat(follow_symlinks=False).st_size > 1024
                ):
                    n += 1
    return n


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = fn()
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    if not shutil.which("find"):
        sys.exit("find is not on the PATH")

    tree = ensure_tree(args.files, args.dir, rebuild=args.rebuild)
    total = sum(len(files) for _, _, files in os.walk(tree))
    spec = filter_from_options([tree], ext=[".log"], min_size="1025", no_ignore=True, hidden=True)
    find_cmd = ["find", tree, "-type", "f", "-name", "*.log", "-size", "+1k"]

    def run_find() -> int:
        out = subprocess.run(find_cmd, check=True, capture_output=True).stdout
        return out.count(b"\n")

    def run_scan() -> int:
        return sum(1 for _ in scan(spec))

    def run_floor() -> int:
        return scandir_floor(tree)

    tools = {"find": run_find, "tui_batch.scan": run_scan, "py_scandir_floor": run_floor}
    counts = {name: fn() for name, fn in tools.items()}  # warm-up + sanity
    times: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(args.runs):
        for name, fn in tools.items():
            t, n = timed(fn)
            assert n == counts[name]
            times[name].append(t)

    print(f"# bench_scan {platform.python_version()} {platform.machine()} {os.cpu_count()} cpus")
    print(f"scan.tree {tree}")
    print(f"scan.tree_files {total} files")
    for name in tools:
        print(f"scan.{name}.matches {counts[name]} files")
    agree = len(set(counts.values())) == 1
    print(f"scan.matches_agree {'yes' if agree else 'NO'}")
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        print(
            f"scan.{name}.time {med[name]:.4f} s (min {min(ts):.4f}, max {max(ts):.4f}, "
            f"{len(ts)} runs) -> {total / med[name]:,.0f} files/s"
        )
    ratio = med["find"] / med["tui_batch.scan"]
    print(f"scan.ratio_vs_find {ratio:.2f}x  (target >= 0.45x)")
    print(f"scan.ratio_vs_py_floor {med['py_scandir_floor'] / med['tui_batch.scan']:.2f}x")
    if not agree:
        sys.exit("match counts differ between tools")


if __name__ == "__main__":
    main()
