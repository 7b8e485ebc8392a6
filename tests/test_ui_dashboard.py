"""The live dashboard at 80x24 (issue 9): its footer, filters, counters, failure lines, the
watch header, the first paint of a big job, and the small things (plurals, empty jobs).

Pilot tests run the real app on the real engine and store; the counters' layout is also
checked as plain data (:mod:`tui_batch.ui.widgets.stat_lines`) over many number sizes.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.content import Content
from textual.widgets import ProgressBar, Static
from textual.widgets._footer import FooterKey
from ui_support import app_for, dashboard, frozen_clock, make_tree, new_job, spec_for, wait_until

from tui_batch.engine.events import Stats
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.store import Store
from tui_batch.ui import job_run
from tui_batch.ui.app import BatchApp
from tui_batch.ui.dashboard_view import PREVIEW_ROWS
from tui_batch.ui.dialogs.confirm import ConfirmDialog
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.ui.widgets.filter_bar import FilterBar
from tui_batch.ui.widgets.stat_lines import pack, pair
from tui_batch.ui.widgets.stats_panel import StatsPanel
from tui_batch.ui.widgets.task_list import failure_line, info_text
from tui_batch.ui.widgets.watch_header import WatchHeader

NARROW = (80, 24)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def footer_keys(screen: Any) -> list[FooterKey]:
    """The keys the footer draws, left to right."""
    return sorted(screen.query(FooterKey), key=lambda k: k.region.x)


def footer_labels(screen: Any) -> list[str]:
    return [f"{k.key_display} {k.description}" for k in footer_keys(screen)]


def notes(app: BatchApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def plain(widget: Static) -> str:
    return str(widget.render())


async def finished(app: BatchApp, pilot: Any) -> DashboardScreen:
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, DashboardScreen) and app.screen.exit_code is not None,
        what="the run's end",
    )
    await pilot.pause()
    return dashboard(app)


def command_spec(root: Path, script: str, *, workers: int = 2) -> JobSpec:
    return JobSpec(
        filter=FilterSpec(roots=[str(root)]),
        action=ActionSpec(template=script, shell=True),
        settings=EngineSettings(workers=workers, retries=0, dedupe=False),
    )


# ------------------------------------------------------------------------- the footer
async def test_footer_fits_80_columns_with_the_most_used_keys_then_help_and_quit(
    tmp_path: Path,
) -> None:
    db = tmp_path / "jobs.db"
    tree = make_tree(tmp_path / "t", 4)
    (tree / "fail-now.txt").write_text("this one fails at once\n")
    script = 'case "$1" in *fail-*) echo broken >&2; exit 1;; *) sleep 30;; esac'
    job = new_job(db, command_spec(tree, script, workers=3))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=NARROW) as pilot:
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, DashboardScreen) and app.screen.engine is not None
            and app.screen.engine.snapshot().failed == 1,
            what="a failure while the others run",
        )
        dash = dashboard(app)
        # the footer follows the failure at the bridge's next tick
        await wait_until(pilot, lambda: "r Retry failed" in footer_labels(dash),
                         what="Retry failed offered")
        await pilot.pause()
        labels = footer_labels(dash)
        assert labels[-2:] == ["? Help", "q Quit"], labels
        for wanted in ("p Pause", "r Retry failed", "C Cancel all", "+/- Workers", "/ Filter"):
            assert wanted in labels, labels
        assert labels.count("q Quit") == 1  # the app's Quit, last; the screen has none
        keys = footer_keys(dash)
        assert keys[-1].region.right <= 80
        for key in keys:  # each label drawn whole: its region holds all of its text
            assert key.region.width >= cell_len(f"{key.key_display} {key.description}")
        dash.engine.cancel_all()
        await wait_until(pilot, lambda: dash.exit_code is not None, what="finish")


async def test_footer_offers_only_what_applies(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 3), "noop"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=NARROW) as pilot:
        dash = await finished(app, pilot)
        await pilot.pause()
        labels = footer_labels(dash)
        # all done, nothing to run again: no pause, cancel, retry, workers or start
        for gone in ("Pause", "Resume", "Cancel all", "Cancel task", "Retry failed",
                     "Workers", "Start"):
            assert not any(label.endswith(" " + gone) for label in labels), labels
        assert "Esc Back" in labels, labels


# ------------------------------------------------------------------------- filters
async def test_status_filter_is_one_key_away_and_failed_comes_first(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 8), "fail", workers=2, rate="0.5"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=NARROW) as pilot:
        dash = await finished(app, pilot)
        failed = dash.state_counts()["failed"]
        assert 0 < failed < 8
        await pilot.press("f")
        assert dash.task_list.status_filter == "failed"
        assert dash.task_list.row_count == failed
        assert dash.view.tasks_box.border_title == f"Tasks: failed ({failed})"
        assert "f status" in str(dash.view.tasks_box.border_subtitle)


async def test_slash_filters_by_name_with_the_status_filter_and_esc_clears(
    tmp_path: Path,
) -> None:
    db = tmp_path / "jobs.db"
    tree = make_tree(tmp_path / "t", 4, prefix="alpha")
    for i in range(3):  # not the alpha files' content: no duplicates skipped
        (tree / f"beta-{i}.txt").write_text(f"beta {i}\n")
    job = new_job(db, spec_for(tree, "noop"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=NARROW) as pilot:
        dash = await finished(app, pilot)
        tasks = dash.task_list
        assert tasks.row_count == 7
        await pilot.press("slash")
        bar = dash.query_one(FilterBar)
        assert bar.is_open and bar.input.has_focus
        await pilot.press(*"beta")
        await pilot.pause()
        assert tasks.row_count == 3
        assert all("beta" in t.rel for t in tasks.view_items())
        assert "name ~ 'beta' (3)" in str(dash.view.tasks_box.border_title)
        await pilot.press("enter")  # keeps the filter, back to the list
        assert tasks.has_focus and tasks.row_count == 3
        await pilot.press("f", "f", "f", "f")  # -> done: the name filter still holds
        assert tasks.status_filter == "done" and tasks.row_count == 3
        await pilot.press("f")  # -> cancelled: none
        assert tasks.row_count == 0
        assert "no task matches the filter" in tasks.empty_text
        await pilot.press("escape")  # Esc clears the name filter before it goes back
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert tasks.name_filter == "" and not bar.is_open
        assert tasks.status_filter == "cancelled"


# ------------------------------------------------------------------------- counters
def test_counters_never_split_a_label_from_its_number_nor_grow(tmp_path: Path) -> None:
    labels = ("total", "queued", "retrying", "running", "done", "failed", "cancelled",
              "skipped")
    for width, digits in itertools.product((40, 60, 78, 100, 118, 160), (1, 3, 5, 6)):
        n = int("9" * digits)
        counts = [pair(label, f"{n:,}") for label in labels]
        rates = [pair("ok", "99.9%", drop=2), pair("files/s", "12.3k", drop=1),
                 pair("workers", "12", after=True)]
        lines = pack(counts, rates, width)
        assert len(lines) == 2
        shown = [Content.from_markup(line).plain for line in lines]
        for line in shown:
            assert cell_len(line) <= width, (width, digits, line)
        text = "\n".join(shown)
        for label in labels:  # every count kept whole (the first line has room for pairs)
            if width >= 78:
                assert f"{label} {n:,}" in text, (width, digits, text)
            else:
                assert f"{label}\n" not in text and f"\n{n:,} " not in text


async def test_counters_line_has_a_fixed_height_at_80_columns_with_big_counts(
    tmp_path: Path,
) -> None:
    app = BatchApp(db=str(tmp_path / "j.db"), deterministic=True, clock=frozen_clock())
    async with app.run_test(size=NARROW) as pilot:
        panel = StatsPanel(frozen_clock())
        await app.screen.mount(panel)
        await pilot.pause()
        heights = set()
        for stats in (
            Stats(total=100_000, queued=100_000, workers=1),
            Stats(total=100_000, queued=12_345, retrying=54_321, running=16, done=23_456,
                  failed=12_345, cancelled=34_567, skipped=10_000, workers=16,
                  files_per_s=12_345.0, bytes_per_s=123_456_789.0),
        ):
            panel.update_stats(stats)
            await pilot.pause()
            counts = panel.query_one("#stats-counts", Static)
            rates = panel.query_one("#stats-rates", Static)
            heights.add((counts.size.height, rates.size.height))
            text = plain(counts) + "\n" + plain(rates)
            for line in text.splitlines():
                assert cell_len(line) <= counts.size.width
            for label, value in (("total", stats.total), ("failed", stats.failed),
                                 ("done", stats.done), ("queued", stats.queued)):
                assert f"{label} {value:,}" in text, text
        assert heights == {(1, 1)}, heights
        assert "1 worker" in text or "16 workers" in text


# ------------------------------------------------------------------ failure lines
def test_failure_line_is_the_last_stderr_line_with_the_error() -> None:
    class T:
        state, error, reason, signal, exit_code = "failed", None, None, None, 3
        stderr_tail = "starting\nfatal: disk full\n\n  \n"
        root = rel = path = ""

    task = T()
    assert failure_line(task) == "fatal: disk full"
    task.error = "exit code 3"  # says less than stderr: after it
    assert failure_line(task) == "fatal: disk full · exit code 3"
    task.error = "timed out after 5s\nmore"  # says more: first
    assert failure_line(task) == "timed out after 5s · fatal: disk full"
    task.error, task.stderr_tail = None, ""
    assert info_text(task) == "exit code 3"


async def test_info_column_shows_a_failed_tasks_last_stderr_line_at_80_columns(
    tmp_path: Path,
) -> None:
    db = tmp_path / "jobs.db"
    tree = make_tree(tmp_path / "t", 2)
    job = new_job(db, command_spec(tree, "echo working >&2; echo 'no space left' >&2; exit 3"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=NARROW) as pilot:
        dash = await finished(app, pilot)
        tasks = dash.task_list
        assert tasks.row_count == 2
        assert "Info" in tasks.header_text()
        for row in range(2):
            assert "no space left" in tasks.row_text(row), tasks.row_text(row)


# ------------------------------------------------------------------------ watch mode
async def test_watch_has_its_own_header_newest_first_no_eta_and_asks_to_stop_watching(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "early.txt").write_text("here before the watch\n")
    store = Store(tmp_path / "jobs.db")
    app = BatchApp(spec=spec_for(inbox, "checksum"), start="watch", store=store,
                   clock=frozen_clock(), deterministic=True,
                   watch={"settle": 0.2, "rescan": None})
    async with app.run_test(size=NARROW) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dash")
        dash = dashboard(app)
        header = dash.query_one(WatchHeader)
        await wait_until(pilot, lambda: dash.engine.snapshot().done == 1, what="early file")
        for i in range(3):
            (inbox / f"new-{i}.txt").write_text(f"arrived {i}\n")
            await wait_until(pilot, lambda i=i: dash.engine.snapshot().done == 2 + i,
                             timeout=20, what=f"new-{i}")
        await wait_until(pilot, lambda: dash.task_list.row_count == 4, timeout=5, what="rows")
        dash.view.tick()
        await pilot.pause()
        text = header.text()
        assert f"Watching {inbox}" in text, text
        assert "settling 0" in text and "idle since" in text, text
        assert "last new-2.txt" in text, text
        assert dash.task_list.cursor_row == 0
        assert dash.task_list.item_at(0).rel == "new-2.txt"  # newest first, on top
        assert "newest first" in str(dash.view.tasks_box.border_title)
        assert not dash.query_one(ProgressBar).display  # no 0% bar for an endless job
        times = plain(dash.stats_panel.query_one("#stats-times", Static))
        assert "ETA" not in times and "watching" in times
        assert dash.stats_panel.state_text == "watching"
        await pilot.press("q")
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.title_text == "Stop watching?"
        assert "stop the job" not in dialog.message.lower()
        await pilot.press("n")
        await dash.stop_and_wait()


# ------------------------------------------------------------------ the first paint
async def test_a_big_job_lists_its_first_rows_before_its_runner_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "jobs.db"
    n = PREVIEW_ROWS + 50
    job = new_job(db, spec_for(make_tree(tmp_path / "t", n), "noop"))
    release = threading.Event()
    real_runner = job_run.JobRunner

    def slow_runner(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(20), "never released"
        return real_runner(*args, **kwargs)

    monkeypatch.setattr(job_run, "JobRunner", slow_runner)
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=NARROW) as pilot:
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, DashboardScreen) and app.screen.task_list.row_count,
            what="the first rows",
        )
        dash = dashboard(app)
        assert dash.engine is None  # still loading: these rows are the store's
        assert dash.task_list.row_count == PREVIEW_ROWS
        assert f"first {PREVIEW_ROWS} of {n}, loading" in str(dash.view.tasks_box.border_title)
        assert dash.stats_panel.stats.total == n  # the counters are the job's already
        await pilot.press("down", "down")
        release.set()
        await wait_until(pilot, lambda: dash.engine is not None, what="the runner")
        await wait_until(pilot, lambda: dash.exit_code is not None, what="the run")
        assert dash.task_list.row_count == n
        assert dash.task_list.cursor_row == 2  # the cursor stayed on its row
        assert "loading" not in str(dash.view.tasks_box.border_title)


# ------------------------------------------------------------------------ small things
async def test_one_worker_is_singular(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 1), "sleep", workers=2, seconds="30"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=NARROW) as pilot:
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, DashboardScreen) and app.screen.engine is not None
            and app.screen.engine.snapshot().running == 1,
            what="running",
        )
        dash = dashboard(app)
        await pilot.press("minus")
        await pilot.pause()
        assert "1 worker" in notes(app)
        rates = plain(dash.stats_panel.query_one("#stats-rates", Static))
        assert "1 worker" in rates and "1 workers" not in rates, rates
        await pilot.press("C")
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert "1 running task is stopped" in dialog.message, dialog.message
        await pilot.press("y")
        await wait_until(pilot, lambda: dash.exit_code is not None, what="finish")
        await pilot.pause()
        assert "Cancelled 1 task" in notes(app), notes(app)
        assert not any("1 workers" in t or "1 tasks" in t for t in notes(app)), notes(app)


async def test_an_empty_folder_reads_no_files_matched_and_all_done(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    empty = tmp_path / "empty"
    empty.mkdir()
    job = new_job(db, spec_for(empty, "noop"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=NARROW) as pilot:
        dash = await finished(app, pilot)
        bar = dash.query_one(ProgressBar)
        assert bar.percentage == 1.0  # all of nothing is done: not a bar reading 0%
        times = plain(dash.stats_panel.query_one("#stats-times", Static))
        assert "no files matched" in times, times
        assert dash.task_list.empty_text == "no files matched"
        assert "No files matched: nothing to do" in notes(app)
        assert not any("0 done" in t for t in notes(app))
        labels = footer_labels(dash)  # nothing to filter, retry or run: not offered
        for gone in ("/ Filter", "f Status", "r Retry failed", "+/- Workers", "s Start"):
            assert gone not in labels, labels
