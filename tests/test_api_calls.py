"""The job system as a library (issue 10): submit_call, wait, result, JobFailed, dependencies,
groups, priorities, controls from many threads, the queue limit, persistence across processes
and kill -9. Functions given by reference live in tests/call_jobs.py (importable by a fresh
process); the gates are threading.Events, so nothing here depends on timing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import call_jobs
import pytest

from tui_batch import Batch, InputError, JobFailed, QueueFull

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def fresh(code: str, db: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{ROOT}"}
    return subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_results_of_each_type_and_from_another_process(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    values: list[Any] = [3, "text", [1, "a"], {"k": [1.5, None]}, None, (1, 2), True]
    with Batch(db=db, workers=2) as batch:
        jobs = [batch.submit_call(call_jobs.echo, (v,)) for v in values]
        odd = batch.submit_call(call_jobs.echo, (object,))  # a class: not JSON
        for job, v in zip(jobs, values, strict=True):
            assert job.wait(10) == "done"
            assert job.result() == v  # in this process: the very value
        assert odd.wait(10) == "done" and odd.result() is object
        assert jobs[0].name == "echo" and jobs[0].error is None
        ids = [j.id for j in jobs] + [odd.id]
    out = fresh(
        "import sys, json\nfrom tui_batch import Batch\nfrom tui_batch.api import ResultNotKept\n"
        "with Batch(db=sys.argv[1]) as b:\n"
        f"    print(json.dumps([b.job(i).result() for i in {ids[:-1]!r}]))\n"
        f"    try: b.job({ids[-1]}).result()\n"
        "    except ResultNotKept as e: print('not kept:', e)\n", db)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert json.loads(first) == [3, "text", [1, "a"], {"k": [1.5, None]}, None, [1, 2], True]
    assert "not kept:" in second and "not JSON-serialisable" in second and "type" in second


def test_job_failed_carries_type_message_traceback(tmp_path: Path) -> None:
    with Batch(db=tmp_path / "j.db") as batch:
        job = batch.submit_call("call_jobs:fail", ("bad input",))
        assert job.wait(10) == "failed"
        with pytest.raises(JobFailed) as info:
            job.result()
        exc = info.value
        assert (exc.type, exc.message, exc.state, exc.job_id) == (
            "ValueError", "bad input", "failed", job.id)
        assert "call_jobs.py" in exc.traceback and "in fail" in exc.traceback
        assert "scheduler" not in exc.traceback  # only the user's frames
        assert job.error == "ValueError: bad input"
        again = batch.job(job.id)
        assert again is job
    with Batch(db=tmp_path / "j.db") as batch:  # a later process reads it from the store
        with pytest.raises(JobFailed) as info:
            batch.job(job.id).result()
        assert info.value.type == "ValueError" and "in fail" in info.value.traceback


def test_wait_timeout_leaves_the_job_running(tmp_path: Path) -> None:
    gate = threading.Event()
    with Batch(db=tmp_path / "j.db") as batch:
        job = batch.submit_call(gate.wait, (30,))
        with pytest.raises(TimeoutError):
            job.wait(0.05)
        assert job.state == "running"
        with pytest.raises(TimeoutError):
            job.result()
        gate.set()
        assert job.wait(10) == "done" and job.result() is True


def test_dependency_failure_propagates_two_levels_and_after_any(tmp_path: Path) -> None:
    with Batch(db=tmp_path / "j.db") as batch:
        bad = batch.submit_call(call_jobs.fail, ("x",))
        mid = batch.submit_call(call_jobs.add, (1, 2), after=[bad])
        leaf = batch.submit_call(call_jobs.add, (3, 4), after=[mid])
        anyway = batch.submit_call(call_jobs.add, (5, 6), after_any=[bad, mid])
        ok = batch.submit_call(call_jobs.add, (1, 1))
        after_ok = batch.submit_call(call_jobs.add, (2, 2), after=[ok])
        assert leaf.wait(10) == "dependency failed"
        assert mid.state == "dependency failed" and mid.reason == f"job {bad.id} failed"
        assert str(mid.id) in (leaf.reason or "")
        with pytest.raises(JobFailed) as info:
            leaf.result()
        assert info.value.type == "DependencyFailed"
        assert anyway.wait(10) == "done" and anyway.result() == 11
        assert after_ok.wait(10) == "done" and after_ok.result() == 4
        with pytest.raises(InputError, match="no job 999"):
            batch.submit_call(call_jobs.add, (1, 1), after=[999])
        assert batch.store.sched_links(anyway.id) == ([], [bad.id, mid.id])
        late = batch.submit_call(call_jobs.add, (0, 0), after=[bad])  # already failed
        assert late.wait(10) == "dependency failed"


def test_sequential_group_never_overlaps_and_cancel_on_failure(tmp_path: Path) -> None:
    log = tmp_path / "stamps.txt"
    with Batch(db=tmp_path / "j.db", workers=4) as batch:
        seq = batch.group("steps", sequential=True)
        jobs = [batch.submit_call(call_jobs.stamp, (str(log), str(i), 0.02), group=seq)
                for i in range(4)]
        assert seq.wait(20) == "done"
        assert [j.id for j in seq.jobs] == [j.id for j in jobs]
        lines = [ln.split() for ln in log.read_text().splitlines()]
        assert [ln[0] + ln[1] for ln in lines] == [
            f"{w}{i}" for i in range(4) for w in ("start", "end")]
        times = [float(ln[2]) for ln in lines]
        assert times == sorted(times)  # each start after the previous end

        gate = threading.Event()
        stop = batch.group("cof", cancel_on_failure=True)
        running = batch.submit_call(gate.wait, (30,), group=stop)
        bad = batch.submit_call(call_jobs.fail, ("no",), group=stop, priority="low")
        queued = batch.submit_call(call_jobs.add, (1, 1), group=stop, after=[running])
        assert bad.wait(10) == "failed"
        assert queued.wait(10) == "cancelled"
        assert running.wait(10) == "cancelled"
        assert f"job {bad.id}" in (queued.reason or "") and "failed" in (queued.reason or "")
        assert stop.wait(5) == "failed"
        gate.set()


def test_priorities_order_all_jobs_with_one_worker(tmp_path: Path) -> None:
    gate = threading.Event()
    order: list[str] = []
    with Batch(db=tmp_path / "j.db", workers=1) as batch:
        blocker = batch.submit_call(gate.wait, (30,))
        while blocker.state != "running":
            time.sleep(0.005)
        jobs = [batch.submit_call(order.append, (p,), priority=p)
                for p in ("low", "normal", "high", "urgent", "normal")]
        jobs[0].set_priority("urgent")  # now urgent too, but submitted before 'urgent'
        gate.set()
        for j in jobs:
            j.wait(10)
    assert order == ["low", "urgent", "high", "normal", "normal"]


def test_controls_from_four_threads_while_jobs_run(tmp_path: Path) -> None:
    gate = threading.Event()
    errors: list[BaseException] = []
    with Batch(db=tmp_path / "j.db", workers=2) as batch:
        jobs = [batch.submit_call(gate.wait, (30,)) for _ in range(40)]

        def hammer(k: int) -> None:
            try:
                for i, job in enumerate(jobs):
                    if i % 4 == k:
                        job.pause()
                        job.set_priority("high")
                        job.resume()
                        if i % 8 == k:
                            job.cancel()
                        job.on_done(lambda j: None)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        gate.set()
        states = [j.wait(20) for j in jobs]
    assert errors == []
    assert set(states) <= {"done", "cancelled"}
    assert [s == "cancelled" for s in states] == [i % 8 < 4 for i in range(len(jobs))]


def test_max_queue_size_blocks_and_queue_full(tmp_path: Path) -> None:
    gate = threading.Event()
    with Batch(db=tmp_path / "j.db", workers=1, max_queue_size=2) as batch:
        first = batch.submit_call(gate.wait, (30,))
        while first.state != "running":
            time.sleep(0.005)
        batch.submit_call(call_jobs.add, (1, 1))
        batch.submit_call(call_jobs.add, (1, 2))
        with pytest.raises(QueueFull):
            batch.submit_call(call_jobs.add, (1, 3), block=False)
        submitted = threading.Event()

        def submit() -> None:
            batch.submit_call(call_jobs.add, (1, 4))
            submitted.set()

        t = threading.Thread(target=submit)
        t.start()
        assert not submitted.wait(0.2)  # blocked while the queue is full
        gate.set()
        assert submitted.wait(10)
        t.join(10)


def test_kinds_timeout_retries_and_bad_submits(tmp_path: Path) -> None:
    with Batch(db=tmp_path / "j.db") as batch:
        assert batch.submit_call(call_jobs.double_later, (4,)).result(10) == 8
        assert batch.submit_call("call_jobs:cpu_square", (7,), kind="cpu").result(30) == 49
        slow = batch.submit_call(time.sleep, (5,), timeout=0.05)
        assert slow.wait(10) == "failed"
        assert slow.failure() is not None and slow.failure().type == "TimeoutError"
        count = tmp_path / "count"
        flaky = batch.submit_call(call_jobs.flaky, (str(count), 2), retries=2, backoff=0.01)
        assert flaky.result(10) == 3
        with pytest.raises(InputError):
            batch.submit_call(lambda: 1, kind="cpu")
        with pytest.raises(InputError):
            batch.submit_call("call_jobs:nope")
        with pytest.raises(InputError):
            batch.submit_call(call_jobs.add, priority="soon")


def test_async_with_runs_on_the_callers_loop(tmp_path: Path) -> None:
    import asyncio

    async def main() -> list[Any]:
        async with Batch(db=tmp_path / "j.db") as batch:
            a = batch.submit_call(call_jobs.double_later, (2,))
            b = batch.submit_call(call_jobs.add, (1, 2), after=[a])
            await b.wait_async(10)
            return [a.result(), b.result(), threading.current_thread().name]

    assert asyncio.run(main()) == [4, 3, "MainThread"]


HOST = """
import sys, time
from tui_batch import Batch
import call_jobs
log = sys.argv[2]
with Batch(db=sys.argv[1], workers=4) as batch:
    g = batch.group("steps", sequential=True)
    for i in range(4):
        batch.submit_call("call_jobs:stamp", (log, str(i), 0.4 if i == 1 else 0.01), group=g)
    batch.submit_call(lambda: 1, after=[g.jobs[-1]])
    print("ready", flush=True)
    time.sleep(60)
