"""10,000 no-op call jobs with persistence: tui-batch's Batch against huey and a plain pool.

    .venv/bin/python bench/bench_calls.py [N]

Three runs of the same work, each with its own SQLite file, each function a no-op:

* tui-batch: ``Batch(db, workers=8).submit_call(noop, (i,))`` N times (every job row is
  committed before submit_call returns), then ``wait()`` on each (every outcome is committed
  before wait returns);
* huey: ``SqliteHuey`` with a thread consumer (8 workers) started in the same process,
  ``task(i)`` N times, then each result read with ``blocking=True``; huey is installed with
  pip into bench/.venv/huey (its own environment: never a dependency of tui-batch) and this
  part runs there;
* a plain ``ThreadPoolExecutor(8)`` whose function commits its result to SQLite itself (one
  transaction per result, as a hand-rolled job table would).

Prints submit rate (jobs/s until the last submit returned) and completion rate (jobs/s from the
first submit to the last result), and tui-batch's ratio to each.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
HUEY_ENV = HERE / ".venv" / "huey"  # ignored by git like every .venv


def noop(i: int) -> int:
    return i


def bench_tui_batch(n: int, folder: Path) -> tuple[float, float]:
    from tui_batch import Batch

    with Batch(db=folder / "tb.db", workers=8) as batch:
        t0 = time.perf_counter()
        jobs = [batch.submit_call(noop, (i,)) for i in range(n)]
        t_submit = time.perf_counter() - t0
        for j in jobs:
            j.wait()
        t_done = time.perf_counter() - t0
        assert jobs[-1].result() == n - 1
    return n / t_submit, n / t_done


def bench_pool(n: int, folder: Path) -> tuple[float, float]:
    path = folder / "pool.db"
    init = sqlite3.connect(path)
    init.execute("PRAGMA journal_mode = WAL")
    init.execute("CREATE TABLE results (id INTEGER PRIMARY KEY, value TEXT)")
    init.close()
    local = threading.local()

    def run(i: int) -> int:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA synchronous = NORMAL")
        value = noop(i)
        conn.execute("INSERT INTO results VALUES (?, ?)", (i, json.dumps(value)))
        return value

    with ThreadPoolExecutor(8) as pool:
        t0 = time.perf_counter()
        futs = [pool.submit(run, i) for i in range(n)]
        t_submit = time.perf_counter() - t0
        for f in futs:
            f.result()
        t_done = time.perf_counter() - t0
    return n / t_submit, n / t_done


HUEY_CODE = r"""
import sys, time, json
from huey import SqliteHuey
from huey.consumer import Consumer
n, path = int(sys.argv[1]), sys.argv[2]
huey = SqliteHuey(filename=path)

@huey.task()
def noop(i):
    return i

consumer = Consumer(huey, workers=8, worker_type="thread")
consumer.start()  # threads in this process, as a plugin host would run it
t0 = time.perf_counter()
results = [noop(i) for i in range(n)]
t_submit = time.perf_counter() - t0
for r in results:
    r.get(blocking=True)
t_done = time.perf_counter() - t0
consumer.stop(graceful=True)
print(json.dumps([n / t_submit, n / t_done]))
"""


def ensure_huey() -> Path | None:
    """bench/.venv/huey with huey installed (pip, in that environment only)."""
    py = HUEY_ENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(HUEY_ENV)], check=True)
    probe = subprocess.run([str(py), "-c", "import huey"], capture_output=True)
    if probe.returncode != 0:
        done = subprocess.run([str(py), "-m", "pip", "install", "-q", "huey"])
        if done.returncode != 0:
            return None
    return py


def bench_huey(n: int, folder: Path) -> tuple[float, float] | None:
    py = ensure_huey()
    if py is None:
        print("huey: could not be installed (pip failed); skipped")
        return None
    out = subprocess.run([str(py), "-c", HUEY_CODE, str(n), str(folder / "huey.db")],
                         capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        print("huey failed:", out.stderr[-2000:])
        return None
    submit, done = json.loads(out.stdout.strip().splitlines()[-1])
    return submit, done


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(f"{n} no-op jobs, 8 workers, results persisted to SQLite (cpus: {os.cpu_count()})")
    rows: dict[str, tuple[float, float] | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows["tui-batch Batch.submit_call"] = bench_tui_batch(n, folder)
        rows["huey SqliteHuey + thread consumer"] = bench_huey(n, folder)
        rows["ThreadPoolExecutor + sqlite commit"] = bench_pool(n, folder)
    print(f"{'':38} {'submit/s':>10} {'complete/s':>11}")
    for name, r in rows.items():
        if r is not None:
            print(f"{name:38} {r[0]:10.0f} {r[1]:11.0f}")
    ours = rows["tui-batch Batch.submit_call"]
    assert ours is not None
    for name, r in rows.items():
        if r is not None and not name.startswith("tui-batch"):
            print(f"tui-batch / {name.split()[0]}: submit x{ours[0] / r[0]:.2f}, "
                  f"complete x{ours[1] / r[1]:.2f}")


if __name__ == "__main__":
    main()
