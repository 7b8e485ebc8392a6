"""Issue 9: long waits before a job runs show progress with a count.

Scanning, checking duplicates and creating tasks report :class:`tui_batch.jobs.Progress`
events (throttled); the CLI prints them on stderr (JSON lines on stdout with --json), the
TUI's preparing screen shows them; an empty folder says "no files matched" and stores no job.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import ProgressBar, Static
from ui_support import app_for, make_tree, spec_for, wait_until

from tests.conftest import tui_batch_cmd
from tui_batch.jobs import create_job, plan_job
from tui_batch.jobs.progress import (
    CREATING,
    HASHING,
    SCANNING,
    Progress,
    ProgressEmitter,
    progress_text,
)
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.select import filter_from_options, find_duplicates, scan
from tui_batch.store import NewTask, Store
from tui_batch.store.task_table import INSERT_CHUNK
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.ui.screens.form import FormScreen
from tui_batch.ui.screens.preparing import PreparingScreen

pytestmark = pytest.mark.anyio
SIZE = (80, 24)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def big_tree(root: Path, n: int = 2000) -> Path:
    """n files in 20 folders: half .txt, half .log; every 10th .txt a copy of another; a
    hidden file and a hidden folder, which a default scan neither counts nor selects."""
    for i in range(n):
        d = root / f"d{i % 20:02d}"
        d.mkdir(parents=True, exist_ok=True)
        ext = "txt" if i % 2 == 0 else "log"
        body = f"content {i // 20 if i % 20 == 0 else i}\n" * (1 + i % 7)
        (d / f"f{i:05d}.{ext}").write_text(body)
    (root / ".hidden.txt").write_text("x")
    (root / ".git").mkdir(exist_ok=True)
    (root / ".git" / "config").write_text("x")
    return root


def job_spec(root: Path, *, ext: list[str] | None = None) -> JobSpec:
    return JobSpec(
        filter=FilterSpec(roots=[str(root)], extensions=ext or []),
        action=ActionSpec(name="noop"),
        settings=EngineSettings(dedupe=True),
    )


def by_phase(events: list[Progress]) -> dict[str, list[Progress]]:
    out: dict[str, list[Progress]] = {}
    for p in events:
        out.setdefault(p.phase, []).append(p)
    return out


def check_phase(events: list[Progress]) -> Progress:
    """First event at zero, counts never going back, exactly one final event, the last."""
    assert events[0].done == 0 and not events[0].final
    assert [p.final for p in events].count(True) == 1 and events[-1].final
    dones = [p.done for p in events]
    assert dones == sorted(dones), dones
    matched = [p.matched for p in events]
    assert matched == sorted(matched), matched
    return events[-1]


# ------------------------------------------------------------------- the core


def test_plan_and_create_report_every_phase_with_exact_final_counts(tmp_path: Path) -> None:
    root = big_tree(tmp_path / "t")
    events: list[Progress] = []
    with Store(str(tmp_path / "s.db")) as store:
        plan = plan_job(job_spec(root, ext=[".txt"]), store=store, progress=events.append)
        job_id = create_job(store, plan, progress=events.append)
        tasks = store.load_tasks(job_id)

    assert list(dict.fromkeys(p.phase for p in events)) == [SCANNING, HASHING, CREATING]
    phases = by_phase(events)
    scanned = check_phase(phases[SCANNING])
    # every non-hidden file looked at, .log ones included; only the .txt ones selected
    assert (scanned.done, scanned.matched, scanned.total) == (2000, 1000, None)
    assert plan.files_seen == 2000 and len(plan.entries) == 1000
    hashed = check_phase(phases[HASHING])
    assert hashed.total is not None and hashed.done == hashed.total > 0
    assert hashed.bytes_done > 0
    created = check_phase(phases[CREATING])
    assert created.done == created.total == len(tasks) == 1000
    assert plan.preview.duplicates > 0  # the copies were found while being counted
    assert progress_text(scanned).startswith("Scanned 2,000 files (1,000 matched)")
    assert progress_text(created).startswith("Created 1,000 tasks")


def test_no_hashing_phase_without_dedupe_and_same_plan_without_progress(tmp_path: Path) -> None:
    root = big_tree(tmp_path / "t", 200)
    spec = job_spec(root)
    spec.settings.dedupe = False
    events: list[Progress] = []
    with Store(str(tmp_path / "s.db")) as store:
        with_progress = plan_job(spec, store=store, progress=events.append)
        without = plan_job(spec, store=store)
    assert {p.phase for p in events} == {SCANNING}
    assert [e.path for e in with_progress.entries] == [e.path for e in without.entries]
    assert without.files_seen == with_progress.files_seen == 200


def test_emitter_throttles_but_always_sends_first_and_final() -> None:
    now = [100.0]
    got: list[Progress] = []
    emit = ProgressEmitter(got.append, interval=0.1, clock=lambda: now[0])
    emit.begin(SCANNING)
    for i in range(1, 1001):  # 1000 folders in 50 ms: too fast to show each
        now[0] += 0.00005
        emit.scanned(i * 10, i)
    emit.end()
    assert [(p.done, p.final) for p in got] == [(0, False), (10000, True)]
    assert got[-1].matched == 1000

    got.clear()
    emit.begin(CREATING, 50)
    for i in range(1, 51):
        now[0] += 0.03
        emit.stored(i, 50)
    emit.end()
    # 1.5 s at one event per 0.1 s at most, plus the first and the final one
    assert 2 < len(got) <= 17
    assert got[-1] == Progress(CREATING, 50, 50, elapsed=got[-1].elapsed, final=True)


def test_scan_counts_per_folder_and_gives_exact_totals(tmp_path: Path) -> None:
    root = big_tree(tmp_path / "t", 400)
    calls: list[tuple[int, int]] = []
    flt = filter_from_options([str(root)], ext=[".log"])
    entries = list(scan(flt, progress=lambda seen, matched: calls.append((seen, matched))))
    assert calls[-1] == (400, 200) == (400, len(entries))
    assert len(calls) >= 20  # once per folder at least, not once at the end
    assert calls == sorted(calls)

    cancel = threading.Event()
    calls.clear()
    for _ in scan(flt, cancel=cancel, progress=lambda s, m: calls.append((s, m))):
        cancel.set()
    assert calls and calls[-1][1] < 200  # no "final" totals after a cancel


def test_dedupe_progress_counts_whole_file_reads_of_large_files(tmp_path: Path) -> None:
    blob = os.urandom(3 << 20)  # larger than the 1 MiB read buffer: read in chunks
    paths = []
    for name in ("a.bin", "b.bin", "c.bin"):
        p = tmp_path / name
        p.write_bytes(blob if name != "c.bin" else blob[:-1] + b"x")
        paths.append(p)
    entries = list(scan(FilterSpec(roots=[str(tmp_path)])))
    calls: list[tuple[int, int, int]] = []
    result = find_duplicates(entries, progress=lambda d, t, b: calls.append((d, t, b)))
    assert result.duplicate_of == {str(paths[1]): str(paths[0])}
    # 3 prefix reads, then the 3 colliding prefixes read whole: the total grows once, 3 -> 6
    assert calls[0] == (0, 3, 0)
    assert calls[-1] == (6, 6, result.stats.bytes_read)
    assert {t for _, t, _ in calls} == {3, 6}
    in_file = [b for d, t, b in calls if t == 6]
    assert len(in_file) > 6 and in_file == sorted(in_file)  # bytes reported inside each file


def test_store_reports_tasks_written_in_chunks(tmp_path: Path) -> None:
    n = 2 * INSERT_CHUNK + 10
    tasks = [NewTask(path=f"/x/{i}", root="/x", rel=str(i), size=i, mtime_ns=0)
             for i in range(n)]
    calls: list[tuple[int, int]] = []
    with Store(str(tmp_path / "s.db")) as store:
        store.create_job({"k": 1}, tasks=[])  # ids do not start at 1
        job_id = store.create_job({"k": 2}, tasks=tasks,
                                  progress=lambda d, t: calls.append((d, t)))
        stored = store.load_tasks(job_id)
    assert calls == [(INSERT_CHUNK, n), (2 * INSERT_CHUNK, n), (n, n)]
    assert [t.path for t in stored] == [t.path for t in tasks]
    assert [t.id for t in stored] == list(range(stored[0].id, stored[0].id + n))


def test_nothing_matched_names_the_roots_and_what_was_seen(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    logs = make_tree(tmp_path / "logs", 3)
    empty = plan_job(job_spec(tmp_path / "empty"))
    where = repr(str(tmp_path / "empty"))
    assert empty.nothing_matched() == f"no files matched: no files under {where}"
    filtered = plan_job(job_spec(logs, ext=[".pdf"]))
    message = filtered.nothing_matched()
    assert message is not None
    assert "3 files under" in message and "none passes the filter" in message
    assert plan_job(job_spec(logs)).nothing_matched() is None


# -------------------------------------------------------------------- the CLI


def tb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*tui_batch_cmd(), *args], env=env, capture_output=True, text=True,
                          timeout=120, errors="replace")


def printed(style: str) -> tuple[Any, list[float], Any, Any]:
    import io

    from tui_batch.cli.plan_progress import PlanProgress

    now = [0.0]
    err, out = io.StringIO(), io.StringIO()
    return PlanProgress(style, err=err, out=out, clock=lambda: now[0]), now, err, out


def feed(shown: Any, now: list[float]) -> None:
    """A 12-second scan: one event every 0.1 s (as the emitter sends them), then its end."""
    shown(Progress(SCANNING, 0, None))
    for i in range(1, 121):
        now[0] += 0.1
        shown(Progress(SCANNING, i * 100, None, matched=i * 50))
    shown(Progress(SCANNING, 12000, None, matched=6000, elapsed=12.0, final=True))


def test_plan_progress_in_a_log_prints_a_line_every_few_seconds() -> None:
    shown, now, err, out = printed("lines")
    feed(shown, now)
    lines = err.getvalue().splitlines()
    assert lines[-1] == "tui-batch: scanned 12,000 files (6,000 matched) in 12.0 s"
    assert 2 <= len(lines) - 1 <= 3  # every 5 s while it goes on
    assert all(line.startswith("tui-batch: scanning… ") for line in lines[:-1])
    assert out.getvalue() == ""


def test_plan_progress_json_at_most_once_a_second_on_stdout() -> None:
    shown, now, err, out = printed("json")
    feed(shown, now)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {e["event"] for e in events} == {"progress"}
    assert 10 <= len(events) - 1 <= 12 and events[-1]["final"] is True
    assert events[-1]["done"] == 12000 and events[-1]["matched"] == 6000
    assert err.getvalue() == ""


def test_plan_progress_on_a_terminal_redraws_one_line_then_clears_it() -> None:
    shown, now, err, out = printed("bar")
    feed(shown, now)
    shown.finish()
    text = err.getvalue()
    assert "\n" not in text and text.count("\r") > 100
    assert "tui-batch: scanned 12,000 files (6,000 matched)" in text
    assert text.endswith("\r") and text.rstrip("\r").endswith(" ")  # the line is wiped
    assert out.getvalue() == ""


def test_cli_prints_phase_counts_on_stderr_only(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = big_tree(tmp_path / "t", 60)
    proc = tb("run", str(root), "--exec", "true", "--dedupe", "--headless", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "tui-batch: scanned 60 files (60 matched)" in err
    assert "tui-batch: checked " in err and " files for duplicates" in err
    assert "tui-batch: created 60 tasks" in err
    assert err.index("scanned") < err.index("checked") < err.index("created")
    for word in ("scanned", "scanning", "checked", "created", "progress"):
        assert word not in proc.stdout.lower()


def test_cli_json_progress_events_on_stdout(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = big_tree(tmp_path / "t", 60)
    proc = tb("run", str(root), "--exec", "true", "--dedupe", "--json", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]  # every line is JSON
    progress = [obj for obj in lines if obj["event"] == "progress"]
    finals = {p["phase"]: p for p in progress if p["final"]}
    assert finals["scanning"]["done"] == 60 and finals["scanning"]["matched"] == 60
    assert finals["hashing"]["done"] == finals["hashing"]["total"]
    assert finals["creating"]["done"] == finals["creating"]["total"] == 60
    assert [p["phase"] for p in progress if p["final"]] == ["scanning", "hashing", "creating"]
    assert "scanned" not in proc.stderr and "created" not in proc.stderr


def test_cli_empty_folder_says_no_files_matched(tmp_path: Path, cli_env: dict[str, str]) -> None:
    (tmp_path / "empty").mkdir()
    proc = tb("run", str(tmp_path / "empty"), "--exec", "true", "--headless", env=cli_env)
    assert proc.returncode == 0
    assert "tui-batch: no files matched: no files under" in proc.stderr
    assert proc.stdout == ""
    as_json = tb("run", str(tmp_path / "empty"), "--exec", "true", "--json", env=cli_env)
    summary = json.loads(as_json.stdout.splitlines()[-1])
    assert summary["event"] == "summary" and summary["job"] is None and summary["total"] == 0
    assert "no files matched" in summary["message"]
    jobs = tb("jobs", env=cli_env)
    assert "no jobs" in jobs.stdout + jobs.stderr  # nothing was stored


# -------------------------------------------------------------------- the TUI


def text_of(screen: PreparingScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_preparing_screen_shows_live_counts(tmp_path: Path) -> None:
    app = app_for(tmp_path / "jobs.db", start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        screen = PreparingScreen("Preparing noop on /data")
        await app.push_screen(screen)
        screen.report(Progress(SCANNING, 12345, None, matched=8000))
        await pilot.pause()
        assert text_of(screen, "#preparing-count") == "Scanning… 12,345 files (8,000 matched)"
        assert not screen.query_one(ProgressBar).visible  # no total yet: no bar

        screen.report(Progress(SCANNING, 50000, None, matched=50000, elapsed=1.5, final=True))
        screen.report(Progress(HASHING, 1200, 3000))
        await pilot.pause()
        done = text_of(screen, "#preparing-done")
        assert "Scanned 50,000 files (50,000 matched) in 1.5 s" in done
        assert text_of(screen, "#preparing-count") == "Checking duplicates… 1,200/3,000 files"

        screen.report(Progress(HASHING, 3000, 3000, final=True))
        screen.report(Progress(CREATING, 40000, 50000))
        await pilot.pause()
        assert text_of(screen, "#preparing-count") == "Creating tasks… 40,000/50,000"
        bar = screen.query_one(ProgressBar)
        assert bar.visible and bar.progress == 40000 and bar.total == 50000


class Recording(PreparingScreen):
    """The real screen, keeping every event the app's worker reported."""

    seen: list[Progress] = []

    def report(self, progress: Progress) -> None:
        Recording.seen.append(progress)
        super().report(progress)


