"""Unit tests of the TUI's building blocks: virtual table, bridge, stats, parsers, demo tree."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from ui_support import FIXED_NOW

from tui_batch.engine.events import EngineEvent, Stats, StatsEvent, TaskEvent
from tui_batch.errors import InputError
from tui_batch.model import TaskState
from tui_batch.ui import format as fmt
from tui_batch.ui.clock import FixedClock
from tui_batch.ui.messages import EngineBridge, EngineNotice, StatsUpdated, TasksChanged
from tui_batch.ui.resources import stylesheet_path
from tui_batch.ui.validation import (
    CoreValidator,
    format_options,
    parse_options,
    parse_seconds,
    split_paths,
    split_words,
)
from tui_batch.ui.widgets.stats_panel import Throughput
from tui_batch.ui.widgets.virtual_table import Column, VirtualTable, fit

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Row:
    id: int
    name: str
    size: int


def cell(row: Row, key: str) -> str | tuple[str, str]:
    if key == "id":
        return str(row.id)
    if key == "name":
        return row.name
    return (str(row.size), "ok")


class TableApp(App[None]):
    def __init__(self, rows: list[Row]) -> None:
        super().__init__()
        self.rows = rows
        self.animation_level = "none"

    def compose(self) -> ComposeResult:
        yield VirtualTable(
            [
                Column("id", "Id", 7, align="right"),
                Column("name", "Name", 0, keep_tail=True),
                Column("size", "Size", 8, align="right"),
            ],
            cell,
            sort_keys={"size": lambda r: r.size, "id": lambda r: r.id},
            id="t",
        )

    def on_mount(self) -> None:
        self.query_one(VirtualTable).set_rows(self.rows)
        self.query_one(VirtualTable).focus()


def many(n: int) -> list[Row]:
    return [Row(i, f"dir/sub/file-{i:06d}.txt", (i * 7919) % 100_003) for i in range(n)]


class TestVirtualTable:
    async def test_100k_rows_are_fast(self) -> None:
        rows = many(100_000)
        app = TableApp(rows)
        async with app.run_test(size=(80, 24)) as pilot:
            table = app.query_one(VirtualTable)
            assert table.row_count == 100_000
            assert table.virtual_size.height == 100_001
            t0 = time.perf_counter()
            await pilot.press("end")
            await pilot.pause()
            assert table.cursor_item is rows[-1]
            assert time.perf_counter() - t0 < 1.0
            t0 = time.perf_counter()
            table.sort_by("size", reverse=True)
            assert time.perf_counter() - t0 < 1.0
            assert table.item_at(0).size == max(r.size for r in rows)
            t0 = time.perf_counter()
            table.set_filter(lambda r: r.id % 2 == 0)
            assert time.perf_counter() - t0 < 1.0
            assert table.row_count == 50_000

    async def test_cursor_keys_and_scroll(self) -> None:
        app = TableApp(many(100))
        async with app.run_test(size=(60, 12)) as pilot:
            table = app.query_one(VirtualTable)
            await pilot.press("down", "down")
            assert table.cursor_row == 2
            await pilot.press("pagedown")
            assert table.cursor_row > 2
            await pilot.press("end")
            await pilot.pause()
            assert table.cursor_row == 99
            assert table.scroll_offset.y >= 99 - (table.size.height - 1)
            await pilot.press("home")
            assert table.cursor_row == 0

    async def test_sort_keeps_cursor_on_same_item(self) -> None:
        rows = many(50)
        app = TableApp(rows)
        async with app.run_test(size=(60, 12)) as pilot:
            table = app.query_one(VirtualTable)
            await pilot.press("down", "down", "down")
            item = table.cursor_item
            table.sort_by("size")
            assert table.cursor_item is item
            assert [r.size for r in table.view_items()] == sorted(r.size for r in rows)
            table.sort_by("size")  # same column again: descending
            assert table.sort_reverse
            assert "Size ▼" in table.header_text()

    async def test_click_selects_row_and_header_sorts(self) -> None:
        messages: list[Any] = []
        app = TableApp(many(30))
        async with app.run_test(size=(60, 12), message_hook=messages.append) as pilot:
            table = app.query_one(VirtualTable)
            await pilot.click(VirtualTable, offset=(3, 4))
            assert table.cursor_row == 3
            await pilot.click(VirtualTable, offset=(55, 0))  # the Size header
            assert table.sort_key == "size"
            await pilot.double_click(VirtualTable, offset=(3, 2))
            assert any(isinstance(m, VirtualTable.Selected) for m in messages)

    async def test_renders_only_visible_rows(self) -> None:
        calls: list[int] = []

        def counting(row: Row, key: str) -> str:
            calls.append(row.id)
            return str(row.id)

        class CountApp(App[None]):
            def compose(self) -> ComposeResult:
                yield VirtualTable([Column("id", "Id", 0)], counting)

        app = CountApp()
        async with app.run_test(size=(40, 10)) as pilot:
            table = app.query_one(VirtualTable)
            table.set_rows(many(100_000))
            await pilot.pause()
            calls.clear()
            table.refresh_rows()
            await pilot.pause()
            assert 0 < len(set(calls)) <= 10

    async def test_empty_text(self) -> None:
        app = TableApp([])
        async with app.run_test(size=(40, 6)):
            table = app.query_one(VirtualTable)
            assert table.cursor_item is None
            assert "nothing to show" in table.render_line(1).text


def test_fit() -> None:
    assert fit("abc", 5) == "abc  "
    assert fit("abc", 5, "right") == "  abc"
    assert fit("abcdefgh", 5) == "abcd…"
    assert fit("dir/file.txt", 8, keep_tail=True) == "…ile.txt"
    from rich.cells import cell_len

    wide = fit("日本語テキスト", 6)
    assert cell_len(wide) == 6 and wide.startswith("日本") and wide.endswith("…")


class FakeEngine:
    def __init__(self) -> None:
        self.callbacks: list[Any] = []

    def subscribe(self, cb: Any) -> Any:
        self.callbacks.append(cb)
        return lambda: self.callbacks.remove(cb)

    def emit(self, ev: Any) -> None:
        for cb in self.callbacks:
            cb(ev)


class BridgeApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.got: list[Any] = []

    def on_stats_updated(self, m: StatsUpdated) -> None:
        self.got.append(m)

    def on_tasks_changed(self, m: TasksChanged) -> None:
        self.got.append(m)

    def on_engine_notice(self, m: EngineNotice) -> None:
        self.got.append(m)


class TestBridge:
    async def test_coalesces_100k_events(self) -> None:
        app = BridgeApp()
        async with app.run_test() as pilot:
            engine = FakeEngine()
            bridge = EngineBridge(app, task_interval=0.05, stats_interval=0.1)
            bridge.attach(engine)
            for i in range(100_000):
                engine.emit(TaskEvent(i, TaskState.RUNNING, 1, 0.0))
                engine.emit(TaskEvent(i, TaskState.DONE if i % 10 else TaskState.FAILED, 1, 0.0))
                if i % 1000 == 0:
                    engine.emit(StatsEvent(Stats(total=100_000, done=i)))
            await pilot.pause(0.3)
            changed = [m for m in app.got if isinstance(m, TasksChanged)]
            stats = [m for m in app.got if isinstance(m, StatsUpdated)]
            assert sum(len(m.task_ids) for m in changed) == 100_000
            assert len(changed) <= 5  # everything arrived between two ticks
            assert sum(m.failed for m in changed) == 10_000
            assert 1 <= len(stats) <= 4
            assert stats[-1].stats.done == 99_000
            assert bridge.events_seen == 200_000
            engine.emit(EngineEvent("paused"))
            await pilot.pause()
            assert isinstance(app.got[-1], EngineNotice)
            bridge.detach()
            assert engine.callbacks == []

    def test_stats_message_replaces_stale_one(self) -> None:
        a, b = StatsUpdated(Stats(done=1)), StatsUpdated(Stats(done=2))
        assert b.can_replace(a)
        assert not b.can_replace(TasksChanged(frozenset()))


def test_throughput_buckets_by_clock_second() -> None:
    clock = FixedClock(FIXED_NOW, monotonic=100.0)
    tp = Throughput(clock)
    tp.observe(0)
    clock.mono = 101.2
    tp.observe(10)
    clock.mono = 101.9
    tp.observe(25)
    clock.mono = 104.0
    tp.observe(40)
    assert tp.series() == [25.0, 0.0, 0.0, 15.0]
    frozen = Throughput(FixedClock(FIXED_NOW))
    frozen.observe(1)
    frozen.observe(50)
    assert frozen.series() == []


def test_format_helpers() -> None:
    assert fmt.size(39) == "39 B"
    assert fmt.size(1536) == "1.5 KiB"
    assert fmt.size_input(10 * 1024**2) == "10MiB"
    assert fmt.size_input(2_000_000_000) == "2GB"
    assert fmt.size_input(1500) == "1500"
    assert fmt.clock_duration(3725) == "1:02:05"
    assert fmt.eta(None) == "-"
    assert fmt.eta(5, finished=True) == "done"
    assert fmt.eta(125) == "2 minutes"
    assert fmt.ago(FIXED_NOW - 180, FIXED_NOW) == "3 minutes ago"
    assert fmt.rate(12_345, "files") == "12k files/s"
    assert fmt.percent(0.985) == "98.5%"


def test_field_parsers() -> None:
    assert split_paths("a 'b c' d", "ROOT") == ["a", "b c", "d"]
    with pytest.raises(InputError) as err:
        split_paths("'open", "--exclude")
    assert err.value.field == "--exclude"
    assert split_words("log, .TXT  csv") == ["log", ".TXT", "csv"]
    opts = parse_options("level=9 name='a b'")
    assert opts == {"level": "9", "name": "a b"}
    assert parse_options(format_options(opts)) == opts
    with pytest.raises(InputError):
        parse_options("novalue")
    assert parse_seconds("", "--timeout") is None
    assert parse_seconds("2.5s", "--timeout") == 2.5
    with pytest.raises(InputError):
        parse_seconds("0", "--timeout")


def test_core_validator_reports_message() -> None:
    from tui_batch.select import parse_size

    validator = CoreValidator(lambda t: parse_size(t, "--min-size"))
    assert validator.validate("1.5MiB").is_valid
    bad = validator.validate("12 parsecs")
    assert not bad.is_valid
    assert bad.failure_descriptions


def test_stylesheet_found() -> None:
    path = stylesheet_path()
    assert path.name == "app.tcss"
    assert path.is_file()


def test_demo_tree(tmp_path: Path) -> None:
    from tui_batch.cli.demo_tree import ACTION_REF, demo_files, demo_spec, make_demo_tree
    from tui_batch.select import scan

    root = make_demo_tree(tmp_path / "d")
    files = demo_files()
    assert (root / ".secret-token").exists()
    assert (root / "build" / "output.bin").exists()
    rels = sorted(e.rel for e in scan(demo_spec(root).filter))
    assert ".secret-token" not in rels
    assert not any(r.startswith("build/") for r in rels)
    assert "scratch.tmp" not in rels
    exts = {Path(r).suffix for r in rels}
    assert {".txt", ".log", ".csv", ".jpg", ".md"} <= exts
    assert any(r.count("/") >= 2 for r in rels)
    contents = [files[r] for r in rels]
    assert len(contents) - len(set(contents)) >= 3  # exact duplicates
    assert any("flaky-" in r for r in rels)
    assert demo_spec(root).action.name == ACTION_REF
    assert demo_spec(root).settings.retries >= 1


def test_demo_runs_headless_with_retries(tmp_path: Path) -> None:
    import asyncio

    from tui_batch.cli.demo_tree import demo_spec, make_demo_tree
    from tui_batch.jobs import run_spec
    from tui_batch.store import Store

    root = make_demo_tree(tmp_path / "d")
    spec = demo_spec(root)
    spec.action.options["delay"] = "0.001"
    spec.settings.backoff = 0.01
    spec.settings.workers = 8
    store = Store(str(tmp_path / "db"))
    try:
        job_id, code = asyncio.run(run_spec(spec, store))
        counts = store.task_counts(job_id)
        tasks = store.load_tasks(job_id)
    finally:
        store.close()
    assert code == 1  # the two offline files fail every automatic attempt
    assert counts["failed"] == 2
    assert counts["skipped"] >= 3
    flaky = [t for t in tasks if "flaky-" in t.rel]
    assert flaky and all(t.state == "done" and t.attempts == 2 for t in flaky)
