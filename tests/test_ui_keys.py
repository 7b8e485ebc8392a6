"""Keys, footers, help and the ``/`` filter across the TUI (issue 9, "80x24").

Footers are read from the real app as drawn at 80x24 (the compositor's text, the same source
``export_screenshot`` uses), never from a list of bindings: other screens change their keys and
the test must still hold. Each footer must end with Help then Quit and consist of whole labels.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input, OptionList
from textual.widgets._footer import FooterKey
from ui_support import app_for, dashboard, make_tree, new_job, spec_for, wait_until

from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.store import Store
from tui_batch.ui.app import BatchApp
from tui_batch.ui.dialogs.confirm import ConfirmDialog
from tui_batch.ui.dialogs.priority import PriorityPicker
from tui_batch.ui.dialogs.recipe import RecipeDialog
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.ui.screens.form import FormScreen
from tui_batch.ui.screens.help import HelpScreen
from tui_batch.ui.screens.jobs import JobsScreen
from tui_batch.ui.screens.preview import PreviewScreen, counted, workers_phrase
from tui_batch.ui.settings import ENV_VAR, load_settings, settings_path
from tui_batch.ui.widgets.filter_bar import FilterBar, name_matches
from tui_batch.ui.widgets.key_footer import KeyFooter

pytestmark = pytest.mark.anyio
SIZE = (80, 24)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# ----------------------------------------------------------------------------- helpers
def screen_lines(app: App[Any]) -> list[str]:
    """The text of every row of the terminal as the app draws it now (dialogs over screens)."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return ["".join(strip.text for strip in line) for line in update.strips]


def types_text(app: App[Any]) -> bool:
    """The focused widget types ``q`` (a text field): Help and Quit are F1 and Ctrl+Q there."""
    focused = app.screen.focused
    return focused is not None and focused.check_consume_key("q", "q")


async def footer_of(pilot: Pilot[Any]) -> str:
    """The footer row as drawn, after checking it: whole labels, Help then Quit at the end."""
    app = pilot.app
    await pilot.pause()
    await pilot.pause()
    width = app.size.width
    line = screen_lines(app)[-1]
    keys = list(app.screen.query(FooterKey))
    assert keys, f"{type(app.screen).__name__} draws no footer: {line!r}"
    labels = [f"{key.key_display} {key.description}".strip() for key in keys]
    for key, label in zip(keys, labels, strict=True):
        assert key.region.right <= width, f"{label!r} runs past column {width}: {line!r}"
    # The row is the labels, whole, one space apart: nothing cut mid-word, nothing else.
    assert " ".join(line.split()) == " ".join(" ".join(labels).split()), (line, labels)
    help_key, quit_key = ("F1", "^q") if types_text(app) else ("?", "q")
    assert line.rstrip().endswith(f"{help_key} Help {quit_key} Quit"), line
    assert len(line.rstrip()) <= width
    return line


async def jobs_ready(pilot: Pilot[Any]) -> JobsScreen:
    app = pilot.app
    await wait_until(
        pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs, what="jobs"
    )
    screen = app.screen
    assert isinstance(screen, JobsScreen)
    return screen


async def preview_ready(pilot: Pilot[Any]) -> PreviewScreen:
    app = pilot.app
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, PreviewScreen) and app.screen.plan is not None,
        what="preview",
    )
    screen = app.screen
    assert isinstance(screen, PreviewScreen)
    return screen


def tree_with_duplicates(root: Path) -> Path:
    make_tree(root, 4)
    (root / "copy-of-000.txt").write_bytes((root / "file-000.txt").read_bytes())
    return root


def dedupe_spec(root: Path, **action: Any) -> JobSpec:
    return JobSpec(
        filter=FilterSpec(roots=[str(root)]),
        action=ActionSpec(**(action or {"name": "checksum"})),
        settings=EngineSettings(workers=1, dedupe=True),
    )


class PreviewApp(BatchApp):
    """The app opened straight on the preview of ``preview_spec`` (the form stays below)."""

    def __init__(self, preview_spec: JobSpec, **kw: Any) -> None:
        super().__init__(deterministic=True, **kw)
        self.preview_spec = preview_spec

    def on_mount(self) -> None:
        self.call_after_refresh(self.open_preview, self.preview_spec)


async def open_preview(pilot: Pilot[Any]) -> PreviewScreen:
    return await preview_ready(pilot)


