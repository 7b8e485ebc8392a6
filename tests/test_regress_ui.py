"""Regression tests for the TUI defects of issue 7 (items 8, 9, 10, 25, 26, 27).

Pilot tests run the real app against the real engine, store and actions; item 9 is also run
end to end: the real `tui-batch run` in a pseudo-terminal, keys typed as a user would.
"""

from __future__ import annotations

import asyncio
import os
import pty
import select
import signal
import sqlite3
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.message import Message
from textual.widgets import Checkbox, Input, Select, Static
from ui_support import app_for, dashboard, make_tree, new_job, spec_for, wait_until

from tests.conftest import tui_batch_cmd
from tui_batch.actions import Action, TaskContext
from tui_batch.engine import Engine, Task
from tui_batch.model import EngineSettings, ExecKind, TaskState
from tui_batch.store import Store
from tui_batch.ui.app import BatchApp
from tui_batch.ui.dialogs.confirm import ConfirmDialog
from tui_batch.ui.messages import TasksChanged
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.ui.screens.form import FormScreen
from tui_batch.ui.screens.help import HelpScreen
from tui_batch.ui.screens.jobs import JobsScreen, job_cell
from tui_batch.ui.widgets.task_list import task_state
from tui_batch.ui.widgets.view_update import BULK, updated_view

SIZE = (100, 30)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def notes(app: BatchApp) -> list[str]:
    """Texts of the toasts shown so far."""
    return [str(n.message) for n in app._notifications]


def text_of(widget: Any) -> str:
    return str(widget.render())


async def running_dashboard(app: BatchApp, pilot: Any, running: int) -> DashboardScreen:
    await wait_until(
        pilot,
        lambda: (
            isinstance(app.screen, DashboardScreen)
            and app.screen.engine is not None
            and app.screen.engine.snapshot().running == running
        ),
        what=f"{running} running",
    )
    return dashboard(app)


# ------------------------------------------------------------------------------- item 8
async def test_item8_cancel_all_toast_counts_what_was_cancelled(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 6), "sleep", workers=1, seconds="30"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=SIZE) as pilot:
        dash = await running_dashboard(app, pilot, 1)
        await pilot.press("C")
        assert isinstance(app.screen, ConfirmDialog)  # asked with 5 waiting + 1 running
        # While the question is on screen two waiting tasks leave the queue (finished, or
        # cancelled from elsewhere): "Cancel all" then cancels 4, not the 6 of the question.
        waiting = [t for t in dash.engine.tasks.values() if t.state is TaskState.QUEUED]
        for task in waiting[:2]:
            dash.engine.cancel(task.id)
        before = len(notes(app))
        await pilot.press("y")
        await wait_until(pilot, lambda: dash.exit_code is not None, what="finish")
        await pilot.pause()
        toasts = notes(app)[before:]
        assert "Cancelled 4 tasks" in toasts, toasts
        assert not any("Cancelled 6" in t for t in toasts), toasts


async def test_item8_cancelled_job_is_shown_cancelled_not_failed(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 3), "sleep", workers=1, seconds="30"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=SIZE) as pilot:
        dash = await running_dashboard(app, pilot, 1)
        await pilot.press("C", "y")
        await wait_until(pilot, lambda: dash.exit_code is not None, what="finish")
        await pilot.pause()
        assert dash.stats_panel.state_text == "cancelled"
        assert not any("failed" in t.lower() for t in notes(app)[-1:]), notes(app)
    # The jobs screen, and the dashboard of the job opened from it.
    store = Store(str(db))
    store.set_job_state(job, "cancelled")  # what the runner stores for a cancelled job
    store.close()
    app2 = app_for(db, start="jobs")
    async with app2.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot, lambda: isinstance(app2.screen, JobsScreen) and app2.screen.jobs, what="jobs"
        )
        jobs = app2.screen
        assert isinstance(jobs, JobsScreen)
        assert job_cell(jobs.selected(), "state")[0].startswith("cancelled")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: isinstance(app2.screen, DashboardScreen) and app2.screen.engine is not None,
            what="dashboard",
        )
        await pilot.pause()
        assert dashboard(app2).stats_panel.state_text == "cancelled"


