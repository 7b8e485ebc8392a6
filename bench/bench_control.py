#!/usr/bin/env python3
"""Control socket benchmarks at 100,000 tasks (issue 11). Prints figures; no asserts.

    python bench/bench_control.py [--tasks 100000] [--workers 8] [--part all|rt|attach|cost]
                                  [--pairs 3]

1. control round trip, command to effect, on a running job (``sleep 0.05`` tasks, so it
   stays running): ``pause`` sent -> answered (the engine has paused before it answers) and
   no task started after it; ``workers N`` -> a snapshot shows N; the same as a CLI command
   (`tui-batch pause JOB`, process start-up included);
2. attach time, command to first frame: the app (headless Textual, real compositor) started
   with ``start="attach"`` -> the first frame showing the job's statistics, and -> every task
   row read; and `tui-batch attach JOB` in tmux at 80x24 -> the pane shows the counters;
3. an attached dashboard's cost: the same 100,000-task ``noop`` job run with nobody attached
   and with a dashboard attached the whole time (throughput from the job's own attempt
   times; target: < 10%), ``--pairs`` times, the order within a pair alternating (the
   machine's drift falls on both sides); each pair's figures and the median are printed.
   The viewer reads the task list from the job's store (read-only, in a thread) and the
   job sends it only compact rows of what changed and the statistics, so the job never
   encodes its task list; what is left is the viewer's own CPU on a shared machine. The
   ops the viewer sent (the last attached run's) are printed too (never ``tasks``).

The job always runs in a `tui-batch resume JOB --headless` subprocess (the job is planned
and stored here first, so the scan is in no figure).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_tui import FrameClock, make_files, make_job, until
from common import tui_batch_cmd

from tui_batch.control import connect
from tui_batch.model import ActionSpec
from tui_batch.ui.app import BatchApp
from tui_batch.ui.screens.dashboard import DashboardScreen


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def start_job(db: str, job_id: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*tui_batch_cmd(), "resume", str(job_id), "--headless", "--db", db],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        client = connect(db, job_id, 2.0)
        if client is not None:
            client.close()
            return proc
        time.sleep(0.02)
    raise TimeoutError("the job never served its socket")


def call(db: str, job_id: int, op: str, **args: Any) -> tuple[dict[str, Any], float]:
    """One command as a CLI command makes it: connect, hello, request, answer."""
    t0 = time.perf_counter()
    client = connect(db, job_id, 2.0)
    assert client is not None
    with client:
        answer = client.call(op, **args)
    return answer, time.perf_counter() - t0


def running_ids(db: str, job_id: int) -> set[int]:
    answer, _ = call(db, job_id, "tasks", state="running", limit=1000)
    return {row["id"] for row in answer["tasks"]}


def round_trips(db: str, job_id: int, rounds: int) -> dict[str, Any]:
    pauses, resumes, workers, starts_after = [], [], [], []
    for i in range(rounds):
        _, t = call(db, job_id, "pause")
        pauses.append(t)
        before = running_ids(db, job_id)
        time.sleep(0.15)  # 3 task lengths: a start after the pause would show
        after = running_ids(db, job_id)
        starts_after.append(len(after - before))
        _, t = call(db, job_id, "resume")
        resumes.append(t)
        n = 4 + i % 8
        t0 = time.perf_counter()
        call(db, job_id, "workers", n=n)
        snap, _ = call(db, job_id, "snapshot")
        assert snap["workers"] == n
        workers.append(time.perf_counter() - t0)
        time.sleep(0.05)
    cli = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([*tui_batch_cmd(), "pause", str(job_id), "--db", db], check=True,
                       capture_output=True)
        cli.append(time.perf_counter() - t0)
        call(db, job_id, "resume")
    return {"pause": pauses, "resume": resumes, "workers": workers,
            "starts_after": starts_after, "cli": cli}


async def attach_time(db: str, job_id: int, total: int) -> dict[str, float]:
    t0 = time.perf_counter()
    app = BatchApp(db=db, start="attach", job_id=job_id, deterministic=True)

    def stats_shown() -> bool:
        screen = app.screen
        return isinstance(screen, DashboardScreen) and screen.stats_panel.stats.total == total

    clock = FrameClock(app, stats_shown)
    async with app.run_test(size=(80, 24)):
        await until(lambda: clock.first_shown is not None, None, timeout=60)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await until(lambda: len(screen.task_list.source) == total, None, timeout=120)
        rows = time.perf_counter()
        first = clock.frames[0]
        app.exit()
    return {"first_frame": first - t0, "stats_frame": (clock.first_shown or t0) - t0,
            "rows": rows - t0}


def tmux_attach(db: str, job_id: int) -> float | None:
    """`tui-batch attach` in a real terminal (tmux, 80x24): command -> counters on screen."""
    if shutil.which("tmux") is None:
        return None
    name = f"bench-attach-{os.getpid()}"
    cmd = " ".join(["env", f"XDG_RUNTIME_DIR={os.environ['XDG_RUNTIME_DIR']}",
                    *tui_batch_cmd(), "attach", str(job_id), "--db", db])
    t0 = time.perf_counter()
    subprocess.run(["tmux", "new", "-d", "-s", name, "-x", "80", "-y", "24", cmd], check=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", name],
                                  capture_output=True, text=True).stdout
            if f"total {job_total:,}" in pane:
                return time.perf_counter() - t0
            time.sleep(0.005)
        return None
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


job_total = 0


def span(db: str, job_id: int) -> tuple[int, float]:
    """Tasks done and the seconds from the job's first start to its last end."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        n, first, last = con.execute(
            "SELECT count(*), min(a.started_at), max(a.ended_at) FROM attempts a "
            "JOIN tasks t ON t.id = a.task_id WHERE t.job_id = ?", (job_id,)).fetchone()
    finally:
        con.close()
    return int(n), float(last - first)


