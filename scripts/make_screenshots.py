#!/usr/bin/env python3
"""Regenerate screenshots/*.svg: every screen of the TUI, rendered by the app itself.

    python scripts/make_screenshots.py [--size 100x30] [--out screenshots]

Runs the demo in a temporary folder (paths shown relative to it) with the real engine; the
dashboard is captured mid-run so the numbers, progress bar and sparkline are live.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

# The pictures show the dashboard of a job run here, not one handed to the per-user service
# (that would start a real service in the user's folders and race the rendering).
os.environ.setdefault("TUI_BATCH_INPROCESS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.pilot import Pilot
from textual.widgets import Input, Select

from tui_batch.cli.demo_tree import demo_spec, make_demo_tree
from tui_batch.jobs import create_job, plan_job
from tui_batch.store import Store
from tui_batch.ui.app import BatchApp
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.ui.screens.form import FormScreen
from tui_batch.ui.screens.jobs import JobsScreen
from tui_batch.ui.screens.preview import PreviewScreen

Step = Callable[[Pilot[Any]], Awaitable[None]]


async def until(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("screen did not get ready")
        await pilot.pause(0.05)


async def form_ready(pilot: Pilot[Any]) -> None:
    await until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, FormScreen)
            and pilot.app.screen.last_count is not None
            and pilot.app.screen.last_count[2]
        ),
    )


async def preview_ready(pilot: Pilot[Any]) -> None:
    await form_ready(pilot)
    await pilot.press("ctrl+r")
    await until(
        pilot,
        lambda: isinstance(pilot.app.screen, PreviewScreen) and pilot.app.screen.plan is not None,
    )


async def shoot(app: BatchApp, size: tuple[int, int], out: Path, name: str, step: Step) -> None:
    async with app.run_test(size=size) as pilot:
        await step(pilot)
        await pilot.pause(0.2)
        app.save_screenshot(filename=f"{name}.svg", path=str(out))
        print(f"  {out / (name + '.svg')}")
        dash = app.screen
        if isinstance(dash, DashboardScreen) and dash.running:
            await dash.stop_and_wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100x30")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "screenshots"))
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    size = (width, height)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="tui-batch-shots-") as tmp:
        tree = make_demo_tree(Path(tmp) / "demo")
        db = str(Path(tmp) / "jobs.db")
        os.chdir(tree)
        spec = demo_spec(".")

        def app(**kw: Any) -> BatchApp:
            return BatchApp(db=db, deterministic=True, **kw)

        await shoot(app(root=".", spec=spec), size, out, "form", form_ready)

        async def form_error(pilot: Pilot[Any]) -> None:
            await form_ready(pilot)
            form = pilot.app.screen
            form.query_one("#action", Select).value = "__command__"
            form.query_one("#template", Input).value = "gzip -k {}"
            form.query_one("#min_size", Input).value = "10 parsecs"
            form.query_one("#name", Input).focus()
            await pilot.press(*"report-(")
            await pilot.pause(0.4)

        await shoot(app(root=".", spec=spec), size, out, "form-errors", form_error)

        async def preview(pilot: Pilot[Any]) -> None:
            await preview_ready(pilot)
            await pilot.press("down", "down", "space", "plus", "plus")

        await shoot(app(root=".", spec=spec), size, out, "preview", preview)

        async def confirm(pilot: Pilot[Any]) -> None:
            await preview_ready(pilot)
            await pilot.press("enter")

        await shoot(app(root=".", spec=spec), size, out, "start-confirm", confirm)

        store = Store(db)
        job = create_job(store, plan_job(spec, store=store))
        job_failed = create_job(store, plan_job(spec, store=store))
        store.close()

        async def running(pilot: Pilot[Any]) -> None:
            await until(
                pilot,
                lambda: (
                    isinstance(pilot.app.screen, DashboardScreen)
                    and pilot.app.screen.engine is not None
                    and pilot.app.screen.engine.snapshot().finished_count >= 25
                ),
            )
            await pilot.press("down", "down", "down", "down", "down", "down")
            await pilot.pause(1.0)

        await shoot(app(start="resume", job_id=job), size, out, "dashboard", running)

        async def finished(pilot: Pilot[Any]) -> None:
            await until(
                pilot,
                lambda: (
                    isinstance(pilot.app.screen, DashboardScreen)
                    and pilot.app.screen.exit_code is not None
                ),
                timeout=60,
            )
            pilot.app.clear_notifications()
            await pilot.press("f")  # all -> failed

        await shoot(app(start="resume", job_id=job_failed), size, out, "dashboard-failed", finished)

        async def full_log(pilot: Pilot[Any]) -> None:
            await finished(pilot)
            await pilot.pause()
            await pilot.press("enter")  # the selected failed task's full-screen log
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "LogScreen")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()

        await shoot(app(start="resume", job_id=job_failed), size, out, "log", full_log)

        async def jobs(pilot: Pilot[Any]) -> None:
            await until(
                pilot, lambda: isinstance(pilot.app.screen, JobsScreen) and pilot.app.screen.jobs
            )

        await shoot(app(start="jobs"), size, out, "jobs", jobs)

        async def help_screen(pilot: Pilot[Any]) -> None:
            await form_ready(pilot)
            await pilot.press("f1")

        await shoot(app(root=".", spec=spec), size, out, "help", help_screen)

        async def palette(pilot: Pilot[Any]) -> None:
            await until(
                pilot, lambda: isinstance(pilot.app.screen, JobsScreen) and pilot.app.screen.jobs
            )
            await pilot.press("ctrl+p")
            await pilot.pause(0.3)

        await shoot(app(start="jobs"), size, out, "command-palette", palette)
        os.chdir("/")


if __name__ == "__main__":
    asyncio.run(main())
