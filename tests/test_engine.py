"""Engine behaviour with real actions, real files and real subprocesses (no mocks)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_batch.actions import Action, TaskContext, resolve_action
from tui_batch.engine import Engine, EngineEvent, StatsEvent, Task, TaskEvent
from tui_batch.model import ActionSpec, EngineSettings, ExecKind, Priority, TaskState


class FnAction(Action):
    """An in-process action around a test function (async or sync)."""

    def __init__(self, func: Callable[[TaskContext], Any], kind: ExecKind = ExecKind.ASYNC) -> None:
        super().__init__("test-fn", kind)
        self.func = func


def make_tasks(tmp: Path, n: int, prio: Priority = Priority.NORMAL, start: int = 1) -> list[Task]:
    tasks = []
    for i in range(start, start + n):
        p = tmp / f"f{i:05d}.txt"
        p.write_text(f"file {i}\n")
        st = p.stat()
        tasks.append(Task(id=i, path=str(p), root=str(tmp), rel=p.name, size=st.st_size,
                          mtime_ns=st.st_mtime_ns, priority=prio))
    return tasks


def cmd(template: str, shell: bool = False) -> Action:
    return resolve_action(ActionSpec(template=template, shell=shell))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_priority_order_and_fifo_within_level(tmp_path: Path) -> None:
    order: list[int] = []

    async def rec(ctx: TaskContext) -> None:
        order.append(ctx.task_id)

    eng = Engine(FnAction(rec), EngineSettings(workers=1))
    eng.submit(make_tasks(tmp_path, 3, Priority.LOW, start=1))
    eng.submit(make_tasks(tmp_path, 3, Priority.NORMAL, start=10))
    eng.submit(make_tasks(tmp_path, 2, Priority.URGENT, start=20))
    eng.submit(make_tasks(tmp_path, 2, Priority.HIGH, start=30))
    eng.set_priority(2, Priority.URGENT)  # re-prioritised while waiting: after 20, 21
    stats = run(eng.run())
    assert order == [20, 21, 2, 30, 31, 10, 11, 12, 1, 3]
    assert stats.done == 10 and stats.total == 10 and stats.finished


def test_workers_change_while_running(tmp_path: Path) -> None:
    active = 0
    peak: list[int] = []

    async def work(ctx: TaskContext) -> None:
        nonlocal active
        active += 1
        peak.append(active)
        await asyncio.sleep(0.02)
        active -= 1

    eng = Engine(FnAction(work), EngineSettings(workers=1))
    eng.submit(make_tasks(tmp_path, 40))

    async def main() -> None:
        t = asyncio.create_task(eng.run())
        await asyncio.sleep(0.1)
        assert max(peak) == 1
        eng.set_workers(4)
        await asyncio.sleep(0.1)
        assert max(peak[-5:]) == 4
        eng.set_workers(2)
        await asyncio.sleep(0.1)
        n = len(peak)
        await asyncio.sleep(0.1)
        assert max(peak[n:]) <= 2
        await t

    run(main())
    assert eng.snapshot().done == 40


def test_pause_stops_new_starts_and_resume_continues(tmp_path: Path) -> None:
    started: list[float] = []

    async def work(ctx: TaskContext) -> None:
        started.append(time.monotonic())
        await asyncio.sleep(0.01)

    eng = Engine(FnAction(work), EngineSettings(workers=2))
    eng.submit(make_tasks(tmp_path, 30))
    events: list[str] = []
    eng.subscribe(lambda e: events.append(e.kind) if isinstance(e, EngineEvent) else None)

    async def main() -> None:
        t = asyncio.create_task(eng.run())
        await asyncio.sleep(0.03)
        eng.pause()
        await asyncio.sleep(0.03)  # let running ones finish
        n = len(started)
        await asyncio.sleep(0.1)
        assert len(started) == n, "a task started while paused"
        assert eng.snapshot().paused
        assert not t.done()
        eng.resume()
        await t

    run(main())
    assert len(started) == 30
    assert events[:2] == ["paused", "resumed"]


def test_cancel_waiting_and_running_async(tmp_path: Path) -> None:
    async def slow(ctx: TaskContext) -> None:
        await asyncio.sleep(5)

    eng = Engine(FnAction(slow), EngineSettings(workers=1))
    eng.submit(make_tasks(tmp_path, 3))

    async def main() -> None:
        t = asyncio.create_task(eng.run())
        await asyncio.sleep(0.05)
        assert eng.tasks[1].state is TaskState.RUNNING
        assert eng.cancel(3)
        assert eng.tasks[3].state is TaskState.CANCELLED
        eng.cancel(1)
        await asyncio.sleep(0.05)
        assert eng.tasks[1].state is TaskState.CANCELLED
        assert eng.tasks[2].state is TaskState.RUNNING  # the worker survived the cancel
        eng.cancel_all()
        return await asyncio.wait_for(t, 2)

    stats = run(main())
    assert stats.cancelled == 3 and stats.done == 0


def test_retry_backoff_timing_and_max_attempts(tmp_path: Path) -> None:
    times: list[float] = []

    async def flaky(ctx: TaskContext) -> None:
        times.append(time.monotonic())
        raise RuntimeError(f"boom {ctx.attempt}")

    s = EngineSettings(workers=1, retries=3, backoff=0.05, jitter=0.0)
    eng = Engine(FnAction(flaky), s)
    eng.submit(make_tasks(tmp_path, 1))
    stats = run(eng.run())
    assert len(times) == 4  # 1 + 3 retries
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap, expected in zip(gaps, [0.05, 0.1, 0.2], strict=True):
        assert expected * 0.9 <= gap <= expected + 0.15, gaps
    assert stats.failed == 1
    t = eng.tasks[1]
    assert t.attempts == 4 and t.error == "RuntimeError: boom 4"


def test_retry_succeeds_after_failures(tmp_path: Path) -> None:
    async def twice(ctx: TaskContext) -> str:
        if ctx.attempt < 3:
            raise RuntimeError("not yet")
        return "ok"

    eng = Engine(FnAction(twice), EngineSettings(workers=2, retries=5, backoff=0.001))
    eng.submit(make_tasks(tmp_path, 5))
    seen: list[TaskEvent] = []
    eng.subscribe(lambda e: seen.append(e) if isinstance(e, TaskEvent) else None)
    stats = run(eng.run())
    assert stats.done == 5 and stats.failed == 0
    assert all(t.attempts == 3 and t.stdout_tail == "ok" for t in eng.tasks.values())
    retry_events = [e for e in seen if e.state is TaskState.QUEUED]
    assert len(retry_events) == 10 and all("retry in" in (e.reason or "") for e in retry_events)


def test_halt_after_failures(tmp_path: Path) -> None:
    async def bad(ctx: TaskContext) -> None:
        raise ValueError("bad")

    eng = Engine(FnAction(bad), EngineSettings(workers=1, halt_after_failures=3))
    eng.submit(make_tasks(tmp_path, 10))
    stats = run(eng.run())
    assert stats.failed == 3 and stats.halted
    assert stats.queued == 7  # left waiting: the job stays resumable


def test_vanished_and_changed_files_are_skipped(tmp_path: Path) -> None:
    ran: list[int] = []

    async def rec(ctx: TaskContext) -> None:
        ran.append(ctx.task_id)

    tasks = make_tasks(tmp_path, 3)
    os.unlink(tasks[0].path)
    Path(tasks[1].path).write_text("different length now\n")
    eng = Engine(FnAction(rec), EngineSettings(workers=1))
    eng.submit(tasks)
    stats = run(eng.run())
    assert ran == [3]
    assert stats.skipped == 2
    assert eng.tasks[1].reason == "file vanished since the scan"
    assert eng.tasks[2].reason == "file changed since the scan"


def test_thread_and_process_kinds(tmp_path: Path) -> None:
    import threading

    names: list[str] = []

    def blocking(ctx: TaskContext) -> str:
        names.append(threading.current_thread().name)
        return ctx.rel

    eng = Engine(FnAction(blocking, ExecKind.THREAD), EngineSettings(workers=2))
    eng.submit(make_tasks(tmp_path, 4))
    assert run(eng.run()).done == 4
    assert all(n.startswith("tui-batch") for n in names)

    gz = resolve_action(ActionSpec(name="checksum"))
    eng2 = Engine(gz, EngineSettings(workers=2))
    eng2.submit(make_tasks(tmp_path, 3, start=100))
    assert run(eng2.run()).done == 3


def test_stats_events_and_counters(tmp_path: Path) -> None:
    async def work(ctx: TaskContext) -> None:
        await asyncio.sleep(0.01)

    eng = Engine(FnAction(work), EngineSettings(workers=4), stats_interval=0.02)
    eng.submit(make_tasks(tmp_path, 60))
    snaps = []
    eng.subscribe(lambda e: snaps.append(e.stats) if isinstance(e, StatsEvent) else None)
    stats = run(eng.run())
    assert len(snaps) >= 3
    assert any(s.files_per_s > 0 for s in snaps)
    assert any(s.eta is not None for s in snaps[:-1])
    assert stats.done == 60 and stats.success_rate == 1.0
    assert stats.bytes_done == stats.bytes_total > 0
    for s in snaps:
        assert s.queued + s.running + s.finished_count == s.total


# ------------------------------------------------------------------ subprocess executor


def test_subprocess_success_failure_and_tails(tmp_path: Path) -> None:
    eng = Engine(cmd("sh -c 'echo out-$1; echo err-$1 >&2' sh {}"),
                 EngineSettings(workers=2))
    eng.submit(make_tasks(tmp_path, 3))
    stats = run(eng.run())
    assert stats.done == 3
    t = eng.tasks[1]
    assert t.stdout_tail == f"out-{t.path}\n" and t.stderr_tail == f"err-{t.path}\n"
    assert t.exit_code == 0 and t.command is not None and t.command[-1] == t.path


def test_subprocess_big_output_never_blocks(tmp_path: Path) -> None:
    eng = Engine(cmd("sh -c 'head -c 2000000 /dev/zero | tr \"\\0\" x; echo; echo END'"),
                 EngineSettings(workers=1, timeout=20))
    eng.submit(make_tasks(tmp_path, 1))
    stats = run(eng.run())
    assert stats.done == 1
    assert eng.tasks[1].stdout_tail.endswith("END\n")
    assert len(eng.tasks[1].stdout_tail) <= 4096


def test_command_not_found_fails_without_retry(tmp_path: Path) -> None:
    eng = Engine(cmd("no-such-command-xyz {}"), EngineSettings(workers=1, retries=3, backoff=0))
    eng.submit(make_tasks(tmp_path, 1))
    stats = run(eng.run())
    assert stats.failed == 1
    t = eng.tasks[1]
    assert t.attempts == 1 and t.exit_code == 127 and "command not found" in (t.error or "")


def test_no_retry_exit_codes(tmp_path: Path) -> None:
    eng = Engine(cmd("sh -c 'exit 3'"),
                 EngineSettings(workers=1, retries=3, backoff=0, no_retry_exit_codes=[3]))
    eng.submit(make_tasks(tmp_path, 1))
    run(eng.run())
    assert eng.tasks[1].attempts == 1 and eng.tasks[1].exit_code == 3


def test_subprocess_timeout_kills_group(tmp_path: Path) -> None:
    eng = Engine(cmd("sh -c 'sleep 30'"), EngineSettings(workers=1, timeout=0.3, kill_grace=1))
    eng.submit(make_tasks(tmp_path, 1))
    t0 = time.monotonic()
    stats = run(eng.run())
    assert time.monotonic() - t0 < 5
    assert stats.failed == 1
    t = eng.tasks[1]
    assert t.error == "timed out after 0.3s" and t.signal == signal.SIGTERM


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_cancel_kills_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    # the shell starts two background sleepers that ignore nothing, records their pids, waits
    script = f"sleep 60 & echo $! >> {pidfile}; sleep 60 & echo $! >> {pidfile}; wait"
    eng = Engine(cmd(f"sh -c '{script}'"), EngineSettings(workers=1, kill_grace=0.5))
    eng.submit(make_tasks(tmp_path, 1))

    async def main() -> Any:
        t = asyncio.create_task(eng.run())
        for _ in range(100):
            await asyncio.sleep(0.02)
            if pidfile.exists() and len(pidfile.read_text().split()) == 2:
                break
        pids = [int(x) for x in pidfile.read_text().split()]
        assert all(_alive(p) for p in pids)
        eng.cancel(1)
        stats = await asyncio.wait_for(t, 5)
        return pids, stats

    pids, stats = run(main())
    assert stats.cancelled == 1
    deadline = time.monotonic() + 3
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids), "a child of the cancelled command survived"


def test_term_ignoring_command_gets_sigkill_after_grace(tmp_path: Path) -> None:
    eng = Engine(cmd("sh -c 'trap \"\" TERM; sleep 30'"),
                 EngineSettings(workers=1, kill_grace=0.3))
    eng.submit(make_tasks(tmp_path, 1))

    async def main() -> Any:
        t = asyncio.create_task(eng.run())
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        eng.cancel_all()
        stats = await asyncio.wait_for(t, 5)
        return stats, time.monotonic() - t0

    stats, took = run(main())
    assert stats.cancelled == 1
    assert 0.25 <= took < 3
    assert eng.tasks[1].signal == signal.SIGKILL


def test_stop_marks_running_interrupted_and_keeps_queue(tmp_path: Path) -> None:
    eng = Engine(cmd("sh -c 'sleep 30'"), EngineSettings(workers=2, kill_grace=1))
    eng.submit(make_tasks(tmp_path, 5))

    async def main() -> Any:
        t = asyncio.create_task(eng.run())
        await asyncio.sleep(0.2)
        eng.stop()
        return await asyncio.wait_for(t, 5)

    stats = run(main())
    states = sorted(t.state.value for t in eng.tasks.values())
    assert states == ["interrupted", "interrupted", "queued", "queued", "queued"]
    assert stats.running == 0


@pytest.mark.parametrize("workers", [1, 3])
def test_many_fast_subprocesses(tmp_path: Path, workers: int) -> None:
    eng = Engine(cmd("true"), EngineSettings(workers=workers))
    eng.submit(make_tasks(tmp_path, 200))
    stats = run(eng.run())
    assert stats.done == 200 and stats.failed == 0


def test_keep_open_accepts_tasks_while_running_and_retains_bounded(tmp_path: Path) -> None:
    async def work(ctx: TaskContext) -> None:
        await asyncio.sleep(0)

    eng = Engine(FnAction(work), EngineSettings(workers=2), keep_open=True, retain_finished=5)
    batches = [make_tasks(tmp_path, 10, start=1 + 10 * b) for b in range(3)]

    async def main() -> Any:
        t = asyncio.create_task(eng.run())
        for batch in batches:
            eng.submit(batch)
            await asyncio.sleep(0.05)
            assert not t.done()
        assert eng.snapshot().idle_since is not None
        eng.close()
        return await asyncio.wait_for(t, 2)

    stats = run(main())
    assert stats.done == 30 and stats.total == 30
    assert len(eng.tasks) == 5  # only the newest finished tasks are kept
    assert sorted(eng.tasks) == [26, 27, 28, 29, 30]


def test_a_broken_subscriber_never_costs_the_next_one_an_event() -> None:
    """A subscriber that raises is unsubscribed; the one after it still gets that event."""
    from tui_batch.engine.events import EngineEvent, Subscribers

    subs = Subscribers()
    got: list[object] = []

    def broken(ev: object) -> None:
        raise RuntimeError("broken client")

    subs.callbacks.extend([broken, got.append])
    ev = EngineEvent("test")
    subs.emit(ev)
    subs.emit(ev)
    assert got == [ev, ev] and subs.callbacks == [got.append]
