"""The fork-server spawn mode (TUI_BATCH_SPAWN=forkserver): parity with the default loop mode
(same outcomes, same child environment) and its own failure modes (server death, restart,
shutdown). Real processes throughout, no mocks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tui_batch.actions import Action, resolve_action
from tui_batch.engine import Engine, Task
from tui_batch.engine.executors import DEFAULT_SPAWN, SubprocessExecutor
from tui_batch.model import ActionSpec, EngineSettings, TaskState

MODES = ["loop", "forkserver"]


@pytest.fixture
def fs_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_BATCH_SPAWN", "forkserver")


def cmd(template: str, shell: bool = False) -> Action:
    return resolve_action(ActionSpec(template=template, shell=shell))


def make_tasks(tmp: Path, n: int, start: int = 1, names: list[bytes] | None = None) -> list[Task]:
    tasks = []
    for i in range(start, start + n):
        p = tmp / f"f{i:05d}.txt"
        if names is not None:
            p = Path(os.fsdecode(os.path.join(os.fsencode(tmp), names[i - start])))
        p.write_text(f"file {i}\n")
        st = p.stat()
        tasks.append(Task(id=i, path=str(p), root=str(tmp), rel=p.name, size=st.st_size,
                          mtime_ns=st.st_mtime_ns))
    return tasks


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def servers(eng: Engine) -> list[Any]:
    executor: Any = eng._executor
    assert isinstance(executor, SubprocessExecutor) and executor.spawn_mode == "forkserver"
    return list(executor._servers)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie counts as gone
    except (FileNotFoundError, ProcessLookupError):
        return False


def _pids_with(token: str) -> list[int]:
    """Live processes whose command line contains ``token``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                if token.encode() in fh.read() and _alive(int(name)):
                    found.append(int(name))
        except OSError:
            continue
    return found


