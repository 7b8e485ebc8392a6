"""Regression tests for issue 7, engine and executor items (1, 7 spool half, 14, 15, 16, 17).

Wherever the defect shows through the CLI the test runs the real ``tui-batch`` command in a
fresh process: defect 1 survived hundreds of green tests because an earlier test in the same
interpreter had already imported what the failing code path needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd
from tui_batch.actions import resolve_action
from tui_batch.engine import Engine, Task
from tui_batch.model import ActionSpec, EngineSettings, TaskState

PY = sys.executable
SPAWN_MODES = ["loop", "forkserver"]


# ------------------------------------------------------------------ helpers


def tb(*args: str, env: dict[str, str], timeout: float = 60,
       preamble: str = "") -> subprocess.CompletedProcess[str]:
    """Run the real command; ``preamble`` is shell run first (``ulimit -n 64``)."""
    cmd = [*tui_batch_cmd(), *args]
    if preamble:
        cmd = ["bash", "-c", f'{preamble}; exec "$@"', "bash", *cmd]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          errors="replace")


def make_tree(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"f{i:04d}.txt").write_text(f"file {i} " * (i % 7 + 1))  # distinct contents
    return root


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["TUI_BATCH_DB"] = str(tmp / "jobs.db")
    env.pop("TUI_BATCH_NO_TUI", None)
    env.pop("TUI_BATCH_SPAWN", None)
    env.pop("TUI_BATCH_FORKSERVERS", None)
    env.update(extra)
    return env


def json_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def summary(text: str) -> dict[str, Any]:
    return next(e for e in json_events(text) if e.get("event") == "summary")


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "internal error" not in proc.stderr + proc.stdout, proc.stderr[-3000:]


def recipe(path: Path, root: Path, *, template: str | None = None, name: str | None = None,
           shell: bool = False, **settings: Any) -> Path:
    lines = ["[filter]", f"roots = [{json.dumps(str(root))}]", "[action]"]
    if template is not None:
        lines += [f"template = {json.dumps(template)}", f"shell = {'true' if shell else 'false'}"]
    if name is not None:
        lines.append(f"name = {json.dumps(name)}")
    lines.append("[settings]")
    lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[0].decode()
    except OSError:
        return None


def pids_with(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line contains ``marker``."""
    found = []
    needle = marker.encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                if needle not in fh.read():
                    continue
        except OSError:
            continue
        if _state(int(name)) not in (None, "Z", "X"):
            found.append(int(name))
    return found


def wait_until(pred: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def kill_marked(marker: str) -> None:
    """Test cleanup: SIGKILL, by pid, whatever carries this test's unique marker."""
    for pid in pids_with(marker):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def marker() -> Iterator[str]:
    """A unique ``sleep`` argument: finds this test's processes and nobody else's."""
    value = f"1000.{random.randrange(10**8):08d}{os.getpid() % 1000:03d}"
    try:
        yield value
    finally:
        kill_marked(f"sleep\0{value}")


def make_tasks(tmp: Path, n: int) -> list[Task]:
    tasks = []
    for i in range(1, n + 1):
        p = tmp / f"t{i:04d}.txt"
        p.write_text(f"task {i}\n")
        st = p.stat()
        tasks.append(Task(id=i, path=str(p), root=str(tmp), rel=p.name, size=st.st_size,
                          mtime_ns=st.st_mtime_ns))
    return tasks


# ------------------------------------------------------------------ item 1


ACTIONS_MOD = textwrap.dedent("""
    import errno
    from tui_batch.actions import action

    def bad_value(ctx):
        raise ValueError("bad value in " + ctx.rel)

    @action(kind="io")
    def disk_full(ctx):
        raise OSError(errno.ENOSPC, "No space left on device")

    @action(kind="cpu")
    def cpu_fails(ctx):
        raise ValueError("cpu says no")
""")


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("fail", "deliberate failure (attempt 2)"),
        ("regress_actions:bad_value", "ValueError: bad value in f0000.txt"),
        ("regress_actions:disk_full", "[Errno 28] No space left on device"),
        ("regress_actions:cpu_fails", "ValueError: cpu says no"),
    ],
)
def test_item1_thread_action_failure_is_reported_as_its_own_error(
    tmp_path: Path, action: str, expected: str
) -> None:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "regress_actions.py").write_text(ACTIONS_MOD)
    root = make_tree(tmp_path / "in", 1)
    env = env_for(tmp_path, PYTHONPATH=str(tmp_path / "mods"))
    proc = tb("run", str(root), "--action", action, "--retries", "1", "--backoff", "0",
              "--json", env=env)
    assert proc.returncode == 1, proc.stderr
    no_traceback(proc)
    tasks = [e for e in json_events(proc.stdout) if e.get("event") == "task"]
    failed = [e for e in tasks if e["state"] == "failed"]
    assert len(failed) == 1 and expected in failed[0]["error"], tasks
    # the retry was a real second attempt of the action, not spent on an engine error
    assert failed[0]["attempt"] == 2


