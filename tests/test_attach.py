"""`tui-batch attach`: the dashboard of a job running in another process (issue 11).

Real processes and sockets, no mocks: the job is a foreground `tui-batch run` in a
subprocess whose tasks wait for the test's go-ahead (a file), so the job stays running as
long as a test needs; the viewer is the app in this process (Pilot), connected to that
subprocess's control socket, and what it does is checked on the job itself (its socket's
snapshot, its exit code, the store). Timing figures are bench/bench_control.py's; these
tests gate on states.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd
from tests.ui_support import app_for, dashboard, new_job, spec_for, wait_until
from tui_batch.control import connect
from tui_batch.control.remote import FIRST_PAGE, RemoteJob
from tui_batch.errors import StoreError
from tui_batch.model import Priority, TaskState
from tui_batch.store import Store
from tui_batch.ui.screens.jobs import JobsScreen

pytestmark = pytest.mark.anyio

_LIMIT = 60.0  # a safety limit for a loaded machine, never a claim about speed


def _tree(root: Path, n: int) -> Path:
    root.mkdir()
    for k in range(n):  # distinct contents: duplicates would be skipped
        (root / f"f{k:04d}.txt").write_text(f"file {k}\n")
    return root


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Runs a test started, killed if it left them running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.communicate()


def _gated_run(env: dict[str, str], root: Path, go: Path, workers: int,
               procs: list[subprocess.Popen[str]]) -> int:
    """A foreground `tui-batch run` whose tasks each wait for ``go`` to exist; returns its
    job id once its control socket answers."""
    script = f': "$1"; while [ ! -e "{go}" ]; do sleep 0.02; done'
    proc = subprocess.Popen(
        [*tui_batch_cmd(), "run", str(root), "--shell", "--exec", script, "-j", str(workers),
         "--headless"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    procs.append(proc)
    db = env["TUI_BATCH_DB"]
    deadline = time.monotonic() + _LIMIT
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        jobs = []
        with contextlib.suppress(StoreError), Store(db, readonly=True) as store:
            jobs = store.list_jobs()
        if jobs:
            client = connect(db, jobs[0].id, 2.0)
            if client is not None:
                client.close()
                return jobs[0].id
        time.sleep(0.05)
    raise AssertionError("the run never served its control socket")


def _ask(env: dict[str, str], job: int, op: str = "snapshot", **args: Any) -> dict[str, Any]:
    """One request on the job's socket, from outside the viewer (another shell)."""
    client = connect(env["TUI_BATCH_DB"], job, 2.0)
    assert client is not None, "the job is not served"
    with client:
        return client.call(op, **args)


def _task_states(env: dict[str, str], job: int) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in _ask(env, job, "tasks", limit=1000)["tasks"]}


async def test_attached_dashboard_shows_the_live_job_and_its_keys_control_it(
        tmp_path: Path, cli_env: dict[str, str], procs: list[subprocess.Popen[str]]) -> None:
    n = FIRST_PAGE + 50  # more than the first page: the rest is read after the first frame
    go = tmp_path / "go"
    job = _gated_run(cli_env, _tree(tmp_path / "in", n), go, 2, procs)
    db = Path(cli_env["TUI_BATCH_DB"])
    app = app_for(db, start="attach", job_id=job)
    async with app.run_test(size=(80, 24)) as pilot:
        d = dashboard(app)
        await wait_until(pilot, lambda: d.job.attached and d.stats_panel.stats.running == 2,
                         _LIMIT, "live counts: the job's 2 running tasks")
        assert d.stats_panel.stats.total == n
        assert d.sub_title == f"job {job} · attached"
        await wait_until(pilot, lambda: len(d.task_list.source) == n, _LIMIT, "every row")

        other = RemoteJob(str(db), job)  # a second viewer at the same time
        assert await other.open()
        heard: list[str] = []
        other.subscribe(lambda ev: heard.append(getattr(ev, "kind", "")))

        await pilot.press("p")  # pause: the job itself pauses
        await wait_until(pilot, lambda: _ask(cli_env, job)["paused"], _LIMIT, "job paused")
        await wait_until(pilot, lambda: "paused" in heard, _LIMIT, "the other viewer hears it")
        await wait_until(pilot, lambda: d.stats_panel.state_text == "paused", _LIMIT, "shown")
        await pilot.press("plus")
        await wait_until(pilot, lambda: _ask(cli_env, job)["workers"] == 3, _LIMIT, "3 workers")

        queued = d.task_list.view_items()[5]  # tasks 1 and 2 run; the rest wait
        assert queued.state is TaskState.QUEUED
        d.task_list.move_cursor(5)
        await pilot.press("P", "4")  # priority of this task: urgent
        await wait_until(pilot, lambda: _task_states(cli_env, job)[queued.id]["priority"]
                         == "urgent", _LIMIT, "the job's task is urgent")
        assert queued.priority is Priority.URGENT
        assert _task_states(cli_env, job)[queued.id + 1]["priority"] == "normal"
        await pilot.press("c")  # cancel this task
        await wait_until(pilot, lambda: _task_states(cli_env, job)[queued.id]["state"]
                         == "cancelled", _LIMIT, "the job's task cancelled")
        await wait_until(pilot, lambda: queued.state is TaskState.CANCELLED, _LIMIT, "shown")

        await pilot.press("C", "y")  # cancel all: the job ends, the viewer shows how
        await wait_until(pilot, lambda: d.exit_code is not None, _LIMIT, "the job's end")
        assert d.stats_panel.state_text == "cancelled"
        assert d.exit_code == 1 and other.ended and other.end_state == "cancelled"
        await other.aclose()
    go.touch()
    assert procs[0].wait(_LIMIT) == 1
    with Store(str(db), readonly=True) as store:
        assert store.get_job(job).state == "cancelled"


