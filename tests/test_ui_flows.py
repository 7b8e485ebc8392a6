"""Pilot tests of the TUI's user flows, against the real engine, store and actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.message import Message
from textual.widgets import Input, Select
from ui_support import app_for, dashboard, make_tree, new_job, spec_for, wait_until

from tui_batch.model import Priority, TaskState
from tui_batch.store import Store
from tui_batch.ui.dialogs.confirm import ConfirmDialog
from tui_batch.ui.messages import EngineNotice, JobFinished, StatsUpdated, TasksChanged
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.ui.screens.form import FormScreen
from tui_batch.ui.screens.jobs import JobsScreen
from tui_batch.ui.screens.preview import PreviewScreen

SIZE = (100, 30)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class TestFormToDone:
    async def test_form_preview_run_done(self, tmp_path: Path) -> None:
        tree = make_tree(tmp_path / "tree", 12)
        (tree / "skip.log").write_text("not a txt\n")
        messages: list[Message] = []
        app = app_for(tmp_path / "jobs.db", root=str(tree))
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            form = app.screen
            assert isinstance(form, FormScreen)
            await wait_until(pilot, lambda: form.last_count and form.last_count[2], what="count")
            assert form.last_count[:2] == (13, sum(p.stat().st_size for p in tree.iterdir()))
            form.query_one("#ext", Input).focus()
            await pilot.press(*"txt")
            form.query_one("#action", Select).value = "noop"
            await wait_until(
                pilot,
                lambda: form.last_count and form.last_count[0] == 12 and form.last_count[2],
                what="recount after typing",
            )
            await pilot.press("ctrl+r")
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, PreviewScreen) and app.screen.plan is not None,
                what="preview",
            )
            preview = app.screen
            assert isinstance(preview, PreviewScreen)
            assert preview.totals()["selected"] == 12
            await pilot.press("space")  # exclude the first row
            assert preview.totals()["selected"] == 11
            await pilot.press("enter")
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, DashboardScreen) and app.screen.exit_code is not None
                ),
                what="job end",
            )
            dash = dashboard(app)
            assert dash.exit_code == 0
            assert dash.state_counts() == {"done": 11}
            finished = [m for m in messages if isinstance(m, JobFinished)]
            assert [m.exit_code for m in finished] == [0]
            assert any(isinstance(m, StatsUpdated) for m in messages)
            assert any(isinstance(m, TasksChanged) for m in messages)
            await pilot.press("q")
        assert app.return_value == 0

    async def test_invalid_regex_inline_error_blocks_start(self, tmp_path: Path) -> None:
        tree = make_tree(tmp_path / "tree", 3)
        app = app_for(tmp_path / "jobs.db", root=str(tree))
        async with app.run_test(size=SIZE) as pilot:
            form = app.screen
            assert isinstance(form, FormScreen)
            form.query_one("#name", Input).focus()
            await pilot.press(*"report(")
            await pilot.pause()
            error = form.query_one("#name-error")
            assert error.has_class("-visible")
            assert "regular expression" in str(error.render()).lower()
            assert form.query_one("#name", Input).has_class("-invalid")
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, FormScreen)  # preview refused
            await pilot.press("backspace")
            await pilot.pause()
            assert not error.has_class("-visible")

    async def test_cross_field_error_named_on_field(self, tmp_path: Path) -> None:
        tree = make_tree(tmp_path / "tree", 3)
        app = app_for(tmp_path / "jobs.db", root=str(tree))
        async with app.run_test(size=SIZE) as pilot:
            form = app.screen
            assert isinstance(form, FormScreen)
            form.query_one("#min_size", Input).value = "2MiB"
            form.query_one("#max_size", Input).value = "1k"
            form.query_one("#template", Input).value = "cat {}"
            await pilot.pause(0.4)
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, FormScreen)
            assert form.query_one("#min_size-error").has_class("-visible")

    async def test_unknown_size_unit_inline(self, tmp_path: Path) -> None:
        app = app_for(tmp_path / "jobs.db", root=str(tmp_path))
        async with app.run_test(size=SIZE) as pilot:
            form = app.screen
            assert isinstance(form, FormScreen)
            form.query_one("#min_size", Input).focus()
            await pilot.press(*"10zb")
            await pilot.pause()
            assert form.query_one("#min_size-error").has_class("-visible")
            assert "min_size" in form.field_errors


class TestDashboardControls:
    async def test_pause_stops_new_starts_and_resume_continues(self, tmp_path: Path) -> None:
        db = tmp_path / "jobs.db"
        job = new_job(
            db, spec_for(make_tree(tmp_path / "t", 12), "sleep", workers=2, seconds="0.15")
        )
        messages: list[Message] = []
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, DashboardScreen)
                    and app.screen.engine is not None
                    and app.screen.engine.snapshot().done >= 2
                ),
                what="some done",
            )
            dash = dashboard(app)
            await pilot.press("p")
            assert dash.engine.paused
            assert dash.check_action("resume", ()) and not dash.check_action("pause", ())
            await wait_until(pilot, lambda: dash.engine.snapshot().running == 0, what="drain")
            done = dash.engine.snapshot().done
            await pilot.pause(0.5)
            assert dash.engine.snapshot().done == done  # nothing new started while paused
            assert dash.engine.snapshot().running == 0
            await pilot.press("p")
            assert not dash.engine.paused
            await wait_until(pilot, lambda: dash.exit_code is not None, what="finish")
            assert dash.exit_code == 0
            kinds = [m.event.kind for m in messages if isinstance(m, EngineNotice)]
            assert kinds.index("paused") < kinds.index("resumed")

    async def test_cancel_selected_and_cancel_all(self, tmp_path: Path) -> None:
        db = tmp_path / "jobs.db"
        job = new_job(db, spec_for(make_tree(tmp_path / "t", 6), "sleep", workers=1, seconds="30"))
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, DashboardScreen)
                    and app.screen.engine is not None
                    and app.screen.engine.snapshot().running == 1
                ),
                what="running",
            )
            dash = dashboard(app)
            await pilot.press("down", "down")  # a waiting task
            target = dash.selected_task()
            assert target.state is TaskState.QUEUED
            await pilot.press("c")
            await pilot.pause()
            assert target.state is TaskState.CANCELLED
            await pilot.press("C")
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await wait_until(pilot, lambda: dash.exit_code is not None, what="finish")
            assert dash.exit_code == 1
            assert dash.state_counts() == {"cancelled": 6}

    async def test_retry_failed(self, tmp_path: Path) -> None:
        db = tmp_path / "jobs.db"
        job = new_job(db, spec_for(make_tree(tmp_path / "t", 4), "fail", workers=2, times="1"))
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, DashboardScreen) and app.screen.exit_code is not None
                ),
                what="first run",
            )
            dash = dashboard(app)
            assert dash.exit_code == 1
            assert dash.state_counts() == {"failed": 4}
            assert dash.check_action("retry_failed", ())
            await pilot.press("r")
            await wait_until(pilot, lambda: dash.exit_code == 0, what="retry run")
            assert dash.state_counts() == {"done": 4}
            assert not dash.check_action("retry_failed", ())
            store = app.store
            attempts = store.attempts(dash.engine.tasks[next(iter(dash.engine.tasks))].id)
            assert [a.state for a in attempts] == ["failed", "done"]

    async def test_workers_plus_minus_changes_concurrency(self, tmp_path: Path) -> None:
        db = tmp_path / "jobs.db"
        job = new_job(
            db, spec_for(make_tree(tmp_path / "t", 30), "sleep", workers=1, seconds="0.3")
        )
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, DashboardScreen) and app.screen.running,
                what="running",
            )
            dash = dashboard(app)
            await pilot.press("plus", "plus")
            assert dash.engine.workers == 3
            await wait_until(pilot, lambda: dash.engine.snapshot().running == 3, what="3 running")
            await pilot.press("minus", "minus")
            assert dash.engine.workers == 1
            await wait_until(pilot, lambda: dash.engine.snapshot().running <= 1, what="1 running")
            dash.engine.cancel_all()
            await wait_until(pilot, lambda: dash.exit_code is not None, what="finish")

    async def test_priority_of_selected_task(self, tmp_path: Path) -> None:
        db = tmp_path / "jobs.db"
        job = new_job(db, spec_for(make_tree(tmp_path / "t", 5), "sleep", workers=1, seconds="30"))
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, DashboardScreen) and app.screen.running,
                what="running",
            )
            dash = dashboard(app)
            await pilot.press("end")
            task = dash.selected_task()
            await pilot.press("P")
            await pilot.press("4")
            await pilot.pause()
            assert task.priority == Priority.URGENT
            dash.engine.cancel_all()
            await wait_until(pilot, lambda: dash.exit_code is not None, what="finish")

    async def test_filter_by_status(self, tmp_path: Path) -> None:
        db = tmp_path / "jobs.db"
        job = new_job(db, spec_for(make_tree(tmp_path / "t", 6), "fail", workers=2, rate="0.5"))
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, DashboardScreen) and app.screen.exit_code is not None
                ),
                what="finish",
            )
            dash = dashboard(app)
            counts = dash.state_counts()
            await pilot.press("f")  # all -> failed (failures first)
            assert dash.task_list.status_filter == "failed"
            assert dash.task_list.row_count == counts.get("failed", 0)


class TestQuitAndResume:
    async def test_quit_mid_run_then_resume_from_jobs(self, tmp_path: Path) -> None:
        db = tmp_path / "jobs.db"
        job = new_job(db, spec_for(make_tree(tmp_path / "t", 8), "sleep", workers=1, seconds="0.2"))
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, DashboardScreen)
                    and app.screen.engine is not None
                    and app.screen.engine.snapshot().done >= 1
                ),
                what="started",
            )
            await pilot.press("q")
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await wait_until(
                pilot, lambda: app.return_code is not None or not app.is_running, what="exit"
            )
        assert app.return_value == 130
        store = Store(str(db))
        counts = store.task_counts(job)
        state = store.get_job(job).state
        store.close()
        assert state == "interrupted"
        assert counts.get("done", 0) < 8

        app2 = app_for(db, start="jobs")
        async with app2.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: isinstance(app2.screen, JobsScreen) and app2.screen.jobs,
                what="jobs listed",
            )
            jobs = app2.screen
            assert isinstance(jobs, JobsScreen)
            assert jobs.selected().id == job
            assert jobs.check_action("resume", ())
            await pilot.press("r")
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app2.screen, DashboardScreen) and app2.screen.exit_code is not None
                ),
                timeout=15,
                what="resumed",
            )
            dash = dashboard(app2)
            assert dash.exit_code == 0
            assert dash.state_counts() == {"done": 8}
            await pilot.press("escape")
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app2.screen, JobsScreen)
                    and any(j.state == "done" for j in app2.screen.jobs)
                ),
                what="list",
            )
            await pilot.press("q")
        assert app2.return_value == 0

    async def test_delete_job_with_confirmation(self, tmp_path: Path) -> None:
        db = tmp_path / "jobs.db"
        new_job(db, spec_for(make_tree(tmp_path / "t", 2), "noop"))
        app = app_for(db, start="jobs")
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs, what="jobs"
            )
            jobs = app.screen
            await pilot.press("d")
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await wait_until(
                pilot, lambda: isinstance(jobs, JobsScreen) and not jobs.jobs, what="deleted"
            )

    async def test_quit_without_work_exits_zero(self, tmp_path: Path) -> None:
        app = app_for(tmp_path / "jobs.db", root=str(tmp_path))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+q")
        assert app.return_value == 0


class TestRecipes:
    async def test_save_then_load_recipe(self, tmp_path: Path) -> None:
        tree = make_tree(tmp_path / "tree", 2)
        recipe = tmp_path / "r.toml"
        app = app_for(tmp_path / "jobs.db", root=str(tree))
        async with app.run_test(size=SIZE) as pilot:
            form = app.screen
            assert isinstance(form, FormScreen)
            form.query_one("#template", Input).value = "wc -l {}"
            form.query_one("#ext", Input).value = "txt log"
            form.query_one("#min_size", Input).value = "1KiB"
            form.query_one("#workers", Input).value = "3"
            await pilot.pause()
            await pilot.press("ctrl+s")
            dialog_input = app.screen.query_one("#path", Input)
            dialog_input.value = str(recipe)
            await pilot.press("enter")
            await pilot.pause()
            assert recipe.exists()
            form.query_one("#template", Input).value = ""
            form.query_one("#ext", Input).value = ""
            await pilot.press("ctrl+o")
            app.screen.query_one("#path", Input).value = str(recipe)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, FormScreen)
            assert form.value("template") == "wc -l {}"
            assert form.value("ext") == "txt log"
            assert form.value("min_size") == "1KiB"
            assert form.value("workers") == "3"

    async def test_invalid_recipe_names_the_key(self, tmp_path: Path) -> None:
        recipe = tmp_path / "bad.toml"
        recipe.write_text(
            '[filter]\nroots = ["."]\nmin_size = "12 parsecs"\n[action]\ntemplate = "cat"\n'
        )
        app = app_for(tmp_path / "jobs.db", root=str(tmp_path))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+o")
            app.screen.query_one("#path", Input).value = str(recipe)
            await pilot.press("enter")
            await pilot.pause()
            error = app.screen.query_one("#path-error")
            assert "min" in str(error.render()).lower()
            await pilot.press("escape")
            assert isinstance(app.screen, FormScreen)


class TestRunStart:
    async def test_start_run_opens_dashboard_directly(self, tmp_path: Path) -> None:
        spec = spec_for(make_tree(tmp_path / "t", 5), "noop")
        app = app_for(tmp_path / "jobs.db", start="run", spec=spec)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, DashboardScreen) and app.screen.exit_code is not None
                ),
                what="run",
            )
            assert dashboard(app).state_counts() == {"done": 5}
            await pilot.press("q")
        assert app.return_value == 0

    async def test_failed_job_exit_code_one(self, tmp_path: Path) -> None:
        spec = spec_for(make_tree(tmp_path / "t", 3), "fail")
        app = app_for(tmp_path / "jobs.db", start="run", spec=spec)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, DashboardScreen) and app.screen.exit_code is not None
                ),
                what="run",
            )
            await pilot.press("q")
        assert app.return_value == 1


@pytest.mark.parametrize("start", ["form", "jobs"])
async def test_help_and_palette_open(tmp_path: Path, start: str) -> None:
    from tui_batch.ui.screens.help import HelpScreen

    app = app_for(tmp_path / "jobs.db", root=str(tmp_path), start=start)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"


class TestPythonActionAndPalette:
    async def test_python_function_action_checked_inline(self, tmp_path: Path) -> None:
        from tui_batch.ui.screens.form import PYTHON

        tree = make_tree(tmp_path / "tree", 3)
        app = app_for(tmp_path / "jobs.db", root=str(tree))
        async with app.run_test(size=SIZE) as pilot:
            form = app.screen
            assert isinstance(form, FormScreen)
            form.query_one("#action", Select).value = PYTHON
            await pilot.pause()
            assert form.query_one("#pyref-row").display
            form.query_one("#pyref", Input).value = "no_such_module_xyz:func"
            await pilot.pause()
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, FormScreen)
            assert form.query_one("#pyref-error").has_class("-visible")
            form.query_one("#pyref", Input).value = "tui_batch.demo:inspect_file"
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: isinstance(app.screen, PreviewScreen), what="preview")

    async def test_palette_offers_what_the_footer_offers(self, tmp_path: Path) -> None:
        from tui_batch.ui.commands import _entries

        db = tmp_path / "jobs.db"
        job = new_job(db, spec_for(make_tree(tmp_path / "t", 4), "sleep", workers=1, seconds="30"))
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, DashboardScreen) and app.screen.running,
                what="running",
            )
            dash = dashboard(app)
            titles = {title for title, *_ in _entries(dash)}
            assert "Pause" in titles and "Resume" not in titles
            dash.action_pause()
            titles = {title for title, *_ in _entries(dash)}
            assert "Resume" in titles and "Pause" not in titles
            assert "Help" in titles  # app-level entries too
            dash.engine.cancel_all()
            await wait_until(pilot, lambda: dash.exit_code is not None, what="finish")
