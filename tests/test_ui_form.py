"""The filter form (issue 9, "Form"): every field checked as you type with the CLI's words,
options that follow the action, Ctrl+R listing every error, [x]/[ ] boxes, example
placeholders, Enter to the next field, the appended-path note, a short footer."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Checkbox, Input, Select, Static

from tests.conftest import tui_batch_cmd
from tests.ui_support import app_for, make_tree, spec_for, wait_until
from tui_batch.actions import append_note, resolve_action
from tui_batch.errors import InputError
from tui_batch.model import ActionSpec
from tui_batch.select import filter_from_options
from tui_batch.ui.screens.form import COMMAND, PYTHON, FormScreen
from tui_batch.ui.screens.preview import PreviewScreen
from tui_batch.ui.validation import parse_workers
from tui_batch.ui.widgets.tick_box import TickBox

pytestmark = pytest.mark.anyio

SIZE = (80, 24)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def form_of(app: Any) -> FormScreen:
    screen = app.screen
    assert isinstance(screen, FormScreen), screen
    return screen


def error_text(form: FormScreen, field_id: str) -> str:
    """The message under a field ('' when none is shown)."""
    label = form.query_one(f"#{field_id}-error")
    if not label.has_class("-visible"):
        return ""
    return str(label.render()).removeprefix("↑ ")


def core_error(call: Any) -> str:
    with pytest.raises(InputError) as err:
        call()
    return err.value.message


async def type_into(pilot: Any, form: FormScreen, field_id: str, text: str) -> None:
    """Focus a field and make its text ``text``, the last key typed as a user does (the
    rest is set at once: a long path typed key by key is slow on a busy machine)."""
    field = form.query_one(f"#{field_id}", Input)
    field.focus()
    field.value = text[:-1]
    field.cursor_position = len(field.value)
    await pilot.pause()
    if text:
        await pilot.press(text[-1])
    await pilot.pause()


def cli_error(args: list[str], tmp_path: Path) -> str:
    """The one-line message of the real command (exit 2), without its prefix."""
    env = {**os.environ, "TUI_BATCH_DB": str(tmp_path / "cli.db"), "TUI_BATCH_NO_TUI": "1"}
    proc = subprocess.run(
        [*tui_batch_cmd(), *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("tui-batch: error: "), line
    return line.removeprefix("tui-batch: error: ")


# ------------------------------------------------------------------ 1. as you type
class TestCheckedAsYouType:
    async def test_template_placeholder_and_quote_errors_inline(self, tmp_path: Path) -> None:
        app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            await type_into(pilot, form, "template", "cat {nope}")
            expected = core_error(lambda: resolve_action(ActionSpec(template="cat {nope}")))
            assert "unknown placeholder" in expected
            assert error_text(form, "template") == expected
            assert form.query_one("#template", Input).has_class("-invalid")
            await type_into(pilot, form, "template", "echo 'a {}")
            message = error_text(form, "template")
            assert "quotation" in message.lower()
            await pilot.press("x")  # the same error: the field stays marked
            await pilot.pause()
            assert error_text(form, "template") == message
            assert form.query_one("#template", Input).has_class("-invalid")
            await pilot.press("'")
            await pilot.pause()
            assert error_text(form, "template") == ""
            assert not form.query_one("#template", Input).has_class("-invalid")

    async def test_shell_box_rechecks_the_template(self, tmp_path: Path) -> None:
        app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            await type_into(pilot, form, "template", "echo {} | (")
            assert error_text(form, "template") == ""  # argv: "(" is just an argument
            form.query_one("#shell", Checkbox).value = True
            await pilot.pause()
            assert "shell syntax error" in error_text(form, "template")

    async def test_option_the_action_does_not_take(self, tmp_path: Path) -> None:
        tree = make_tree(tmp_path / "t", 2)
        out = tmp_path / "out"
        app = app_for(tmp_path / "j.db", root=str(tree))
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            form.query_one("#action", Select).value = "gzip"
            form.query_one("#out", Input).value = str(out)
            await pilot.pause()
            await type_into(pilot, form, "opts", "speed=3")
            message = error_text(form, "opts")
            assert message == "unknown option 'speed' for action 'gzip'; known: level"
            assert f"--opt: {message}" == cli_error(
                ["run", str(tree), "--action", "gzip", "--opt", "speed=3", "--out", str(out),
                 "--dry-run"],
                tmp_path,
            )
            await pilot.press("4")  # speed=34: still not an option, still marked
            await pilot.pause()
            assert form.query_one("#opts", Input).has_class("-invalid")
            await type_into(pilot, form, "opts", "level=99")
            assert "level" in error_text(form, "opts")  # gzip's own check of the value
            await type_into(pilot, form, "opts", "level")
            assert error_text(form, "opts") == "expected KEY=VALUE, got 'level'"
            await type_into(pilot, form, "opts", "level=9")
            assert error_text(form, "opts") == ""

    async def test_zero_workers_refused_as_the_cli_refuses_it(self, tmp_path: Path) -> None:
        tree = make_tree(tmp_path / "t", 2)
        app = app_for(tmp_path / "j.db", root=str(tree))
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            await type_into(pilot, form, "workers", "0")
            message = error_text(form, "workers")
            assert message == "must be 1 or more"
            assert cli_error(["run", str(tree), "--exec", "cat {}", "-j", "0"], tmp_path) == (
                f"--workers: {message}"
            )
            await type_into(pilot, form, "workers", "2000")
            assert error_text(form, "workers") == "must be at most 1024"
            await type_into(pilot, form, "workers", "x")
            assert error_text(form, "workers") == "expected a whole number from 1 to 1024, got 'x'"
            await type_into(pilot, form, "workers", "")
            assert error_text(form, "workers") == ""
            assert form.build_settings().workers == 0  # empty: one per CPU

    async def test_numbers_use_the_shared_limits(self, tmp_path: Path) -> None:
        app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            await type_into(pilot, form, "retries", "101")
            assert error_text(form, "retries") == "must be at most 100"
            await type_into(pilot, form, "timeout", "nan")
            assert "got nan" in error_text(form, "timeout")
            await type_into(pilot, form, "timeout", "90s")
            assert error_text(form, "timeout") == ""

    async def test_filter_fields_use_the_core_words(self, tmp_path: Path) -> None:
        app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            cases = [
                ("name", "report(", {"name": "report("}),
                ("exclude_re", r"ok \.bak[", {"exclude_re": [r"\.bak["]}),
                ("min_size", "10zb", {"min_size": "10zb"}),
                ("newer", "yesterday", {"newer": "yesterday"}),
                ("ext", "a/b", {"ext": ["a/b"]}),
            ]
            for field_id, text, kw in cases:
                await type_into(pilot, form, field_id, text)
                expected = core_error(lambda kw=kw: filter_from_options(check_roots=False, **kw))
                assert error_text(form, field_id) == expected, field_id
            await type_into(pilot, form, "roots", str(tmp_path / "missing"))
            assert error_text(form, "roots").startswith("no such folder")

    async def test_output_folder_that_is_the_root(self, tmp_path: Path) -> None:
        tree = make_tree(tmp_path / "t", 2)
        app = app_for(tmp_path / "j.db", root=str(tree))
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            form.query_one("#action", Select).value = "copy"
            await pilot.pause()
            assert error_text(form, "out") == "action 'copy' writes files: give --out DIR"
            await type_into(pilot, form, "out", str(tree))
            assert error_text(form, "out").startswith("the output folder cannot be the input")

    async def test_python_function_checked_once_typed(self, tmp_path: Path) -> None:
        app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            form.query_one("#action", Select).value = PYTHON
            await pilot.pause()
            await type_into(pilot, form, "pyref", "tui_batch.demo")
            assert error_text(form, "pyref") == ""  # still typing the module
            await type_into(pilot, form, "pyref", "tui_batch.demo:nope")
            assert "has no attribute 'nope'" in error_text(form, "pyref")
            await type_into(pilot, form, "pyref", "tui_batch.demo:inspect_file")
            assert error_text(form, "pyref") == ""

    async def test_a_bracket_in_a_message_is_text(self, tmp_path: Path) -> None:
        app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            await type_into(pilot, form, "name", "[b]x[")
            assert "'[b]x['" in error_text(form, "name")


# ------------------------------------------------------------------ 2. options follow the action
class TestOptionsFollowTheAction:
    async def test_switching_drops_options_the_new_action_does_not_take(
        self, tmp_path: Path
    ) -> None:
        app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            select = form.query_one("#action", Select)
            select.value = "fail"
            await pilot.pause()
            await type_into(pilot, form, "opts", "rate=0.5 times=1")
            select.value = "sleep"
            await wait_until(pilot, lambda: form.value("opts") == "", what="options dropped")
            assert error_text(form, "opts") == ""
            await type_into(pilot, form, "opts", "seconds=0.2")
            select.value = COMMAND
            await wait_until(pilot, lambda: form.value("opts") == "", what="dropped for templates")
            assert not form.query_one("#opts-row").display  # templates take no options

    async def test_prefilled_options_are_kept(self, tmp_path: Path) -> None:
        spec = spec_for(make_tree(tmp_path / "t", 2), "gzip", level="9")
        spec.settings.out_dir = str(tmp_path / "out")
        app = app_for(tmp_path / "j.db", spec=spec)
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            await pilot.pause()
            await pilot.pause()
            assert form.choice("action") == "gzip"
            assert form.value("opts") == "level=9"
            assert form.query_one("#opts-row").display
            assert form.errors() == {}


# ------------------------------------------------------------------ 3. Ctrl+R with errors
class TestCtrlRWithErrors:
    async def test_goes_to_the_first_error_and_lists_them_all(self, tmp_path: Path) -> None:
        app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
        notes: list[Any] = []
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            await type_into(pilot, form, "name", "report(")
            await type_into(pilot, form, "workers", "0")
            scroll = form.query_one("#form")
            scroll.scroll_end(animate=False)
            await pilot.pause()
            assert scroll.scroll_y > 0
            app.notify = lambda message, **kw: notes.append((message, kw))  # type: ignore
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, FormScreen)  # no preview
            name = form.query_one("#name", Input)
            assert app.focused is name
            assert scroll.region.contains_region(name.region)
            assert scroll.region.contains_region(form.query_one("#name-error").region)
            message, kw = notes[-1]
            lines = message.splitlines()
            assert lines[0].startswith("Name regex: bad regular expression")
            assert "Command: type a command, e.g. gzip -k {}" in lines
            assert "Workers: must be 1 or more" in lines
            assert len(lines) == 3
            assert kw["severity"] == "error"
            assert kw["title"] == "3 fields to fix"
            summary = form.query_one("#form-errors", Static)
            assert summary.display and str(summary.render()) == "3 fields to fix"
            assert error_text(form, "template") == "type a command, e.g. gzip -k {}"

    async def test_fixed_form_opens_the_preview(self, tmp_path: Path) -> None:
        app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
        async with app.run_test(size=SIZE) as pilot:
            form = form_of(app)
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert app.focused is form.query_one("#template", Input)
            await pilot.press(*"cat {}")
            await pilot.pause()
            assert form.errors() == {}
            assert not form.query_one("#form-errors").display
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: isinstance(app.screen, PreviewScreen), what="preview")


# ------------------------------------------------------------------ 4. checkboxes
async def test_checkboxes_read_on_or_off(tmp_path: Path) -> None:
    app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
    async with app.run_test(size=SIZE) as pilot:
        form = form_of(app)
        boxes = list(form.query(Checkbox))
        assert boxes and all(isinstance(b, TickBox) for b in boxes)
        hidden = form.query_one("#hidden", Checkbox)
        assert str(hidden.render()).startswith("[ ] ")
        assert str(form.query_one("#use_ignore", Checkbox).render()).startswith("[x] ")
        hidden.focus()
        await pilot.press("space")
        await pilot.pause()
        assert hidden.value is True
        assert str(hidden.render()).rstrip() == "[x] hidden files"
        assert form.build_filter().hidden is True


# ------------------------------------------------------------------ 5. placeholders, labels
async def test_placeholders_are_examples_and_labels_say_after_before(tmp_path: Path) -> None:
    app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
    async with app.run_test(size=SIZE) as pilot:
        form = form_of(app)
        await pilot.pause()
        for field in form.query("#form Input").results(Input):
            assert field.placeholder.startswith("e.g. "), (field.id, field.placeholder)
        assert form.query_one("#min_size", Input).placeholder == "e.g. 10k or 1.5MiB"
        assert form.query_one("#newer", Input).placeholder == "e.g. 7d or 2024-05-01"
        labels = [str(w.render()) for w in form.query(".field-label")]
        assert "Modified after" in labels and "before" in labels
        assert not any("≥" in label or "<" in label for label in labels)


# ------------------------------------------------------------------ 6. Enter
async def test_enter_moves_to_the_next_field_and_previews_from_the_last(tmp_path: Path) -> None:
    app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
    async with app.run_test(size=SIZE) as pilot:
        form = form_of(app)
        await pilot.pause()
        assert app.focused is form.query_one("#roots")
        await pilot.press("enter")
        assert app.focused is form.query_one("#ext")
        await pilot.press(*"txt", "enter")
        assert app.focused is form.query_one("#min_size")
        assert form.value("ext") == "txt"
        form.query_one("#template", Input).focus()
        await pilot.press(*"cat {}", "enter")
        assert app.focused is form.query_one("#shell")  # the box beside it comes next
        form.query_one("#workers", Input).focus()
        await pilot.press("enter")
        assert app.focused is form.query_one("#retries")
        form.query_one("#out", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PreviewScreen), what="preview")


# ------------------------------------------------------------------ 7. appended path
async def test_note_when_the_path_is_appended(tmp_path: Path) -> None:
    app = app_for(tmp_path / "j.db", root=str(make_tree(tmp_path / "t", 2)))
    async with app.run_test(size=SIZE) as pilot:
        form = form_of(app)
        note = form.query_one("#template-note", Static)
        assert not note.display
        await type_into(pilot, form, "template", "wc -l")
        expected = append_note(ActionSpec(template="wc -l"))
        assert expected is not None
        assert note.display and str(note.render()) == f"↳ {expected}"
        await pilot.press(*" {}")
        await pilot.pause()
        assert not note.display
        await type_into(pilot, form, "template", "echo hi")
        form.query_one("#shell", Checkbox).value = True
        await pilot.pause()
        assert note.display  # sh -c 'echo hi' gets the path too
        await type_into(pilot, form, "template", 'echo "$1"')
        assert not note.display  # a script reading $1 gets nothing appended


# ------------------------------------------------------------------ 8. footer
def test_footer_keys_are_few_and_short() -> None:
    shown = [b for b in FormScreen.BINDINGS if getattr(b, "show", False)]
    assert 1 <= len(shown) <= 4
    assert all(len(b.description) <= 8 for b in shown)
    assert not {"q", "question_mark", "ctrl+q"} & {b.key for b in shown}


def test_workers_parser_matches_the_cli_range() -> None:
    assert parse_workers("") == 0
    assert parse_workers(" 8 ") == 8
    with pytest.raises(InputError) as err:
        parse_workers("0")
    assert err.value.field == "--workers"
