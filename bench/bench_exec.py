"""5,000 `true` jobs at 2 workers: tui-batch headless vs xargs -P2 and GNU parallel.

tui-batch is timed as a user runs it: the whole `tui-batch run DIR --exec true -j 2` command,
scan, job store (persistence on) and all, against `find DIR -type f | xargs -P2 -n1 true` and
`find DIR -type f | parallel -j2 true` on the same files, in the same run. Prints per-job costs
and the throughput ratio (target: >= 1.0x xargs).

    python bench/bench_exec.py [--jobs 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from common import ensure_tool, make_flat_tree, sh, timed, tui_batch_cmd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    n, w = args.jobs, args.workers
    tmp = Path(tempfile.gettempdir()) / "tui-batch-bench"
    tree = make_flat_tree(tmp / f"exec-{n}", n)
    db = tmp / "exec.db"
    env = dict(os.environ, PATH="/usr/local/bin:/usr/bin:/bin")
    tb = " ".join(tui_batch_cmd())
    tools = {
        "tui-batch": f"{tb} run {tree} --exec true -j {w} --no-dedupe --headless --db {db} "
                     f"> /dev/null 2>&1",
        "xargs": f"find {tree} -type f -name '*.txt' | xargs -P{w} -n1 true",
    }
    if ensure_tool("parallel"):
        tools["parallel"] = f"find {tree} -type f -name '*.txt' | parallel --will-cite -j{w} true"
    else:
        print("(GNU parallel could not be installed: apt-get install parallel)")
    results = {}
    for name, cmd in tools.items():
        sh(cmd, env=env)  # warm-up
        med, all_ = timed(lambda c=cmd: sh(c, env=env), args.runs)
        results[name] = med
        print(f"{name:10} {med:7.3f} s  {1000 * med / n:6.3f} ms/job  {n / med:7.0f} jobs/s"
              f"   (runs: {', '.join(f'{t:.2f}' for t in all_)})")
    xa = results["xargs"]
    print(f"ratio tui-batch/xargs throughput: {xa / results['tui-batch']:.2f}x (target >= 1.0)")
    if "parallel" in results:
        ratio = results["parallel"] / results["tui-batch"]
        print(f"ratio tui-batch/parallel throughput: {ratio:.2f}x")
    if db.exists():
        for suffix in ("", "-wal", "-shm"):
            p = Path(f"{db}{suffix}")
            if p.exists():
                p.unlink()


if __name__ == "__main__":
    main()
