"""Issue 9: the preview shows its counts while it scans, and Start creates the job off the
UI thread behind a "Creating tasks… a/b" dialog.

Before: the preview read a bare "scanning…" for seconds, and Start ran ``create_job`` on the
UI thread, freezing the screen (a 50,000-file job: seconds with no repaint, no key).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.widgets import Static
from ui_support import app_for, wait_until

import tui_batch.store.task_table as task_table
import tui_batch.ui.dialogs.creating as creating_module
import tui_batch.ui.screens.preview as preview_module
from tui_batch.jobs import create_job
from tui_batch.jobs.progress import CREATING, HASHING, SCANNING, Progress
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.ui.dialogs.confirm import ConfirmDialog
from tui_batch.ui.dialogs.creating import CreatingDialog
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.ui.screens.form import FormScreen
from tui_batch.ui.screens.help import HelpScreen
from tui_batch.ui.screens.preview import PreviewScreen
from tui_batch.ui.widgets.plan_progress import PlanProgress, PlanProgressView

pytestmark = pytest.mark.anyio
SIZE = (80, 24)
N_FILES = 3000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 files in 30 folders, every 10th a copy of another (so duplicates are checked)."""
    root = tmp_path_factory.mktemp("tree")
    for i in range(N_FILES):
        d = root / f"d{i % 30:02d}"
        d.mkdir(exist_ok=True)
        body = f"file {i - 1 if i % 10 == 1 else i}\n" * (1 + i % 5)
        (d / f"f{i:05d}.txt").write_text(body)
    return root


def spec_of(root: Path) -> JobSpec:
    return JobSpec(
        filter=FilterSpec(roots=[str(root)]),
        action=ActionSpec(name="noop"),
        settings=EngineSettings(workers=2, dedupe=True),
    )


def text(screen: Any, selector: str) -> str:
    """What a label shows ("" while its screen is still being composed)."""
    found = screen.query(selector)
    return str(found.first(Static).render()) if found else ""


async def open_preview(app: Any, pilot: Any, spec: JobSpec) -> PreviewScreen:
    await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="the form")
    await pilot.pause()  # let the form finish mounting (its header) before it is covered
    app.call_later(app.open_preview, spec)  # from the app's task: message_hook sees it
    await wait_until(pilot, lambda: isinstance(app.screen, PreviewScreen), what="preview")
    screen = app.screen
    assert isinstance(screen, PreviewScreen)
    await wait_until(pilot, lambda: screen.is_mounted, what="the preview mounted")
    await pilot.pause()
    return screen


async def preview_ready(app: Any, pilot: Any, spec: JobSpec) -> PreviewScreen:
    screen = await open_preview(app, pilot, spec)
    await wait_until(pilot, lambda: screen.plan is not None, what="the plan")
    return screen


async def dashboard_opens(app: Any, pilot: Any) -> None:
    """The dashboard is up, and settled: quitting at once would cut its header's mount."""
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, DashboardScreen) and app.screen.is_mounted,
        what="the dashboard",
    )
    await pilot.pause()
    await pilot.pause()


async def start(app: Any, pilot: Any) -> None:
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
    await pilot.press("y")


