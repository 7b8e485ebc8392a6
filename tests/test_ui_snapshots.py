"""Snapshot tests of every screen at 80x24 (SSH) and 120x40.

Deterministic: frozen clock, no animation or cursor blink, the demo tree (fixed mtimes) in the
current folder so every path is relative, UTC, a fresh job store per test.
Regenerate with ``pytest tests/test_ui_snapshots.py --snapshot-update`` after a deliberate change.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from ui_support import frozen_clock, wait_until

from tui_batch.cli.demo_tree import demo_spec, make_demo_tree
from tui_batch.jobs import create_job, plan_job
from tui_batch.model import JobSpec
from tui_batch.store import Store
from tui_batch.ui.app import BatchApp
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.ui.screens.form import FormScreen
from tui_batch.ui.screens.jobs import JobsScreen
from tui_batch.ui.screens.preview import PreviewScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]

Snap = Callable[..., bool]


@pytest.fixture
def demo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The demo tree as the current folder, in UTC (paths and dates render identically)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    tree = make_demo_tree(tmp_path / "demo")
    monkeypatch.chdir(tree)
    yield tree
    monkeypatch.delenv("TZ")
    time.tzset()


def fast_demo_spec() -> JobSpec:
    spec = demo_spec(".")
    spec.action.options["delay"] = "0.005"
    spec.settings.backoff = 0.05
    return spec


def make_app(db: Path, **kw: Any) -> BatchApp:
    return BatchApp(db=str(db), deterministic=True, clock=frozen_clock(), **kw)


def demo_job(db: Path) -> int:
    store = Store(str(db))
    try:
        return create_job(store, plan_job(fast_demo_spec(), store=store))
    finally:
        store.close()


async def form_ready(pilot: Pilot[Any]) -> None:
    await wait_until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, FormScreen)
            and pilot.app.screen.last_count is not None
            and pilot.app.screen.last_count[2]
        ),
        what="live count",
    )


async def preview_ready(pilot: Pilot[Any]) -> None:
    await form_ready(pilot)
    await pilot.press("ctrl+r")
    await wait_until(
        pilot,
        lambda: isinstance(pilot.app.screen, PreviewScreen) and pilot.app.screen.plan is not None,
        what="preview",
    )


async def dashboard_done(pilot: Pilot[Any]) -> None:
    await wait_until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, DashboardScreen) and pilot.app.screen.exit_code is not None
        ),
        timeout=20,
        what="job end",
    )
    await settle(pilot)


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for background reads (attempt history) and drop toasts: stable frames."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
class TestFormSnapshots:
    def test_form_demo(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        app = make_app(tmp_path / "j.db", root=".", spec=fast_demo_spec())
        assert snap_compare(app, terminal_size=size, run_before=form_ready)

    def test_form_command_with_error(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await form_ready(pilot)
            form = pilot.app.screen
            form.query_one("#template", Input).value = "gzip -k {}"
            form.query_one("#ext", Input).value = "log txt"
            form.query_one("#name", Input).focus()
            await pilot.press(*"app-(")
            await wait_until(pilot, lambda: not form.count_pending, what="debounce")
            await pilot.pause()

        app = make_app(tmp_path / "j.db", root=".")
        assert snap_compare(app, terminal_size=size, run_before=run_before)

    def test_recipe_dialog(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await form_ready(pilot)
            await pilot.press("ctrl+o")
            pilot.app.screen.query_one("#path", Input).value = "missing.toml"
            await pilot.press("enter")
            await pilot.pause()

        app = make_app(tmp_path / "j.db", root=".", spec=fast_demo_spec())
        assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
class TestPreviewSnapshots:
    def test_preview(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await preview_ready(pilot)
            await pilot.press("down", "space", "plus", "plus")

        app = make_app(tmp_path / "j.db", root=".", spec=fast_demo_spec())
        assert snap_compare(app, terminal_size=size, run_before=run_before)

    def test_preview_sorted_by_size(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await preview_ready(pilot)
            table = pilot.app.screen.table
            table.sort_by("size", reverse=True)
            await pilot.pause()

        app = make_app(tmp_path / "j.db", root=".", spec=fast_demo_spec())
        assert snap_compare(app, terminal_size=size, run_before=run_before)

    def test_start_confirmation(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await preview_ready(pilot)
            await pilot.press("enter")
            await pilot.pause()

        app = make_app(tmp_path / "j.db", root=".", spec=fast_demo_spec())
        assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
class TestDashboardSnapshots:
    def test_dashboard_finished_with_failures(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        db = tmp_path / "j.db"
        app = make_app(db, start="resume", job_id=demo_job(db))
        assert snap_compare(app, terminal_size=size, run_before=dashboard_done)

    def test_dashboard_failed_filter_and_log(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await dashboard_done(pilot)
            await pilot.press("f")  # all -> failed
            await settle(pilot)

        db = tmp_path / "j.db"
        app = make_app(db, start="resume", job_id=demo_job(db))
        assert snap_compare(app, terminal_size=size, run_before=run_before)

    def test_full_screen_log_of_a_failed_task(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        async def run_before(pilot: Pilot[Any]) -> None:
            await dashboard_done(pilot)
            await pilot.press("f")  # all -> failed
            await settle(pilot)
            await pilot.press("enter")  # the selected task's full-screen log
            await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "LogScreen",
                             what="log screen")
            await settle(pilot)

        db = tmp_path / "j.db"
        app = make_app(db, start="resume", job_id=demo_job(db))
        assert snap_compare(app, terminal_size=size, run_before=run_before)

    def test_cancel_all_confirmation(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        db = tmp_path / "j.db"
        # Opened, not started: the counts are stable while the dialog is shown.
        app = make_app(db, start="jobs")
        job = demo_job(db)

        async def open_and_cancel(pilot: Pilot[Any]) -> None:
            await wait_until(
                pilot,
                lambda: isinstance(pilot.app.screen, JobsScreen) and pilot.app.screen.jobs,
                what="jobs",
            )
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: (
                    isinstance(pilot.app.screen, DashboardScreen)
                    and pilot.app.screen.engine is not None
                ),
                what="loaded",
            )
            dash = pilot.app.screen
            dash.engine.pause()
            dash.start_run()
            await wait_until(pilot, lambda: dash.running, what="running")
            await pilot.press("C")
            await pilot.pause()

        assert job == 1
        assert snap_compare(app, terminal_size=size, run_before=open_and_cancel)

    def test_priority_picker(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        db = tmp_path / "j.db"
        demo_job(db)

        async def run_before(pilot: Pilot[Any]) -> None:
            await wait_until(
                pilot,
                lambda: isinstance(pilot.app.screen, JobsScreen) and pilot.app.screen.jobs,
                what="jobs",
            )
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: (
                    isinstance(pilot.app.screen, DashboardScreen)
                    and pilot.app.screen.engine is not None
                ),
                what="loaded",
            )
            await pilot.press("down", "P")
            await pilot.pause()

        app = make_app(db, start="jobs")
        assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
class TestJobsAndHelpSnapshots:
    def test_jobs(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        db = tmp_path / "j.db"
        demo_job(db)
        store = Store(str(db))
        try:
            second = create_job(store, plan_job(fast_demo_spec(), store=store))
            store.set_job_state(second, "interrupted")
        finally:
            store.close()

        async def run_before(pilot: Pilot[Any]) -> None:
            await wait_until(
                pilot,
                lambda: (
                    isinstance(pilot.app.screen, JobsScreen) and len(pilot.app.screen.jobs) == 2
                ),
                what="jobs",
            )

        app = make_app(db, start="jobs")
        assert snap_compare(app, terminal_size=size, run_before=run_before)

    def test_help(
        self, snap_compare: Snap, demo_dir: Path, tmp_path: Path, size: tuple[int, int]
    ) -> None:
        app = make_app(tmp_path / "j.db", root=".")
        assert snap_compare(app, terminal_size=size, press=["f1"])


def test_snapshots_use_relative_paths(demo_dir: Path) -> None:
    """Guard: the snapshot fixture really makes paths relative (no tmp names in SVGs)."""
    assert os.getcwd() == str(demo_dir)
