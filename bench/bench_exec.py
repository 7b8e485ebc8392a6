"""5,000 jobs at 2 workers: tui-batch headless vs xargs -P2 and GNU parallel.

tui-batch is timed as a user runs it: the whole `tui-batch run DIR --exec CMD -j 2` command,
scan, job store (persistence on, full output logs kept) and all, against
`find DIR -type f | xargs -P2 -n1 CMD` and `find DIR -type f | parallel -j2 CMD` on the same
files, in the same run. Two cases:

* `true`: commands that print nothing (the engine's own cost per task);
* `echo`: every task prints its path, and each tool's stdout is kept in a file: the cost of
  capturing and printing output. The three files must hold the same lines (compared sorted:
  each tool prints in completion order), or the benchmark fails.

Prints per-job costs and the throughput ratios (target: >= 1.0x xargs).

    python bench/bench_exec.py [--jobs 5000] [--runs 3] [--case true|echo|all]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from common import ensure_tool, make_flat_tree, sh, timed, tui_batch_cmd


def _tools(tree: Path, db: Path, w: int, cmd: str, out: Path | None) -> dict[str, str]:
    """The command line of each tool; with ``out``, each keeps its stdout in ``out.<tool>``."""

    def to(name: str) -> str:
        return f"> {out}.{name}" if out is not None else "> /dev/null"

    tb = " ".join(tui_batch_cmd())
    template = f"{cmd} {{}}" if out is not None else cmd
    tools = {
        "tui-batch": f"{tb} run {tree} --exec '{template}' -j {w} --no-dedupe --headless "
                     f"--db {db} {to('tui-batch')} 2>/dev/null",
        "xargs": f"find {tree} -type f -name '*.txt' | xargs -P{w} -n1 {cmd} {to('xargs')}",
    }
    if ensure_tool("parallel"):
        tools["parallel"] = (f"find {tree} -type f -name '*.txt' | parallel --will-cite -j{w} "
                             f"{cmd} {to('parallel')}")
    return tools


def _same_output(out: Path, names: list[str], n: int) -> None:
    """Every tool printed the same lines (one per file), whatever the order."""
    first = None
    for name in names:
        lines = sorted(Path(f"{out}.{name}").read_bytes().splitlines())
        assert len(lines) == n, f"{name}: {len(lines)} lines, expected {n}"
        if first is None:
            first = lines
        assert lines == first, f"{name} printed other bytes than {names[0]}"


def _clean(db: Path) -> None:
    """The job store and what lives beside it (the jobs' logs, locks, journals)."""
    for suffix in ("", "-wal", "-shm", ".logs", ".locks", ".pending"):
        p = Path(f"{db}{suffix}")
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--case", choices=("true", "echo", "all"), default="all")
    args = ap.parse_args()
    n, w = args.jobs, args.workers
    tmp = Path(tempfile.gettempdir()) / "tui-batch-bench"
    tree = make_flat_tree(tmp / f"exec-{n}", n)
    db = tmp / "exec.db"
    env = dict(os.environ, PATH="/usr/local/bin:/usr/bin:/bin")
    cases = ("true", "echo") if args.case == "all" else (args.case,)
    for case in cases:
        out = tmp / "exec-out" if case == "echo" else None
        tools = _tools(tree, db, w, case, out)
        if "parallel" not in tools:
            print("(GNU parallel could not be installed: apt-get install parallel)")
        print(f"-- {n} `{case}` jobs, {w} workers"
              + (" (every task prints a line; stdout kept and compared)" if out else ""))
        results = {}
        for name, cmd in tools.items():
            sh(cmd, env=env)  # warm-up
            med, all_ = timed(lambda c=cmd: sh(c, env=env), args.runs)
            results[name] = med
            print(f"{name:10} {med:7.3f} s  {1000 * med / n:6.3f} ms/job  {n / med:7.0f} jobs/s"
                  f"   (runs: {', '.join(f'{t:.2f}' for t in all_)})")
        if out is not None:
            _same_output(out, list(tools), n)
            print("output: the same bytes from every tool (sorted lines)")
        xa = results["xargs"]
        print(f"ratio tui-batch/xargs throughput: {xa / results['tui-batch']:.2f}x "
              "(target >= 1.0)")
        if "parallel" in results:
            ratio = results["parallel"] / results["tui-batch"]
            print(f"ratio tui-batch/parallel throughput: {ratio:.2f}x")
        _clean(db)


if __name__ == "__main__":
    main()
