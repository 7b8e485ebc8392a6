"""`tui-batch watch --detach`: a watch handed to the per-user service (issue 11).

Real processes and sockets, a private service per test (the helpers of tests/test_service.py:
own runtime folder, data folder and store; always stopped at the end). The watched folder gets
its files from the test; tasks append "s PATH" / "e PATH" lines to a log, and those that must
stay running wait for a GO file the test creates, so nothing depends on timing: the test waits
for states it can see (the status, the log), never for a fixed time.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd
from tests.service_support import BLOCKED, RECORD, Svc, _zombie
from tui_batch.control import connect
from tui_batch.service import ServiceRefused
from tui_batch.store import Store


@pytest.fixture
def svc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Svc]:
    s = Svc(tmp_path)
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "TUI_BATCH_DB"):
        monkeypatch.setenv(name, s.env[name])
    try:
        yield s
    finally:
        s.shutdown()


def _watch_args(root: Path, script: str, *extra: str) -> list[str]:
    return ["watch", str(root), "--ext", "txt", "--shell", "--exec", script, "--settle", "0.05",
            *extra]


def _detach_watch(svc: Svc, root: Path, script: str, *extra: str) -> dict[str, Any]:
    out = svc.cli(*_watch_args(root, script, "--detach", "--json", *extra)).stdout
    answer: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    assert answer["event"] == "detached" and answer["kind"] == "watch"
    return answer


def _row(svc: Svc, job: int) -> dict[str, Any]:
    rows = [j for j in svc.status()["jobs"] if j["job_id"] == job]
    assert rows, f"job {job} is not in the service"
    return rows[0]


def _stats(svc: Svc, job: int) -> dict[str, Any]:
    return _row(svc, job).get("stats") or {}


def _ends(svc: Svc) -> list[str]:
    return [p for k, p in svc.lines() if k == "e"]


def test_detached_watch_processes_a_file_dropped_after_its_shell_exited(svc: Svc) -> None:
    root = svc.tmp / "in"
    root.mkdir()
    (root / "before.txt").write_text("0\n")
    cmd = shlex.join([*tui_batch_cmd(), *_watch_args(root, RECORD.format(log=svc.log, pause=0),
                                                     "--detach", "--json")])
    shell = subprocess.run(["sh", "-c", cmd], env=svc.env, capture_output=True, text=True,
                           timeout=60)  # the shell that started the watch is gone after this
    assert shell.returncode == 0, shell.stderr
    answer = json.loads(shell.stdout.strip().splitlines()[-1])
    job = int(answer["job"])
    assert answer["state"] == "running" and answer["attach"].startswith(f"tui-batch attach {job}")
    (root / "after.txt").write_text("1\n")
    svc.wait_for(lambda: sorted(_ends(svc)) == ["after.txt", "before.txt"])
    row = _row(svc, job)
    assert row["kind"] == "watch" and row["state"] == "running"
    assert row["watch"]["roots"] == [str(root)] and row["watch"]["seen"] == 2
    svc.wait_for(lambda: _stats(svc, job).get("done") == 2)
    text = svc.cli("service", "status").stdout
    assert f"watch job {job} 'watch {root}': watching (" in text and "2 seen" in text, text
    assert "2/2 done" in text
    # the same watch cannot run twice: refused at once, naming the service that runs it
    again = svc.cli(*_watch_args(root, RECORD.format(log=svc.log, pause=0), "--detach"),
                    ok=False)
    assert again.returncode == 2 and "already being watched" in again.stderr
    # a malformed watch hand-over is answered, and the service and its watch go on
    with pytest.raises(ServiceRefused, match="spec and settings"):
        svc.call("submit", db=str(svc.db), job_id=job, kind="watch", watch={"spec": 3})
    with pytest.raises(ServiceRefused, match="kind"):
        svc.call("submit", db=str(svc.db), job_id=job, kind="cron")
    assert _row(svc, job)["state"] == "running"
    assert len(svc.lines()) == 4  # nothing ran twice


def test_pause_workers_cancel_resume_and_wait_through_the_watch_socket(svc: Svc) -> None:
    root = svc.tmp / "in"
    root.mkdir()
    job = int(_detach_watch(svc, root, RECORD.format(log=svc.log, pause=0))["job"])
    assert "paused" in svc.cli("pause", str(job)).stdout
    (root / "a.txt").write_text("a\n")
    (root / "b.txt").write_text("b\n")
    # admitted while paused: both queued, none started (a broken pause would start them at once)
    svc.wait_for(lambda: _stats(svc, job).get("queued") == 2)
    assert _stats(svc, job)["running"] == 0 and svc.lines() == []
    assert _row(svc, job)["state"] == "paused"
    assert json.loads(svc.cli("workers", str(job), "3", "--json").stdout)["workers"] == 3
    assert _row(svc, job)["workers"] == 3
    cancelled = svc.cli("cancel", str(job), str(root / "b.txt"), "--json").stdout
    assert json.loads(cancelled)["cancelled"] == 1
    assert "resumed" in svc.cli("resume", str(job)).stdout
    svc.wait_for(lambda: _ends(svc) == ["a.txt"])
    svc.wait_for(lambda: _stats(svc, job).get("done") == 1)
    assert _stats(svc, job)["cancelled"] == 1
    # `wait` follows the watch until it ends; stopping it through its socket ends it resumably
    waiter = subprocess.Popen([*tui_batch_cmd(), "wait", str(job)], env=svc.env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        client = connect(str(svc.db), job)
        assert client is not None
        with client:
            client.call("stop")
        out, err = waiter.communicate(timeout=60)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 0, (out, err)  # nothing left over: the watch's job is done
    svc.wait_for(lambda: svc.status()["jobs"] == [])
    assert svc.job_state(job) == "done"


def test_the_watch_takes_its_turn_under_the_service_limit_and_priority(svc: Svc) -> None:
    svc.cli("service", "start", "--workers", "1")
    normal = svc.detach(svc.tree("n", 3), BLOCKED.format(go=svc.go, log=svc.log, pause=0),
                        "-j", "4")
    root = svc.tmp / "w"
    root.mkdir()
    watch = int(_detach_watch(svc, root, RECORD.format(log=svc.log, pause=0), "-j", "4",
                              "--priority", "urgent")["job"])
    svc.wait_for(lambda: svc.status()["running_tasks"] == 1)  # n's first task, held at GO
    (root / "w0.txt").write_text("w0\n")
    (root / "w1.txt").write_text("w1\n")
    svc.wait_for(lambda: _stats(svc, watch).get("queued") == 2)  # waiting for the one permit
    assert svc.status()["running_tasks"] == 1 and svc.lines() == []
    svc.go.touch()
    assert svc.wait_job(normal) == "done"
    svc.wait_for(lambda: len(_ends(svc)) == 5)
    starts = [p[0] for k, p in svc.lines() if k == "s"]
    assert starts == ["n", "w", "w", "n", "n"]  # urgent first once the running one ended
    assert svc.peak() == 1


@pytest.mark.slow
def test_kill_9_restart_and_stop_leave_the_watch_going_then_resumable(svc: Svc) -> None:
    svc.cli("service", "start", "--workers", "1")
    root = svc.tmp / "in"
    root.mkdir()
    script = BLOCKED.format(go=svc.go, log=svc.log, pause=0)
    args = _watch_args(root, script, "--grace", "30")
    job = int(_detach_watch(svc, root, script, "--grace", "30")["job"])
    svc.go.touch()
    (root / "a.txt").write_text("a\n")
    svc.wait_for(lambda: _ends(svc) == ["a.txt"])

    pid = svc.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    svc.wait_for(lambda: _zombie(pid) or not Path(f"/proc/{pid}").exists())
    (root / "b.txt").write_text("b\n")  # arrives while nobody watches
    svc.cli("service", "start")  # restores the watch: its start-up scan finds b
    svc.wait_for(lambda: _ends(svc) == ["a.txt", "b.txt"])
    row = _row(svc, job)
    assert row["kind"] == "watch" and row["state"] == "running"
    assert [p for k, p in svc.lines() if k == "s"] == ["a.txt", "b.txt"]  # each once

    # `service stop` is the watch's SIGTERM: the running task finishes within the grace,
    # the queued one stays in the job, the service exits 0
    svc.go.unlink()
    (root / "c.txt").write_text("c\n")
    (root / "d.txt").write_text("d\n")
    svc.wait_for(lambda: _stats(svc, job).get("running") == 1
                 and _stats(svc, job).get("queued") == 1)
    stopper = subprocess.Popen([*tui_batch_cmd(), "service", "stop"], env=svc.env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        svc.wait_for(lambda: _row(svc, job)["state"] == "stopping")
        svc.go.touch()
        out, err = stopper.communicate(timeout=60)
    finally:
        if stopper.poll() is None:
            stopper.kill()
    assert stopper.returncode == 0 and "1 job stopped" in out, (out, err)
    ran = [p for k, p in svc.lines() if k == "e"]
    assert ran[:2] == ["a.txt", "b.txt"] and len(ran) == 3  # the running one ended, not killed
    assert svc.job_state(job) == "interrupted"

    # `tui-batch watch` with the same command picks the watch (and its job) up again
    fg = subprocess.Popen([*tui_batch_cmd(), *args, "--headless"], env=svc.env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        svc.wait_for(lambda: len(_ends(svc)) == 4)
        fg.send_signal(signal.SIGTERM)
        out, err = fg.communicate(timeout=60)
    finally:
        if fg.poll() is None:
            fg.kill()
    assert fg.returncode == 0, err
    assert sorted(_ends(svc)) == ["a.txt", "b.txt", "c.txt", "d.txt"]
    assert svc.job_state(job) == "done"
    with Store(svc.db, readonly=True) as store:
        assert [j.id for j in store.list_jobs()] == [job]  # one job for the watch, throughout
