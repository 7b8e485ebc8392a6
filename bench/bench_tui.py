#!/usr/bin/env python3
"""TUI benchmarks with many fast tasks (the built-in ``noop`` action). Prints figures; no asserts.

    python bench/bench_tui.py [--tasks 100000] [--workers 8]
    python bench/bench_tui.py --output-heavy [--tasks 2000]

1. launch -> first paint, and launch -> task list painted (targets: < 1 s);
2. key press -> repaint while the workers run (target: < 100 ms), median and worst;
3. batch throughput with the dashboard open vs headless (target: the dashboard costs < 10%).

``--output-heavy``: every task is a command printing 10 KB (``head -c 10000 BLOB {}``: one
process, no shell, 10,000 bytes of base64 text from a shared blob, then the task's own file),
so output capture, the stored logs and the log pane's live output are in the figures. Its
default is 2,000 tasks (a minute or so); ``--tasks 100000`` is the issue's figure.

Runs headless (Textual's test driver, real compositor, frames encoded for a terminal but not
written); "repaint" is the first frame composed after the key press changed the screen.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events

from tui_batch.jobs import JobRunner, create_job, plan_job
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.store import Store
from tui_batch.ui.app import BatchApp
from tui_batch.ui.screens.dashboard import DashboardScreen

SIZE = (100, 30)


def make_files(root: Path, n: int) -> None:
    """n tiny files, 1,000 per folder."""
    for i in range(n):
        folder = root / f"d{i // 1000:04d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:06d}.txt").write_bytes(b"x")


OUTPUT_BYTES = 10_000
"""What each task of ``--output-heavy`` prints (about)."""


def make_blob(path: Path) -> Path:
    """A text file of base64 lines, more than :data:`OUTPUT_BYTES` long (what tasks print)."""
    raw = os.urandom(OUTPUT_BYTES)
    path.write_bytes(base64.encodebytes(raw))
    return path


def make_job(db: str, root: Path, workers: int, action: ActionSpec | None = None) -> int:
    spec = JobSpec(
        filter=FilterSpec(roots=[str(root)]),
        action=action or ActionSpec(name="noop"),
        settings=EngineSettings(workers=workers, dedupe=False),
    )
    store = Store(db)
    try:
        return create_job(store, plan_job(spec, store=store))
    finally:
        store.close()


async def headless_run(db: str, job_id: int) -> float:
    """Seconds to run the job with no UI (what `tui-batch run --headless` does)."""
    store = Store(db)
    try:
        runner = await asyncio.to_thread(JobRunner, store, job_id)
        t0 = time.perf_counter()
        await runner.run()
        elapsed = time.perf_counter() - t0
        await runner.aclose()
    finally:
        store.close()
    return elapsed


class FrameClock:
    """Records frames. The headless driver skips encoding frames for a terminal, so this
    does that work too (``render_segments``), as a real terminal session would. ``shows``,
    if given, is asked at each frame: the time of the first frame for which it is true is
    kept (what that frame was composed from was on screen)."""

    def __init__(self, app: BatchApp, shows: Any = None) -> None:
        self.frames: list[float] = []
        self.bytes = 0
        self.shows = shows
        self.first_shown: float | None = None
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            render = getattr(renderable, "render_segments", None)
            if render is not None:
                self.bytes += len(render(app.console))
            now = time.perf_counter()
            self.frames.append(now)
            if self.first_shown is None and self.shows is not None and self.shows():
                self.first_shown = now

        app._display = display  # type: ignore[method-assign]

    def first_after(self, t: float) -> float | None:
        for frame in self.frames:
            if frame >= t:
                return frame
        return None


async def until(predicate: Any, pilot: Any, timeout: float = 600.0, poll: float = 0.002) -> None:
    """Wait with plain sleeps: Pilot.pause forces a repaint each call, which would skew the
    figures."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError
        await asyncio.sleep(poll)