# ------------------------------------------------------------------ footers at 80x24
async def test_form_footer_fits_and_ends_with_help_and_quit(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", 3)
    app = app_for(tmp_path / "jobs.db", root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="form")
        line = await footer_of(pilot)  # a text field has the focus: F1 / ^q
        assert "F1 Help ^q Quit" in line
        for _ in range(40):  # Tab to a checkbox, a select or a button: ? and q again
            if not types_text(app):
                break
            await pilot.press("tab")
        assert not types_text(app), app.focused
        assert (await footer_of(pilot)).rstrip().endswith("? Help q Quit")


async def test_preview_footer_and_its_start_confirmation(tmp_path: Path) -> None:
    tree = tree_with_duplicates(tmp_path / "tree")
    app = PreviewApp(dedupe_spec(tree), db=str(tmp_path / "jobs.db"), root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        await open_preview(pilot)
        line = await footer_of(pilot)
        assert "Enter Start" in line and "/ Filter" in line
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmDialog)
        line = await footer_of(pilot)  # the dialog's keys, not the preview's below
        assert "y Yes" in line and "Enter Start" not in line
        await pilot.press("n")
        assert isinstance(app.screen, PreviewScreen)


async def test_jobs_footer_shows_enter_open_and_its_delete_dialog(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    new_job(db, spec_for(make_tree(tmp_path / "tree", 2), "checksum"))
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        await jobs_ready(pilot)
        line = await footer_of(pilot)
        assert line.startswith("Enter Open"), line
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmDialog)
        line = await footer_of(pilot)
        assert "Enter Open" not in line and "n No" in line


async def test_dashboard_footer_and_its_priority_dialog(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "tree", 3), "checksum"))
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        await jobs_ready(pilot)
        app.open_dashboard(job, autostart=False)
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dash")
        await pilot.pause()
        await footer_of(pilot)
        dashboard(app).action_priority()
        await wait_until(pilot, lambda: isinstance(app.screen, PriorityPicker), what="picker")
        line = await footer_of(pilot)
        assert "1-4 Pick" in line and "Esc Cancel" in line


async def test_running_dashboard_footer_and_quit_confirmation(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 3), "sleep", workers=1, seconds="30"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, DashboardScreen) and app.screen.running,
            what="running",
        )
        await footer_of(pilot)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmDialog)
        line = await footer_of(pilot)
        assert "y Yes" in line
        await pilot.press("n")  # keep running
        assert isinstance(app.screen, DashboardScreen) and app.screen.running
        await pilot.press("q")
        await pilot.press("q")  # q again in the quit question: quit (the job is resumable)
        await wait_until(pilot, lambda: not app.is_running, timeout=15, what="quit")
    assert app.return_value == 130


async def test_recipe_dialog_footer(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", 2)
    app = app_for(tmp_path / "jobs.db", root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="form")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, RecipeDialog), what="dialog")
        line = await footer_of(pilot)  # the path field has the focus: F1 / ^q
        assert "Esc Cancel" in line and "^r Preview" not in line
        await pilot.press("tab")  # to the OK button: ? and q work again
        assert not types_text(app)
        assert (await footer_of(pilot)).rstrip().endswith("? Help q Quit")


