"""`tui-batch watch` on a terminal runs the watch in the per-user service (issue 11): the
dashboard is attached to it with its watch header (mode, settling, idle since come over the
watch's control socket), and quitting asks whether to leave the watch running or to stop it.

Real processes and sockets, with the private service of tests/test_tui_service.py (one per
module; each test its own store, tree and task log). Tasks record their start and end in the
log; blocked ones wait for a GO file the test creates, so nothing depends on timing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service_support import BLOCKED, RECORD, Svc
from tests.ui_support import app_for, dashboard, wait_until
from tui_batch.control.client import connect
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.store import Store
from tui_batch.ui.dialogs.leave_job import LeaveJobDialog
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.watch import Watcher

pytestmark = pytest.mark.anyio

WATCH = {"settle": 0.05, "rescan": 0, "on_stop": "stop"}
"""A quick watch: files are taken 50 ms after they stop changing; quit's stop is at once."""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Svc]:
    s = Svc(tmp_path_factory.mktemp("svcw"))
    try:
        yield s
    finally:
        s.shutdown()


@pytest.fixture
def svc(service: Svc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Svc:
    s = service
    s.tmp, s.db, s.log, s.go = tmp_path, tmp_path / "jobs.db", tmp_path / "tasks.log", \
        tmp_path / "GO"
    s.env["TUI_BATCH_DB"] = str(s.db)
    s.env.pop("TUI_BATCH_NO_TUI", None)
    s.env.pop("TUI_BATCH_INPROCESS", None)
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "TUI_BATCH_DB"):
        monkeypatch.setenv(name, s.env[name])
    monkeypatch.delenv("TUI_BATCH_INPROCESS", raising=False)
    return s


def _spec(root: Path, script: str) -> JobSpec:
    return JobSpec(filter=FilterSpec(roots=[str(root)], extensions=["txt"]),
                   action=ActionSpec(template=script, shell=True),
                   settings=EngineSettings(workers=2))


def _ended(svc: Svc) -> list[str]:
    return sorted(path for kind, path in svc.lines() if kind == "e")


def _header(app: Any) -> str:
    header = dashboard(app).view.watch_header
    assert header is not None
    return header.text()


def _stop_watch(db: Path, job_id: int) -> None:
    """End a watch left running in the shared service (the next test's state is its own)."""
    client = connect(str(db), job_id)
    if client is not None:
        with client:
            client.call("stop")


async def test_watch_runs_in_the_service_attached_and_goes_on_when_left(svc: Svc) -> None:
    root = svc.tree("w", 2)
    app = app_for(svc.db, spec=_spec(root, RECORD.format(log=svc.log, pause=0)),
                  start="watch", watch=dict(WATCH))
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and dashboard(app).running and len(_ended(svc)) == 2, timeout=30,
                         what="the watch attached, its two files done")
        screen = dashboard(app)
        job_id = screen.job_id
        assert screen.job.in_service and screen.sub_title.endswith("in the background")
        assert screen.engine.pid == svc.pid()  # the service runs the watch, not this process
        # the header's fields come over the watch's socket: how it watches, idle since
        await wait_until(pilot, lambda: "inotify" in _header(app) or "polling" in _header(app),
                         what="the watch's mode")
        await wait_until(pilot, lambda: "idle since" in _header(app)
                         and "settling 0" in _header(app) and "last w0" in _header(app),
                         timeout=30, what="idle since, nothing settling, the last file")
        text = _header(app)
        assert text.startswith(f"Watching {root}") and "settle 0.05s" in text
        assert "last w0" in text  # a file the service's watch saw, not this process
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, LeaveJobDialog), what="dialog")
        assert "watching" in str(app.screen.query_one("#leave-choices").get_option_at_index(0)
                                 .prompt)
        await pilot.press("l")
    try:
        assert app.return_value == 0
        assert app.farewell is not None and f"tui-batch attach {job_id}" in app.farewell
        assert svc.job_state(job_id) == "running"
        (root / "late.txt").write_text("dropped after the dashboard closed\n")
        svc.wait_for(lambda: "late.txt" in _ended(svc))  # the watch went on in the service
        assert _ended(svc) == ["late.txt", "w00.txt", "w01.txt"]
    finally:
        _stop_watch(svc.db, job_id)


async def test_quit_stop_stops_the_watch_resumably(svc: Svc) -> None:
    root = svc.tree("s", 2)
    spec = _spec(root, BLOCKED.format(go=svc.go, log=svc.log, pause=0))
    app = app_for(svc.db, spec=spec, start="watch", watch=dict(WATCH))
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and dashboard(app).running
                         and dashboard(app).engine.snapshot().running == 2, timeout=30,
                         what="two tasks running in the service")
        job_id = dashboard(app).job_id
        assert dashboard(app).job.in_service
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, LeaveJobDialog), what="dialog")
        await pilot.press("s")
    assert app.return_value == 130  # work is left: the two stopped tasks
    deadline = time.monotonic() + 30  # the service lets it go once its tasks have stopped
    while job_id in [j["job_id"] for j in svc.status()["jobs"]]:
        assert time.monotonic() < deadline, "the service kept the stopped watch"
        time.sleep(0.05)
    assert _ended(svc) == []
    with Store(svc.db, readonly=True) as store:
        counts = store.task_counts(job_id)
    assert counts.get("done", 0) == 0 and sum(counts.values()) == 2
    # `tui-batch watch` again (the same watch, here in this process) picks it up
    svc.go.touch()
    store = Store(svc.db)
    try:
        watcher = Watcher(spec, store, settle=0.05, rescan=0)
        assert watcher.job_id == job_id

        async def until_done() -> None:
            while watcher.engine.snapshot().done < 2:
                await asyncio.sleep(0.02)
            watcher.stop()

        waiting = asyncio.ensure_future(until_done())
        await asyncio.wait_for(watcher.run(), 30)
        await waiting
        await watcher.aclose()
    finally:
        store.close()
    assert _ended(svc) == ["s00.txt", "s01.txt"]