async def dashboard_run(db: str, job_id: int, presses: int) -> dict[str, Any]:
    """Open the dashboard on the job (start='resume'), measure paint, key latency, run time."""
    figures: dict[str, Any] = {}
    t_launch = time.perf_counter()
    app = BatchApp(db=db, start="resume", job_id=job_id, deterministic=True)

    def rows_shown() -> bool:
        return isinstance(app.screen, DashboardScreen) and app.screen.task_list.row_count > 0

    clock = FrameClock(app, rows_shown)  # from the first frame on
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: bool(clock.frames), pilot)
        figures["first_paint"] = clock.frames[0] - t_launch
        await until(lambda: clock.first_shown is not None, pilot)
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        figures["tasks_visible"] = (clock.first_shown or 0.0) - t_launch
        await until(lambda: dash.running or dash.exit_code is not None, pilot)
        latencies: list[float] = []
        for i in range(presses):
            if not dash.running:
                break
            key = "down" if i % 2 == 0 else "up"
            before = dash.task_list.cursor_row
            t_key = time.perf_counter()
            app.post_message(events.Key(key, None))
            await until(
                lambda b=before, t=t_key: (
                    dash.task_list.cursor_row != b and clock.first_after(t) is not None
                ),
                pilot,
                timeout=5,
                poll=0.0005,
            )
            latencies.append((clock.first_after(t_key) or t_key) - t_key)
            await asyncio.sleep(0.05)
        figures["key_latencies"] = latencies
        await until(lambda: dash.exit_code is not None, pilot, poll=0.05)
        started, ended = dash.job.run_started_at, dash.job.run_ended_at
        assert started is not None and ended is not None
        figures["run_time"] = ended - started
        figures["frames"] = len(clock.frames)
        figures["bytes"] = clock.bytes
        figures["bridge_events"] = dash.bridge.events_seen
        figures["bridge_messages"] = dash.bridge.messages_posted
        await pilot.press("q")
    return figures


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=None,
                        help="tasks in the job (default 100,000; 2,000 with --output-heavy)")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--output-heavy", action="store_true",
                        help="tasks are commands that each print 10 KB")
    args = parser.parse_args()
    tasks = args.tasks if args.tasks is not None else (2000 if args.output_heavy else 100_000)

    with tempfile.TemporaryDirectory(prefix="tui-batch-bench-") as tmp:
        root = Path(tmp) / "files"
        t0 = time.perf_counter()
        make_files(root, tasks)
        print(f"made {tasks:,} files in {time.perf_counter() - t0:.1f} s")
        action = None
        if args.output_heavy:
            blob = make_blob(Path(tmp) / "blob.txt")
            action = ActionSpec(template=f"head -c {OUTPUT_BYTES} {blob} {{}}")
        dbs = [os.path.join(tmp, f"{name}.db") for name in ("a", "b", "c")]
        jobs = [make_job(db, root, args.workers, action) for db in dbs]

        headless = await headless_run(dbs[0], jobs[0])
        # Throughput with the dashboard open, untouched (key presses repaint: measured apart).
        ui = await dashboard_run(dbs[1], jobs[1], 0)
        keys = await dashboard_run(dbs[2], jobs[2], args.presses)

    what = (f"output-heavy tasks ({OUTPUT_BYTES:,} B of output each)" if args.output_heavy
            else "noop tasks")
    lat = keys["key_latencies"]
    print(f"\n{tasks:,} {what}, {args.workers} workers, terminal {SIZE[0]}x{SIZE[1]}")
    print(f"launch -> first paint           {ms(ui['first_paint']):>10}   (target < 1 s)")
    print(f"launch -> task list painted     {ms(ui['tasks_visible']):>10}   (target < 1 s)")
    if lat:
        print(
            f"key -> repaint while running    {ms(statistics.median(lat)):>10} median, "
            f"{ms(max(lat))} worst of {len(lat)}   (target < 100 ms)"
        )
    else:
        print("key -> repaint while running    (job finished before the first key press)")
    print(f"headless run                    {headless:>9.2f} s   {tasks / headless:,.0f} tasks/s")
    print(
        f"dashboard run                   {ui['run_time']:>9.2f} s   "
        f"{tasks / ui['run_time']:,.0f} tasks/s"
    )
    overhead = ui["run_time"] / headless - 1
    print(f"dashboard cost                  {overhead * 100:>9.1f} %   (target < 10%)")
    print(
        f"engine events -> UI messages    {ui['bridge_events']:,} -> "
        f"{ui['bridge_messages']:,}; {ui['frames']:,} frames, {ui['bytes'] / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    asyncio.run(main())