async def test_help_footer_from_every_screen(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    new_job(db, spec_for(make_tree(tmp_path / "tree", 2), "checksum"))
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        await jobs_ready(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        line = await footer_of(pilot)
        assert "Esc Close" in line


async def test_watch_dashboard_footer(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    store = Store(tmp_path / "jobs.db")
    app = BatchApp(spec=spec_for(inbox, "checksum"), start="watch", store=store,
                   deterministic=True, watch={"settle": 0.2, "rescan": None})
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="watch")
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await wait_until(pilot, lambda: screen.running, what="watching")
        await footer_of(pilot)
        await screen.stop_and_wait()


async def test_footer_keeps_help_and_quit_when_the_terminal_is_narrow(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    new_job(db, spec_for(make_tree(tmp_path / "tree", 2), "checksum"))
    app = app_for(db, start="jobs")
    async with app.run_test(size=(40, 20)) as pilot:
        await jobs_ready(pilot)
        line = await footer_of(pilot)
        assert "Delete" not in line  # dropped whole, not cut
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        assert "d Delete" in await footer_of(pilot)


# ------------------------------------------------------------------------- ? and help
async def test_question_mark_opens_help_on_the_keys_of_that_screen(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    new_job(db, spec_for(make_tree(tmp_path / "tree", 2), "checksum"))
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        await jobs_ready(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        source = app.screen.text
        first = source.split("\n## ")[0]
        assert first.startswith("# Keys here: Jobs"), first
        assert "Refresh" in first  # not in the footer, in the help
        assert "| Back |" in first and "| Clear filter |" in first  # both Esc bindings
        assert "| Page down |" in first  # the focused table's keys...
        assert "| Select |" not in first  # ...but not its Enter: the screen's Enter wins
        await pilot.press("question_mark")  # again: closed
        assert isinstance(app.screen, JobsScreen)
        # From a dialog: the dialog's keys.
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        source = app.screen.text
        assert source.startswith("# Keys here: Confirmation"), source[:80]
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmDialog)


async def test_help_on_the_preview_lists_keys_the_footer_has_no_room_for(tmp_path: Path) -> None:
    tree = tree_with_duplicates(tmp_path / "tree")
    app = PreviewApp(dedupe_spec(tree), db=str(tmp_path / "jobs.db"), root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        await open_preview(pilot)
        footer = await footer_of(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        first = app.screen.text.split("\n## ")[0]
        assert first.startswith("# Keys here: Preview")
        assert "| `+/-` | Priority |" in first and "Priority" not in footer
        assert "Page down" in first  # the focused table's keys
        await pilot.press("f1")
        assert isinstance(app.screen, PreviewScreen)


# ---------------------------------------------------------------------------------- q
@pytest.mark.parametrize("where", ["jobs", "help", "dialog"])
async def test_q_quits_from_every_screen(tmp_path: Path, where: str) -> None:
    db = tmp_path / "jobs.db"
    new_job(db, spec_for(make_tree(tmp_path / "tree", 2), "checksum"))
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        await jobs_ready(pilot)
        if where == "help":
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
        elif where == "dialog":
            await pilot.press("d")
            assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, what="quit")
    assert app.return_value == 0


async def test_q_quits_from_the_preview(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", 2)
    app = PreviewApp(spec_for(tree, "checksum"), db=str(tmp_path / "jobs.db"), root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        await open_preview(pilot)
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, what="quit")
    assert app.return_value == 0


# ------------------------------------------------------------------------ Esc on jobs
async def test_escape_on_the_first_jobs_screen_opens_no_form(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    new_job(db, spec_for(make_tree(tmp_path / "tree", 2), "checksum"))
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot)
        assert "Esc" not in await footer_of(pilot)  # nothing to go back to
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is jobs
        assert not any(isinstance(s, FormScreen) for s in app.screen_stack)


async def test_escape_on_jobs_goes_back_where_the_user_came_from(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    new_job(db, spec_for(make_tree(tmp_path / "tree", 2), "checksum"))
    app = app_for(db, root=str(tmp_path / "tree"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="form")
        form = app.screen
        await pilot.press("f2")
        await jobs_ready(pilot)
        assert "Esc Back" in await footer_of(pilot)
        await pilot.press("escape")
        assert app.screen is form
        assert sum(isinstance(s, FormScreen) for s in app.screen_stack) == 1


# ------------------------------------------------------------------------- / filtering
async def test_slash_filters_the_jobs_by_name(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    new_job(db, spec_for(make_tree(tmp_path / "alpha", 2), "checksum"))
    second = new_job(db, spec_for(make_tree(tmp_path / "beta", 2), "checksum"))
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot)
        table = jobs.query_one("#jobs")
        assert table.row_count == 2
        await pilot.press("slash", *"BETA".lower())
        assert [j.id for j in table.view_items()] == [second]
        assert "1 of 2" in str(jobs.query_one("#jobs-box").border_title)
        line = await footer_of(pilot)  # typing: no Enter Open, no / Filter
        assert "Enter Open" not in line and "/ Filter" not in line
        await pilot.press("enter")  # keeps the filter, back on the list
        assert table.has_focus and table.row_count == 1
        assert "Esc Clear filter" in await footer_of(pilot)
        await pilot.press("escape")  # clears the filter, stays on the jobs screen
        assert table.row_count == 2 and app.screen is jobs
        assert not jobs.query_one(FilterBar).is_open
        await pilot.press("slash", "z", "z", "escape")  # Esc in the bar: cleared too
        assert table.row_count == 2 and table.has_focus


async def test_slash_filters_the_preview_and_enter_does_not_start(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", 6)
    (tree / "report.md").write_text("# report\n")
    app = PreviewApp(spec_for(tree, "checksum"), db=str(tmp_path / "jobs.db"), root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        preview = await open_preview(pilot)
        await pilot.press("slash", *"report")
        assert [r.entry.rel for r in preview.table.view_items()] == ["report.md"]
        await pilot.press("enter")
        assert app.screen is preview  # Enter kept the filter, asked nothing
        await pilot.press("a")  # toggles the rows shown, not the hidden ones
        assert preview.excluded == {str(tree / "report.md")}
        await pilot.press("escape")
        assert preview.table.row_count == 7 and app.screen is preview
        await pilot.press("escape")
        assert isinstance(app.screen, FormScreen)


class FilterApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[Any] = []

    def compose(self) -> ComposeResult:
        yield FilterBar()
        yield OptionList("a", "b")

    def on_filter_bar_changed(self, event: FilterBar.Changed) -> None:
        self.events.append(("changed", event.text))

    def on_filter_bar_submitted(self, event: FilterBar.Submitted) -> None:
        self.events.append(("submitted", event.text))

    def on_filter_bar_closed(self, event: FilterBar.Closed) -> None:
        self.events.append("closed")


async def test_filter_bar_messages_and_focus() -> None:
    app = FilterApp()
    async with app.run_test(size=SIZE) as pilot:
        bar = app.query_one(FilterBar)
        options = app.query_one(OptionList)
        options.focus()
        assert not bar.is_open and not bar.active
        bar.open()
        await pilot.press("a", "B")
        assert app.events == [("changed", "a"), ("changed", "aB")]
        await pilot.press("enter")
        assert options.has_focus and bar.is_open and bar.text == "aB"
        assert app.events[-1] == ("submitted", "aB")
        bar.open()
        await pilot.press("escape")
        await pilot.pause()
        assert app.events[-2:] == [("changed", ""), "closed"]
        assert options.has_focus and not bar.is_open and bar.text == ""


def test_name_matching_is_smart_case_and_word_order_free() -> None:
    assert name_matches("", "anything")
    assert name_matches("report", "docs/Report-2024.md")
    assert not name_matches("Report", "docs/report-2024.md")  # upper case: exact case
    assert name_matches("2024 docs", "docs/report-2024.md")
    assert not name_matches("2024 pdf", "docs/report-2024.md")


# ---------------------------------------------------------------- preview small things
async def test_preview_marks_a_skipped_duplicate_not_with_a_check(tmp_path: Path) -> None:
    tree = tree_with_duplicates(tmp_path / "tree")
    app = PreviewApp(dedupe_spec(tree), db=str(tmp_path / "jobs.db"), root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        preview = await open_preview(pilot)
        rows = preview.plan.preview.rows  # type: ignore[union-attr]
        dups = [r for r in rows if r.duplicate_of is not None]
        assert len(dups) == 1
        mark = preview._cell(dups[0], "mark")
        assert mark[0] != "✓" and mark[0] == "="
        totals = " ".join(screen_lines(app))
        assert "= 1 duplicate skipped" in totals, totals


def test_counts_and_workers_are_worded_in_the_singular_and_plural() -> None:
    assert counted(1, "duplicate") == "1 duplicate"
    assert counted(2, "duplicate") == "2 duplicates"
    assert counted(1, "retry", "retries") == "1 retry"
    assert workers_phrase(0) == "one worker per CPU"
    assert workers_phrase(1) == "1 worker"
    assert workers_phrase(4) == "4 workers"


async def test_start_confirmation_says_duplicates_skipped_and_path_appended(
    tmp_path: Path,
) -> None:
    tree = tree_with_duplicates(tmp_path / "tree")
    spec = dedupe_spec(tree, template="wc -l")
    spec.settings.workers = 0
    app = PreviewApp(spec, db=str(tmp_path / "jobs.db"), root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        preview = await open_preview(pilot)
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmDialog), (preview.totals(), app._notifications)
        message = app.screen.message
        assert "with one worker per CPU." in message, message
        assert "1 duplicate will be skipped" in message, message
        assert "the path is appended: wc -l {}" in message, message
        assert "workers." not in message and "1 duplicates" not in message


# ------------------------------------------------------------------------------ theme
async def test_theme_is_remembered_across_runs(tmp_path: Path) -> None:
    assert os.environ[ENV_VAR]  # conftest: never the real home
    assert settings_path().is_relative_to(Path(os.environ[ENV_VAR]))
    db = tmp_path / "jobs.db"
    first = app_for(db, start="jobs")
    async with first.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(first.screen, JobsScreen), what="jobs")
        assert first.theme != "nord"
        first.theme = "nord"
        await pilot.pause()
    assert load_settings().get("theme") == "nord"
    second = app_for(db, start="jobs")
    async with second.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(second.screen, JobsScreen), what="jobs")
        assert second.theme == "nord"


async def test_a_broken_settings_file_means_defaults(tmp_path: Path) -> None:
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text("theme = [not toml")
    app = app_for(tmp_path / "jobs.db", start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"
        assert isinstance(app.screen.query_one(KeyFooter), KeyFooter)


async def test_keys_typed_in_a_filter_are_not_shortcuts(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    new_job(db, spec_for(make_tree(tmp_path / "tree", 2), "checksum"))
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot)
        await pilot.press("slash", "q", "d", "n", "question_mark")
        assert app.is_running and app.screen is jobs
        assert jobs.query_one(FilterBar).query_one(Input).value == "qdn?"


async def test_log_screen_footer(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "tree", 2), "checksum"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, DashboardScreen) and app.screen.exit_code is not None,
            what="job finished",
        )
        screen = dashboard(app)
        screen.task_list.focus()
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is not screen, what="log screen")
        assert "Log" in type(app.screen).__name__
        await footer_of(pilot)
