"""Jobs the TUI starts run in the per-user service (issue 11): the dashboard is attached to
them, quitting asks whether to leave the job running or to stop it, and a job whose service
cannot start runs in the TUI's own process instead.

Real processes and sockets, as in tests/test_service.py (whose private-service environment
:class:`Svc` this reuses): each test gets its own runtime folder, data folder and store, and
unsets ``TUI_BATCH_INPROCESS`` (conftest.py sets it for the rest of the suite). Tasks wait
for a GO file the test creates once the job is where the test wants it, so nothing depends
on timing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd
from tests.service_support import BLOCKED, RECORD, Svc
from tests.ui_support import app_for, dashboard, wait_until
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.service import handover
from tui_batch.store import Store
from tui_batch.ui import app as app_module
from tui_batch.ui.dialogs.leave_job import LeaveJobDialog
from tui_batch.ui.screens.dashboard import DashboardScreen

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Svc]:
    """One private service for the module's tests (each starts it on first use otherwise:
    a second of start-up per test); each test has its own store, tree and task log."""
    s = Svc(tmp_path_factory.mktemp("svc"))
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
    return JobSpec(filter=FilterSpec(roots=[str(root)]),
                   action=ActionSpec(template=script, shell=True),
                   settings=EngineSettings(workers=2))


def _running_both(app: Any) -> bool:
    """The dashboard is attached and two tasks run (blocked on the GO file)."""
    screen = app.screen
    return (isinstance(screen, DashboardScreen) and screen.running
            and screen.engine is not None and screen.engine.snapshot().running == 2)


def _ended(svc: Svc) -> list[str]:
    """The files whose task ran to its end, each as often as it did."""
    return sorted(path for kind, path in svc.lines() if kind == "e")


async def test_quit_leave_running_exits_0_and_the_job_finishes(svc: Svc) -> None:
    root = svc.tree("a", 4)
    app = app_for(svc.db, spec=_spec(root, BLOCKED.format(go=svc.go, log=svc.log, pause=0)),
                  start="run")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: _running_both(app), timeout=30, what="two tasks")
        screen = dashboard(app)
        job_id = screen.job_id
        assert screen.job.in_service and screen.sub_title.endswith("in the background")
        assert screen.engine.pid == svc.pid()  # the service runs it, not this process
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, LeaveJobDialog), what="dialog")
        await pilot.press("escape")  # Cancel: stay on the dashboard, the job untouched
        await wait_until(pilot, lambda: app.screen is screen, what="back on the dashboard")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, LeaveJobDialog), what="dialog")
        await pilot.press("q")  # q again: the highlighted answer, "leave it running"
    assert app.return_value == 0
    assert app.farewell is not None and f"tui-batch attach {job_id}" in app.farewell
    assert svc.job_state(job_id) == "running"
    svc.go.touch()
    assert svc.wait_job(job_id) == "done"
    assert _ended(svc) == [f"a{i:02d}.txt" for i in range(4)]


async def test_quit_stop_leaves_the_job_interrupted_and_resumable(svc: Svc) -> None:
    root = svc.tree("b", 4)
    app = app_for(svc.db, spec=_spec(root, BLOCKED.format(go=svc.go, log=svc.log, pause=0)),
                  start="run")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: _running_both(app), timeout=30, what="two tasks")
        job_id = dashboard(app).job_id
        await pilot.press("ctrl+c")  # as q
        await wait_until(pilot, lambda: isinstance(app.screen, LeaveJobDialog), what="dialog")
        await pilot.press("s")
    assert app.return_value == 130
    assert svc.job_state(job_id) == "interrupted"
    assert job_id not in [j["job_id"] for j in svc.status()["jobs"]]  # the service let it go
    svc.go.touch()
    svc.cli("resume", str(job_id), "--headless")
    assert svc.job_state(job_id) == "done"
    assert _ended(svc) == [f"b{i:02d}.txt" for i in range(4)]


async def test_stop_while_the_job_is_being_handed_over_stops_it_once_it_runs(
        svc: Svc, monkeypatch: pytest.MonkeyPatch) -> None:
    """q while the service takes the job (its first start can take a second) asks too, and
    "stop" waits for the hand-over, then stops the job: never a job left running unasked."""
    gate = threading.Event()
    real, real_answer = handover.hand_over, app_module.leave_or_stop
    pending_at_answer: list[bool] = []

    def gated(*args: Any, **kw: Any) -> dict[str, Any]:
        gate.wait(30)
        return real(*args, **kw)

    async def answered(app: Any, screen: Any, choice: str | None) -> None:
        pending_at_answer.append(screen.job.handing_over)
        gate.set()  # the service takes the job only now, after the answer
        await real_answer(app, screen, choice)

    monkeypatch.setattr(handover, "hand_over", gated)
    monkeypatch.setattr(app_module, "leave_or_stop", answered)
    root = svc.tree("f", 3)
    app = app_for(svc.db, spec=_spec(root, BLOCKED.format(go=svc.go, log=svc.log, pause=0)),
                  start="run")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and dashboard(app).job.handing_over, what="the hand-over")
        screen = dashboard(app)
        job_id = screen.job_id
        assert not screen.check_action("back", ())  # Esc would leave it unasked
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, LeaveJobDialog), what="dialog")
        await pilot.press("s")
    assert pending_at_answer == [True]
    assert app.return_value == 130
    assert svc.job_state(job_id) == "interrupted"
    assert [kind for kind, _ in svc.lines()] == []  # stopped before any task ended


async def test_a_job_that_ended_quits_without_asking(svc: Svc) -> None:
    root = svc.tree("c", 3)
    app = app_for(svc.db, spec=_spec(root, RECORD.format(log=svc.log, pause=0)), start="run")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and dashboard(app).exit_code is not None, timeout=30, what="the end")
        assert dashboard(app).job.in_service
        await pilot.press("q")
    assert app.return_value == 0 and app.farewell is None
    assert _ended(svc) == [f"c{i:02d}.txt" for i in range(3)]


async def test_service_unavailable_runs_the_job_here_with_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = Svc(tmp_path)
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "TUI_BATCH_DB"):
        monkeypatch.setenv(name, svc.env[name])
    monkeypatch.delenv("TUI_BATCH_INPROCESS", raising=False)
    folder = svc.data / "tui-batch" / "service"
    folder.mkdir(parents=True)
    folder.chmod(0o755)  # not private: the service refuses to start in it
    root = svc.tree("d", 3)
    app = app_for(svc.db, spec=_spec(root, RECORD.format(log=svc.log, pause=0)), start="run")
    warnings: list[str] = []
    notify = app.notify

    def heard(message: str, **kw: Any) -> None:
        if kw.get("severity") == "warning":
            warnings.append(message)
        notify(message, **kw)

    app.notify = heard  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and dashboard(app).exit_code is not None, timeout=30, what="the end")
        screen = dashboard(app)
        assert not screen.job.in_service and not screen.job.attached
        assert screen.sub_title == f"job {screen.job_id}"
        await pilot.press("q")
    assert app.return_value == 0
    assert len(warnings) == 1 and "runs in this terminal instead" in warnings[0]
    assert "service folder" in warnings[0]
    assert svc.pid() is None
    assert _ended(svc) == [f"d{i:02d}.txt" for i in range(3)]
    shutil.rmtree(svc.rt, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_a_tui_started_job_survives_tmux_kill_session(svc: Svc) -> None:
    root = svc.tree("e", 6)
    script = BLOCKED.format(go=svc.go, log=svc.log, pause=0)
    cmd = [*tui_batch_cmd(), "run", str(root), "--ext", "txt", "--shell", "--exec", script,
           "-j", "2"]
    env = {k: svc.env[k] for k in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "TUI_BATCH_DB")}
    shell = "env -u TUI_BATCH_INPROCESS -u TUI_BATCH_NO_TUI " + " ".join(
        f"{k}={shlex.quote(v)}" for k, v in env.items()) + " TERM=xterm-256color " + \
        shlex.join(cmd)
    tmux = ["tmux", "-L", f"tbt1-{svc.rt.rsplit('/', 1)[-1]}", "-f", "/dev/null"]
    subprocess.run([*tmux, "new-session", "-d", "-s", "job", "-x", "80", "-y", "24", shell],
                   check=True, env=svc.env, timeout=30)
    try:
        def attached() -> bool:
            jobs = [j for j in svc.status()["jobs"] if j["db"] == os.path.realpath(svc.db)] \
                if svc.pid() else []
            if not jobs or jobs[0].get("stats") is None or jobs[0]["stats"]["running"] < 2:
                return False
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "job"],
                                    capture_output=True, text=True).stdout
            return "in the background" in screen and "running" in screen
        svc.wait_for(attached, timeout=60)
        job_id = next(int(j["job_id"]) for j in svc.status()["jobs"]
                      if j["db"] == os.path.realpath(svc.db))
    finally:
        subprocess.run([*tmux, "kill-session", "-t", "job"], capture_output=True, timeout=30)
    svc.go.touch()
    done = subprocess.run([*tui_batch_cmd(), "wait", str(job_id)], env=svc.env,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, (done.stdout, done.stderr)
    with Store(svc.db, readonly=True) as store:
        assert store.get_job(job_id).state == "done"
    assert _ended(svc) == [f"e{i:02d}.txt" for i in range(6)]
