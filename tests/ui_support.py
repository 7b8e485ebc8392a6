"""Helpers shared by the TUI tests (imported by tests/test_ui_*.py)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tui_batch.jobs import create_job, plan_job
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.store import Store
from tui_batch.ui.app import BatchApp
from tui_batch.ui.clock import FixedClock
from tui_batch.ui.screens.dashboard import DashboardScreen

FIXED_NOW = 1_718_000_000.0  # 2024-06-10: "now" of every frozen clock
FIXED_MTIME = 1_714_561_200


def frozen_clock() -> FixedClock:
    """The clock every deterministic app gets."""
    return FixedClock(FIXED_NOW)


def new_job(db: Path, spec: JobSpec) -> int:
    """Create a job in the store as the preview would (all rows selected)."""
    store = Store(str(db))
    try:
        return create_job(store, plan_job(spec, store=store))
    finally:
        store.close()


def app_for(db: Path, **kw: Any) -> BatchApp:
    """A deterministic app (no blink, no animation) on the store ``db``."""
    return BatchApp(db=str(db), deterministic=True, **kw)


def dashboard(app: BatchApp) -> DashboardScreen:
    """The current screen, which must be the dashboard."""
    screen = app.screen
    assert isinstance(screen, DashboardScreen), screen
    return screen


def make_tree(root: Path, n: int = 10, prefix: str = "file") -> Path:
    """n small text files with fixed mtimes."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        p = root / f"{prefix}-{i:03d}.txt"
        p.write_text(f"content {i}\n" * (i + 1))
        os.utime(p, (FIXED_MTIME + i, FIXED_MTIME + i))
    return root


def spec_for(
    root: Path, action: str, *, workers: int = 2, retries: int = 0, **options: str
) -> JobSpec:
    """A job spec running a built-in action on every file of root."""
    return JobSpec(
        filter=FilterSpec(roots=[str(root)]),
        action=ActionSpec(name=action, options=dict(options)),
        settings=EngineSettings(workers=workers, retries=retries, backoff=0.05),
    )


async def wait_until(
    pilot: Pilot[Any],
    predicate: Callable[[], object],
    timeout: float = 10.0,
    what: str = "condition",
) -> None:
    """Let the app run until predicate() is true (fails the test after timeout)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)
        await asyncio.sleep(0)
