"""100,000 in-process no-op Python tasks through the engine, with persistence.

Measures tui-batch's engine (JobRunner: ready queue, workers, events, store writer thread)
running the built-in async `noop` action on 100,000 stored tasks, against what a user would
hand-write: one asyncio task per item behind a semaphore, recording each result in SQLite with
a commit per task. Both in the same run; prints tasks/s, peak RSS and the ratio.
Targets: >= 50,000 tasks/s and < 250 MB peak RSS.

    python bench/bench_engine.py [--tasks 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import make_flat_tree


def child_tui_batch(tree: str, db: str, workers: int) -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tui_batch.jobs import JobRunner, create_job, plan_job
    from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
    from tui_batch.store import Store

    spec = JobSpec(FilterSpec(roots=[tree]), ActionSpec(name="noop"),
                   EngineSettings(workers=workers, dedupe=False))
    store = Store(db)
    t0 = time.perf_counter()
    plan = plan_job(spec, store=store)
    t1 = time.perf_counter()
    job_id = create_job(store, plan)
    n_tasks = len(plan.entries)
    del plan  # as the CLI does: the plan is freed before the run
    t2 = time.perf_counter()
    runner = JobRunner(store, job_id)
    t3 = time.perf_counter()

    async def go() -> int:
        code = await runner.run()
        await runner.aclose()
        return code

    code = asyncio.run(go())
    t4 = time.perf_counter()
    counts = store.task_counts(job_id)
    store.close()
    assert code == 0 and counts.get("done") == n_tasks, counts
    return {"tasks": n_tasks, "scan": t1 - t0, "create": t2 - t1, "load": t3 - t2,
            "run": t4 - t3, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_naive(tree: str, db: str, workers: int) -> dict[str, float]:
    paths = [os.path.join(dp, f) for dp, _, fs in os.walk(tree) for f in fs
             if not f.startswith(".")]
    con = sqlite3.connect(db)
    con.execute("pragma journal_mode=wal")
    con.execute("pragma synchronous=normal")
    con.execute("create table if not exists t (path text primary key, state text)")
    con.executemany("insert or replace into t values (?, 'queued')", ((p,) for p in paths))
    con.commit()

    async def noop() -> None:
        return None

    async def main() -> None:
        sem = asyncio.Semaphore(workers)

        async def one(p: str) -> None:
            async with sem:
                await noop()
                con.execute("update t set state='done' where path=?", (p,))
                con.commit()

        await asyncio.gather(*(one(p) for p in paths))

    t0 = time.perf_counter()
    asyncio.run(main())
    t1 = time.perf_counter()
    return {"tasks": len(paths), "run": t1 - t0,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(kind: str, tree: Path, db: Path, workers: int) -> dict[str, float]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(tree), str(db),
                          str(workers)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--child", nargs=4)
    args = ap.parse_args()
    if args.child:
        kind, tree, db, workers = args.child
        fn = child_tui_batch if kind == "tui-batch" else child_naive
        print(json.dumps(fn(tree, db, int(workers))))
        return
    tmp = Path(tempfile.gettempdir()) / "tui-batch-bench"
    tree = make_flat_tree(tmp / f"engine-{args.tasks}", args.tasks)
    tb = run_child("tui-batch", tree, tmp / "engine.db", args.workers)
    nv = run_child("naive", tree, tmp / "naive.db", args.workers)
    rate_tb = tb["tasks"] / tb["run"]
    rate_nv = nv["tasks"] / nv["run"]
    print(f"tui-batch engine: {tb['tasks']:.0f} tasks in {tb['run']:.2f} s = {rate_tb:,.0f} tasks/s"
          f" (target >= 50,000), peak RSS {tb['rss_mb']:.0f} MB (target < 250)")
    print(f"   setup: scan {tb['scan']:.2f} s, create job {tb['create']:.2f} s, "
          f"load {tb['load']:.2f} s")
    print(f"naive (task per item + commit per task): {rate_nv:,.0f} tasks/s, "
          f"peak RSS {nv['rss_mb']:.0f} MB")
    print(f"ratio tui-batch/naive throughput: {rate_tb / rate_nv:.1f}x")


if __name__ == "__main__":
    main()