# ------------------------------------------------------------------------------- item 9
async def test_item9_cancel_task_then_quit_exits_130(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 3), "sleep", workers=3, seconds="30"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=SIZE) as pilot:
        dash = await running_dashboard(app, pilot, 3)
        await pilot.press("c")  # the first row: a running task
        await wait_until(pilot, lambda: dash.engine.snapshot().cancelled == 1, what="cancel")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, what="exit")
    # The two stopped tasks are interrupted (neither queued nor running): work is left.
    assert app.return_value == 130
    store = Store(str(db))
    counts = store.task_counts(job)
    store.close()
    assert counts.get("interrupted", 0) == 2


async def test_item9_exit_code_recorded_before_job_finished_is_handled(tmp_path: Path) -> None:
    """q pressed the moment a failed run ends (its JobFinished not handled yet) exits 1."""
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 2), "fail", workers=2))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, DashboardScreen) and app.screen.runner is not None,
            what="dashboard",
        )
        dash = dashboard(app)
        await dash.wait_finished()
        # The run coroutine returned; quit now, before the screen handled JobFinished.
        await app.action_quit()
        await wait_until(pilot, lambda: not app.is_running, what="exit")
    assert app.return_value == 1


def _set_winsize(fd: int, rows: int, cols: int) -> None:
    import fcntl

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _task_counts(db: Path) -> dict[str, int]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return {}
    try:
        return dict(conn.execute("SELECT state, COUNT(*) FROM tasks GROUP BY state").fetchall())
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def _tui_cancel_then_quit(tmp_path: Path, run: int) -> int:
    """`tui-batch run` on a terminal: c on a running task, q, y. Returns the exit code."""
    tree = make_tree(tmp_path / f"tree{run}", 3)
    db = tmp_path / f"run{run}.db"
    env = dict(os.environ, TUI_BATCH_DB=str(db), TERM="xterm-256color", COLUMNS="80", LINES="24")
    env.pop("TUI_BATCH_NO_TUI", None)
    master, slave = pty.openpty()
    _set_winsize(slave, 24, 80)
    proc = subprocess.Popen(
        [*tui_batch_cmd(), "run", str(tree), "--shell", "--exec", ": {}; sleep 30", "-j", "3"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    screen = bytearray()

    def pump(until: float) -> None:
        while time.monotonic() < until:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                return
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk)

    def wait_for(predicate: Any, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline or proc.poll() is not None:
                tail = bytes(screen[-600:]).decode("utf-8", "replace")
                raise AssertionError(
                    f"run {run}: timed out waiting for {what} (exit {proc.poll()}, tasks "
                    f"{_task_counts(db)}, screen ...{tail!r})"
                )
            pump(time.monotonic() + 0.05)

    try:
        wait_for(lambda: _task_counts(db).get("running", 0) == 3, "3 running tasks")
        pump(time.monotonic() + 0.3)  # the dashboard shows them
        os.write(master, b"c")
        wait_for(lambda: _task_counts(db).get("cancelled", 0) == 1, "the cancellation")
        os.write(master, b"q")
        wait_for(lambda: b"Quit while" in screen, "the quit question")
        os.write(master, b"y")
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            pump(time.monotonic() + 0.1)
        assert proc.poll() is not None, f"run {run}: still running after y"
        left = _task_counts(db)
        assert left.get("interrupted", 0) + left.get("queued", 0) == 2, left
        return proc.returncode
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)


@pytest.mark.slow
def test_item9_tui_cancel_then_quit_exits_130_end_to_end(tmp_path: Path) -> None:
    codes = [_tui_cancel_then_quit(tmp_path, run) for run in range(3)]
    assert codes == [130, 130, 130]


# ------------------------------------------------------------------------------ item 10
def _hold_lock(db: Path, job: int) -> subprocess.Popen[str]:
    """Another process running job ``job``: the real `tui-batch resume`, headless."""
    env = dict(os.environ, TUI_BATCH_DB=str(db))
    proc = subprocess.Popen(
        [*tui_batch_cmd(), "resume", str(job), "--headless"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    deadline = time.monotonic() + 20
    while _task_counts(db).get("running", 0) == 0:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the other process never started the job"
        time.sleep(0.05)
    return proc


async def test_item10_running_job_cannot_be_deleted_or_resumed(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 3), "sleep", workers=1, seconds="30"))
    other = _hold_lock(db, job)
    try:
        app = app_for(db, start="jobs")
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs, what="jobs"
            )
            jobs = app.screen
            assert isinstance(jobs, JobsScreen)
            await wait_until(
                pilot,
                lambda: str(other.pid) in text_of(jobs.query_one("#job-detail", Static)),
                what="the pid of the process running it",
            )
            before = len(notes(app))
            await pilot.press("d")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmDialog)  # no "Delete job?" question
            await pilot.press("r")
            await pilot.pause()
            assert isinstance(app.screen, JobsScreen)  # no dashboard opened
            refusals = notes(app)[before:]
            assert len(refusals) == 2, refusals
            # delete names the process; resume reaches the job there (its socket) instead
            # of running it a second time here
            assert f"pid {other.pid}" in refusals[0], refusals
            assert "is running" in refusals[1], refusals
        store = Store(str(db))
        assert store.get_job(job).id == job  # still there
        store.close()
        assert other.poll() is None  # and still running
    finally:
        other.send_signal(signal.SIGINT)
        other.wait(timeout=20)