def test_item1_copy_into_an_impossible_out_reports_the_os_error(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", 2)
    long_out = tmp_path / ("x" * 300)  # one path element longer than NAME_MAX
    proc = tb("run", str(root), "--action", "copy", "--out", str(long_out), "--json",
              env=env_for(tmp_path))
    no_traceback(proc)
    if proc.returncode == 2:  # refused up front: fine too, as one line
        assert proc.stderr.startswith("tui-batch: error: ") and proc.stderr.count("\n") == 1
        return
    errors = [e.get("error", "") for e in json_events(proc.stdout) if e.get("state") == "failed"]
    assert errors and all("File name too long" in e for e in errors), errors


def test_item1_no_submodule_is_used_without_being_imported() -> None:
    """``pkg.sub.X`` only works if something imported ``pkg.sub``; the engine used
    ``cf.process.BrokenProcessPool`` while only ``concurrent.futures`` was imported. Check every
    module of the package statically, against what importing the parent really loads in a
    fresh interpreter."""
    script = textwrap.dedent(r"""
        import ast, importlib, importlib.util, pathlib, subprocess, sys
        bad = []
        for f in sorted(pathlib.Path("tui_batch").rglob("*.py")):
            tree = ast.parse(f.read_text())
            alias, imported = {}, set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for a in node.names:
                        imported.add(a.name)
                        alias[a.asname or a.name.split(".")[0]] = (
                            a.name if a.asname else a.name.split(".")[0])
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    for a in node.names:
                        imported.add(f"{node.module}.{a.name}")
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
                    continue
                mod = alias.get(node.value.id)
                if mod is None:
                    continue
                full = f"{mod}.{node.attr}"
                if full in imported:
                    continue
                try:
                    spec = importlib.util.find_spec(mod)
                    if spec is None or spec.submodule_search_locations is None:
                        continue
                    if importlib.util.find_spec(full) is None:
                        continue
                except (ImportError, ValueError):
                    continue
                probe = f"import sys, {mod}; sys.exit({full!r} not in sys.modules)"
                if subprocess.run([sys.executable, "-c", probe]).returncode:
                    bad.append(f"{f}:{node.lineno}: {full} used but never imported")
        print("\n".join(bad))
        sys.exit(1 if bad else 0)
    """)
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([PY, "-c", script], cwd=root, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------ item 14


def _straggler_template(marker: str) -> str:
    # the group leader (sh) dies of SIGTERM; a member of its group ignores SIGTERM
    return f': {{}}; (trap "" TERM; exec sleep {marker}) & sleep 30'


@pytest.mark.parametrize("mode", SPAWN_MODES)
def test_item14_timeout_kills_the_whole_group_even_after_the_leader_died(
    tmp_path: Path, mode: str, marker: str
) -> None:
    root = make_tree(tmp_path / "in", 4)
    rec = recipe(tmp_path / "r.toml", root, template=_straggler_template(marker), shell=True,
                 workers=4, timeout=0.5, kill_grace=0.5)
    proc = tb("run", "--recipe", str(rec), "--json", "--no-dedupe",
              env=env_for(tmp_path, TUI_BATCH_SPAWN=mode), timeout=30)
    assert proc.returncode == 1, proc.stderr
    no_traceback(proc)
    assert summary(proc.stdout)["failed"] == 4
    # SIGKILLed processes vanish at once; before the fix they lived on (sleep 1000)
    assert wait_until(lambda: not pids_with(f"sleep\0{marker}"), 3), "group members survived"


@pytest.mark.parametrize("mode", SPAWN_MODES)
def test_item14_ctrl_c_kills_the_whole_group(tmp_path: Path, mode: str, marker: str) -> None:
    root = make_tree(tmp_path / "in", 4)
    rec = recipe(tmp_path / "r.toml", root, template=_straggler_template(marker), shell=True,
                 workers=4, kill_grace=0.5)
    env = env_for(tmp_path, TUI_BATCH_SPAWN=mode)
    p = subprocess.Popen([*tui_batch_cmd(), "run", "--recipe", str(rec), "--headless",
                          "--no-dedupe"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: len(pids_with(f"sleep\0{marker}")) == 4, 10)
        p.send_signal(signal.SIGINT)
        _out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert wait_until(lambda: not pids_with(f"sleep\0{marker}"), 3), "group members survived"


@pytest.mark.parametrize("mode", ["loop", "forkserver", "thread"])
def test_item14_cancel_waits_for_the_group_and_kills_stragglers_after_the_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, marker: str
) -> None:
    """After SIGTERM the group, not just the leader, gets the grace period: a member that
    cleans up on TERM finishes its cleanup before the task ends; a member that ignores TERM
    is SIGKILLed when the grace runs out, although the leader is long gone."""
    monkeypatch.setenv("TUI_BATCH_SPAWN", mode)
    done_file = tmp_path / "cleaned-up"
    graceful = (f'(trap "sleep 0.3; echo ok > {done_file}; exit 0" TERM; '
                f"sleep {marker} & wait) &")
    ignoring = f'(trap "" TERM; exec sleep {marker}) &'
    script = f"{graceful} {ignoring} sleep 30"
    action = resolve_action(ActionSpec(template=f": {{}}; {script}", shell=True))
    eng = Engine(action, EngineSettings(workers=1, kill_grace=1.0))
    eng.submit(make_tasks(tmp_path, 1))

    async def main() -> None:
        run = asyncio.create_task(eng.run())
        for _ in range(500):
            if len(pids_with(f"sleep\0{marker}")) == 2:
                break
            await asyncio.sleep(0.01)
        eng.cancel(1)
        await asyncio.wait_for(run, 10)
        # the task is over: the cleanup ran to its end, and nothing of the group is left
        assert done_file.exists()
        await eng.aclose()

    asyncio.run(main())
    assert eng.tasks[1].state == TaskState.CANCELLED
    assert wait_until(lambda: not pids_with(f"sleep\0{marker}"), 3), "group members survived"


# ------------------------------------------------------------------ item 15


STUCK_MOD = textwrap.dedent("""
    import time
    from tui_batch.actions import action

    def stuck(ctx):
        time.sleep(60)

    @action(kind="cpu")
    def stuck_cpu(ctx):
        time.sleep(60)

    def polite(ctx):
        while not ctx.cancelled:
            time.sleep(0.01)
        with open(ctx.options["marker"] + "-" + ctx.rel, "w") as fh:
            fh.write("saw the cancellation")
""")


@pytest.mark.parametrize("func", ["stuck", "stuck_cpu"])
def test_item15_stuck_action_does_not_hold_the_process_at_exit(
    tmp_path: Path, func: str
) -> None:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "stuckmod.py").write_text(STUCK_MOD)
    root = make_tree(tmp_path / "in", 2)
    rec = recipe(tmp_path / "r.toml", root, name=f"stuckmod:{func}", workers=2, timeout=0.3,
                 kill_grace=0.5)
    env = env_for(tmp_path, PYTHONPATH=str(tmp_path / "mods"))
    # the action sleeps 60 s: before the fix the process waited for it at exit
    proc = tb("run", "--recipe", str(rec), "--json", env=env, timeout=20)
    assert proc.returncode == 1, proc.stderr
    no_traceback(proc)
    errors = [e["error"] for e in json_events(proc.stdout) if e.get("state") == "failed"]
    assert errors == ["timed out after 0.3s"] * 2


def test_item15_thread_action_sees_ctx_cancelled_on_timeout(tmp_path: Path) -> None:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "stuckmod.py").write_text(STUCK_MOD)
    root = make_tree(tmp_path / "in", 2)
    rec = recipe(tmp_path / "r.toml", root, name="stuckmod:polite", workers=2, timeout=0.3)
    env = env_for(tmp_path, PYTHONPATH=str(tmp_path / "mods"))
    marker = tmp_path / "polite"
    proc = tb("run", "--recipe", str(rec), "--opt", f"marker={marker}", "--json", env=env,
              timeout=30)
    assert proc.returncode == 1, proc.stderr
    no_traceback(proc)
    assert summary(proc.stdout)["failed"] == 2
    # the action noticed ctx.cancelled and finished before the run ended
    assert sorted(p.name for p in tmp_path.glob("polite-*")) == [
        "polite-f0000.txt", "polite-f0001.txt"]


