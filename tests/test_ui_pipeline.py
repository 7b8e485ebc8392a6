"""The TUI side of pipelines (issue 12): the form builds, loads and saves multi-step recipes,
shows an action's options as fields checked as you type; the preview shows each file's final
output; the dashboard has a Step column and counts per step for pipeline jobs only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Label, Select

from tests.ui_support import app_for, dashboard, make_tree, new_job, spec_for, wait_until
from tui_batch.jobs import load_recipe, save_recipe
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec, StepSpec
from tui_batch.ui.dialogs.recipe import RecipeDialog
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.ui.screens.form import FormScreen
from tui_batch.ui.screens.preview import PreviewScreen
from tui_batch.ui.widgets.option_fields import OptionFields
from tui_batch.ui.widgets.steps_editor import StepRow, StepsEditor
from tui_batch.ui.widgets.task_list import TaskList

SIZE = (80, 24)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def form_of(app: Any) -> FormScreen:
    screen = app.screen
    assert isinstance(screen, FormScreen), screen
    return screen


def rows_of(form: FormScreen) -> list[StepRow]:
    return form.query_one(StepsEditor).rows


def option_field(fields: OptionFields, key: str) -> Input:
    return next(f for f in fields.query(".opt-input").results(Input) if f.name == key)


def row_error(row: StepRow) -> str:
    label = row.query_one(f"#{row.wid('error')}", Label)
    return str(label.render()).removeprefix("↑ ") if label.has_class("-visible") else ""


def pipeline_spec(root: Path, out: Path) -> JobSpec:
    """extract-text, then compress with zstd; step 1's output not kept."""
    spec = JobSpec(
        filter=FilterSpec(roots=[str(root)]),
        action=ActionSpec(name="extract-text"),
        settings=EngineSettings(workers=2, out_dir=str(out)),
    )
    spec.set_steps([
        StepSpec(action=ActionSpec(name="extract-text"), keep=False),
        StepSpec(action=ActionSpec(name="compress", options={"format": "zstd"}), workers=1),
    ])
    return spec


async def test_form_with_two_steps_makes_a_pipeline_spec(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", 2)
    app = app_for(tmp_path / "j.db", root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        form = form_of(app)
        form.query_one("#action", Select).value = "extract-text"
        form.query_one("#out", Input).value = str(tmp_path / "out")
        await pilot.pause()
        assert rows_of(form) == []  # a one-action form until a step is added
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: len(rows_of(form)) == 2, what="step 1 and step 2 rows")
        first, second = rows_of(form)
        assert form.focused is second.query_one(Select)  # the new step's Run select
        second.query_one(Select).value = "compress"
        await pilot.pause()
        # compress's options, each a field of its own, checked as typed
        fields = second.options_fields
        assert fields.keys == ["format", "level", "keep", "in_place"]
        level = option_field(fields, "level")
        level.focus()
        level.value = "99"
        await pilot.pause()
        assert "level" in row_error(second) and level.has_class("-invalid")
        assert form.errors()  # Ctrl+R would refuse it
        level.value = "19"
        option_field(fields, "format").value = "zstd"
        first.query_one(f"#{first.wid('keep')}").value = False
        second.query_one(f"#{second.wid('workers')}", Input).value = "1"
        await pilot.pause()
        assert row_error(second) == "" and form.errors() == {}
        spec = form.build_spec()
    assert [s.action.name for s in spec.steps] == ["extract-text", "compress"]
    assert spec.action.name == "extract-text"
    assert spec.steps[1].action.options == {"level": "19", "format": "zstd"}
    assert (spec.steps[0].keep, spec.steps[1].keep) == (False, True)
    assert (spec.steps[0].workers, spec.steps[1].workers) == (None, 1)


async def test_a_step_before_the_last_that_writes_no_file_is_marked(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", 2)
    app = app_for(tmp_path / "j.db", root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        form = form_of(app)
        form.query_one("#template", Input).value = "wc -l {}"  # prints, writes no file
        form.query_one("#out", Input).value = str(tmp_path / "out")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: len(rows_of(form)) == 2, what="step rows")
        first, second = rows_of(form)
        second.query_one(Select).value = "compress"
        await wait_until(pilot, lambda: row_error(first) != "", what="step 1 marked")
        assert "writes no file for the next step" in row_error(first)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)  # refused: no preview
        # removing step 2 makes it a one-action job again: nothing to complain about
        second.action_remove()
        await wait_until(pilot, lambda: rows_of(form) == [], what="steps removed")
        assert form.errors() == {}
        assert form.build_spec().steps == []


async def test_steps_move_and_renumber(tmp_path: Path) -> None:
    app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 1)))
    async with app.run_test(size=SIZE) as pilot:
        form = form_of(app)
        editor = form.query_one(StepsEditor)
        await editor.add_step()
        await editor.add_step()
        await pilot.pause()
        rows = rows_of(form)
        rows[1].query_one(Select).value = "compress"
        rows[2].query_one(Select).value = "checksum"
        await pilot.pause()
        rows[2].action_move(-1)
        await wait_until(pilot, lambda: rows_of(form)[1] is rows[2], what="moved up")
        assert [r.choice for r in rows_of(form)[1:]] == ["checksum", "compress"]
        numbers = [str(r.query_one(".step-number", Label).render()) for r in rows_of(form)]
        assert numbers == ["Step 1", "Step 2", "Step 3"]