async def test_item10_delete_refused_when_job_starts_while_asking(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 3), "sleep", workers=1, seconds="30"))
    app = app_for(db, start="jobs")
    other = None
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs, what="jobs"
            )
            await pilot.press("d")
            assert isinstance(app.screen, ConfirmDialog)
            other = await asyncio.to_thread(_hold_lock, db, job)
            await pilot.press("y")
            await pilot.pause()
            assert any(f"pid {other.pid}" in n for n in notes(app)), notes(app)
        store = Store(str(db))
        assert store.get_job(job).id == job
        store.close()
    finally:
        if other is not None:
            other.send_signal(signal.SIGINT)
            other.wait(timeout=20)


async def test_item6_jobs_screen_shows_a_dead_run_as_interrupted(tmp_path: Path) -> None:
    """The TUI half of item 6: stored 'running' with nobody holding the run lock."""
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 2), "noop"))
    store = Store(str(db))
    first = store.load_tasks(job)[0].id
    store.record_start(first, 1, time.time())  # as a process killed mid-task leaves it
    store.set_job_state(job, "running")
    store.close()
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs, what="jobs"
        )
        jobs = app.screen
        assert isinstance(jobs, JobsScreen)
        assert job_cell(jobs.selected(), "state")[0] == "interrupted ↺"
        detail = text_of(jobs.query_one("#job-detail", Static))
        assert "interrupted 1" in detail and "running" not in detail, detail


# ------------------------------------------------------------------------------ item 25
async def test_item25_status_filter_follows_live_state(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 4), "sleep", workers=4, seconds="30"))
    seen_cancelled: set[int] = set()  # tasks a TasksChanged reached after they were cancelled

    def hook(message: Message) -> None:
        if isinstance(message, TasksChanged) and isinstance(app.screen, DashboardScreen):
            tasks = app.screen.engine.tasks
            seen_cancelled.update(
                t for t in message.task_ids if tasks[t].state is TaskState.CANCELLED
            )

    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        dash = await running_dashboard(app, pilot, 4)
        box = dash.query_one("#tasks-box")
        await pilot.press("f", "f")  # all -> failed -> running
        assert dash.task_list.status_filter == "running"
        assert box.border_title == "Tasks: running (4)"
        ids = list(dash.engine.tasks)
        for n, task_id in enumerate(ids, 1):
            dash.engine.cancel(task_id)

            def seen(t: int = task_id) -> bool:
                return t in seen_cancelled

            await wait_until(pilot, seen, what=f"task {task_id} cancelled")
            await pilot.pause()
            shown = dash.task_list.view_items()
            assert [task_state(t) for t in shown] == ["running"] * (4 - n)
            assert box.border_title == f"Tasks: running ({4 - n})"
            assert dash.stats_panel.stats.running == 4 - n  # the counters line agrees
        await wait_until(pilot, lambda: dash.exit_code is not None, what="finish")
        for _ in range(3):  # running -> queued -> done -> cancelled
            await pilot.press("f")
        assert dash.task_list.status_filter == "cancelled"
        assert box.border_title == "Tasks: cancelled (4)"
        await pilot.press("r")  # retry: the cancelled rows are queued again
        await pilot.pause()
        assert dash.task_list.row_count == 0
        assert box.border_title == "Tasks: cancelled (0)"
        dash.engine.cancel_all()
        await wait_until(pilot, lambda: dash.exit_code is not None, what="finish again")