@pytest.mark.parametrize("how", ["cancel", "stop"])
def test_item15_cancel_and_ctrl_c_set_ctx_cancelled_and_wait_for_the_thread(
    tmp_path: Path, how: str
) -> None:
    from tui_batch.actions import PythonAction, TaskContext

    seen: list[str] = []
    started = threading.Event()

    def polite(ctx: TaskContext) -> None:
        started.set()
        assert ctx.cancel_event is not None
        ctx.cancel_event.wait(30)
        time.sleep(0.1)  # some cleanup: the engine waits for it (within the grace)
        seen.append(ctx.rel)

    eng = Engine(PythonAction("polite", polite), EngineSettings(workers=1, kill_grace=5))
    eng.submit(make_tasks(tmp_path, 1))

    async def main() -> None:
        run = asyncio.create_task(eng.run())
        while not started.is_set():
            await asyncio.sleep(0.01)
        eng.cancel(1) if how == "cancel" else eng.stop()
        await asyncio.wait_for(run, 10)
        await eng.aclose()

    asyncio.run(main())
    assert seen == ["t0001.txt"]  # it saw the flag and finished before the task ended
    expected = TaskState.CANCELLED if how == "cancel" else TaskState.INTERRUPTED
    assert eng.tasks[1].state == expected


def test_item15_ctx_cancelled_is_documented_for_action_authors() -> None:
    from tui_batch.actions import TaskContext

    doc = TaskContext.__doc__ or ""
    assert "cancelled" in doc
    ctx = TaskContext("p", "r", "p")
    assert ctx.cancelled is False


