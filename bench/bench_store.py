"""The job store's hot path against a naive "one statement + commit per call" design.

Measures, on 100,000 tasks:
  * add_tasks (one transaction, multi-row INSERT);
  * record_start + record_end for every task: caller-side cost per call (what the engine's event
    loop pays), then the time until flush() returns (everything committed), end to end;
  * the same with the caller busy between calls (an event loop doing real work at a fixed task
    rate): how far behind the writer thread is when the loop ends;
  * idle latency: record_end -> visible to another connection, the writer asleep before;
  * the hash cache: put_hashes / get_hashes of 100,000 keys;
and the naive design (same SQL, same pragmas, WAL + synchronous=NORMAL, one transaction per
call) on a smaller N, extrapolated to 100,000.

    python bench/bench_store.py [--tasks 100000] [--naive-tasks 10000]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_batch.store import NewTask, Store


def make_tasks(n: int) -> list[NewTask]:
    root = "/srv/data/incoming"
    rels = [f"d{i // 100:04d}/file-{i:06d}.log" for i in range(n)]
    return [
        NewTask(f"{root}/{rel}", root, rel, 1000 + i, 1_700_000_000_000_000_000 + i, 2049, i)
        for i, rel in enumerate(rels)
    ]


def bench_ours(folder: str, n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    tasks = make_tasks(n)
    with Store(os.path.join(folder, "ours.db")) as s:
        job = s.create_job({"bench": True})
        t0 = time.perf_counter()
        ids = s.add_tasks(job, tasks)
        out["add_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        for tid in ids:
            now = time.time()
            s.record_start(tid, 1, now)
            s.record_end(tid, 1, "done", started_at=now, ended_at=now, exit_code=0)
        t1 = time.perf_counter()
        s.flush()
        t2 = time.perf_counter()
        out["call_us"] = (t1 - t0) / (2 * n) * 1e6
        out["loop_s"] = t1 - t0
        out["flush_s"] = t2 - t1
        out["total_s"] = t2 - t0
        assert s.task_counts(job)["done"] == n

        # Idle latency: the writer asleep, one record, poll from another connection.
        reader = sqlite3.connect(s.path)
        lat = []
        for tid in ids[:300]:
            time.sleep(0.003)
            t0 = time.perf_counter()
            s.record_end(tid, 2, "failed", started_at=1.0, ended_at=2.0, exit_code=1)
            while (
                reader.execute("SELECT state FROM tasks WHERE id = ?", (tid,)).fetchone()[0]
                != "failed"
            ):
                pass
            lat.append(time.perf_counter() - t0)
        reader.close()
        lat.sort()
        out["idle_ms_median"] = statistics.median(lat) * 1e3
        out["idle_ms_p99"] = lat[int(len(lat) * 0.99) - 1] * 1e3

        t0 = time.perf_counter()
        list_jobs = s.list_jobs()
        out["list_jobs_ms"] = (time.perf_counter() - t0) * 1e3
        assert list_jobs[0].total == n
        t0 = time.perf_counter()
        loaded = s.load_tasks(job)
        out["load_s"] = time.perf_counter() - t0
        assert len(loaded) == n

        keys = [(t.dev, t.ino, t.size, t.mtime_ns) for t in tasks]
        t0 = time.perf_counter()
        s.put_hashes([(k, "full", i.to_bytes(16, "little")) for i, k in enumerate(keys)])
        out["put_hashes_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        got = s.get_hashes(keys, "full")
        out["get_hashes_s"] = time.perf_counter() - t0
        assert len(got) == n
    return out


def bench_busy(folder: str, n: int, rate: float) -> dict[str, float]:
    """Caller spinning between calls at ``rate`` tasks/s (a CPU-bound event loop)."""
    with Store(os.path.join(folder, f"busy-{int(rate)}.db")) as s:
        job = s.create_job({})
        ids = s.add_tasks(job, make_tasks(n))
        t0 = time.perf_counter()
        for i, tid in enumerate(ids):
            target = t0 + i / rate
            while time.perf_counter() < target:
                pass
            now = time.time()
            s.record_start(tid, 1, now)
            s.record_end(tid, 1, "done", started_at=now, ended_at=now, exit_code=0)
        t1 = time.perf_counter()
        backlog = len(s._writer.q)
        s.flush()
        t2 = time.perf_counter()
    return {"backlog": backlog, "flush_s": t2 - t1, "loop_s": t1 - t0}


NAIVE_START = (
    "UPDATE tasks SET state = 'running', attempts = MAX(attempts, ?), started_at = ?,"
    " ended_at = NULL WHERE id = ?",
    "INSERT INTO attempts (task_id, n, state, started_at) VALUES (?, ?, 'running', ?)"
    " ON CONFLICT (task_id, n) DO UPDATE SET state = 'running', started_at = excluded.started_at",
)
NAIVE_END = (
    "UPDATE tasks SET state = ?, attempts = MAX(attempts, ?), started_at = ?, ended_at = ?,"
    " exit_code = ? WHERE id = ?",
    "INSERT INTO attempts (task_id, n, state, started_at, ended_at, exit_code)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (task_id, n) DO UPDATE SET state = excluded.state,"
    " ended_at = excluded.ended_at, exit_code = excluded.exit_code",
)


def bench_naive(folder: str, n: int) -> dict[str, float]:
    """Same schema and pragmas; every call is its own transaction on the caller's thread."""
    path = os.path.join(folder, "naive.db")
    with Store(path) as s:  # schema + WAL + tasks
        job = s.create_job({})
        ids = s.add_tasks(job, make_tasks(n))
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    t0 = time.perf_counter()
    for tid in ids:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(NAIVE_START[0], (1, now, tid))
        conn.execute(NAIVE_START[1], (tid, 1, now))
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(NAIVE_END[0], ("done", 1, now, now, 0, tid))
        conn.execute(NAIVE_END[1], (tid, 1, "done", now, now, 0))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    done = conn.execute("SELECT COUNT(*) FROM tasks WHERE state = 'done'").fetchone()[0]
    conn.close()
    assert done == n
    return {"call_us": elapsed / (2 * n) * 1e6, "total_s": elapsed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--naive-tasks", type=int, default=10_000)
    ap.add_argument("--busy-rates", default="20000,50000", help="tasks/s, comma separated")
    args = ap.parse_args()
    n = args.tasks
    print(
        f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as folder:
        ours = bench_ours(folder, n)
        naive = bench_naive(folder, args.naive_tasks)
        busy = {float(r): bench_busy(folder, n, float(r)) for r in args.busy_rates.split(",") if r}

    naive_total = naive["call_us"] * 2 * n / 1e6
    print(f"\n{n:,} tasks")
    print(f"  add_tasks                      {ours['add_s']:8.3f} s")
    print(f"  list_jobs (counts)             {ours['list_jobs_ms']:8.1f} ms")
    print(f"  load_tasks                     {ours['load_s']:8.3f} s")
    print(f"  record_start+record_end, {2 * n:,} calls:")
    print(f"    caller cost per call         {ours['call_us']:8.2f} µs")
    print(f"    caller loop                  {ours['loop_s']:8.3f} s")
    print(f"    then flush() until committed {ours['flush_s']:8.3f} s")
    print(f"    end to end                   {ours['total_s']:8.3f} s"
          f"  ({n / ours['total_s']:,.0f} tasks/s)")  # fmt: skip
    print(f"  idle latency record -> commit  {ours['idle_ms_median']:8.2f} ms median, "
          f"{ours['idle_ms_p99']:.2f} ms p99")  # fmt: skip
    print(f"  put_hashes / get_hashes        {ours['put_hashes_s']:8.3f} s / "
          f"{ours['get_hashes_s']:.3f} s")  # fmt: skip
    for rate, b in busy.items():
        print(f"  busy caller at {rate:,.0f} tasks/s: writer backlog at loop end "
              f"{b['backlog']:,} records, flush {b['flush_s']:.3f} s")  # fmt: skip
    print(f"\nnaive (commit per call), measured on {args.naive_tasks:,} tasks:")
    print(f"    caller cost per call         {naive['call_us']:8.2f} µs")
    print(f"    extrapolated to {n:,}        {naive_total:8.3f} s")
    print("\nratio naive / ours:")
    print(f"    caller cost per call         {naive['call_us'] / ours['call_us']:8.1f} x")
    print(f"    end to end                   {naive_total / ours['total_s']:8.1f} x")


if __name__ == "__main__":
    main()