def record_labels(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every live line and done list a progress view drew, as it drew it."""
    drawn: list[str] = []
    real_show = PlanProgressView.show

    def show(view: PlanProgressView, p: Progress) -> None:
        real_show(view, p)
        drawn.append(str(view.count.render()))
        drawn.append(str(view.done_lines.render()))

    monkeypatch.setattr(PlanProgressView, "show", show)
    return drawn


# ----------------------------------------------------------------------- scanning


async def test_preview_shows_scan_and_duplicate_counts_then_the_table(
    tmp_path: Path, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = record_labels(monkeypatch)
    messages: list[Message] = []
    app = app_for(tmp_path / "jobs.db")
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        screen = await open_preview(app, pilot, spec_of(tree))
        await wait_until(pilot, lambda: screen.plan is not None, what="the plan")
        await pilot.pause()
        assert not screen.query_one("#preview-waiting").display
        assert screen.table.row_count == N_FILES
    events = [m.progress for m in messages if isinstance(m, PlanProgress)]
    finals = {p.phase: p for p in events if p.final}
    assert finals[SCANNING].done == finals[SCANNING].matched == N_FILES
    assert finals[HASHING].done == finals[HASHING].total and finals[HASHING].total
    assert any(p.phase == HASHING and not p.final for p in events)
    assert any(line.startswith("Scanning… ") and "matched)" in line for line in drawn)
    assert any(line.startswith("Checking duplicates…") for line in drawn)
    assert any(f"✓ Scanned {N_FILES:,} files ({N_FILES:,} matched)" in line for line in drawn)


async def test_live_scan_count_and_esc_stops_the_scan(
    tmp_path: Path, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_plan = preview_module.plan_job
    started = threading.Event()
    seen: dict[str, Any] = {}

    def slow_plan(spec: JobSpec, **kw: Any) -> Any:
        seen.update(kw)
        kw["progress"](Progress(SCANNING, 0, None))
        kw["progress"](Progress(SCANNING, 1500, None, matched=1200))
        started.set()
        kw["cancel"].wait(30)  # a huge tree: still scanning when Esc comes
        return real_plan(spec, **kw)

    monkeypatch.setattr(preview_module, "plan_job", slow_plan)
    app = app_for(tmp_path / "jobs.db")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_preview(app, pilot, spec_of(tree))
        await wait_until(pilot, started.is_set, what="scanning")
        await wait_until(
            pilot,
            lambda: text(screen, "#preview-count") == "Scanning… 1,500 files (1,200 matched)",
            what="the live count",
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="the form")
        assert seen["cancel"].is_set()
        await app.workers.wait_for_complete()
        assert screen.plan is None  # the stopped plan is thrown away


# ----------------------------------------------------------------------- creating


async def test_start_creates_the_job_off_the_ui_thread_with_a_live_count(
    tmp_path: Path, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ui_thread = threading.get_ident()
    inside, release = threading.Event(), threading.Event()
    threads: list[int] = []

    def gated_create(store: Any, plan: Any, **kw: Any) -> int:
        threads.append(threading.get_ident())
        kw["progress"](Progress(CREATING, 0, N_FILES))
        kw["progress"](Progress(CREATING, 1234, N_FILES))
        inside.set()
        if not release.wait(10):  # on the UI thread, no key could ever set it
            raise AssertionError("the UI never got to process a key")
        return create_job(store, plan, **kw)

    monkeypatch.setattr(creating_module, "create_job", gated_create)
    messages: list[Message] = []
    app = app_for(tmp_path / "jobs.db")
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await preview_ready(app, pilot, spec_of(tree))
        await start(app, pilot)
        await wait_until(pilot, inside.is_set, what="creating")
        dialog = app.screen
        assert isinstance(dialog, CreatingDialog)
        await wait_until(
            pilot,
            lambda: text(dialog, "#creating-count") == "Creating tasks… 1,234/3,000",
            what="the creating count",
        )
        await pilot.press("question_mark")  # the UI answers keys while the job is stored
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        release.set()
        # The help over the dialog closes: the dashboard takes the preview's place.
        await dashboard_opens(app, pilot)
        assert not any(isinstance(s, (PreviewScreen, HelpScreen)) for s in app.screen_stack)
        jobs = app.store.list_jobs()
        assert len(jobs) == 1 and jobs[0].total == N_FILES
    assert threads and ui_thread not in threads
    finals = [m.progress for m in messages if isinstance(m, PlanProgress) and m.progress.final]
    assert [(p.phase, p.done, p.total) for p in finals if p.phase == CREATING] == [
        (CREATING, N_FILES, N_FILES)
    ]


def stall_inserts(monkeypatch: pytest.MonkeyPatch, on_chunk: Any) -> list[int]:
    """Task rows go in 500 at a time; ``on_chunk(n)`` runs before the n-th chunk."""
    calls: list[int] = []
    real = task_table.exec_rows

    def exec_rows(c: Any, stmt: Any, rows: Any, *args: Any) -> Any:
        if stmt is task_table.TASK_INSERT:
            calls.append(len(rows))
            on_chunk(len(calls))
        return real(c, stmt, rows, *args)

    monkeypatch.setattr(task_table, "INSERT_CHUNK", 500)
    monkeypatch.setattr(task_table, "exec_rows", exec_rows)
    return calls


async def test_escape_while_creating_rolls_back_and_stays_on_the_preview(
    tmp_path: Path, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside, go = threading.Event(), threading.Event()

    def on_chunk(n: int) -> None:
        if n == 2:  # one chunk is in: the job row and 500 tasks, not committed
            inside.set()
            go.wait(10)
            time.sleep(0.15)  # past the count's throttle, so the next count is reported

    calls = stall_inserts(monkeypatch, on_chunk)
    app = app_for(tmp_path / "jobs.db")
    async with app.run_test(size=SIZE) as pilot:
        preview = await preview_ready(app, pilot, spec_of(tree))
        await start(app, pilot)
        await wait_until(pilot, inside.is_set, what="inserting")
        dialog = app.screen
        assert isinstance(dialog, CreatingDialog)
        await pilot.press("escape")
        assert text(dialog, "#creating-count") == "Stopping…"
        go.set()
        await wait_until(pilot, lambda: app.screen is preview, what="back to the preview")
        await pilot.pause()
        assert app.store.list_jobs() == []
        messages = [str(n.message) for n in app._notifications]
        assert "Stopped: no job was created." in messages
        assert preview.plan is not None and preview.table.row_count == N_FILES
    assert len(calls) < N_FILES // 500  # stopped inside the transaction, not after it


async def test_a_failure_while_storing_shows_the_error_and_leaves_no_job(
    tmp_path: Path, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [True]

    def on_chunk(n: int) -> None:
        if n == 3 and broken[0]:
            raise sqlite3.OperationalError("disk I/O error")

    stall_inserts(monkeypatch, on_chunk)
    app = app_for(tmp_path / "jobs.db")
    async with app.run_test(size=SIZE) as pilot:
        preview = await preview_ready(app, pilot, spec_of(tree))
        await start(app, pilot)
        await wait_until(
            pilot,
            lambda: app.screen is preview and bool(app._notifications),
            what="the error",
        )
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "disk I/O error" in errors[0].message, list(app._notifications)
        assert errors[0].title == "Cannot create the job"
        assert app.store.list_jobs() == []  # the half-written job was rolled back
        broken[0] = False  # the disk is back: Start again works from the same preview
        await start(app, pilot)
        await dashboard_opens(app, pilot)
        assert [j.total for j in app.store.list_jobs()] == [N_FILES]