# ------------------------------------------------------------------ item 16


def _descriptor_warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "descriptors" in line]


@pytest.mark.parametrize("mode", SPAWN_MODES)
def test_item16_out_of_descriptors_lowers_concurrency_instead_of_failing(
    tmp_path: Path, mode: str
) -> None:
    root = make_tree(tmp_path / "in", 300)
    proc = tb("run", str(root), "-j", "32", "--exec", "cat {}", "--json", "--no-dedupe",
              env=env_for(tmp_path, TUI_BATCH_SPAWN=mode), preamble="ulimit -n 64",
              timeout=60)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr[-2000:]
    s = summary(proc.stdout)
    assert s["done"] == 300 and s["failed"] == 0
    lines = _descriptor_warning_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "workers" in lines[0]


HOLD_MOD = textwrap.dedent("""
    import time

    def hold(ctx):
        # three descriptors for a moment: 32 of these at once need more than `ulimit -n 64`
        files = [open(ctx.path, "rb") for _ in range(3)]
        try:
            time.sleep(0.02)
            return files[0].read().decode()[:4]
        finally:
            for f in files:
                f.close()
""")


def test_item16_thread_action_out_of_descriptors_is_retried(tmp_path: Path) -> None:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "holdmod.py").write_text(HOLD_MOD)
    root = make_tree(tmp_path / "in", 200)
    env = env_for(tmp_path, PYTHONPATH=str(tmp_path / "mods"))
    proc = tb("run", str(root), "-j", "32", "--action", "holdmod:hold", "--json", "--no-dedupe",
              env=env, preamble="ulimit -n 64", timeout=60)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert summary(proc.stdout)["done"] == 200
    assert len(_descriptor_warning_lines(proc.stderr)) == 1, proc.stderr[-2000:]