async def watched_run(db: str, job_id: int) -> tuple[dict[str, int], float]:
    """Run the job in its own process with a dashboard attached from start to end; returns
    the ops the viewer sent and the CPU seconds the viewer (this process) used."""
    proc = start_job(db, job_id)
    cpu0 = time.process_time()
    app = BatchApp(db=db, start="attach", job_id=job_id, deterministic=True)
    sent: dict[str, int] = {}
    async with app.run_test(size=(80, 24)):
        await until(lambda: isinstance(app.screen, DashboardScreen), None, timeout=60)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await until(lambda: screen.exit_code is not None or proc.poll() is not None, None,
                    timeout=3600, poll=0.05)
        sent = dict(getattr(screen.engine, "sent", {}))
        app.exit()
    cpu = time.process_time() - cpu0
    proc.wait()
    return sent, cpu


async def viewer_cost(db: str, root: Path, workers: int, tasks: int, pairs: int) -> None:
    """Part 3: ``pairs`` pairs of runs, nobody attached / a dashboard attached."""
    print(f"\nthroughput, noop x {tasks:,} (job's own attempt times), {pairs} pairs")
    costs: list[float] = []
    sent: dict[str, int] = {}
    for i in range(pairs):
        rates: dict[bool, float] = {}
        viewer_cpu = 0.0
        for watched in ((False, True) if i % 2 == 0 else (True, False)):
            job = make_job(db, root, workers)
            if watched:
                sent, viewer_cpu = await watched_run(db, job)
            else:
                start_job(db, job).wait()
            n, t = span(db, job)
            rates[watched] = n / t
        cost = (1 - rates[True] / rates[False]) * 100
        costs.append(cost)
        print(f"  pair {i + 1}: nobody {rates[False]:,.0f} tasks/s, attached "
              f"{rates[True]:,.0f} tasks/s, cost {cost:.1f}% (viewer CPU {viewer_cpu:.2f} s, "
              f"load {os.getloadavg()[0]:.1f})")
    print(f"  cost of the viewer        {statistics.median(costs):.1f}% median "
          f"({min(costs):.1f}% .. {max(costs):.1f}%)   (target < 10%)")
    print(f"  ops the viewer sent       {sent}")


def med(xs: list[float]) -> str:
    return f"{ms(statistics.median(xs))} median, {ms(max(xs))} worst"


async def live_parts(db: str, root: Path, args: argparse.Namespace) -> None:
    """Parts 1 and 2, on one running job of ``sleep 0.05`` tasks."""
    slow = make_job(db, root, args.workers, ActionSpec(name="sleep", options={"seconds": "0.05"}))
    proc = start_job(db, slow)
    if args.part in ("all", "rt"):
        rt = round_trips(db, slow, args.rounds)
        print("\ncontrol round trip (connect + hello + request + answer; the effect is "
              "done before the answer)")
        print(f"  pause                     {med(rt['pause'])}   (target < 100 ms)")
        print(f"  resume                    {med(rt['resume'])}")
        print(f"  workers N -> snapshot N   {med(rt['workers'])}")
        print(f"  tasks started after pause {sum(rt['starts_after'])} in {args.rounds} pauses")
        print(f"  `tui-batch pause JOB`     {med(rt['cli'])}   (a whole process)")
    if args.part in ("all", "attach"):
        att = [await attach_time(db, slow, args.tasks) for _ in range(3)]
        term = tmux_attach(db, slow)
        print("\nattach (app start -> ...), 3 runs; the rows are read from the store")
        for key, what in (("first_frame", "first frame"), ("stats_frame", "stats frame"),
                          ("rows", f"all {args.tasks:,} rows read")):
            print(f"  {what:<24}  {med([a[key] for a in att])}")
        if term is not None:
            print(f"  `tui-batch attach` in tmux -> counters shown: {ms(term)}")
    call(db, slow, "stop")
    proc.wait()


async def main() -> None:
    global job_total
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--part", choices=("all", "rt", "attach", "cost"), default="all")
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    job_total = args.tasks
    tmp = Path(tempfile.mkdtemp(prefix="bctl"))
    runtime = tempfile.mkdtemp(prefix="bcrt")
    os.chmod(runtime, 0o700)
    os.environ["XDG_RUNTIME_DIR"] = runtime  # never the user's sockets
    try:
        root = tmp / "tree"
        make_files(root, args.tasks)
        db = str(tmp / "jobs.db")
        print(f"{args.tasks:,} tasks, {args.workers} workers, {os.cpu_count()} CPUs")

        if args.part != "cost":
            await live_parts(db, root, args)
        if args.part in ("all", "cost"):
            await viewer_cost(db, root, args.workers, args.tasks, args.pairs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
