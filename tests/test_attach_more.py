"""`tui-batch attach`, continued (issue 11): what a viewer costs the job, and what it shows.

Real processes and sockets, as tests/test_attach.py: the job runs in a `tui-batch run` (or
`watch`) subprocess, the viewer is the app in this process (Pilot). A viewer reads the job's
task list from the store and hears only the changes on the socket: checked by what the
viewer sent (never the ``tasks`` op) and how few rows it heard, against states it can only
have read from the store. A watch's new arrivals join the attached list; `r` on a paused
running job in the jobs screen un-pauses it where it runs.
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
from tests.ui_support import app_for, dashboard, wait_until
from tui_batch.control import connect
from tui_batch.control.remote import FIRST_PAGE
from tui_batch.errors import StoreError
from tui_batch.model import TaskState
from tui_batch.store import Store
from tui_batch.ui.screens.jobs import JobsScreen

pytestmark = pytest.mark.anyio

_LIMIT = 60.0  # a safety limit for a loaded machine, never a claim about speed


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.communicate()


def _files(root: Path, names: list[str]) -> None:
    root.mkdir(exist_ok=True)
    for name in names:  # distinct contents: duplicates would be skipped
        (root / name).write_text(f"{name}\n")


def _ask(env: dict[str, str], job: int, op: str = "snapshot", **args: Any) -> dict[str, Any]:
    client = connect(env["TUI_BATCH_DB"], job, 2.0)
    assert client is not None, "the job is not served"
    with client:
        return client.call(op, **args)


def _served(env: dict[str, str], proc: subprocess.Popen[str]) -> int:
    """The id of the job ``proc`` runs, once its control socket answers."""
    db = env["TUI_BATCH_DB"]
    deadline = time.monotonic() + _LIMIT
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        jobs = []
        with contextlib.suppress(StoreError), Store(db, readonly=True) as store:
            jobs = store.list_jobs()  # StoreError: the run has not made the store yet
        if jobs:
            client = connect(db, jobs[0].id, 2.0)
            if client is not None:
                client.close()
                return jobs[0].id
        time.sleep(0.05)
    raise AssertionError("the job never served its control socket")


def _until(what: str, check: Any) -> None:
    deadline = time.monotonic() + _LIMIT
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _gated(env: dict[str, str], root: Path, go: Path, procs: list[subprocess.Popen[str]],
           quick: str = "") -> int:
    """A foreground run on 2 workers whose tasks wait for ``go`` (those whose file name
    matches the shell pattern ``quick`` end at once)."""
    fast = f'case "$1" in */{quick}) exit 0;; esac; ' if quick else ""
    script = f': "$1"; {fast}while [ ! -e "{go}" ]; do sleep 0.02; done'
    proc = subprocess.Popen(
        [*tui_batch_cmd(), "run", str(root), "--shell", "--exec", script, "-j", "2",
         "--headless"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    procs.append(proc)
    return _served(env, proc)


async def test_the_attached_list_is_read_from_the_store_not_sent_by_the_job(
        tmp_path: Path, cli_env: dict[str, str], procs: list[subprocess.Popen[str]]) -> None:
    n, quick = 3000, 60  # f0000..f0059 end at once; the rest wait
    _files(tmp_path / "in", [f"f{k:04d}.txt" for k in range(n)])
    go = tmp_path / "go"
    job = _gated(cli_env, tmp_path / "in", go, procs, quick="f00[0-5][0-9].txt")
    _until("the quick tasks done", lambda: _ask(cli_env, job)["stats"]["done"] == quick)
    db = Path(cli_env["TUI_BATCH_DB"])
    app = app_for(db, start="attach", job_id=job)
    async with app.run_test(size=(80, 24)) as pilot:
        d = dashboard(app)
        await wait_until(pilot, lambda: d.job.attached and len(d.task_list.source) == n,
                         _LIMIT, "every task listed")
        remote = d.engine
        assert remote.complete and n > FIRST_PAGE
        states = [t.state for t in remote.tasks.values()]
        assert states.count(TaskState.DONE) == quick  # ended before the viewer came
        assert states.count(TaskState.RUNNING) == 2
        assert [t.rel for t in list(remote.tasks.values())[:3]] == [
            "f0000.txt", "f0001.txt", "f0002.txt"]
        assert "tasks" not in remote.sent  # no page of rows asked of the job
        assert set(remote.sent) <= {"snapshot", "subscribe"}
        assert remote.book.rows_heard < quick  # the done states came from the store

        running = next(t for t in remote.tasks.values() if t.state is TaskState.RUNNING)
        _ask(cli_env, job, "cancel", tasks=[running.id])  # live changes come on the stream
        await wait_until(pilot, lambda: running.state is TaskState.CANCELLED, _LIMIT,
                         "the change heard")
        _ask(cli_env, job, "stop")
        await wait_until(pilot, lambda: d.exit_code is not None, _LIMIT, "the job's end")
    assert procs[0].wait(_LIMIT) == 130


async def test_a_watch_jobs_new_files_join_the_attached_list(
        tmp_path: Path, cli_env: dict[str, str], procs: list[subprocess.Popen[str]]) -> None:
    root = tmp_path / "in"
    _files(root, ["a0.txt", "a1.txt"])
    out = tmp_path / "seen"
    out.mkdir()
    proc = subprocess.Popen(
        [*tui_batch_cmd(), "watch", str(root), "--shell", "--exec", f'cp "$1" "{out}/"',
         "--settle", "0.1", "--headless"],
        env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    procs.append(proc)
    job = _served(cli_env, proc)
    _until("the first files done", lambda: _ask(cli_env, job)["stats"]["done"] == 2)
    app = app_for(Path(cli_env["TUI_BATCH_DB"]), start="attach", job_id=job)
    async with app.run_test(size=(80, 24)) as pilot:
        d = dashboard(app)
        await wait_until(pilot, lambda: len(d.task_list.source) == 2, _LIMIT, "two rows")
        _files(root, ["b0.txt", "b1.txt", "b2.txt"])  # arrive after the viewer attached

        def listed() -> dict[str, Any]:
            return {t.rel: t for t in d.task_list.source}

        await wait_until(pilot, lambda: {"b0.txt", "b1.txt", "b2.txt"} <= set(listed()),
                         _LIMIT, "the new files listed")
        await wait_until(pilot, lambda: all(t.state is TaskState.DONE
                                            for t in listed().values()), _LIMIT, "all done")
        assert len(listed()) == 5 and listed()["b1.txt"].path == str(root / "b1.txt")
        assert "tasks" not in d.engine.sent
        await wait_until(pilot, lambda: d.stats_panel.stats.done == 5, _LIMIT, "counted")
        await pilot.press("q")
    assert proc.poll() is None  # the viewer left; the watch goes on
    _ask(cli_env, job, "stop")
    proc.wait(_LIMIT)


async def test_r_on_a_paused_running_job_resumes_it_through_its_socket(
        tmp_path: Path, cli_env: dict[str, str], procs: list[subprocess.Popen[str]]) -> None:
    _files(tmp_path / "in", [f"f{k}.txt" for k in range(4)])
    go = tmp_path / "go"
    job = _gated(cli_env, tmp_path / "in", go, procs)
    _ask(cli_env, job, "pause")
    app = app_for(Path(cli_env["TUI_BATCH_DB"]), start="jobs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, JobsScreen)

        def row() -> Any:
            return next((r for r in screen.jobs if r.id == job and r.live is not None), None)

        await wait_until(pilot, lambda: row() is not None and row().paused, _LIMIT,
                         "the row says paused")
        await pilot.press("r")
        await wait_until(pilot, lambda: not _ask(cli_env, job)["paused"], _LIMIT, "resumed")
        await wait_until(pilot, lambda: any("resumed" in str(n.message)
                                            for n in app._notifications), _LIMIT, "said")
        assert isinstance(app.screen, JobsScreen)  # no dashboard opened: it runs elsewhere
        await wait_until(pilot, lambda: not row().paused, _LIMIT, "the row says running")
        await pilot.press("r")  # again: it is not paused, and says so
        await wait_until(pilot, lambda: any("was not paused" in str(n.message)
                                            for n in app._notifications), _LIMIT, "told")
    go.touch()
    assert procs[0].wait(_LIMIT) == 0
