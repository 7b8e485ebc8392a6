"""The per-user service (issue 11): `run --detach`, `service start/stop/status`, groups, the
machine-wide limit and priority order, and a restart after `kill -9`.

Real processes and sockets. Each test gets its own runtime folder, data folder and job store
(environment variables of the processes it starts), so no test reaches the user's service,
and the fixture always stops the service it started (`service stop`, then kill -9).
Tasks that must overlap wait for a GO file the test creates once everything is in place, so
nothing depends on timing; concurrency is read from start/end lines the tasks append to a log
(a permit is given back only after a task's process has exited, so the lines are exact).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import socket
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd
from tests.service_support import BLOCKED, RECORD, Svc, _zombie
from tui_batch.service import ServiceRefused


@pytest.fixture
def svc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Svc]:
    s = Svc(tmp_path)
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "TUI_BATCH_DB"):
        monkeypatch.setenv(name, s.env[name])
    try:
        yield s
    finally:
        s.shutdown()


def test_detached_job_outlives_its_shell_and_json(svc: Svc) -> None:
    root = svc.tree("a", 5)
    script = RECORD.format(log=svc.log, pause=0)
    cmd = shlex.join([*tui_batch_cmd(), "run", str(root), "--ext", "txt", "--shell", "--exec",
                      script, "--detach", "--json", "-j", "2"])
    shell = subprocess.run(["sh", "-c", cmd], env=svc.env, capture_output=True, text=True,
                           timeout=60)  # the shell that started the job is gone after this
    assert shell.returncode == 0, shell.stderr
    answer = json.loads(shell.stdout.strip().splitlines()[-1])
    assert answer["event"] == "detached" and answer["state"] == "running"
    assert answer["attach"].startswith(f"tui-batch attach {answer['job']}")
    assert svc.wait_job(answer["job"]) == "done"
    assert sorted(p for k, p in svc.lines() if k == "e") == [f"a{i:02d}.txt" for i in range(5)]
    # the service started on first use; it keeps running, and knows the job has ended
    st = json.loads(svc.cli("service", "status", "--json").stdout)
    assert st["running"] is True and st["jobs"] == []
    assert st["socket"] == os.path.join(svc.rt, "tui-batch", "service.sock")


def test_global_limit_holds_over_two_jobs_and_status(svc: Svc) -> None:
    out = svc.cli("service", "start", "--workers", "2").stdout
    assert "service started" in out
    script = BLOCKED.format(go=svc.go, log=svc.log, pause=0.02)
    one = svc.detach(svc.tree("a", 4), script, "-j", "4")
    two = svc.detach(svc.tree("b", 4), script, "-j", "4")
    st = svc.status()
    assert st["workers"] == 2 and st["running_tasks"] == 2
    assert sorted(j["job_id"] for j in st["jobs"]) == [one, two]
    assert all(j["workers"] == 4 for j in st["jobs"])
    text = svc.cli("service", "status").stdout
    assert "workers: 2 of 2 running" in text and f"job {one}" in text
    svc.go.touch()
    assert svc.wait_job(one) == "done" and svc.wait_job(two) == "done"
    assert len(svc.lines()) == 16
    assert svc.peak() == 2


def test_urgent_job_overtakes_a_normal_one(svc: Svc) -> None:
    svc.cli("service", "start", "--workers", "1")
    normal = svc.detach(svc.tree("n", 4), BLOCKED.format(go=svc.go, log=svc.log, pause=0))
    urgent = svc.detach(svc.tree("u", 2), RECORD.format(log=svc.log, pause=0),
                        "--priority", "urgent")
    svc.go.touch()
    assert svc.wait_job(normal) == "done" and svc.wait_job(urgent) == "done"
    starts = [p[0] for k, p in svc.lines() if k == "s"]
    assert starts == ["n", "u", "u", "n", "n", "n"]  # the one running first, then urgent


def test_group_limit_and_unknown_group(svc: Svc) -> None:
    svc.cli("service", "start", "--workers", "4")
    assert "group io: 1 workers" in svc.cli("group", "add", "io", "--workers", "1").stdout
    with pytest.raises(ServiceRefused, match="already exists"):
        svc.call("group_add", name="io", workers=2)
    unknown = svc.cli("run", str(svc.tree("x", 1)), "--exec", "true", "--detach",
                      "--group", "nope", ok=False)
    assert unknown.returncode == 2 and "--group" in unknown.stderr
    job = svc.detach(svc.tree("g", 4), RECORD.format(log=svc.log, pause=0.02),
                     "-j", "4", "--group", "io")
    assert svc.wait_job(job) == "done"
    assert svc.peak() == 1
    groups = json.loads(svc.cli("group", "list", "--json").stdout)["groups"]
    assert groups == [{"name": "io", "workers": 1, "running": 0, "jobs": []}]
    svc.call("group_remove", name="io")
    assert svc.call("groups")["groups"] == []


def test_stop_leaves_jobs_resumable(svc: Svc) -> None:
    svc.cli("service", "start", "--workers", "1")
    job = svc.detach(svc.tree("s", 3), BLOCKED.format(go=svc.go, log=svc.log, pause=0))
    pid = svc.pid()
    stop = svc.cli("service", "stop")
    assert "1 job stopped" in stop.stdout
    assert pid is not None
    assert not Path(f"/proc/{pid}").exists() or _zombie(pid)
    assert svc.job_state(job) == "interrupted"
    # stopped jobs leave the registry: a new service does not take them up again
    assert "service started" in svc.cli("service", "start").stdout
    assert "already running" in svc.cli("service", "start").stdout
    assert svc.status()["jobs"] == []
    svc.go.touch()
    resumed = svc.cli("resume", str(job), "--headless")
    assert resumed.returncode == 0
    assert svc.job_state(job) == "done"


@pytest.mark.slow
def test_kill_9_of_the_service_then_restart_runs_every_file(svc: Svc) -> None:
    svc.cli("service", "start", "--workers", "2")
    job = svc.detach(svc.tree("k", 12), RECORD.format(log=svc.log, pause=0.1), "-j", "2")
    svc.wait_for(lambda: sum(1 for k, _ in svc.lines() if k == "e") >= 3)
    pid = svc.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    svc.wait_for(lambda: _zombie(pid) or not Path(f"/proc/{pid}").exists())
    svc.cli("service", "start")  # finds the job in its registry and runs what is left
    assert svc.wait_job(job) == "done"
    starts = [p for k, p in svc.lines() if k == "s"]
    assert sorted(set(starts)) == [f"k{i:02d}.txt" for i in range(12)]
    assert len(starts) <= 12 + 2  # only the tasks running at the kill ran twice
    assert svc.status()["jobs"] == []


def test_garbage_is_answered_and_other_users_are_refused(svc: Svc) -> None:
    svc.cli("service", "start")
    path = os.path.join(svc.rt, "tui-batch", "service.sock")
    assert os.stat(path).st_mode & 0o777 == 0o600
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(struct.pack(">I", 1 << 30))  # a length far over the frame limit
        head = s.recv(4)
        answer = json.loads(s.recv(struct.unpack(">I", head)[0]))
        assert answer["ok"] is False and "limit" in answer["error"]
    assert svc.status()["pid"] == svc.pid()  # the service goes on
    if os.getuid() != 0:
        return  # a second uid needs root to switch to
    folder = os.path.join(svc.rt, "tui-batch")
    os.chmod(svc.rt, 0o711)
    os.chmod(folder, 0o711)  # let the other user reach the socket: the peer check refuses
    os.chmod(path, 0o666)
    try:
        answer = _hello_as(65534, path)
    finally:
        os.chmod(path, 0o600)
        os.chmod(folder, 0o700)
        os.chmod(svc.rt, 0o700)
    assert answer["ok"] is False and "permission denied" in answer["error"]


def _hello_as(uid: int, path: str) -> dict[str, Any]:
    """The service's first answer to a hello sent by a process running as ``uid``."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become the other user, say hello, report, exit
        try:
            os.close(read)
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(5)
                s.connect(path)
                d = json.dumps({"hello": "tui-batch", "version": 1}).encode()
                s.sendall(struct.pack(">I", len(d)) + d)
                n = struct.unpack(">I", s.recv(4))[0]
                os.write(write, s.recv(n))
        except BaseException as exc:
            os.write(write, json.dumps({"ok": None, "error": repr(exc)}).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return json.loads(data)


# ---------------------------------------------------------------------- the shared limit
def _engines(tmp: Path, *jobs: tuple[str, int, Any, Any]) -> tuple[list[Any], list[str], list[int]]:
    """Engines of in-process tasks under shared limits: ``(tag, n, priority, gate)`` each.
    Returns the engines, the start order (tags) and the peak of tasks running at once."""
    from tests.test_engine import FnAction, make_tasks
    from tui_batch.engine import Engine
    from tui_batch.model import EngineSettings

    order: list[str] = []
    running, peak = [0], [0]

    def make(tag: str) -> Any:
        async def work(ctx: Any) -> None:
            order.append(tag)
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            await asyncio.sleep(0.001)
            running[0] -= 1
        return work

    engines = []
    for k, (tag, n, prio, gate) in enumerate(jobs):
        eng = Engine(FnAction(make(tag)), EngineSettings(workers=4), gate=gate)
        eng.submit(make_tasks(tmp, n, prio=prio, start=1 + 100 * k))
        engines.append(eng)
    return engines, order, peak


def test_shared_limit_caps_engines_and_serves_the_most_urgent_first(tmp_path: Path) -> None:
    from tui_batch.engine import SharedLimit
    from tui_batch.model import Priority

    limit = SharedLimit(2)
    engines, order, peak = _engines(tmp_path, ("n", 6, Priority.NORMAL, limit),
                                    ("u", 6, Priority.URGENT, limit))

    async def main() -> None:
        await asyncio.gather(*(e.run() for e in engines))

    asyncio.run(main())
    assert peak[0] == 2 and limit.in_use == 0 and limit.waiting == 0
    assert order[2:8] == ["u"] * 6  # once the first two started, urgent goes first
    assert order.count("n") == 6


def test_group_limit_inside_the_global_one_and_stop_while_waiting(tmp_path: Path) -> None:
    from tui_batch.engine import SharedLimit
    from tui_batch.model import Priority

    top = SharedLimit(3)
    group = SharedLimit(1, parent=top, name="io")
    engines, order, peak = _engines(tmp_path, ("g", 4, Priority.URGENT, group),
                                    ("f", 8, Priority.NORMAL, top))

    async def main() -> None:
        await asyncio.gather(*(e.run() for e in engines))

    asyncio.run(main())
    assert peak[0] <= 3 and order.count("g") == 4 and order.count("f") == 8
    assert top.in_use == group.in_use == 0

    # a stopped engine's waiting workers leave the queue and hold no permit
    busy = SharedLimit(1)
    (tmp_path / "x").mkdir()
    (first, second), _order, _peak = _engines(tmp_path / "x", ("a", 3, Priority.NORMAL, busy),
                                              ("b", 3, Priority.NORMAL, busy))

    async def stop_one() -> None:
        task = asyncio.ensure_future(second.run())
        await asyncio.sleep(0)
        second.stop()
        await task
        await first.run()

    asyncio.run(stop_one())
    assert busy.in_use == 0 and busy.waiting == 0
