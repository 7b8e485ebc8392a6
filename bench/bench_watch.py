"""Watch mode: how soon after a file's last write does its task start, and how does a burst of
10,000 files go through?

1. Latency. A writer process drops files into a watched folder (each written in three chunks,
   100 ms apart; every fifth one slowly, over 1.5 settle windows) and logs when it wrote each
   file's last byte. Measured for each approach: task start - last write - settle window
   ("beyond the settle window"; target < 300 ms median for tui-batch), plus how many files
   were processed before they were complete or more than once. Compared, in the same run,
   with what a user would script instead:
     * a poll loop: ``while sleep 1; do find ROOT -newermt @LAST ! -newermt @NOW-SETTLE; done``
       (files quiet for the settle window, found by mtime: correct, but up to a second late)
     * watchfiles with a fixed sleep: ``async for changes in awatch(ROOT): sleep(SETTLE)``
       then process what changed (prompt, but a file still being written is processed
       half-written, and again when it changes)
2. Burst. A separate process creates 10,000 files in 20 folders as fast as it can; the
   watcher (in its own process, so its memory is measured alone) reports the time until every
   file was queued and done, exactly-once, and peak RSS.
3. Soak. Rounds of 2,000 files, the inbox emptied after each round (as a consumer would):
   resident memory, Python object count and the remembered state must stay flat.

    python bench/bench_watch.py [--files 25] [--settle 1.0] [--burst 10000] [--soak 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable

WRITER = r"""
import json, os, sys, time
root, n, settle, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
time.sleep(1.0)
last = {}
for i in range(n):
    path = os.path.join(root, f"file{i:03d}.dat")
    slow = i % 5 == 4
    chunks, gap = (6, settle * 1.5 / 5) if slow else (3, 0.1)
    with open(path, "wb") as f:
        for c in range(chunks):
            if c:
                time.sleep(gap)
            f.write(os.urandom(4096))
            f.flush()
            last[path] = time.time()
    time.sleep(0.35)
json.dump({"last": last, "size": {p: os.path.getsize(p) for p in last}}, open(out, "w"))
"""

BURST_WRITER = r"""
import os, sys, time
root, n = sys.argv[1], int(sys.argv[2])
t0 = time.time()
for i in range(n):
    d = os.path.join(root, f"d{i % 20:02d}")
    if i < 20:
        os.mkdir(d)
    with open(os.path.join(d, f"f{i:05d}.txt"), "w") as f:
        f.write(f"file {i}\n")
print(t0, time.time())
"""

NAIVE_POLL = r"""
root=$1; settle=$2; log=$3
last=$(date +%s.%N)
while sleep 1; do
  cutoff=$(echo "$(date +%s.%N) - $settle" | bc)
  find "$root" -type f -newermt "@$last" ! -newermt "@$cutoff" -print0 |
    while IFS= read -r -d '' f; do
      printf '%s %s %s\n' "$(date +%s.%N)" "$(stat -c %s "$f")" "$f" >> "$log"
    done
  last=$cutoff
done
"""

NAIVE_SLEEP = r"""
import asyncio, os, sys, time
from watchfiles import Change, awatch
root, settle, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
async def main():
    with open(log, "a") as out:
        async for changes in awatch(root):
            await asyncio.sleep(settle)
            for change, path in changes:
                if change != Change.deleted and os.path.isfile(path):
                    out.write(f"{time.time()} {os.path.getsize(path)} {path}\n")
                    out.flush()
