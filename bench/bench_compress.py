"""compress (gzip) at 2 workers: tui-batch headless vs `gzip` per file via `xargs -P2`.

Both compress the same few hundred text-like files (log lines and CSV rows, mixed sizes from
a few hundred bytes to a few MiB) at the same level, keeping the inputs:

* tui-batch: `tui-batch run DIR --action compress --opt level=6 --out OUT -j 2`, timed as a
  user runs it (scan, job store, process pool and all);
* gzip:      `find DIR -type f | xargs -P2 -n1 gzip -k -6 -c` into the same mirrored names
  (a small `sh -c` per file so each output lands in its own file, as `gzip -k` would beside
  the input).

Every output is decompressed and compared with its input before the times count. Prints the
times, MB/s, the throughput ratio (target: >= 1.0x gzip) and the compression ratios; a second
case shows zstd (level 3) against the same gzip run.

    python bench/bench_compress.py [--files 300] [--runs 3]
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import tempfile
from pathlib import Path

import zstandard
from common import sh, timed, tui_batch_cmd

_WORDS = ["GET", "POST", "PUT", "/api/v1/items", "/index.html", "/login", "200", "201", "304",
          "404", "500", "Mozilla/5.0", "curl/8.5", "okhttp", "user=alice", "user=bob", "id=",
          "took", "ms", "cache=hit", "cache=miss"]


def _text(rng: random.Random, size: int) -> bytes:
    """Log-like and CSV-like lines: repetitive, as real logs are (gzip gets ~4-8x)."""
    out = []
    n = 0
    i = 0
    while n < size:
        if i % 2:
            line = (f"2024-05-{1 + i % 28:02d}T12:{i % 60:02d}:{(i * 7) % 60:02d}Z "
                    + " ".join(rng.choice(_WORDS) for _ in range(8))
                    + f" {rng.randint(0, 99999)}\n")
        else:
            line = f"{i},{rng.randint(0, 10**6)},{rng.choice(_WORDS)},{rng.random():.6f}\n"
        out.append(line)
        n += len(line)
        i += 1
    return "".join(out).encode()[:size]


def make_tree(folder: Path, n: int) -> tuple[Path, int]:
    """n files: most small (1-64 KiB), some medium (256 KiB - 1 MiB), a few large (2-4 MiB)."""
    marker = folder / f".tree-{n}"
    if marker.exists():
        return folder, sum(p.stat().st_size for p in folder.rglob("*.log"))
    if folder.exists():
        shutil.rmtree(folder)
    rng = random.Random(12)
    total = 0
    for i in range(n):
        r = rng.random()
        size = (rng.randint(1 << 10, 64 << 10) if r < 0.8
                else rng.randint(256 << 10, 1 << 20) if r < 0.97
                else rng.randint(2 << 20, 4 << 20))
        d = folder / f"d{i // 50:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:05d}.log").write_bytes(_text(rng, size))
        total += size
    marker.write_text("")
    return folder, total


def _check(tree: Path, out: Path, suffix: str) -> int:
    """Every output decompresses to its input; returns the total compressed size."""
    total = 0
    dctx = zstandard.ZstdDecompressor()
    for src in tree.rglob("*.log"):
        dst = out / (str(src.relative_to(tree)) + suffix)
        data = dst.read_bytes()
        total += len(data)
        back = gzip.decompress(data) if suffix == ".gz" else dctx.stream_reader(
            dst.open("rb")).read()
        assert back == src.read_bytes(), f"{dst}: not the input"
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    n, w = args.files, args.workers
    tmp = Path(tempfile.gettempdir()) / "tui-batch-bench"
    tree, size = make_tree(tmp / f"compress-{n}", n)
    db = tmp / "compress.db"
    out = tmp / "compress-out"
    env = dict(os.environ, PATH="/usr/local/bin:/usr/bin:/bin")
    tb = " ".join(tui_batch_cmd())

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)
        for suffix in ("", "-wal", "-shm", ".logs", ".locks", ".pending"):
            p = Path(f"{db}{suffix}")
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()

    gz_cmd = (f"cd {tree} && find . -type f -name '*.log' | xargs -P{w} -n1 sh -c "
              f"'mkdir -p \"{out}/$(dirname \"$1\")\" && gzip -6 -c \"$1\" > \"{out}/$1.gz\"' sh")
    tools = {
        "tui-batch": (f"{tb} run {tree} --ext .log --action compress --opt level=6 --out {out} "
                      f"-j {w} --headless --db {db} 2>/dev/null", ".gz"),
        "gzip": (gz_cmd, ".gz"),
        "tui-batch zstd": (f"{tb} run {tree} --ext .log --action compress --opt format=zstd "
                           f"--out {out} -j {w} --headless --db {db} 2>/dev/null", ".zst"),
    }
    print(f"-- {n} text files, {size / 1e6:.1f} MB, {w} workers, level 6 (zstd: level 3)")
    results: dict[str, float] = {}
    for name, (cmd, suffix) in tools.items():
        clean()
        sh(cmd, env=env)  # warm-up (page cache, first process start)
        packed = _check(tree, out, suffix)

        def once(c: str = cmd) -> None:
            clean()
            sh(c, env=env)

        med, all_ = timed(once, args.runs)
        results[name] = med
        runs = ", ".join(f"{t:.2f}" for t in all_)
        print(f"{name:15} {med:7.3f} s  {size / 1e6 / med:7.1f} MB/s  "
              f"ratio {size / packed:4.2f}x smaller   (runs: {runs})")
    clean()
    print(f"ratio tui-batch/gzip throughput: {results['gzip'] / results['tui-batch']:.2f}x "
          "(target >= 1.0)")
    print(f"ratio tui-batch zstd/gzip throughput: "
          f"{results['gzip'] / results['tui-batch zstd']:.2f}x")


if __name__ == "__main__":
    main()
