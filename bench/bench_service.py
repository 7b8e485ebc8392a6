"""Service scheduling overhead per task: the same job of N noop tasks run in-process
(`tui-batch run --headless`) and detached (`run --detach`, in the per-user service, through
its shared worker limit), compared on the job's own span (first task start to last task end,
read from the store), so the scan and the process start-ups are left out of both.

    .venv/bin/python bench/bench_service.py [N]     # default 20,000; target: overhead < 10%

A private service (its own runtime and data folders) is started and stopped around the run.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import make_flat_tree, tui_batch_cmd

RUNS = 3


def span(db: Path, job_id: int) -> float:
    with sqlite3.connect(db) as c:
        lo, hi, n = c.execute("SELECT min(started_at), max(ended_at), count(*) FROM tasks "
                              "WHERE job_id = ? AND state = 'done'", (job_id,)).fetchone()
    return float(hi - lo) if n else float("nan")


def last_job(db: Path) -> int:
    with sqlite3.connect(db) as c:
        return int(c.execute("SELECT max(id) FROM jobs").fetchone()[0])


def state(db: Path, job_id: int) -> str:
    with sqlite3.connect(db) as c:
        return str(c.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    work = Path(tempfile.mkdtemp(prefix="tbbsvc"))
    rt = tempfile.mkdtemp(prefix="tbbrt")
    os.chmod(rt, 0o700)
    tree = make_flat_tree(work / "tree", n)
    db = work / "jobs.db"
    env = dict(os.environ, XDG_RUNTIME_DIR=rt, XDG_DATA_HOME=str(work / "data"),
               TUI_BATCH_DB=str(db), TUI_BATCH_NO_TUI="1")
    args = [str(tree), "--action", "noop", "-j", "8", "--no-dedupe"]
    tb = tui_batch_cmd()
    ins: list[float] = []
    dets: list[float] = []
    try:
        subprocess.run([*tb, "service", "start", "--workers", "8"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        for _ in range(RUNS):  # alternating, best of each: the machine may be shared
            subprocess.run([*tb, "run", *args, "--headless", "--quiet"], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ins.append(span(db, last_job(db)))
            out = subprocess.run([*tb, "run", *args, "--detach", "--json"], env=env,
                                 check=True, capture_output=True, text=True).stdout
            job = int(json.loads(out.strip().splitlines()[-1])["job"])
            deadline = time.monotonic() + 600
            while state(db, job) not in ("done", "failed") and time.monotonic() < deadline:
                time.sleep(0.1)
            dets.append(span(db, job))
    finally:
        subprocess.run([*tb, "service", "stop"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(rt, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    inproc, detached = min(ins), min(dets)
    per_in = inproc / n * 1e6
    per_det = detached / n * 1e6
    print(f"{n} noop tasks, -j 8, best of {RUNS}: in-process {inproc:.2f} s "
          f"({per_in:.1f} us/task), "
          f"detached {detached:.2f} s ({per_det:.1f} us/task); overhead "
          f"{(detached / inproc - 1) * 100:+.1f}% (target < 10%)")


if __name__ == "__main__":
    main()