def test_item25_updated_view_matches_a_full_recomputation() -> None:
    """The incremental view update gives what recomputing the whole view would."""

    class Row:
        def __init__(self, i: int) -> None:
            self.i, self.state, self.size = i, "run" if i % 3 else "done", (i * 37) % 11

    rows = [Row(i) for i in range(40)]

    def wanted(r: Row) -> bool:
        return r.state == "run"

    def full(key: Any, reverse: bool) -> list[int]:
        view = [i for i, r in enumerate(rows) if wanted(r)]
        if key is not None:
            view.sort(key=lambda i: key(rows[i]), reverse=reverse)
        return view

    def size(r: Row) -> int:
        return r.size

    for key, reverse in ((None, False), (size, False), (size, True)):
        view = full(key, reverse)
        for step in range(25):
            changed = {(step * 7) % 40, (step * 11 + 3) % 40, (step * 5 + 1) % 40}
            for i in changed:
                rows[i].state = "done" if rows[i].state == "run" else "run"
                rows[i].size = (rows[i].size + 5) % 11
            view = updated_view(view, rows, changed, wanted, key, reverse)
            expected = full(key, reverse)
            assert sorted(view) == sorted(expected)
            assert [rows[i].size for i in view] == [rows[i].size for i in expected]
            if key is None:
                assert view == expected
    # More rows joining a sorted view at once than BULK take one sort: same result.
    rows[:] = [Row(i) for i in range(BULK * 3)]
    view = full(size, True)
    for r in rows:
        r.state = "run"
    got = updated_view(view, rows, set(range(len(rows))), wanted, size, True)
    assert [rows[i].size for i in got] == sorted((r.size for r in rows), reverse=True)


# ------------------------------------------------------------------------------ item 26
class _Fn(Action):
    def __init__(self, func: Any) -> None:
        super().__init__("test-fn", ExecKind.ASYNC)
        self.func = func


def _tasks(tmp: Path, names: list[str]) -> list[Task]:
    out = []
    for i, name in enumerate(names, 1):
        p = tmp / name
        p.write_text(name)
        st = p.stat()
        out.append(
            Task(
                id=i, path=str(p), root=str(tmp), rel=name, size=st.st_size, mtime_ns=st.st_mtime_ns
            )
        )
    return out


def test_item26_eta_not_below_running_tasks_and_unknown_while_paused(tmp_path: Path) -> None:
    async def action(ctx: TaskContext) -> None:
        if ctx.rel.startswith("fast"):
            raise ValueError("quick failure")
        await asyncio.sleep(30)

    async def main() -> tuple[Any, Any, Any]:
        eng = Engine(_Fn(action), EngineSettings(workers=3, retries=0), stats_interval=0.1)
        eng.submit(_tasks(tmp_path, ["slow-1", "slow-2", "fast-1"]))
        run = asyncio.create_task(eng.run())
        await asyncio.sleep(0.05)
        first = eng.snapshot()  # nothing finished yet (the failure may have happened)
        await asyncio.sleep(1.2)
        later = eng.snapshot()  # two tasks running for 1.2 s, one quick failure
        eng.pause()
        paused = eng.snapshot()
        eng.cancel_all()
        await run
        await eng.aclose()
        return first, later, paused

    first, later, paused = asyncio.run(main())
    assert first.running == 2 and (first.eta is None or first.eta >= 0.05)
    assert later.running == 2 and later.failed == 1
    assert later.eta is None or later.eta >= 1.0, later.eta
    assert paused.eta is None


async def test_item26_eta_shows_paused_and_does_not_grow(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 40), "sleep", workers=2, seconds="0.1"))
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, DashboardScreen)
                and app.screen.engine is not None
                and app.screen.engine.snapshot().done >= 4
            ),
            what="some done",
        )
        dash = dashboard(app)
        times = dash.stats_panel.query_one("#stats-times", Static)
        await pilot.press("p")
        await wait_until(pilot, lambda: dash.engine.snapshot().running == 0, what="drained")
        await pilot.pause(0.6)
        assert "ETA paused" in text_of(times), text_of(times)
        await pilot.press("p")
        dash.engine.cancel_all()
        await wait_until(pilot, lambda: dash.exit_code is not None, what="finish")


