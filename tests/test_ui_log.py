"""The log view (issue 9): the dashboard's log pane (focus, scroll, tall), the full-screen log
(whole output, attempts, search, following a running task, cut output), and the safe display
of whatever bytes a command prints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from rich.segment import Segment
from textual import events
from textual.app import App, ComposeResult
from ui_support import FIXED_MTIME, app_for, dashboard, new_job, wait_until

from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec, TaskState
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.ui.screens.log import LogScreen
from tui_batch.ui.widgets.log_lines import (
    LogDocument,
    Section,
    StreamLines,
    clean_lines,
    find_matches,
    search_pattern,
)
from tui_batch.ui.widgets.log_pane import LogPane
from tui_batch.ui.widgets.log_text import LogText

SIZE = (80, 24)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def command_job(
    tmp_path: Path,
    files: dict[str, bytes],
    template: str,
    *,
    shell: bool = False,
    workers: int = 1,
    **settings: Any,
) -> tuple[Path, int]:
    """A stored job running ``template`` on each of ``files`` (name -> content)."""
    root = tmp_path / "tree"
    root.mkdir()
    for name, data in files.items():
        p = root / name
        p.write_bytes(data)
        os.utime(p, (FIXED_MTIME, FIXED_MTIME))
    spec = JobSpec(
        filter=FilterSpec(roots=[str(root)]),
        action=ActionSpec(template=template, shell=shell),
        settings=EngineSettings(workers=workers, backoff=0.05, dedupe=False, **settings),
    )
    db = tmp_path / "jobs.db"
    return db, new_job(db, spec)


def numbered(n: int) -> bytes:
    return b"".join(b"line %06d of the output\n" % i for i in range(1, n + 1))


async def finished(pilot: Any, app: Any) -> DashboardScreen:
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, DashboardScreen) and app.screen.exit_code is not None,
        what="the run's end",
    )
    return dashboard(app)


def pane(dash: DashboardScreen) -> LogPane:
    return dash.query_one("#log", LogPane)


def pane_text(dash: DashboardScreen) -> list[str]:
    p = pane(dash)
    return [p.row_text(y) for y in range(p.row_count)]


def log_screen(app: Any) -> LogScreen:
    screen = app.screen
    assert isinstance(screen, LogScreen), screen
    return screen


def doc_text(screen: LogScreen) -> list[str]:
    view = screen.view
    return [view.row_text(y) for y in range(view.row_count)]


# ------------------------------------------------------------------ the pane
class TestLogPane:
    async def test_pane_takes_focus_scrolls_and_shows_the_whole_output(
        self, tmp_path: Path
    ) -> None:
        # 300 lines: more than the 4 KiB tail the pane used to show
        db, job = command_job(tmp_path, {"a.txt": numbered(300)}, "cat {}")
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            dash = await finished(pilot, app)
            p = pane(dash)
            await wait_until(pilot, lambda: any("line 000001" in t for t in pane_text(dash)),
                             what="the whole output in the pane")
            assert any("line 000300" in t for t in pane_text(dash))
            assert "300 lines" in " ".join(pane_text(dash))
            await pilot.press("tab")
            assert app.focused is p
            assert p.scroll_offset.y == 0
            await pilot.press("pagedown")
            assert p.scroll_offset.y > 0
            await pilot.press("end")
            await pilot.pause()
            assert p.scroll_offset.y == p.max_scroll_y > 0
            assert "line 000300 of the output" in p.visible_text()
            await pilot.press("home")
            await pilot.pause()
            assert p.scroll_offset.y == 0
            await pilot.press("down")
            assert p.scroll_offset.y == 1

    async def test_a_failed_tasks_stderr_is_on_the_pane_first(self, tmp_path: Path) -> None:
        db, job = command_job(
            tmp_path, {"a.txt": b"x\n"},
            "seq 1 500; echo 'fatal: disk on fire' >&2; exit 3", shell=True,
        )
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            dash = await finished(pilot, app)
            p = pane(dash)
            await wait_until(pilot, lambda: "500 lines" in " ".join(pane_text(dash)),
                             what="the stored output")
            assert "fatal: disk on fire" in p.visible_text()  # not 500 lines of stdout away
            assert p.border_title == "Task #1 · a.txt"

    async def test_z_makes_the_pane_tall_and_small_again(self, tmp_path: Path) -> None:
        db, job = command_job(tmp_path, {"a.txt": numbered(50)}, "cat {}")
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            dash = await finished(pilot, app)
            small = pane(dash).size.height
            await pilot.press("z")
            await pilot.pause()
            tall = pane(dash).size.height
            assert tall >= small + 5
            assert dash.query_one("#tasks-box").outer_size.height >= 6  # the list keeps rows
            await pilot.press("z")
            await pilot.pause()
            assert pane(dash).size.height == small


# ----------------------------------------------------------- the full screen
class TestLogScreen:
    async def test_enter_opens_the_whole_output_and_its_last_line_is_reachable(
        self, tmp_path: Path
    ) -> None:
        data = numbered(8000)  # 200 KB
        assert len(data) >= 200_000
        db, job = command_job(tmp_path, {"a.txt": data}, "cat {}")
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await finished(pilot, app)
            await pilot.press("enter")
            screen = log_screen(app)
            await wait_until(pilot, lambda: screen.view.row_count > 8000, what="the output")
            rows = doc_text(screen)
            assert rows.count("line 000001 of the output") == 1
            assert sum(r.startswith("line ") for r in rows) == 8000
            assert any(r.startswith("── stdout · 8,000 lines") for r in rows)
            await pilot.press("end")
            await pilot.pause()
            assert "line 008000 of the output" in screen.view.visible_text()
            status = str(screen.query_one("#log-status").render())
            assert "attempt 1 of 1 · done · exit 0" in status
            await pilot.press("escape")
            assert isinstance(app.screen, DashboardScreen)

    async def test_search_finds_a_line_and_n_moves_to_the_next(self, tmp_path: Path) -> None:
        db, job = command_job(tmp_path, {"a.txt": numbered(8000)}, "cat {}")
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await finished(pilot, app)
            await pilot.press("enter")
            screen = log_screen(app)
            await wait_until(pilot, lambda: screen.view.row_count > 8000, what="the output")
            await pilot.press("slash")
            assert screen.search.is_open
            await pilot.press(*"0050", "0")  # 000500 and 005000..005009
            await pilot.press("enter")
            await wait_until(pilot, lambda: len(screen.search.matches) == 11, what="the hits")
            view = screen.view
            first = view.current
            assert first is not None
            assert view.row_text(first.row) == "line 000500 of the output"
            assert "line 000500 of the output" in view.visible_text()
            assert app.focused is view  # Enter went back to the log: n and N move
            await pilot.press("n")
            second = view.current
            assert second is not None and second.row > first.row
            assert view.row_text(second.row) == "line 005000 of the output"
            assert "line 005000 of the output" in view.visible_text()
            await pilot.press("N")
            assert view.current == first
            await pilot.press("escape")  # closes the search, stays on the log
            assert not screen.search.is_open and view.pattern is None
            assert app.screen is screen
            await pilot.press("escape")
            assert isinstance(app.screen, DashboardScreen)

    async def test_slash_and_a_word_typed_in_one_burst_all_reach_the_search(
        self, tmp_path: Path
    ) -> None:
        db, job = command_job(tmp_path, {"a.txt": numbered(100)}, "cat {}")
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await finished(pilot, app)
            await pilot.press("enter")
            screen = log_screen(app)
            await wait_until(pilot, lambda: screen.view.row_count > 100, what="the output")
            # as a terminal delivers "/009<Enter>" typed fast or pasted: no pause between keys
            for key, char in [("slash", "/"), ("0", "0"), ("0", "0"), ("9", "9"),
                              ("enter", "\r")]:
                app.post_message(events.Key(key, char))
            await wait_until(pilot, lambda: len(screen.search.matches) == 11, what="the hits")
            assert screen.search.input.value == "009"
            assert app.focused is screen.view

    async def test_follows_a_running_task(self, tmp_path: Path) -> None:
        flag = tmp_path / "go-on"
        db, job = command_job(
            tmp_path, {"a.txt": b"x\n"},
            f"echo first; while [ ! -e {flag} ]; do sleep 0.05; done; echo second",
            shell=True,
        )
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, DashboardScreen)
                and app.screen.engine is not None
                and app.screen.engine.snapshot().running == 1,
                what="the task running",
            )
            await pilot.press("enter")
            screen = log_screen(app)
            await wait_until(pilot, lambda: "first" in doc_text(screen), what="the first line")
            assert "second" not in doc_text(screen)
            await wait_until(pilot, lambda: "following" in str(
                screen.query_one("#log-status").render()), what="following")
            flag.touch()
            # (the shell appends the path to a script that does not read it: "second PATH")
            await wait_until(pilot, lambda: any(r.startswith("second") for r in doc_text(screen)),
                             what="the second line")
            assert app.screen is screen  # the same screen, not reopened
            task = screen.log_task
            await wait_until(pilot, lambda: task.state is TaskState.DONE, what="the end")
            await wait_until(pilot, lambda: "following" not in str(
                screen.query_one("#log-status").render()), what="following stopped")
            rows = doc_text(screen)
            second = next(i for i, r in enumerate(rows) if r.startswith("second"))
            assert rows.index("first") < second

    async def test_cut_output_is_marked(self, tmp_path: Path) -> None:
        db, job = command_job(tmp_path, {"a.txt": numbered(200)}, "cat {}", max_output=1000)
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            dash = await finished(pilot, app)
            total = len(numbered(200))
            note = f"… output cut at 1000 B: {total - 1000:,} bytes not kept"
            await wait_until(pilot, lambda: note in pane_text(dash), what="the pane's note")
            await pilot.press("enter")
            screen = log_screen(app)
            await wait_until(pilot, lambda: note in doc_text(screen), what="the note")

    async def test_attempts_are_switched_with_brackets(self, tmp_path: Path) -> None:
        mark = tmp_path / "tried"
        db, job = command_job(
            tmp_path, {"a.txt": b"x\n"},
            f"if [ -e {mark} ]; then echo 'worked now'; else touch {mark}; "
            "echo 'broke first' >&2; exit 4; fi; : \"$1\"",
            shell=True, retries=1,
        )
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await finished(pilot, app)
            await pilot.press("enter")
            screen = log_screen(app)
            status = screen.query_one("#log-status")
            await wait_until(pilot, lambda: "worked now" in doc_text(screen), what="attempt 2")
            assert "attempt 2 of 2 · done · exit 0" in str(status.render())
            await pilot.press("left_square_bracket")
            await wait_until(pilot, lambda: "broke first" in doc_text(screen), what="attempt 1")
            assert "attempt 1 of 2 · failed, retried · exit 4" in str(status.render())
            assert "worked now" not in doc_text(screen)
            await pilot.press("right_square_bracket")
            await wait_until(pilot, lambda: "worked now" in doc_text(screen), what="back to 2")

    async def test_the_footer_fits_80_columns(self, tmp_path: Path) -> None:
        db, job = command_job(tmp_path, {"a.txt": b"x\n"}, "cat {}")
        app = app_for(db, start="resume", job_id=job)
        async with app.run_test(size=SIZE) as pilot:
            await finished(pilot, app)
            await pilot.press("enter")
            await pilot.pause()
            footer = app.screen.query_one("KeyFooter")
            shown = [item.binding.description for item in footer.fitted()]  # type: ignore[attr-defined]
            assert shown[:3] == ["Back", "Search", "Next"]
            assert shown[-2:] == ["Help", "Quit"]
            assert sum(item.width for item in footer.fitted()) <= 80  # type: ignore[attr-defined]


# ------------------------------------------------------------ safe display
class TestSafeDisplay:
    def test_bytes_that_are_not_utf8_are_escaped_and_controls_are_inert(self) -> None:
        data = (
            b"bad \xff\xfe bytes\n"
            b"\x1b[31mred\x1b[0m and \x1b]0;a title\x07plain\n"
            b"a\tb\x07c\x00\n"
            b"prog 10%\rprog 20%\r\n"
            b"c1 \xc2\x9b here\n"
        )
        assert clean_lines(data) == [
            "bad \\xff\\xfe bytes",
            "red and plain",
            "a       b\\x07c\\x00",
            "prog 20%",
            "c1 \\x9b here",
        ]

    def test_a_line_arriving_in_pieces_is_one_line(self) -> None:
        lines = StreamLines()
        lines.feed(b"hal")
        assert lines.lines == ["hal"]
        lines.feed(b"f a line\nnext \xe2\x82")  # a UTF-8 character cut in two
        assert lines.lines == ["half a line", "next "]
        lines.feed(b"\xac done\n")
        assert lines.lines == ["half a line", "next € done"]
        assert lines.size == len(b"half a line\nnext \xe2\x82\xac done\n")

    def test_search_is_smart_case_and_finds_every_hit(self) -> None:
        out = StreamLines(b"Error one\nno error\nERROR two error\n")
        doc = LogDocument([Section("out", out.lines, title="── stdout ──", stream=out)])
        pattern = search_pattern("error")
        assert pattern is not None
        assert [(m.row, m.start) for m in find_matches(doc, pattern)] == [
            (1, 0), (2, 3), (3, 0), (3, 10)
        ]
        exact = search_pattern("ERROR")
        assert exact is not None
        assert [(m.row, m.start) for m in find_matches(doc, exact)] == [(3, 0)]

    async def test_only_the_rows_on_screen_are_drawn(self) -> None:
        """10 MiB, 200,000 lines: opening draws a screenful, the end is one key away."""
        data = b"".join(b"%07d " % i + b"x" * 44 + b"\n" for i in range(200_000))
        assert len(data) >= 10 * 1024 * 1024
        out = StreamLines(data)
        doc = LogDocument([Section("out", out.lines, title="── stdout ──", stream=out)])
        calls: list[int] = []
        real_row = doc.row

        def counted(y: int) -> Any:
            calls.append(y)
            return real_row(y)

        doc.row = counted  # type: ignore[method-assign]

        class Viewer(App[None]):
            def compose(self) -> ComposeResult:
                yield LogText(id="view")

        app = Viewer()
        app.animation_level = "none"  # one frame per key (the TUI's deterministic mode too)
        async with app.run_test(size=SIZE) as pilot:
            view = app.query_one(LogText)
            view.set_document(doc)
            await pilot.pause()
            assert view.row_count == 200_001
            assert 0 < len(calls) <= 3 * 24
            calls.clear()
            view.focus()
            await pilot.press("end")
            await pilot.pause()
            assert "0199999 " + "x" * 44 in view.visible_text()
            assert 0 < len(calls) <= 3 * 24

    async def test_escapes_never_reach_the_terminal(self) -> None:
        out = StreamLines(b"\x1b[2J\x1b[Hwiped?\x1b[?1049h\x07\n")
        doc = LogDocument([Section("out", out.lines, stream=out)])

        class Viewer(App[None]):
            def compose(self) -> ComposeResult:
                yield LogText(id="view")

        app = Viewer()
        async with app.run_test(size=SIZE) as pilot:
            view = app.query_one(LogText)
            view.set_document(doc)
            await pilot.pause()
            strip = view.render_line(0)
            text = "".join(seg.text for seg in strip if isinstance(seg, Segment))
            assert text.startswith("wiped?\\x07")
            assert not any(ord(c) < 0x20 for c in text)

    async def test_a_mouse_selection_copies_the_text(self) -> None:
        out = StreamLines(b"hello world\nsecond line\n")
        doc = LogDocument([Section("out", out.lines, title="── stdout ──", stream=out)])

        class Viewer(App[None]):
            def compose(self) -> ComposeResult:
                yield LogText(id="view")

        app = Viewer()
        async with app.run_test(size=SIZE) as pilot:
            view = app.query_one(LogText)
            view.set_document(doc)
            await pilot.pause()
            await pilot.mouse_down(view, offset=(2, 1))
            await pilot.hover(view, offset=(6, 2))
            await pilot.mouse_up(view, offset=(6, 2))
            await pilot.pause()
            assert app.screen.get_selected_text() == "llo world\nsecond "