async def test_main_action_options_are_fields_in_step_with_the_opt_line(tmp_path: Path) -> None:
    app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 1)))
    async with app.run_test(size=SIZE) as pilot:
        form = form_of(app)
        for name, keys in [("extract-text", ["encoding", "pages"]),
                           ("checksum", ["algo", "sidecar", "manifest"]),
                           ("copy", ["conflict"]), ("move", ["conflict"]),
                           ("hardlink", ["conflict"]), ("decompress", ["keep", "in_place"]),
                           ("verify", ["manifest", "algo"])]:  # fmt: skip
            form.query_one("#action", Select).value = name
            await pilot.pause()
            assert form.query_one("#opt-fields", OptionFields).keys == keys, name
        form.query_one("#action", Select).value = "compress"
        form.query_one("#out", Input).value = str(tmp_path / "out")
        await pilot.pause()
        fields = form.query_one("#opt-fields", OptionFields)
        option_field(fields, "level").value = "99"
        await wait_until(pilot, lambda: form.value("opts") == "level=99", what="--opt line")
        await wait_until(pilot, lambda: "opts" in form.errors(), what="checked")
        assert "level" in form.errors()["opts"]
        assert option_field(fields, "level").has_class("-invalid")
        form.query_one("#opts", Input).value = "format=zstd level=3"
        await wait_until(pilot, lambda: option_field(fields, "format").value == "zstd",
                         what="fields follow the line")  # fmt: skip
        assert option_field(fields, "level").value == "3"
        assert form.errors() == {}
        assert form.build_spec().action.options == {"format": "zstd", "level": "3"}


async def test_recipe_with_steps_loads_into_the_form_and_saves_back(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", 2)
    recipe = tmp_path / "in.toml"
    save_recipe(pipeline_spec(tree, tmp_path / "out"), recipe)
    assert "[[steps]]" in recipe.read_text()
    app = app_for(tmp_path / "j.db", root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        form = form_of(app)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, RecipeDialog), what="open dialog")
        app.screen.query_one("#path", Input).value = str(recipe)
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(rows_of(form)) == 2, what="steps filled")
        await pilot.pause()
        first, second = rows_of(form)
        assert form.choice("action") == "extract-text"
        assert second.choice == "compress"
        assert option_field(second.options_fields, "format").value == "zstd"
        assert second.query_one(f"#{second.wid('workers')}", Input).value == "1"
        assert first.query_one(f"#{first.wid('keep')}").value is False
        saved = tmp_path / "out.toml"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, RecipeDialog), what="save dialog")
        app.screen.query_one("#path", Input).value = str(saved)
        await pilot.press("enter")
        await wait_until(pilot, saved.exists, what="recipe saved")
    again = load_recipe(saved)
    assert [s.to_dict() for s in again.steps] == [
        s.to_dict() for s in load_recipe(recipe).steps
    ]


async def test_preview_shows_each_files_final_output(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", 3)
    out = tmp_path / "out"
    app = app_for(tmp_path / "j.db", spec=pipeline_spec(tree, out))
    async with app.run_test(size=(120, 30)) as pilot:
        form = form_of(app)
        await wait_until(pilot, lambda: len(rows_of(form)) == 2, what="steps filled")
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_until(
            pilot, lambda: isinstance(app.screen, PreviewScreen) and app.screen.plan is not None,
            what="plan",
        )
        preview = app.screen
        assert isinstance(preview, PreviewScreen)
        await pilot.pause()
        assert "2 steps" in str(preview.query_one("#preview-box").border_title)
        text = preview.table.row_text(0)
        assert "file-000.txt.zst" in text, text  # report.txt -> .txt (text) -> .txt.zst


async def test_dashboard_of_a_pipeline_has_a_step_column_and_counts_per_step(
    tmp_path: Path,
) -> None:
    db = tmp_path / "j.db"
    tree = make_tree(tmp_path / "t", 3)
    job = new_job(db, pipeline_spec(tree, tmp_path / "out"))
    plain = new_job(db, spec_for(tree, "noop"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and app.screen.exit_code is not None, what="pipeline done",
                         timeout=60)  # fmt: skip
        dash = dashboard(app)
        await pilot.pause()
        tasks = dash.query_one(TaskList)
        assert tasks.header_text().split()[:2] == ["Status", "Step"]
        steps_text = {tasks.row_text(i).split()[2] for i in range(tasks.row_count)}
        assert steps_text == {"1", "2"}
        line = str(dash.query_one("#stats-steps").render())
        assert line == "1 extract-text 3/3  2 compress 3/3", line
    app = app_for(db, start="resume", job_id=plain)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and app.screen.exit_code is not None, what="plain job done")
        dash = dashboard(app)
        assert "Step" not in dash.query_one(TaskList).header_text().split()
        assert not dash.query_one("#stats-steps").display
