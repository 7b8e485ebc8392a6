"""Build (or reuse) the standard benchmark tree for bench_scan.py and bench_dedupe.py.

The reference generator is ``../shared/baselines/make_tree.sh N DIR`` (bash + awk), which the
project's baselines were measured on; it is used when present. Without it (the repo alone),
:func:`python_tree` builds the same layout: N files, 100 per leaf folder, 3 levels of folders
(fan-out = cube root of N/100), extensions .txt .log .pdf .jpg .csv, sizes uniform in
0..65536 bytes, mtimes spread over 730 days, every 20th file an exact copy of an earlier one,
each file starting with its content id so equal sizes still differ. Deterministic (seeded).

    python bench/make_tree.py [--files N] [--dir DIR] [--rebuild]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED_SCRIPT = HERE.parent.parent / "shared" / "baselines" / "make_tree.sh"
MARK = ".bench-tree"  # make_tree.sh's marker: a tree it may replace


def default_dir(n: int) -> str:
    return f"/tmp/tui-batch-bench-{n}"


def _stamp(directory: str) -> Path:
    # Outside the tree, so `find DIR -type f` still counts what the generator made.
    return Path(directory.rstrip("/") + ".stamp")


def python_tree(n: int, directory: str) -> None:
    """The make_tree.sh layout in pure Python (content differs byte-wise, layout does not)."""
    root = Path(directory)
    if root.exists():
        if not (root / MARK).exists() and any(root.iterdir()):
            sys.exit(f"refusing: {root} is not empty and has no {MARK}")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / MARK).touch()
    per, dup_every, days, base = 100, 20, 730, 1_717_243_200
    leaves = (n + per - 1) // per
    f = 1
    while f**3 < leaves:
        f += 1
    rng = random.Random(42)
    chars = b"abcdefghijklmnopqrstuvwxyz0123456789 ,.;:-_"
    pool = b"".join(bytes(rng.choice(chars) for _ in range(63)) + b"\n" for _ in range(1106))
    exts = ("txt", "log", "pdf", "jpg", "csv")
    sizes: dict[int, int] = {}
    made: set[str] = set()
    for i in range(n):
        k = i // per
        d = f"{root}/d{k // (f * f)}/d{k // f % f}/d{k % f}"
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        path = f"{d}/f{i:07d}.{exts[rng.randrange(5)]}"
        if i % dup_every == dup_every - 1:
            c = rng.randrange(i)
            while c % dup_every == dup_every - 1:
                c -= 1
        else:
            c = i
            sizes[c] = rng.randrange(65537)
        size = sizes[c]
        start = c * 7919 % 4096
        body = (str(c).encode() + b":" + pool[start : start + size])[:size]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
        day = rng.randrange(days)
        t = base - day * 86400 - day * 3607 % 86400
        os.utime(path, (t, t))


def ensure_tree(n: int, directory: str | None = None, *, rebuild: bool = False) -> str:
    """Path of an N-file tree, built only when missing, of another size, or ``rebuild``."""
    directory = directory or default_dir(n)
    stamp = _stamp(directory)
    if (
        not rebuild
        and stamp.exists()
        and os.path.isdir(directory)
        and stamp.read_text().split()[0] == str(n)
    ):
        return directory
    t0 = time.perf_counter()
    if SHARED_SCRIPT.exists() and shutil.which("bash") and shutil.which("awk"):
        how = "make_tree.sh"
        subprocess.run(
            ["bash", str(SHARED_SCRIPT), str(n), directory], check=True, stdout=subprocess.DEVNULL
        )
    else:
        how = "python"
        python_tree(n, directory)
    stamp.write_text(f"{n} {how}\n")
    print(f"tree.built {directory} ({n} files, {how}) in {time.perf_counter() - t0:.1f} s")
    return directory


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--python", action="store_true", help="use the Python generator")
    args = ap.parse_args()
    if args.python:
        d = args.dir or default_dir(args.files)
        python_tree(args.files, d)
        _stamp(d).write_text(f"{args.files} python\n")
        print(d)
    else:
        print(ensure_tree(args.files, args.dir, rebuild=args.rebuild))


if __name__ == "__main__":
    main()