asyncio.run(main())
"""


def _writer(root: Path, n: int, settle: float, tmp: Path) -> dict[str, Any]:
    out = tmp / "writes.json"
    subprocess.run([PY, "-c", WRITER, str(root), str(n), str(settle), str(out)], check=True)
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _summarise(name: str, starts: dict[str, list[tuple[float, int]]], writes: dict[str, Any],
               settle: float) -> dict[str, Any]:
    last, size = writes["last"], writes["size"]
    beyond, partial, twice, missed = [], 0, 0, 0
    for path, t_last in last.items():
        runs = starts.get(path, [])
        if not runs:
            missed += 1
            continue
        complete = [t for t, s in runs if s == size[path] and t >= t_last]
        partial += sum(1 for t, s in runs if s != size[path] or t < t_last)
        twice += len(runs) > 1
        if complete:
            beyond.append((complete[0] - t_last - settle) * 1000)
    beyond.sort()
    res = {
        "name": name, "files": len(last),
        "median_ms": statistics.median(beyond) if beyond else None,
        "p90_ms": beyond[int(len(beyond) * 0.9) - 1] if beyond else None,
        "max_ms": beyond[-1] if beyond else None, "partial": partial, "more_than_once": twice,
        "missed": missed,
    }
    med = res["median_ms"]
    print(f"  {name:34} median {med:7.1f} ms   p90 {res['p90_ms']:7.1f} ms   "
          f"max {res['max_ms']:7.1f} ms   processed half-written: {partial:2d}   "
          f"more than once: {twice:2d}   missed: {missed}")
    return res


def bench_tui_batch_latency(tmp: Path, n: int, settle: float) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from tui_batch.engine import TaskEvent
    from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec, TaskState
    from tui_batch.store import Store
    from tui_batch.watch import Watcher

    root = tmp / "ours"
    root.mkdir()
    store = Store(tmp / "ours.db")
    spec = JobSpec(FilterSpec(roots=[str(root)]), ActionSpec(name="noop"),
                   EngineSettings(workers=4))
    starts: dict[str, list[tuple[float, int]]] = {}

    async def main() -> dict[str, Any]:
        w = Watcher(spec, store, settle=settle)

        def on_event(ev: object) -> None:
            if type(ev) is TaskEvent and ev.state is TaskState.RUNNING:
                t = w.engine.tasks[ev.task_id]
                starts.setdefault(t.path, []).append((ev.time, os.path.getsize(t.path)))

        w.engine.subscribe(on_event)
        task = asyncio.create_task(w.run())
        await w.ready.wait()
        writes = await asyncio.to_thread(_writer, root, n, settle, tmp)
        await asyncio.sleep(settle + 1.5)
        w.stop()
        await task
        await w.aclose()
        return writes

    writes = asyncio.run(main())
    store.close()
    return _summarise("tui-batch watch", starts, writes, settle)


def _bench_naive(tmp: Path, n: int, settle: float, name: str, argv: list[str],
                 folder: str) -> dict[str, Any]:
    root = tmp / folder
    root.mkdir()
    log = tmp / f"{folder}.log"
    log.touch()
    proc = subprocess.Popen([*argv, str(root), str(settle), str(log)], start_new_session=True)
    try:
        writes = _writer(root, n, settle, tmp)
        time.sleep(settle + 2.5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
    starts: dict[str, list[tuple[float, int]]] = {}
    for line in log.read_text().splitlines():
        t, size, path = line.split(" ", 2)
        starts.setdefault(path, []).append((float(t), int(size)))
    return _summarise(name, starts, writes, settle)


# ------------------------------------------------------------------------------------- burst


def child_burst(n: int, settle: float, tmp: str) -> None:
    sys.path.insert(0, str(REPO))
    from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
    from tui_batch.store import Store
    from tui_batch.watch import Watcher

    root = Path(tmp) / "burst"
    root.mkdir()
    store = Store(Path(tmp) / "burst.db")
    spec = JobSpec(FilterSpec(roots=[str(root)]), ActionSpec(name="noop"),
                   EngineSettings(workers=4))
    queued: list[float] = []
    scans: list[dict[str, Any]] = []

    async def main() -> dict[str, Any]:
        w = Watcher(spec, store, settle=settle)

        def on_watch(ev: Any) -> None:
            if ev.kind == "queued":
                queued.append(time.time())
            elif ev.kind == "scan":
                scans.append(ev.data)

        w.subscribe(on_watch)
        task = asyncio.create_task(w.run())
        await w.ready.wait()
        await asyncio.sleep(0.5)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        proc = await asyncio.create_subprocess_exec(PY, "-c", BURST_WRITER, str(root), str(n),
                                                    stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        t0, t_written = map(float, out.split())
        deadline = time.monotonic() + 600
        while w.engine.snapshot().done < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        t_done = time.time()
        await asyncio.sleep(settle + 2.5)  # anything more (a double) would show up now
        st = w.engine.snapshot()
        job = w.job_id
        w.stop()
        await task
        await w.aclose()
        counts = store.task_counts(job)
        paths = {t.path for t in store.load_tasks(job)}
        return {
            "files": n, "written_s": t_written - t0,
            "all_queued_s": (queued[n - 1] - t0) if len(queued) >= n else None,
            "all_done_s": t_done - t0, "tasks": st.total, "done": counts["done"],
            "distinct_paths": len(paths), "rss_before_mb": rss0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "scans": scans, "kept_tasks": len(w.engine.tasks),
        }

    res = asyncio.run(main())
    store.close()
    print(json.dumps(res))


def _current_rss_mb() -> float:
    """Resident memory now (not the peak): what must stay flat in a long run."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_soak(rounds: int, per_round: int, settle: float, tmp: str) -> None:
    """An inbox that is emptied after processing, round after round: memory and the watch
    state must stay flat (nothing kept per file ever seen)."""
    sys.path.insert(0, str(REPO))
    from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
    from tui_batch.store import Store
    from tui_batch.watch import Watcher

    root = Path(tmp) / "soak"
    root.mkdir()
    store = Store(Path(tmp) / "soak.db")
    spec = JobSpec(FilterSpec(roots=[str(root)]), ActionSpec(name="noop"),
                   EngineSettings(workers=4))

    async def main() -> list[dict[str, float]]:
        w = Watcher(spec, store, settle=settle, retain_finished=500)
        task = asyncio.create_task(w.run())
        await w.ready.wait()
        out = []
        for r in range(rounds):
            t0 = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                PY, "-c", BURST_WRITER.replace("f{i:05d}", f"r{r}-{{i:05d}}"), str(root),
                str(per_round), stdout=asyncio.subprocess.DEVNULL)
            await proc.wait()
            while w.engine.snapshot().done < (r + 1) * per_round:
                await asyncio.sleep(0.05)
            took = time.perf_counter() - t0
            for d in list(root.iterdir()):  # the consumer empties the inbox
                await asyncio.to_thread(shutil.rmtree, d)
            await asyncio.sleep(settle + 1.0)  # deletions settle: their state is forgotten
            out.append({"round": r + 1, "seconds": took,
                        "rss_mb": _current_rss_mb(), "seen_rows": w.state.count(w.watch_row),
                        "pending": len(w._pending), "kept_tasks": len(w.engine.tasks),
                        "objects": len(gc.get_objects())})
        w.stop()
        await task
        await w.aclose()
        return out

    res = asyncio.run(main())
    store.close()
    print(json.dumps(res))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=25)
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--burst", type=int, default=10_000)
    ap.add_argument("--soak", type=int, default=5, metavar="ROUNDS",
                    help="rounds of 2,000 files, each deleted once processed (0: skip)")
    ap.add_argument("--child", choices=["burst", "soak"])
    ap.add_argument("--tmp")
    args = ap.parse_args()
    if args.child == "burst":
        child_burst(args.burst, args.settle, args.tmp)
        return
    if args.child == "soak":
        child_soak(args.soak, 2000, args.settle, args.tmp)
        return

    print(f"watch latency: {args.files} files, settle window {args.settle:g} s; "
          "time from a file's last write to its processing, beyond the settle window")
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as t:
        tmp = Path(t)
        ours = bench_tui_batch_latency(tmp, args.files, args.settle)
        poll = _bench_naive(tmp, args.files, args.settle, "poll loop (find -newermt, 1 s)",
                            ["bash", "-c", NAIVE_POLL, "naive"], "poll")
        slept = _bench_naive(tmp, args.files, args.settle, "watchfiles + fixed sleep",
                             [PY, "-c", NAIVE_SLEEP], "sleep")
    if ours["median_ms"]:
        for other in (poll, slept):
            if other["median_ms"] is not None:
                ratio = other["median_ms"] / max(ours["median_ms"], 0.1)
                print(f"  {other['name']}: {ratio:.1f}x tui-batch's median latency beyond the "
                      "window")
    target = "met" if ours["median_ms"] is not None and ours["median_ms"] < 300 else "MISSED"
    print(f"  target (< 300 ms median beyond the window): {target}")

    if shutil.which("bc") is None:
        print("  (bc not found: the poll-loop figures are not meaningful)")

    print(f"\nburst: {args.burst} files created by another process as fast as it can "
          f"(settle {args.settle:g} s, noop action, 4 workers)")
    with tempfile.TemporaryDirectory(prefix="bench-watch-burst-") as t:
        proc = subprocess.run([PY, __file__, "--child", "burst", "--burst", str(args.burst),
                               "--settle", str(args.settle), "--tmp", t],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr)
            raise SystemExit(1)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
    once = r["done"] == r["files"] == r["distinct_paths"] == r["tasks"]
    queued = r["all_queued_s"]
    print(f"  written in {r['written_s']:.2f} s; all queued after "
          f"{'-' if queued is None else f'{queued:.2f}'} s; all done after "
          f"{r['all_done_s']:.2f} s (from the first file)")
    print(f"  tasks {r['tasks']}, done {r['done']}, distinct paths {r['distinct_paths']}: "
          f"{'exactly once' if once else 'NOT exactly once'}")
    print(f"  reconcile scans: {r['scans']}")
    print(f"  peak RSS {r['peak_rss_mb']:.0f} MB (before the burst: {r['rss_before_mb']:.0f} "
          f"MB); finished tasks kept in memory: {r['kept_tasks']}")

    if args.soak:
        print(f"\nsoak: {args.soak} rounds of 2,000 files, each round deleted once processed")
        with tempfile.TemporaryDirectory(prefix="bench-watch-soak-") as t:
            proc = subprocess.run([PY, __file__, "--child", "soak", "--soak", str(args.soak),
                                   "--settle", str(args.settle), "--tmp", t],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr)
                raise SystemExit(1)
            for row in json.loads(proc.stdout.strip().splitlines()[-1]):
                print(f"  round {row['round']}: {row['seconds']:.2f} s, RSS "
                      f"{row['rss_mb']:.0f} MB, remembered paths {row['seen_rows']}, "
                      f"settling {row['pending']}, finished tasks in memory "
                      f"{row['kept_tasks']}, Python objects {row['objects']}")


if __name__ == "__main__":
    main()