async def test_leaving_an_attached_dashboard_never_stops_the_job(
        tmp_path: Path, cli_env: dict[str, str], procs: list[subprocess.Popen[str]]) -> None:
    go = tmp_path / "go"
    job = _gated_run(cli_env, _tree(tmp_path / "in", 4), go, 2, procs)
    db = Path(cli_env["TUI_BATCH_DB"])
    for key in ("q", "escape"):  # both leave `tui-batch attach`, asking nothing
        app = app_for(db, start="attach", job_id=job)
        async with app.run_test(size=(80, 24)) as pilot:
            d = dashboard(app)
            await wait_until(pilot, lambda d=d: d.job.running, _LIMIT, "attached")
            await pilot.press(key)
            await wait_until(pilot, lambda app=app: not app.is_running, _LIMIT, "exits")
        assert app.return_value == 0
        assert _ask(cli_env, job)["stats"]["running"] == 2  # the job goes on as it was
        assert procs[0].poll() is None
    go.touch()
    assert procs[0].wait(_LIMIT) == 0


def test_attach_to_a_job_that_is_not_running_says_so_as_pause_does(
        tmp_path: Path, cli_env: dict[str, str]) -> None:
    job = new_job(Path(cli_env["TUI_BATCH_DB"]), spec_for(_tree(tmp_path / "in", 2), "sleep"))
    cmds = [["attach", str(job)], ["pause", str(job)], ["attach", str(job + 1)]]
    started = [subprocess.Popen([*tui_batch_cmd(), *c], env=cli_env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for c in cmds]
    outputs = [p.communicate(timeout=60) for p in started]
    attach, pause, unknown = (subprocess.CompletedProcess(c, p.returncode, *out)
                              for c, p, out in zip(cmds, started, outputs, strict=True))
    assert attach.returncode == 1, attach.stderr
    assert attach.stderr == pause.stderr
    assert attach.stderr.startswith(f"tui-batch: job {job} is not running (")
    assert unknown.returncode == 2
    assert f"no job {job + 1}" in unknown.stderr


async def test_jobs_screen_shows_a_running_job_live_and_enter_attaches(
        tmp_path: Path, cli_env: dict[str, str], procs: list[subprocess.Popen[str]]) -> None:
    go = tmp_path / "go"
    job = _gated_run(cli_env, _tree(tmp_path / "in", 4), go, 2, procs)
    deadline = time.monotonic() + _LIMIT
    while _ask(cli_env, job)["stats"]["running"] < 2:  # both workers' tasks have started
        assert time.monotonic() < deadline, "the job's tasks never started"
        time.sleep(0.02)
    _ask(cli_env, job, "pause")  # only the socket knows: the store says "running"
    db = Path(cli_env["TUI_BATCH_DB"])
    app = app_for(db, start="jobs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, JobsScreen)

        def live_row() -> Any:
            row = next((r for r in screen.jobs if r.id == job), None)
            return row if row is not None and row.live is not None else None

        await wait_until(pilot, live_row, _LIMIT, "the row's live snapshot")
        row = live_row()
        assert row.counts["running"] == 2 and row.counts["queued"] == 2
        assert row.paused
        await wait_until(pilot, lambda: "2 workers" in str(
            screen.query_one("#job-detail").render()), _LIMIT, "the detail says it")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, JobsScreen), _LIMIT,
                         "the dashboard")
        d = dashboard(app)
        assert d.job.attached
        await wait_until(pilot, lambda: d.stats_panel.state_text == "paused", _LIMIT,
                         "the job's state")
        await pilot.press("escape")  # back to the jobs, the job still running
        await wait_until(pilot, lambda: isinstance(app.screen, JobsScreen), _LIMIT, "jobs")
    assert _ask(cli_env, job)["paused"]
    _ask(cli_env, job, "resume")
    go.touch()
    assert procs[0].wait(_LIMIT) == 0