"""


def test_kill_9_mid_sequential_group_then_resume_unfinished(tmp_path: Path) -> None:
    db, log = tmp_path / "j.db", tmp_path / "stamps.txt"
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{ROOT}"}
    host = subprocess.Popen([sys.executable, "-c", HOST, str(db), str(log)], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None and host.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 30
        while "start 1" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(host.pid, signal.SIGKILL)
    finally:
        host.wait(10)
    with Batch(db=db) as batch:
        resumed = batch.resume_unfinished()
        assert [j.name for j in resumed] == ["stamp", "stamp", "stamp", "<lambda>"]
        for job in resumed[:3]:
            assert job.wait(20) == "done"
        lam = resumed[3]
        assert lam.state == "interrupted"
        assert lam.reason == "not resumable: not an importable function"
        assert batch.job(1).result() == "0"  # done before the kill; never run again
        assert resumed[-2].result() == "3"
    starts = [ln.split()[1] for ln in log.read_text().splitlines() if ln.startswith("start")]
    assert starts == ["0", "1", "1", "2", "3"]  # job 1 was running: at least once


def test_file_jobs_join_the_scheduler(tmp_path: Path) -> None:
    from tui_batch import ActionSpec, EngineSettings, FilterSpec, JobSpec

    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(3):
        (tree / f"{i}.txt").write_text(str(i))
    log = tmp_path / "stamps.txt"
    spec = JobSpec(FilterSpec(roots=[str(tree)]), ActionSpec(template="cat {}"),
                   EngineSettings(workers=2, dedupe=False))
    with Batch(db=tmp_path / "j.db", workers=2) as batch:
        first = batch.submit_call(call_jobs.stamp, (str(log), "call", 0.01))
        files = batch.submit(spec, name="cat them", after=[first], priority="high")
        last = batch.submit_call(call_jobs.stamp, (str(log), "after-files", 0.0), after=[files])
        assert last.wait(30) == "done"
        assert files.state == "done" and files.name == "cat them"
        assert files.result()["done"] == 3
        plain = batch.submit(spec)  # no scheduling argument: stored, run by job.run()
        assert plain.state == "created"
        assert plain.run() == 0
    labels = [ln.split()[1] for ln in log.read_text().splitlines() if ln.startswith("start")]
    assert labels == ["call", "after-files"]


def test_readme_callables_example(tmp_path: Path) -> None:
    """The README's call-job example, verbatim, in a fresh process."""
    import re

    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Python callables as jobs"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    proc = subprocess.run([sys.executable, "-c", match.group(1)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["done [1, 2] {'ok': True} done",
                                        "ValueError math domain error"]


def test_resume_of_a_done_call_job_from_the_cli_runs_nothing(tmp_path: Path) -> None:
    """`tui-batch resume` of a call job that is done says so and prints its stored result;
    nothing runs again (a job that did not end is run there: tests/test_cli_calls.py)."""
    from tests.conftest import tui_batch_cmd

    db = tmp_path / "calls.db"
    with Batch(db=str(db), workers=1) as batch:
        job = batch.submit_call("math:factorial", args=(3,))
        assert job.wait(30) == "done"
        attempts = batch.store.get_sched(job.id).attempts  # type: ignore[union-attr]
    proc = subprocess.run([*tui_batch_cmd(), "resume", str(job.id), "--db", str(db),
                           "--headless"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "6\n"
    assert "is done: nothing to run again" in proc.stderr and "Traceback" not in proc.stderr
    with Batch(db=str(db)) as batch:
        assert batch.store.get_sched(job.id).attempts == attempts  # type: ignore[union-attr]