def test_item16_spawn_eagain_is_retried_without_spending_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """RLIMIT_NPROC is not enforced for root, so the EAGAIN of a refused fork is injected."""
    monkeypatch.setenv("TUI_BATCH_SPAWN", "loop")
    real_spawn = os.posix_spawn
    calls = {"n": 0}

    def flaky_spawn(*args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return real_spawn(*args, **kwargs)

    monkeypatch.setattr(os, "posix_spawn", flaky_spawn)
    eng = Engine(resolve_action(ActionSpec(template="true {}")),
                 EngineSettings(workers=4, retries=0))
    eng.submit(make_tasks(tmp_path, 30))
    events: list[Any] = []
    eng.subscribe(events.append)

    async def main() -> Any:
        stats = await eng.run()
        await eng.aclose()
        return stats

    with caplog.at_level("WARNING"):
        stats = asyncio.run(main())
    assert stats.done == 30 and stats.failed == 0
    assert eng.workers < 4
    warnings = [r for r in caplog.records if "processes" in r.getMessage()]
    assert len(warnings) == 1
    assert any(getattr(e, "kind", None) == "workers" for e in events)


# ------------------------------------------------------------------ item 17


COUNT_FS = textwrap.dedent("""
    import os, sys

    def stat(pid):
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()

    def cmdline(pid):
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()

    parent = os.getppid()
    engine = int(stat(parent)[1]) if b"forkserver.py" in cmdline(parent) else parent
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if int(stat(name)[1]) == engine and b"forkserver.py" in cmdline(name):
                    n += 1
            except OSError:
                pass
    with open(sys.argv[1], "a") as fh:
        fh.write(f"{n}\\n")
""")


def _count_servers(tmp_path: Path, value: str, workers: int) -> tuple[list[int], str]:
    script = tmp_path / "count_fs.py"
    script.write_text(COUNT_FS)
    counts = tmp_path / "counts"
    root = make_tree(tmp_path / "in", 2)
    proc = tb("run", str(root), "-j", str(workers), "--exec", f"{PY} {script} {counts} {{}}",
              "--headless", env=env_for(tmp_path, TUI_BATCH_FORKSERVERS=value), timeout=60)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    return [int(x) for x in counts.read_text().split()], proc.stderr


def test_item17_forkservers_clamped_to_the_worker_count(tmp_path: Path) -> None:
    counts, stderr = _count_servers(tmp_path, "40", 1)
    assert counts == [1, 1]
    assert "TUI_BATCH_FORKSERVERS" not in stderr  # above the workers: silently what is usable


@pytest.mark.parametrize("value", ["abc", "0", "-3", "2.5", "100000"])
def test_item17_invalid_forkservers_values_are_refused_with_one_message(
    tmp_path: Path, value: str
) -> None:
    counts, stderr = _count_servers(tmp_path, value, 2)
    assert all(1 <= c <= 2 for c in counts), counts
    lines = [line for line in stderr.splitlines() if "TUI_BATCH_FORKSERVERS" in line]
    assert len(lines) == 1, stderr


def test_item17_failing_server_starts_degrade_to_fewer_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tui_batch.engine.executors import fleet as executors

    monkeypatch.setenv("TUI_BATCH_SPAWN", "forkserver")
    monkeypatch.setenv("TUI_BATCH_FORKSERVERS", "4")
    real = executors._ForkServer
    made = {"n": 0}

    def limited(*args: Any, **kwargs: Any) -> Any:
        made["n"] += 1
        if made["n"] > 1:  # as under `ulimit -u`: the second fork fails
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return real(*args, **kwargs)

    monkeypatch.setattr(executors, "_ForkServer", limited)
    eng = Engine(resolve_action(ActionSpec(template="true {}")), EngineSettings(workers=4))
    eng.submit(make_tasks(tmp_path, 12))

    async def main() -> Any:
        stats = await eng.run()
        ex: Any = eng._executor
        mode, servers = ex.spawn_mode, len(ex._servers)
        await eng.aclose()
        return stats, mode, servers

    with caplog.at_level("WARNING"):
        stats, mode, servers = asyncio.run(main())
    assert stats.done == 12
    assert mode == "forkserver" and servers == 1
    assert len([r for r in caplog.records if "fork server" in r.getMessage()]) == 1


# ------------------------------------------------------------------ item 7 (spool folders)


def test_item7_kill9_leaves_no_spool_folder_and_stale_ones_are_swept(
    tmp_path: Path, marker: str
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    root = make_tree(tmp_path / "in", 2)
    env = env_for(tmp_path, TMPDIR=str(tmpdir))
    p = subprocess.Popen([*tui_batch_cmd(), "run", str(root), "--exec",
                          f"sh -c 'sleep {marker}' sh {{}}",
                          "--headless", "--no-dedupe"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: len(pids_with(f"sleep\0{marker}")) == 2, 10)
        p.kill()
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        kill_marked(f"sleep\0{marker}")
    assert not list(tmpdir.glob("tui-batch-spool-*"))

    # folders left by older runs: only a dead owner's, of this uid, is removed
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    dead = tmpdir / f"tui-batch-spool-{pid_max + 4242}-abc123"
    alive = tmpdir / f"tui-batch-spool-{os.getpid()}-def456"
    foreign = tmpdir / f"tui-batch-spool-{pid_max + 4243}-ghi789"
    unrelated = tmpdir / "tui-batch-spool-notapid"
    for d in (dead, alive, foreign, unrelated):
        d.mkdir()
    (dead / "out-1").write_text("")
    if os.getuid() == 0:
        os.chown(foreign, 65534, 65534)
    proc = tb("run", str(root), "--exec", "true {}", "--headless", "--no-dedupe", env=env)
    assert proc.returncode == 0, proc.stderr
    left = sorted(p.name for p in tmpdir.iterdir())
    expected = sorted(d.name for d in (alive, unrelated))
    if os.getuid() == 0:
        expected = sorted([*expected, foreign.name])
    assert left == expected, left


def test_item7_spool_fallback_folder_is_named_by_pid_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where O_TMPFILE is not supported the spool files live, unlinked, in a folder named
    after the owner's pid: removed at the end, and swept by a later run if the owner died."""
    from tui_batch.engine.executors import spool

    real_open = os.open

    def no_tmpfile(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return real_open(path, flags, mode)

    monkeypatch.setattr(spool.os, "open", no_tmpfile)
    monkeypatch.setattr(spool.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(spool, "_swept", set())
    folder = spool.SpoolFolder()
    sp = spool.Spool(folder)
    assert folder.folder is not None
    name = os.path.basename(folder.folder)
    assert name.startswith(f"tui-batch-spool-{os.getpid()}-")
    assert os.listdir(folder.folder) == []  # unlinked at once
    os.write(sp.out, b"hello\n")
    assert sp.tails() == ("hello\n", "")
    sp.close()
    folder.close()
    assert list(tmp_path.iterdir()) == []

    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    stale = tmp_path / f"tui-batch-spool-{pid_max + 7}-zz"
    stale.mkdir()
    (stale / "err-3").write_text("")
    kept = tmp_path / f"tui-batch-spool-{pid_max + 8}-yy"
    kept.mkdir()
    (kept / "not-ours.txt").write_text("")  # something else inside: never touched
    assert spool.sweep_stale(str(tmp_path)) == [str(stale)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept.name]