async def test_item26_past_job_elapsed_from_stored_times(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    job = new_job(db, spec_for(make_tree(tmp_path / "t", 3), "noop"))
    store = Store(str(db))
    ids = [t.id for t in store.load_tasks(job)]
    t0 = 1_700_000_000.0
    # Two overlapping attempts (60 s and 60 s, 30 s apart) and, the next day, a 30 s one:
    # the job ran for 90 + 30 = 120 s.
    for task_id, (start, end) in zip(ids, [(0, 60), (30, 90), (86_400, 86_430)], strict=True):
        store.record_start(task_id, 1, t0 + start)
        store.record_end(task_id, 1, "done", started_at=t0 + start, ended_at=t0 + end)
    store.set_job_state(job, "done")
    store.close()
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot, lambda: isinstance(app.screen, JobsScreen) and app.screen.jobs, what="jobs"
        )
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, DashboardScreen) and app.screen.engine is not None,
            what="dashboard",
        )
        times = dashboard(app).stats_panel.query_one("#stats-times", Static)
        await wait_until(
            pilot, lambda: "0:02:00" in text_of(times), what="elapsed 0:02:00", timeout=5
        )


# ------------------------------------------------------------------------------ item 27
async def test_item27_root_not_selected_and_first_key_keeps_it(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", 2)
    app = app_for(tmp_path / "jobs.db", root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        form = app.screen
        assert isinstance(form, FormScreen)
        await pilot.pause()
        roots = form.query_one("#roots", Input)
        assert app.focused is roots
        assert roots.selection.is_empty
        assert roots.cursor_position == len(roots.value)
        await pilot.press("q")
        assert roots.value.startswith(str(tree)), roots.value
        await pilot.press("backspace")
        assert roots.value == str(tree)


async def test_item27_question_mark_and_q_are_keys_outside_text_fields(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", 2)
    app = app_for(tmp_path / "jobs.db", root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        form = app.screen
        assert isinstance(form, FormScreen)
        form.query_one("#hidden", Checkbox).focus()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.screen is form
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, what="quit")
    assert app.return_value == 0


async def test_item27_keys_typed_right_after_tab_go_to_the_next_field(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", 2)
    app = app_for(tmp_path / "jobs.db", root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        form = app.screen
        assert isinstance(form, FormScreen)
        await pilot.pause()
        await pilot.press("tab", *"txt")
        assert form.value("roots") == str(tree)
        assert form.value("ext") == "txt"
        # A burst as a terminal delivers it over SSH or from a paste: every key queued at
        # once, nothing processed in between.
        driver = app._driver
        assert driver is not None
        for key, char in [("tab", None), ("1", "1"), ("k", "k")]:
            event = events.Key(key, char)
            event.set_sender(app)
            driver.send_message(event)
        await pilot.pause()
        await pilot.pause()
        assert form.value("ext") == "txt"
        assert form.value("min_size") == "1k"


# ------------------------------------------------------------------------------ item 12 (form)
async def test_item12_form_dedupe_follows_the_action_until_chosen(tmp_path: Path) -> None:
    """A copy job started from the form writes every duplicate (like the CLI), unless the user
    ticks dedupe; the box shows what will happen."""
    tree = make_tree(tmp_path / "tree", 2)
    app = app_for(tmp_path / "jobs.db", root=str(tree))
    async with app.run_test(size=SIZE) as pilot:
        form = app.screen
        assert isinstance(form, FormScreen)
        box = form.query_one("#dedupe", Checkbox)
        await pilot.pause()
        assert box.value is True  # the default command template writes no output
        form.query_one("#action", Select).value = "copy"
        form.query_one("#out", Input).value = str(tmp_path / "out")
        await pilot.pause()
        await wait_until(pilot, lambda: box.value is False, what="copy -> dedupe off")
        assert form.build_settings().dedupe is None  # decided by the action, as on the CLI
        box.focus()
        await pilot.press("space")  # the user chooses
        await wait_until(pilot, lambda: box.value is True, what="ticked")
        assert form.build_settings().dedupe is True
        form.query_one("#out", Input).value = str(tmp_path / "out2")
        await pilot.pause()
        assert box.value is True  # a choice is never overridden