async def test_run_start_reports_counts_then_opens_dashboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_batch.ui.app as app_module

    monkeypatch.setattr(app_module, "PreparingScreen", Recording)
    Recording.seen = []
    spec = spec_for(make_tree(tmp_path / "t", 12), "noop")
    app = app_for(tmp_path / "jobs.db", start="run", spec=spec)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")
        await pilot.press("q")
    finals = {p.phase: p for p in Recording.seen if p.final}
    assert finals[SCANNING].matched == 12
    assert finals[CREATING].done == finals[CREATING].total == 12


async def test_run_start_on_empty_folder_says_no_files_matched(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    spec = spec_for(tmp_path / "empty", "noop")
    app = app_for(tmp_path / "jobs.db", start="run", spec=spec)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="the form")
        await pilot.pause()  # let the form finish mounting before the app closes
        messages = [str(n.message) for n in app._notifications]
        assert any(m.startswith("no files matched: no files under") for m in messages), messages
        assert app.store.list_jobs() == []


async def test_escape_stops_preparing_and_leaves_no_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_batch.ui.app as app_module

    real_plan = app_module.plan_job
    started = threading.Event()

    def slow_plan(spec: JobSpec, **kw: Any) -> Any:
        started.set()
        kw["cancel"].wait(30)  # a huge tree: still scanning when Esc comes
        return real_plan(spec, **kw)

    monkeypatch.setattr(app_module, "plan_job", slow_plan)
    spec = spec_for(make_tree(tmp_path / "t", 5), "noop")
    app = app_for(tmp_path / "jobs.db", start="run", spec=spec)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, started.is_set, what="planning")
        assert isinstance(app.screen, PreparingScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="the form")
        await pilot.pause()  # let the form finish mounting before the app closes
        await app.workers.wait_for_complete()
        assert app.store.list_jobs() == []
