"""The control socket of a running job (issue 11, part 1): real sockets, real engines, real
processes; the client side is the blocking client the CLI uses, run in a thread while the
engine runs on the loop."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd
from tui_batch.actions import Action, TaskContext
from tui_batch.control import (
    MAX_FRAME,
    ControlClient,
    ControlError,
    ControlServer,
    EngineTarget,
    connect,
    runtime_dir,
    socket_path,
)
from tui_batch.engine import Engine, EngineEvent, Event, Task, TaskEvent
from tui_batch.jobs import JobRunner, create_job, plan_job
from tui_batch.model import (
    ActionSpec,
    EngineSettings,
    ExecKind,
    FilterSpec,
    JobSpec,
    Priority,
    TaskState,
)
from tui_batch.store import Store


class FnAction(Action):
    def __init__(self, func: Callable[[TaskContext], Any]) -> None:
        super().__init__("test-fn", ExecKind.ASYNC)
        self.func = func


class Gate:
    """An action whose tasks wait until the test opens the gate; records each start."""

    def __init__(self, fail_first: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.event = asyncio.Event()
        self.started: list[int] = []
        self.fail_first = fail_first

    async def __call__(self, ctx: TaskContext) -> None:
        self.started.append(ctx.task_id)
        if ctx.task_id in self.fail_first and ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        await self.event.wait()


def make_tasks(tmp: Path, n: int) -> list[Task]:
    tasks = []
    for i in range(1, n + 1):
        p = tmp / f"f{i:04d}.txt"
        p.write_text(f"{i}\n")
        st = p.stat()
        tasks.append(Task(id=i, path=str(p), root=str(tmp), rel=p.name, size=st.st_size,
                          mtime_ns=st.st_mtime_ns))
    return tasks


def engine_for(tmp: Path, n: int, func: Callable[[TaskContext], Any], workers: int = 2,
               **settings: Any) -> Engine:
    eng = Engine(FnAction(func), EngineSettings(workers=workers, **settings))
    eng.submit(make_tasks(tmp, n))
    return eng


@asynccontextmanager
async def served(eng: Engine, db: str, job_id: int = 1,
                 **kw: Any) -> AsyncIterator[ControlServer]:
    server = ControlServer(EngineTarget(eng, job_id, db, "test job"), socket_path(db, job_id),
                           **kw)
    await server.start()
    try:
        yield server
    finally:
        await server.close("done", 0)


async def until(cond: Callable[[], bool]) -> None:
    """Let the loop run until ``cond`` holds (a gate, not a timing)."""
    for _ in range(5000):
        if cond():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition never held")


async def in_thread(func: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    return await asyncio.to_thread(func, *args, **kw)


def raw_connect(db: str, job_id: int = 1) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(os.fspath(socket_path(db, job_id)))
    return s


def send_raw(s: socket.socket, payload: bytes, length: int | None = None) -> None:
    s.sendall(struct.pack(">I", len(payload) if length is None else length) + payload)


def read_raw(s: socket.socket) -> dict[str, Any] | None:
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    (n,) = struct.unpack(">I", head)
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        assert chunk, "closed mid-frame"
        data += chunk
    return json.loads(data)


def hello(s: socket.socket) -> dict[str, Any] | None:
    send_raw(s, json.dumps({"hello": "tui-batch", "version": 1}).encode())
    return read_raw(s)


# ---------------------------------------------------------------------------- handshake
def test_handshake_and_version_mismatch(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    gate = Gate()

    async def main() -> None:
        eng = engine_for(tmp_path, 3, gate)
        async with served(eng, db, 5):
            run = asyncio.create_task(eng.run())

            def talk() -> None:
                with connect(db, 5) as client:
                    assert client is not None
                    assert client.job_id == 5 and client.pid == os.getpid()
                    assert client.info["version"] == 1 and client.info["db"] == db
                s = raw_connect(db, 5)
                send_raw(s, json.dumps({"hello": "tui-batch", "version": 99}).encode())
                answer = read_raw(s)
                assert answer == {"ok": False,
                                  "error": "version mismatch: server 1, client 99"}
                assert read_raw(s) is None  # closed
                s = raw_connect(db, 5)
                send_raw(s, json.dumps({"id": 1, "op": "snapshot"}).encode())
                answer = read_raw(s)
                assert answer is not None and not answer["ok"]
                assert "hello" in answer["error"]
                assert connect(db, 6) is None  # no such job served

            await in_thread(talk)
            gate.event.set()
            await run

    asyncio.run(main())


# ---------------------------------------------------------------------------- ops
def test_snapshot_pause_resume_and_workers(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    gate = Gate()

    async def main() -> None:
        eng = engine_for(tmp_path, 8, gate, workers=2)
        async with served(eng, db):
            run = asyncio.create_task(eng.run())
            await until(lambda: len(gate.started) == 2)
            client = await in_thread(connect, db, 1)
            assert client is not None
            snap = await in_thread(client.call, "snapshot")
            assert snap["job_id"] == 1 and snap["name"] == "test job"
            assert snap["state"] == "running" and snap["paused"] is False
            assert snap["workers"] == 2
            assert snap["stats"]["running"] == 2 and snap["stats"]["queued"] == 6
            assert snap["stats"]["total"] == 8

            assert (await in_thread(client.call, "pause"))["paused"] is True
            assert eng.paused
            gate.event.set()  # the two running tasks finish; nothing new may start
            await until(lambda: eng.snapshot().done == 2)
            assert len(gate.started) == 2
            snap = await in_thread(client.call, "snapshot")
            assert snap["paused"] is True and snap["state"] == "paused"
            assert snap["stats"]["running"] == 0

            assert (await in_thread(client.call, "workers", n=3))["workers"] == 3
            assert eng.workers == 3
            for bad in (0, 5000):
                with pytest.raises(ControlError, match="workers"):
                    await in_thread(client.call, "workers", n=bad)
            with pytest.raises(ControlError, match="whole number"):
                await in_thread(client.call, "workers", n="many")
            assert eng.workers == 3

            assert (await in_thread(client.call, "resume"))["paused"] is False
            stats = await run
            assert stats.done == 8
            client.close()

    asyncio.run(main())


def test_cancel_one_task_then_all(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    gate = Gate()

    async def main() -> None:
        eng = engine_for(tmp_path, 6, gate, workers=1)
        async with served(eng, db):
            run = asyncio.create_task(eng.run())
            await until(lambda: gate.started == [1])
            with await in_thread(connect, db, 1) as client:
                assert (await in_thread(client.call, "cancel", tasks=[3]))["cancelled"] == 1
                assert eng.tasks[3].state is TaskState.CANCELLED
                assert (await in_thread(client.call, "cancel", tasks=[3]))["cancelled"] == 0
                with pytest.raises(ControlError, match="no task 99"):
                    await in_thread(client.call, "cancel", tasks=[99])
                with pytest.raises(ControlError, match="list of task ids"):
                    await in_thread(client.call, "cancel", tasks="3")
                answer = await in_thread(client.call, "cancel", tasks=None)
                assert answer["cancelled"] == 5  # the running one and four waiting
            stats = await run
            assert stats.cancelled == 6 and stats.done == 0
            assert gate.started == [1]

    asyncio.run(main())


def test_retry_failed_tasks_of_a_running_job(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    gate = Gate(fail_first={1, 2})

    async def main() -> None:
        eng = engine_for(tmp_path, 3, gate, workers=3, retries=0)
        async with served(eng, db):
            run = asyncio.create_task(eng.run())
            await until(lambda: eng.snapshot().failed == 2)
            with await in_thread(connect, db, 1) as client:
                assert (await in_thread(client.call, "retry"))["retried"] == 2
                assert (await in_thread(client.call, "retry"))["retried"] == 0
            gate.event.set()
            stats = await run
            assert stats.done == 3 and stats.failed == 0
            assert sorted(gate.started) == [1, 1, 2, 2, 3]

    asyncio.run(main())


def test_priority_of_every_waiting_task(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    gate = Gate()

    async def main() -> None:
        eng = engine_for(tmp_path, 5, gate, workers=1)
        async with served(eng, db):
            run = asyncio.create_task(eng.run())
            await until(lambda: gate.started == [1])
            with await in_thread(connect, db, 1) as client:
                answer = await in_thread(client.call, "priority", priority="urgent")
                assert answer["priority"] == "urgent" and answer["tasks"] == 4
                assert [t.priority for t in eng.tasks.values()] == [
                    Priority.NORMAL, *[Priority.URGENT] * 4]
                with pytest.raises(ControlError, match="low, normal, high, urgent"):
                    await in_thread(client.call, "priority", priority="asap")
                rows = (await in_thread(client.call, "tasks", state="queued", limit=2))["tasks"]
                assert [r["id"] for r in rows] == [2, 3]
                assert rows[0]["priority"] == "urgent" and rows[0]["rel"] == "f0002.txt"
                rows = (await in_thread(client.call, "tasks", limit=10))["tasks"]
                assert [r["state"] for r in rows] == ["running", *["queued"] * 4]
                with pytest.raises(ControlError, match="unknown task state"):
                    await in_thread(client.call, "tasks", state="sleeping", limit=1)
            gate.event.set()
            await run

    asyncio.run(main())


def test_priority_of_many_tasks_is_applied_in_chunks_newest_wins(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    gate = Gate()

    async def main() -> None:
        eng = Engine(FnAction(gate), EngineSettings(workers=1))
        eng.submit([Task(id=i, path=f"/none/{i}", check_file=False) for i in range(1, 6001)])
        async with served(eng, db):
            run = asyncio.create_task(eng.run())
            await until(lambda: gate.started == [1])

            def two_calls() -> tuple[dict[str, Any], dict[str, Any]]:
                with connect(db, 1) as client:
                    return (client.call("priority", priority="high"),
                            client.call("priority", priority="low"))

            high, low = await in_thread(two_calls)
            assert high["tasks"] == 5999 and 0 < low["tasks"] <= 5999
            waiting = [t for t in eng.tasks.values() if t.state is TaskState.QUEUED]
            await until(lambda: all(t.priority is Priority.LOW for t in waiting))
            for _ in range(10):  # what was left of the first request never comes back
                await asyncio.sleep(0)
            assert {t.priority for t in waiting} == {Priority.LOW}
            eng.cancel_all()
            gate.event.set()
            await run

    asyncio.run(main())


# ---------------------------------------------------------------------------- events
def test_subscribe_gets_coalesced_frames_and_an_end_frame(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    gate = Gate()
    task_events: list[TaskEvent] = []

    async def main() -> tuple[list[dict[str, Any]], float]:
        eng = engine_for(tmp_path, 200, gate, workers=4)
        eng.subscribe(lambda ev: task_events.append(ev) if type(ev) is TaskEvent else None)
        server = ControlServer(EngineTarget(eng, 1, db, None), socket_path(db, 1))
        await server.start()
        client = await in_thread(connect, db, 1)
        assert client is not None
        await in_thread(client.call, "subscribe")
        t0 = time.monotonic()
        frames_task = asyncio.create_task(in_thread(lambda: list(client.events(timeout=10))))
        run = asyncio.create_task(eng.run())
        await until(lambda: len(gate.started) == 4)
        with await in_thread(connect, db, 1) as other:  # controls on a second connection
            await in_thread(other.call, "pause")  # a log frame for it
        gate.event.set()
        await until(lambda: eng.snapshot().running == 0)
        eng.resume()
        await run
        await server.close("done", 0)
        frames = await frames_task
        client.close()
        return frames, time.monotonic() - t0

    frames, elapsed = asyncio.run(main())
    assert frames[-1] == {"ev": "end", "state": "done", "code": 0}
    kinds = {f["ev"] for f in frames}
    assert kinds == {"stats", "tasks", "log", "end"}
    assert any(f["ev"] == "log" and f["kind"] == "paused" for f in frames)
    task_frames = [f for f in frames if f["ev"] == "tasks"]
    # at most one flush per 0.1 s (plus the first and the last)
    assert len(task_frames) <= elapsed / 0.1 + 2
    rows = [r for f in task_frames for r in f["tasks"]]
    assert len(rows) < len(task_events)  # coalesced: not one row per event
    for f in task_frames:
        ids = [r["id"] for r in f["tasks"]]
        assert len(ids) == len(set(ids))  # only each task's latest state
    last: dict[int, str] = {r["id"]: r["state"] for r in rows}
    assert len(last) == 200 and set(last.values()) == {"done"}
    assert set(rows[0]) == {"id", "state", "attempt", "exit_code", "signal", "error",
                            "reason", "duration"}
    final = [f for f in frames if f["ev"] == "stats"][-1]["stats"]
    assert final["done"] == 200 and final["finished"] is True


def test_a_client_that_stops_reading_is_dropped_and_the_job_finishes(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")

    async def quick(ctx: TaskContext) -> None:
        await asyncio.sleep(0)

    async def main() -> None:
        eng = engine_for(tmp_path, 4000, quick, workers=8)
        async with served(eng, db, slow_limit=32 * 1024, interval=0.005) as server:
            stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.connect(os.fspath(server.path))
            await in_thread(hello, stuck)
            send_raw(stuck, json.dumps({"id": 1, "op": "subscribe"}).encode())
            await until(lambda: server.subscribers == 1)
            reader = await in_thread(connect, db, 1)  # a healthy client beside it
            stats = await eng.run()  # the stuck client never reads a byte
            assert stats.done == 4000
            assert server.dropped == 1 and server.subscribers == 0
            assert (await in_thread(reader.call, "snapshot"))["stats"]["done"] == 4000
            reader.close()
        # what the stuck client finally reads ends without an end frame
        got: list[dict[str, Any] | None] = []
        try:
            while (frame := read_raw(stuck)) is not None:
                got.append(frame)
        except (ConnectionResetError, AssertionError):
            pass
        assert not any(f and f.get("ev") == "end" for f in got)
        stuck.close()

    asyncio.run(main())


# ---------------------------------------------------------------------------- garbage
def test_garbage_is_answered_with_an_error_and_the_job_goes_on(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    gate = Gate()

    def fresh() -> socket.socket:
        s = raw_connect(db)
        assert hello(s) is not None
        return s

    def errors_then_closed(s: socket.socket) -> str:
        answer = read_raw(s)
        assert answer is not None and answer["ok"] is False
        assert read_raw(s) is None
        s.close()
        return str(answer["error"])

    def talk() -> None:
        s = fresh()
        s.sendall(b"\xff\xff\xff\xff")  # a length prefix of 4 GiB
        assert "over the limit" in errors_then_closed(s)
        s = fresh()
        send_raw(s, b"", length=MAX_FRAME + 1)
        assert "over the limit" in errors_then_closed(s)
        s = fresh()
        send_raw(s, b"{not json")
        assert "not JSON" in errors_then_closed(s)
        s = fresh()
        send_raw(s, b"[1, 2]")
        assert "JSON object" in errors_then_closed(s)
        s = fresh()
        send_raw(s, b'{"op": "\xff"}')
        assert "UTF-8" in errors_then_closed(s)
        s = fresh()
        send_raw(s, b"NaN")
        assert "not JSON" in errors_then_closed(s)
        s = raw_connect(db)
        s.sendall(b"\x00\x00")  # half a prefix, then gone
        s.close()
        s = fresh()  # an unknown op or a request without an id: answered, connection stays
        send_raw(s, json.dumps({"id": 7, "op": "explode"}).encode())
        assert read_raw(s) == {"id": 7, "ok": False, "error": "unknown op 'explode'"}
        send_raw(s, json.dumps({"op": "snapshot"}).encode())
        answer = read_raw(s)
        assert answer is not None and answer["ok"] is False and "id" in answer["error"]
        send_raw(s, json.dumps({"id": 8, "op": "snapshot"}).encode())
        answer = read_raw(s)
        assert answer is not None and answer["ok"] is True and answer["id"] == 8
        s.close()

    async def main() -> None:
        eng = engine_for(tmp_path, 4, gate, workers=2)
        async with served(eng, db):
            run = asyncio.create_task(eng.run())
            await in_thread(talk)
            gate.event.set()
            stats = await run
            assert stats.done == 4
            with await in_thread(connect, db, 1) as client:
                assert (await in_thread(client.call, "snapshot"))["stats"]["done"] == 4

    asyncio.run(main())


# ---------------------------------------------------------------------------- files
def test_stale_socket_replaced_live_one_refused_and_permissions(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    path = socket_path(db, 1)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(os.fspath(path))
    dead.close()  # the file of a process that died: nobody accepts on it
    assert connect(db, 1) is None and not path.exists()  # a client removes it as stale
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(os.fspath(path))
    dead.close()

    async def main() -> None:
        eng = engine_for(tmp_path, 1, Gate())
        async with served(eng, db):
            st = os.stat(path)
            assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
            assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
            assert path.parent == runtime_dir()
            assert (await in_thread(connect, db, 1)) is not None
            other = ControlServer(EngineTarget(eng, 1, db, None), path)
            with pytest.raises(ControlError, match="already served"):
                await other.start()
        assert not path.exists()

    asyncio.run(main())


def test_unsafe_runtime_folder_is_refused_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "rt"
    base.mkdir(mode=0o700)
    (base / "tui-batch").mkdir(mode=0o755)
    os.chmod(base / "tui-batch", 0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    with pytest.raises(ControlError, match=r"permissions 0755.*chmod 700"):
        runtime_dir()
    with pytest.raises(ControlError, match="permissions 0755"):
        connect(str(tmp_path / "x.db"), 1)
    assert stat.S_IMODE(os.stat(base / "tui-batch").st_mode) == 0o755  # never repaired

    root = tmp_path / "tree"
    root.mkdir()
    for i in range(3):
        (root / f"f{i}.txt").write_text("x")
    db = tmp_path / "jobs.db"
    spec = JobSpec(FilterSpec(roots=[str(root)]), ActionSpec(name="noop"),
                   EngineSettings(dedupe=False))
    warnings: list[str] = []

    async def go(store: Store, job_id: int) -> int:
        runner = JobRunner(store, job_id)

        def on(ev: Event) -> None:
            if type(ev) is EngineEvent and ev.kind == "warning":
                warnings.append(ev.message)

        runner.engine.subscribe(on)
        try:
            return await runner.run()
        finally:
            await runner.aclose()

    with Store(db) as store:
        job_id = create_job(store, plan_job(spec, store=store))
        assert asyncio.run(go(store, job_id)) == 0
    assert len(warnings) == 1 and "cannot be controlled" in warnings[0]
    assert "0755" in warnings[0]

    long = tmp_path / ("d" * 90)
    long.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(long))
    with pytest.raises(ControlError, match="longer than"):
        socket_path(str(db), 1)


def test_job_runner_serves_tasks_and_stop(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    for i in range(6):
        (root / f"f{i}.txt").write_text("x")
    db = tmp_path / "jobs.db"
    spec = JobSpec(FilterSpec(roots=[str(root)]), ActionSpec(name="sleep"),
                   EngineSettings(dedupe=False, workers=1), name="nightly")
    spec.action.options = {"seconds": "30"}

    async def go(store: Store, job_id: int) -> int:
        runner = JobRunner(store, job_id)
        try:
            run = asyncio.create_task(runner.run())
            await until(lambda: runner.engine.snapshot().running == 1)
            client = await in_thread(connect, store.path, job_id)
            assert client is not None
            snap = await in_thread(client.call, "snapshot")
            assert snap["name"] == "nightly" and snap["stats"]["total"] == 6
            rows = (await in_thread(client.call, "tasks", state=None, limit=3))["tasks"]
            assert len(rows) == 3 and rows[0]["state"] == "running"
            await in_thread(client.call, "subscribe")
            await in_thread(client.call, "stop")
            end = [f for f in await in_thread(lambda: list(client.events(timeout=10)))
                   if f["ev"] == "end"]
            client.close()
            assert end == [{"ev": "end", "state": "interrupted", "code": 130}]
            return await run
        finally:
            await runner.aclose()

    with Store(db) as store:
        job_id = create_job(store, plan_job(spec, store=store))
        assert asyncio.run(go(store, job_id)) == 130
        assert store.get_job(job_id).state == "interrupted"
        assert connect(store.path, job_id) is None  # the socket went with the run


# ---------------------------------------------------------------------------- processes
def test_a_foreground_run_in_another_process_is_reachable(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    for i in range(12):
        (root / f"f{i:02d}.txt").write_text(f"{i}")
    db = tmp_path / "cli.db"
    proc = subprocess.Popen(
        [*tui_batch_cmd(), "run", str(root), "--action", "sleep", "--opt", "seconds=0.15",
         "-j", "1", "--db", str(db), "--headless"],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        client: ControlClient | None = None
        while client is None and proc.poll() is None:
            client = connect(str(db), 1) if db.exists() else None
            time.sleep(0.02)
        assert client is not None, proc.communicate()
        with client:
            assert client.pid == proc.pid
            assert client.call("pause")["paused"] is True
            snap = client.call("snapshot")
            assert snap["paused"] is True and snap["stats"]["total"] == 12
            assert client.call("resume")["paused"] is False
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert b"paused" in err and b"resumed" in err
    assert connect(str(db), 1) is None


def _world_python() -> str | None:
    """An interpreter another user may run (the venv's may sit in root's home)."""
    for cand in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        real = Path(os.path.realpath(cand))
        parts = [real, *real.parents]
        if real.exists() and all(os.stat(p).st_mode & stat.S_IXOTH for p in parts):
            return str(real)
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_another_uid_is_refused(tmp_path: Path) -> None:
    python = _world_python()
    if python is None:
        pytest.skip("no interpreter another user may run")
    db = str(tmp_path / "jobs.db")
    # the same server in a folder nobody may enter, and one made reachable on purpose: the
    # folder is the first gate, the peer's uid (SO_PEERCRED) the second
    open_dir = Path(tempfile.mkdtemp(prefix="tbop"))
    os.chmod(open_dir, 0o755)
    open_sock = open_dir / "s.sock"
    child = (
        "import json, socket, struct, sys\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5)\n"
        "try:\n"
        "    s.connect(sys.argv[1])\n"
        "except PermissionError:\n"
        "    print('EACCES'); sys.exit(0)\n"
        "b = json.dumps({'hello': 'tui-batch', 'version': 1}).encode()\n"
        "try:\n"
        "    s.sendall(struct.pack('>I', len(b)) + b)\n"
        "except OSError:\n"
        "    pass\n"
        "h = s.recv(4)\n"
        "n = struct.unpack('>I', h)[0]\n"
        "print(s.recv(n).decode())\n"
    )

    def as_nobody(path: Path) -> str:
        proc = subprocess.run([python, "-I", "-c", child, os.fspath(path)], user=65534,
                              group=65534, extra_groups=[], capture_output=True, text=True,
                              timeout=20, cwd="/")
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    async def main() -> None:
        eng = engine_for(tmp_path, 1, Gate())
        async with served(eng, db):
            assert await in_thread(as_nobody, socket_path(db, 1)) == "EACCES"
        server = ControlServer(EngineTarget(eng, 1, db, None), open_sock)
        await server.start()
        os.chmod(open_sock, 0o666)
        try:
            answer = json.loads(await in_thread(as_nobody, open_sock))
            assert answer["ok"] is False and "permission denied" in answer["error"]
        finally:
            await server.close()

    try:
        asyncio.run(main())
    finally:
        shutil.rmtree(open_dir, ignore_errors=True)