def _wait_gone(pids: list[int], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


async def _wait_for(pred: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


# ------------------------------------------------------------------ outcomes


def test_success_failure_tails_and_exit_codes(tmp_path: Path, fs_mode: None) -> None:
    eng = Engine(cmd("sh -c 'echo out-$1; echo err-$1 >&2; case $1 in *2.txt) exit 3;; esac' "
                     "sh {}"), EngineSettings(workers=2))
    eng.submit(make_tasks(tmp_path, 4))
    stats = run(eng.run())
    run(eng.aclose())
    assert stats.done == 3 and stats.failed == 1
    t1, t2 = eng.tasks[1], eng.tasks[2]
    assert t1.stdout_tail == f"out-{t1.path}\n" and t1.stderr_tail == f"err-{t1.path}\n"
    assert t1.exit_code == 0 and t1.error is None
    assert t2.exit_code == 3 and t2.error == "exit code 3" and t2.stderr_tail == f"err-{t2.path}\n"


def test_big_output_never_blocks(tmp_path: Path, fs_mode: None) -> None:
    eng = Engine(cmd("sh -c 'head -c 2000000 /dev/zero | tr \"\\0\" x; echo; echo END'"),
                 EngineSettings(workers=1, timeout=20))
    eng.submit(make_tasks(tmp_path, 1))
    stats = run(eng.run())
    run(eng.aclose())
    assert stats.done == 1
    assert eng.tasks[1].stdout_tail.endswith("END\n") and len(eng.tasks[1].stdout_tail) <= 4096


def test_command_not_found_fails_without_retry(tmp_path: Path, fs_mode: None) -> None:
    eng = Engine(cmd("no-such-command-xyz {}"), EngineSettings(workers=1, retries=3, backoff=0))
    eng.submit(make_tasks(tmp_path, 1))
    stats = run(eng.run())
    run(eng.aclose())
    t = eng.tasks[1]
    assert stats.failed == 1 and t.attempts == 1 and t.exit_code == 127
    assert "command not found" in (t.error or "")


@pytest.mark.parametrize("mode", MODES)
def test_exec_failure_is_reported_like_the_loop_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("TUI_BATCH_SPAWN", mode)
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    eng = Engine(cmd(f"{script} {{}}"), EngineSettings(workers=1, retries=2, backoff=0))
    eng.submit(make_tasks(tmp_path, 1))
    stats = run(eng.run())
    run(eng.aclose())
    t = eng.tasks[1]
    assert stats.failed == 1 and t.attempts == 1  # no retry
    assert t.exit_code == 126 and t.error == f"Permission denied: {script}"


def test_many_fast_commands_and_server_per_worker(tmp_path: Path, fs_mode: None) -> None:
    eng = Engine(cmd("true"), EngineSettings(workers=3))
    eng.submit(make_tasks(tmp_path, 300))
    stats = run(eng.run())
    assert stats.done == 300 and stats.failed == 0
    assert len(servers(eng)) == min(3, os.cpu_count() or 1)
    procs = [fs.proc for fs in servers(eng)]
    run(eng.aclose())
    assert all(p.returncode is not None for p in procs), "aclose left a fork server running"


def test_engine_runs_again_on_a_new_event_loop(tmp_path: Path, fs_mode: None) -> None:
    marker = tmp_path / "marker"
    eng = Engine(cmd(f"sh -c 'test -e {marker}' sh {{}}"), EngineSettings(workers=2))
    eng.submit(make_tasks(tmp_path, 3))
    assert run(eng.run()).failed == 3
    marker.write_text("")
    assert eng.retry_failed() == 3
    assert run(eng.run()).done == 3  # a second asyncio.run: the reply reader follows the loop
    run(eng.aclose())


def test_oversized_request_is_spawned_by_the_engine(tmp_path: Path, fs_mode: None) -> None:
    big = " ".join(c * 50_000 for c in "abc")  # 150 kB of argv: more than one request packet
    out = tmp_path / "out"
    eng = Engine(cmd(f"sh -c 'echo \"$#\" > {out}' sh {big} {{}}"), EngineSettings(workers=1))
    eng.submit(make_tasks(tmp_path, 1))
    assert run(eng.run()).done == 1
    run(eng.aclose())
    assert out.read_text() == "4\n"


@pytest.mark.parametrize("mode", MODES)
def test_non_utf8_names_reach_argv_byte_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("TUI_BATCH_SPAWN", mode)
    names = [b"caf\xe9.txt", b"\xff\xfe-latin1-\xe0.txt", "utf8-é.txt".encode()]
    out = tmp_path / "out"
    out.mkdir()
    eng = Engine(cmd(f"sh -c 'printf %s \"$1\" > \"$2/$3\"' sh {{}} {out} {{/.}}"),
                 EngineSettings(workers=2))
    tasks = make_tasks(tmp_path, 3, names=names)
    eng.submit(tasks)
    assert run(eng.run()).done == 3
    run(eng.aclose())
    for t, name in zip(tasks, names, strict=True):
        stem = name.rsplit(b".", 1)[0]
        with open(os.fsencode(out) + b"/" + stem, "rb") as fh:
            assert fh.read() == os.fsencode(t.path) == os.fsencode(tmp_path) + b"/" + name


def _child_report(tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("TUI_BATCH_SPAWN", mode)
    monkeypatch.setenv("TB_FS_PROBE", "probe-value")
    script = tmp_path / "probe.sh"
    script.write_text(textwrap.dedent("""\
        #!/bin/sh
        grep -E '^(SigIgn|SigBlk|Pid|NSpgid|NSsid):' /proc/$$/status | tr -d '\\t ' | tr ':' '='
        ls -l /proc/$$/fd > "$0.fds"
        echo "policy=$(grep '^policy' /proc/$$/sched | tr -d ' ' | cut -d: -f2)"
        echo "probe=$TB_FS_PROBE"
        """))
    script.chmod(0o755)
    eng = Engine(cmd(f"{script} {{}}"), EngineSettings(workers=1))
    eng.submit(make_tasks(tmp_path, 1))
    assert run(eng.run()).done == 1
    run(eng.aclose())
    report = dict(line.split("=", 1) for line in eng.tasks[1].stdout_tail.splitlines())
    for line in Path(f"{script}.fds").read_text().splitlines():
        if " -> " in line:
            fd, target = line.split(" -> ")
            report[f"fd{fd.split()[-1]}"] = target
    assert report["Pid"] == report["NSpgid"], "not a process group leader"
    assert report["NSsid"] != report["Pid"]
    del report["Pid"], report["NSpgid"], report["NSsid"]
    return report


def test_child_environment_matches_the_loop_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = _child_report(tmp_path, "loop", monkeypatch)
    server = _child_report(tmp_path, "forkserver", monkeypatch)
    fds = {int(k[2:]): v for k, v in server.items() if k.startswith("fd")}
    for report in (loop, server):
        for key in [k for k in report if k.startswith("fd")]:
            del report[key]
    assert server == loop
    # nothing blocked, no standard signal ignored (glibc's posix_spawn leaves its internal
    # signals 32 and 33 ignored, in both modes)
    assert server["SigBlk"] == "0000000000000000"
    assert int(server["SigIgn"], 16) & 0x7FFFFFFF == 0, server["SigIgn"]
    assert server["policy"] == "0"  # SCHED_OTHER, although the server runs as SCHED_BATCH
    assert server["probe"] == "probe-value"
    # stdin /dev/null, 2 the spool file (1 is redirected for the listing), nothing else of ours
    # (fds >= 10 are the shell's own: the script, saved descriptors)
    # the spool is an O_TMPFILE (no name: "/tmp/#123 (deleted)") or, where the file system
    # lacks it, an unlinked file in a tui-batch-spool-<pid>-* folder
    assert fds[0] == "/dev/null" and (
        "tui-batch-spool-" in fds[2] or fds[2].endswith("(deleted)")
    ), fds
    assert [fd for fd in fds if fd < 10] == [0, 1, 2], fds
    assert not [t for t in fds.values() if t.startswith(("socket:", "pipe:"))], fds


def test_default_and_unknown_spawn_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUI_BATCH_SPAWN", raising=False)
    ex = SubprocessExecutor(cmd("true"))
    assert ex.spawn_mode == DEFAULT_SPAWN
    run(ex.aclose())
    monkeypatch.setenv("TUI_BATCH_SPAWN", "bogus")
    ex = SubprocessExecutor(cmd("true"))
    assert ex.spawn_mode == DEFAULT_SPAWN
    run(ex.aclose())


# ------------------------------------------------------------------ stopping things


def test_timeout_kills_whole_group(tmp_path: Path, fs_mode: None) -> None:
    pidfile = tmp_path / "pid"
    eng = Engine(cmd(f"sh -c 'sleep 30 & echo $! > {pidfile}; wait'"),
                 EngineSettings(workers=1, timeout=0.3, kill_grace=1))
    eng.submit(make_tasks(tmp_path, 1))
    t0 = time.monotonic()
    stats = run(eng.run())
    run(eng.aclose())
    assert time.monotonic() - t0 < 5 and stats.failed == 1
    t = eng.tasks[1]
    assert t.error == "timed out after 0.3s" and t.signal == signal.SIGTERM
    assert _wait_gone([int(pidfile.read_text())])


def test_cancel_kills_whole_process_group(tmp_path: Path, fs_mode: None) -> None:
    pidfile = tmp_path / "pids"
    script = f"sleep 60 & echo $! >> {pidfile}; sleep 60 & echo $! >> {pidfile}; wait"
    eng = Engine(cmd(f"sh -c '{script}'"), EngineSettings(workers=1, kill_grace=0.5))
    eng.submit(make_tasks(tmp_path, 1))

    async def main() -> Any:
        t = asyncio.create_task(eng.run())
        await _wait_for(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2)
        pids = [int(x) for x in pidfile.read_text().split()]
        assert all(_alive(p) for p in pids)
        eng.cancel(1)
        stats = await asyncio.wait_for(t, 5)
        await eng.aclose()
        return pids, stats

    pids, stats = run(main())
    assert stats.cancelled == 1 and eng.tasks[1].state == TaskState.CANCELLED
    assert _wait_gone(pids), "a child of the cancelled command survived"


def test_term_ignoring_command_gets_sigkill_after_grace(tmp_path: Path, fs_mode: None) -> None:
    ready = tmp_path / "ready"
    eng = Engine(cmd(f"sh -c 'trap \"\" TERM; touch {ready}; sleep 30'"),
                 EngineSettings(workers=1, kill_grace=0.3))
    eng.submit(make_tasks(tmp_path, 1))

    async def main() -> Any:
        t = asyncio.create_task(eng.run())
        await _wait_for(ready.exists)
        t0 = time.monotonic()
        eng.cancel_all()
        stats = await asyncio.wait_for(t, 5)
        await eng.aclose()
        return stats, time.monotonic() - t0

    stats, took = run(main())
    assert stats.cancelled == 1 and 0.25 <= took < 3
    assert eng.tasks[1].signal == signal.SIGKILL


def test_cancel_before_the_server_reports_the_start(tmp_path: Path, fs_mode: None) -> None:
    """Cancelling right after the request left (pid not known yet) still kills the command."""
    token = f"tbfs-{uuid.uuid4().hex}"
    eng = Engine(cmd(f"sh -c 'sleep 30; : {token}'"), EngineSettings(workers=4, kill_grace=1))
    eng.submit(make_tasks(tmp_path, 12))

    async def main() -> Any:
        t = asyncio.create_task(eng.run())
        await _wait_for(lambda: eng.snapshot().running == 4)
        eng.cancel_all()  # typically before any "started" record came back
        stats = await asyncio.wait_for(t, 5)
        await eng.aclose()
        return stats

    stats = run(main())
    assert stats.cancelled == 12
    assert _wait_gone(_pids_with(token)), "a cancelled command is still running"


def test_stop_marks_running_interrupted_and_keeps_queue(tmp_path: Path, fs_mode: None) -> None:
    eng = Engine(cmd("sh -c 'sleep 30'"), EngineSettings(workers=2, kill_grace=1))
    eng.submit(make_tasks(tmp_path, 5))

    async def main() -> Any:
        t = asyncio.create_task(eng.run())
        await _wait_for(lambda: eng.snapshot().running == 2)
        await asyncio.sleep(0.1)
        eng.stop()
        stats = await asyncio.wait_for(t, 5)
        await eng.aclose()
        return stats

    stats = run(main())
    states = sorted(t.state.value for t in eng.tasks.values())
    assert states == ["interrupted", "interrupted", "queued", "queued", "queued"]
    assert stats.running == 0


# ------------------------------------------------------------------ the server itself


def test_server_death_fails_running_tasks_and_the_next_task_gets_a_new_server(
    tmp_path: Path, fs_mode: None
) -> None:
    pidfile = tmp_path / "pid"
    healed = tmp_path / "healed"
    eng = Engine(cmd(f"sh -c 'test -e {healed} && exit 0; echo $$ > {pidfile}; exec sleep 30'"),
                 EngineSettings(workers=1, retries=0))
    eng.submit(make_tasks(tmp_path, 1))

    async def main() -> Any:
        t = asyncio.create_task(eng.run())
        await _wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
        child = int(pidfile.read_text())
        await asyncio.sleep(0.1)  # the "started" record (with the pid) reached us
        (fs,) = servers(eng)
        os.kill(fs.proc.pid, signal.SIGKILL)
        stats = await asyncio.wait_for(t, 5)
        return child, fs, stats

    child, dead, stats = run(main())
    t = eng.tasks[1]
    assert stats.failed == 1 and t.error is not None
    assert t.error.startswith("fork server died (killed by SIGKILL")
    assert _wait_gone([child]), "the orphaned command was not killed"
    assert dead.proc.returncode == -signal.SIGKILL  # reaped

    healed.write_text("")
    eng.submit(make_tasks(tmp_path, 2, start=2))
    assert run(eng.run()).done == 2
    (fresh,) = servers(eng)
    assert fresh is not dead and fresh.proc.pid != dead.proc.pid
    run(eng.aclose())


def test_server_exits_when_the_engine_process_dies(tmp_path: Path) -> None:
    code = textwrap.dedent("""\
        import os, sys
        os.environ["TUI_BATCH_SPAWN"] = "forkserver"
        from tui_batch.actions import resolve_action
        from tui_batch.engine.executors import SubprocessExecutor
        from tui_batch.model import ActionSpec
        ex = SubprocessExecutor(resolve_action(ActionSpec(template="true")), workers=2)
        print(" ".join(str(fs.proc.pid) for fs in ex._servers), flush=True)
        os._exit(0)  # no aclose: the servers must notice on their own
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    pids = [int(x) for x in out.split()]
    assert pids
    assert _wait_gone(pids), "a fork server outlived its engine"


def test_server_is_small(fs_mode: None) -> None:
    ex = SubprocessExecutor(cmd("true"))
    (fs,) = ex._servers
    try:
        deadline = time.monotonic() + 10
        while True:  # until it waits for requests
            with open(f"/proc/{fs.proc.pid}/cmdline", "rb") as fh:
                started = b"forkserver.py" in fh.read()
            with open(f"/proc/{fs.proc.pid}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh)
            if started and fields["State"].split()[0] == "S":
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        rss = int(fields["RssAnon"].split()[0])
        assert 0 < rss < 8_000, f"fork server RssAnon {rss} kB"
    finally:
        run(ex.aclose())


@pytest.mark.parametrize("executable", ["false", "missing", "hangs"])
def test_engine_falls_back_to_loop_spawning_when_no_server_can_start(
    tmp_path: Path, fs_mode: None, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, executable: str
) -> None:
    from tui_batch.engine.executors import fleet as executors

    fake = {"false": "/bin/false", "missing": str(tmp_path / "no-python")}.get(executable)
    if fake is None:
        fake = str(tmp_path / "hangs")
        Path(fake).write_text("#!/bin/sh\nexec sleep 30\n")
        Path(fake).chmod(0o755)
        monkeypatch.setattr(executors, "FORKSERVER_START_TIMEOUT", 0.5)
    monkeypatch.setattr(sys, "executable", fake)
    eng = Engine(cmd("sh -c 'echo hi-$1' sh {}"), EngineSettings(workers=2))
    eng.submit(make_tasks(tmp_path, 4))
    with caplog.at_level("WARNING"):
        stats = run(eng.run())
    procs = [fs.proc for fs in getattr(eng._executor, "_servers", [])]
    run(eng.aclose())
    assert stats.done == 4 and eng.tasks[1].stdout_tail == f"hi-{eng.tasks[1].path}\n"
    executor: Any = eng._executor
    assert executor.spawn_mode == "loop"
    assert "spawning commands in-process instead" in caplog.text
    assert all(p.returncode is not None for p in procs)


def test_cancel_while_the_server_starts_never_runs_the_command(
    tmp_path: Path, fs_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = tmp_path / "slow-python"
    slow.write_text(f"#!/bin/sh\nsleep 0.5\nexec {sys.executable} \"$@\"\n")
    slow.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(slow))
    marker = tmp_path / "ran"
    eng = Engine(cmd(f"sh -c 'touch {marker}' sh {{}}"), EngineSettings(workers=1))
    eng.submit(make_tasks(tmp_path, 1))

    async def main() -> Any:
        t = asyncio.create_task(eng.run())
        await _wait_for(lambda: eng.snapshot().running == 1)
        eng.cancel(1)
        stats = await asyncio.wait_for(t, 5)
        await eng.aclose()
        return stats

    stats = run(main())
    assert stats.cancelled == 1 and not marker.exists()

