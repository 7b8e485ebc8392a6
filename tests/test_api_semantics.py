"""Job-system semantics the main call-job tests do not pin down (issue 10): no dependency
cycle can be built, pause holds a queued job until resume, on_done runs once per job (also for
a job that already ended), a group's worker limit, a parallel group's wait, cancel of a
waiting job fails its dependents, a paused job survives a restart as paused."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import call_jobs
import pytest

from tui_batch import Batch, InputError


def _until(pred, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_no_cycle_can_be_built(tmp_path: Path) -> None:
    """A job may only wait for jobs stored before it: naming itself (the next id) or any later
    job is refused at submit, so the dependency graph is acyclic by construction."""
    with Batch(db=tmp_path / "j.db") as batch:
        first = batch.submit_call(call_jobs.add, (1, 1))
        with pytest.raises(InputError, match=f"no job {first.id + 1}"):
            batch.submit_call(call_jobs.add, (1, 2), after=[first.id + 1])
        with pytest.raises(InputError, match=f"no job {first.id + 5}"):
            batch.submit_call(call_jobs.add, (1, 2), after_any=[first, first.id + 5])
        nxt = batch.submit_call(call_jobs.add, (2, 2), after=[first])
        assert nxt.id == first.id + 1  # the refused submits stored nothing
        assert nxt.result(10) == 4
        assert batch.store.sched_links(nxt.id) == ([first.id], [])


def test_pause_holds_a_queued_job_until_resume(tmp_path: Path) -> None:
    with Batch(db=tmp_path / "j.db", workers=2) as batch:
        held = batch.submit_call(call_jobs.add, (1, 1), after=[batch.submit_call(time.sleep,
                                                                                (0.05,))])
        held.pause()
        other = batch.submit_call(call_jobs.add, (2, 2))
        assert other.result(10) == 4
        _until(lambda: held.state == "paused")
        time.sleep(0.1)  # its dependency is long done: only the pause holds it
        assert held.state == "paused"
        held.resume()
        assert held.wait(10) == "done" and held.result() == 2


def test_on_done_runs_once_per_job_even_when_already_ended(tmp_path: Path) -> None:
    calls: list[tuple[int, str, str]] = []
    lock = threading.Lock()

    def note(job) -> None:  # type: ignore[no-untyped-def]
        with lock:
            calls.append((job.id, job.state, threading.current_thread().name))

    with Batch(db=tmp_path / "j.db") as batch:
        gate = threading.Event()
        waiting = batch.submit_call(gate.wait, (30,))
        waiting.on_done(note)
        assert calls == []
        gate.set()
        assert waiting.wait(10) == "done"
        _until(lambda: len(calls) == 1)
        ended = batch.submit_call(call_jobs.fail, ("x",))
        assert ended.wait(10) == "failed"
        ended.on_done(note)  # already ended: at once, on this thread
        assert calls[-1] == (ended.id, "failed", threading.current_thread().name)
    assert [c[0] for c in calls] == [waiting.id, ended.id]
    assert calls[0][2] != threading.current_thread().name


def test_group_worker_limit_and_parallel_group_wait(tmp_path: Path) -> None:
    log = tmp_path / "stamps.txt"
    with Batch(db=tmp_path / "j.db", workers=4) as batch:
        g = batch.group("pair", workers=2)
        jobs = [batch.submit_call(call_jobs.stamp, (str(log), str(i), 0.05), group=g)
                for i in range(6)]
        assert g.wait(30) == "done"
        assert [j.result() for j in jobs] == [str(i) for i in range(6)]
    running, peak = 0, 0
    for line in log.read_text().splitlines():
        running += 1 if line.startswith("start") else -1
        peak = max(peak, running)
    assert peak <= 2


def test_cancel_of_a_waiting_job_fails_its_dependents(tmp_path: Path) -> None:
    gate = threading.Event()
    with Batch(db=tmp_path / "j.db", workers=1) as batch:
        blocker = batch.submit_call(gate.wait, (30,))
        mid = batch.submit_call(call_jobs.add, (1, 1), after=[blocker])
        leaf = batch.submit_call(call_jobs.add, (2, 2), after=[mid])
        assert mid.state == "waiting" and str(blocker.id) in (mid.reason or "")
        mid.cancel()
        assert leaf.wait(10) == "dependency failed"
        assert mid.state == "cancelled" and f"job {mid.id}" in (leaf.reason or "")
        gate.set()
        assert blocker.wait(10) == "done"


def test_a_paused_job_stays_paused_across_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    gate = threading.Event()
    with Batch(db=db, workers=1) as batch:
        blocker = batch.submit_call(gate.wait, (30,))
        held = batch.submit_call("call_jobs:add", (3, 4))
        held.pause()
        _until(lambda: held.state == "paused")
        gate.set()
        blocker.wait(10)
    with Batch(db=db) as batch:
        again = {j.id: j for j in batch.resume_unfinished()}
        job = again[held.id]
        time.sleep(0.1)
        assert job.state == "paused"
        job.resume()
        assert job.result(10) == 7
