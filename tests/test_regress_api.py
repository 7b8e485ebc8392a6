"""Regression tests for the Python API (issue 7, item 18): every Job control is safe from any
thread while ``job.run()`` blocks another one, and does something sensible when the job is not
running.

The slow tasks are real commands (``sh -c 'sleep "$(cat "$1")"' _ FILE``): each file holds the
number of seconds its task sleeps, so one job can mix slow and fast tasks deterministically (the
scanner's order is sorted by name, so ``a.txt`` starts before ``b.txt``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_batch import ActionSpec, Batch, EngineSettings, FilterSpec, JobSpec, TaskState
from tui_batch.api import Job, JobNotRunning
from tui_batch.engine import EngineEvent, Event, TaskEvent

SLEEP_TEMPLATE = """sh -c 'sleep "$(cat "$1")"' _ {}"""
README = Path(__file__).resolve().parent.parent / "README.md"


def make_tree(root: Path, durations: dict[str, str]) -> Path:
    """One file per task; its content is how long the task sleeps."""
    root.mkdir(parents=True, exist_ok=True)
    for name, secs in durations.items():
        (root / name).write_text(secs)
    return root


def sleep_spec(root: Path, workers: int) -> JobSpec:
    return JobSpec(
        FilterSpec(roots=[str(root)]),
        ActionSpec(template=SLEEP_TEMPLATE),
        EngineSettings(workers=workers, kill_grace=1.0, dedupe=False),
    )


class Recorder:
    """Engine listener (called on the loop thread) that other threads can wait on."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.started: list[int] = []
        self.ended: dict[int, str] = {}
        self.threads: set[int] = set()
        """Threads the listener was called on: only ever the loop's (the engine's contract)."""

    def __call__(self, ev: Event) -> None:
        self.threads.add(threading.get_ident())
        if isinstance(ev, TaskEvent):
            with self.cond:
                if ev.state is TaskState.RUNNING:
                    self.started.append(ev.task_id)
                elif ev.state.terminal:
                    self.ended[ev.task_id] = ev.state.value
                self.cond.notify_all()

    def wait(self, pred: Callable[[], bool], timeout: float = 20.0) -> None:
        with self.cond:
            if not self.cond.wait_for(pred, timeout):
                raise AssertionError("the job never reached the expected point")


def run_with_controller(
    job: Job, controller: Callable[[], None]
) -> tuple[int, list[BaseException]]:
    """``job.run()`` on this (the main) thread while ``controller`` runs on another one."""
    errors: list[BaseException] = []

    def body() -> None:
        try:
            controller()
        except BaseException as exc:  # reported to the test, not lost in the thread
            errors.append(exc)

    t = threading.Thread(target=body, name="controller")
    t.start()
    try:
        code = job.run()
    finally:
        t.join(30)
    assert not t.is_alive(), "the controlling thread is stuck"
    return code, errors


def ids_by_name(job: Job) -> dict[str, int]:
    return {Path(r.path).name: r.id for r in job.results()}


def states_by_name(job: Job) -> dict[str, str]:
    return {Path(r.path).name: r.state for r in job.results()}


def test_item18_cancel_all_from_other_thread(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", {f"f{i}.txt": "20" for i in range(4)})
    with Batch(db=tmp_path / "jobs.db") as batch:
        job = batch.submit(sleep_spec(root, workers=2))
        rec = Recorder()
        job.on_event(rec)
        result: list[Any] = []

        def controller() -> None:
            rec.wait(lambda: len(rec.started) == 2)
            result.append(job.cancel())

        code, errors = run_with_controller(job, controller)
        assert errors == []
        assert rec.threads == {threading.get_ident()}  # job.run() runs the loop on this thread
        assert result == [None]
        assert code != 0
        # The two running tasks were stopped, the two waiting ones never started.
        assert len(rec.started) == 2
        assert set(states_by_name(job).values()) == {"cancelled"}


def test_item18_pause_resume_from_other_thread(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", {"a.txt": "0.3", "b.txt": "0.1", "c.txt": "0.1"})
    with Batch(db=tmp_path / "jobs.db") as batch:
        job = batch.submit(sleep_spec(root, workers=1))
        rec = Recorder()
        job.on_event(rec)
        seen: dict[str, int] = {}

        def controller() -> None:
            rec.wait(lambda: len(rec.started) == 1)
            job.pause()
            # pause() returned: from now on no task may start, the running one finishes.
            seen["at_pause"] = len(rec.started)
            first = rec.started[0]
            rec.wait(lambda: first in rec.ended)
            time.sleep(0.5)  # a worker that ignored the pause would have started b.txt by now
            with rec.cond:
                seen["while_paused"] = len(rec.started)
            job.resume()

        code, errors = run_with_controller(job, controller)
        assert errors == []
        assert rec.threads == {threading.get_ident()}  # job.run() runs the loop on this thread
        assert seen == {"at_pause": 1, "while_paused": 1}
        assert code == 0
        assert states_by_name(job) == {"a.txt": "done", "b.txt": "done", "c.txt": "done"}


def test_item18_cancel_one_task_from_other_thread(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", {"a.txt": "20", "b.txt": "0.1", "c.txt": "20.0"})
    with Batch(db=tmp_path / "jobs.db") as batch:
        job = batch.submit(sleep_spec(root, workers=1))
        ids = ids_by_name(job)
        rec = Recorder()
        job.on_event(rec)
        answers: list[bool] = []

        def controller() -> None:
            rec.wait(lambda: rec.started == [ids["a.txt"]])
            answers.append(job.cancel(ids["c.txt"]))  # waiting: never starts
            answers.append(job.cancel(ids["a.txt"]))  # running: stopped
            answers.append(job.cancel(ids["a.txt"]))  # already being cancelled / cancelled

        code, errors = run_with_controller(job, controller)
        assert errors == []
        assert rec.threads == {threading.get_ident()}  # job.run() runs the loop on this thread
        assert answers[:2] == [True, True]
        assert code != 0
        assert states_by_name(job) == {"a.txt": "cancelled", "b.txt": "done", "c.txt": "cancelled"}
        assert ids["c.txt"] not in rec.started
        # After the run: the job is not running, a finished task cannot be cancelled again.
        assert job.cancel(ids["b.txt"]) is False


def test_item18_stop_from_other_thread(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", {"a.txt": "20", "b.txt": "20.0", "c.txt": "0.1"})
    with Batch(db=tmp_path / "jobs.db") as batch:
        job = batch.submit(sleep_spec(root, workers=2))
        rec = Recorder()
        job.on_event(rec)

        def controller() -> None:
            rec.wait(lambda: len(rec.started) == 2)
            same = batch.job(job.id)  # looked up again, e.g. by id from a request handler
            assert same is job
            same.stop()

        code, errors = run_with_controller(job, controller)
        assert errors == []
        assert rec.threads == {threading.get_ident()}  # job.run() runs the loop on this thread
        assert code == 130
        assert job.state == "interrupted"
        assert states_by_name(job) == {
            "a.txt": "interrupted", "b.txt": "interrupted", "c.txt": "queued",
        }
        job.stop()  # not running: nothing to stop, no error


def test_item18_controls_hammered_from_four_threads(tmp_path: Path) -> None:
    names = [f"f{i:02}.txt" for i in range(12)]
    root = make_tree(tmp_path / "in", dict.fromkeys(names, "20"))
    with Batch(db=tmp_path / "jobs.db") as batch:
        job = batch.submit(sleep_spec(root, workers=3))
        task_ids = list(ids_by_name(job).values())
        rec = Recorder()
        job.on_event(rec)
        unexpected: list[BaseException] = []

        def hammer(seed: int) -> None:
            for i in range(60):
                op = (seed + i) % 4
                try:
                    if op == 0:
                        job.pause()
                    elif op == 1:
                        job.resume()
                    elif op == 2:
                        job.cancel(task_ids[(seed * 7 + i) % len(task_ids)])
                    else:
                        job.counts()
                except JobNotRunning:
                    pass  # the job ended under us: a clear, documented answer
                except BaseException as exc:
                    unexpected.append(exc)

        def controller() -> None:
            rec.wait(lambda: len(rec.started) >= 1)
            threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            job.cancel()  # whatever the hammering left (possibly paused): end the job

        code, errors = run_with_controller(job, controller)
        assert errors == []
        assert rec.threads == {threading.get_ident()}  # job.run() runs the loop on this thread
        assert unexpected == []
        assert code != 0
        counts = job.counts()
        assert counts["queued"] == counts["running"] == counts["interrupted"] == 0
        assert counts["cancelled"] == len(names)


def test_item18_controls_when_not_running(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", {"a.txt": "0.1", "b.txt": "0.2", "c.txt": "0.3"})
    with Batch(db=tmp_path / "jobs.db") as batch:
        job = batch.submit(sleep_spec(root, workers=1))
        ids = ids_by_name(job)
        with pytest.raises(JobNotRunning, match=f"job {job.id} is not running"):
            job.pause()
        with pytest.raises(JobNotRunning, match=f"job {job.id} is not running"):
            job.resume()
        job.stop()  # nothing to stop
        # Cancelling a stored job works on the store: the task will not run.
        assert job.cancel(ids["b.txt"]) is True
        assert job.cancel(ids["b.txt"]) is False
        assert job.cancel(10**9) is False  # not a task of this job
        assert states_by_name(job)["b.txt"] == "cancelled"
        assert job.run() != 0
        assert states_by_name(job) == {"a.txt": "done", "b.txt": "cancelled", "c.txt": "done"}

        other = batch.submit(sleep_spec(root, workers=1))
        other.cancel()
        assert set(states_by_name(other).values()) == {"cancelled"}
        assert other.state == "cancelled"
        assert other.run() != 0  # nothing left to run
        assert set(states_by_name(other).values()) == {"cancelled"}


FRESH_SCRIPT = r"""
import json, sys, threading
from tui_batch import Batch, JobSpec, FilterSpec, ActionSpec, EngineSettings

root, db, template = sys.argv[1:4]
spec = JobSpec(FilterSpec(roots=[root]), ActionSpec(template=template),
               EngineSettings(workers=2, kill_grace=1.0, dedupe=False))
errors = []
started = threading.Semaphore(0)

def on_event(ev):
    if type(ev).__name__ == "TaskEvent" and ev.state.value == "running":
        started.release()

with Batch(db=db) as batch:
    job = batch.submit(spec)
    job.on_event(on_event)

    def controller():
        try:
            started.acquire(timeout=20)
            job.pause()
            job.resume()
            job.cancel()
        except BaseException as exc:
            errors.append(repr(exc))

    t = threading.Thread(target=controller)
    t.start()
    code = job.run()
    t.join(30)
    print(json.dumps({"code": code, "errors": errors, "counts": job.counts()}))
"""


def test_item18_fresh_process_cancel_from_thread(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", {"a.txt": "20", "b.txt": "20.0", "c.txt": "20.00"})
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_SCRIPT, str(root), str(tmp_path / "jobs.db"), SLEEP_TEMPLATE],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["errors"] == []
    assert out["code"] != 0
    assert out["counts"]["cancelled"] == 3


def test_item18_readme_python_api_example(tmp_path: Path) -> None:
    """The README's example, verbatim, in a fresh process."""
    text = README.read_text()
    section = text[text.index("### Python API"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    code = match.group(1) + "print(code)\n"
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(3):
        (logs / f"{i}.log").write_text(f"line {i}\n" * (i + 1))
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "0"
    assert "'done': 3" in lines[-2]
    assert sorted(p.name for p in logs.glob("*.gz")) == ["0.log.gz", "1.log.gz", "2.log.gz"]


def test_item18_controls_from_the_loop_thread_and_late_listener(tmp_path: Path) -> None:
    """A listener (called on the loop thread) may use the controls without deadlocking, also
    while the run is finishing; a listener added from another thread during the run gets events
    at once, once each; a second concurrent run of the same Job is refused."""
    root = make_tree(tmp_path / "in", {"a.txt": "20", "b.txt": "0.1", "c.txt": "20.0"})
    with Batch(db=tmp_path / "jobs.db") as batch:
        job = batch.submit(sleep_spec(root, workers=1))
        ids = ids_by_name(job)
        rec, late = Recorder(), Recorder()
        job.on_event(rec)
        answers: list[Any] = []

        def on_loop(ev: Event) -> None:
            if isinstance(ev, TaskEvent) and ev.state is TaskState.RUNNING:
                if ev.task_id == ids["b.txt"]:
                    answers.append(job.cancel(ids["c.txt"]))  # engine running: direct call
            elif isinstance(ev, EngineEvent) and ev.kind == "finished":
                # The engine is done, the run still holds the job: store path, no self-wait.
                answers.append(job.cancel(ids["b.txt"]))
                try:
                    job.pause()
                except JobNotRunning:
                    answers.append("not running")

        def controller() -> None:
            rec.wait(lambda: len(rec.started) >= 1)
            job.on_event(late)
            job.on_event(on_loop)
            job.on_event(late)  # the same callback twice: still one subscription this run
            with pytest.raises(RuntimeError, match=f"job {job.id} is already running"):
                job.run()
            assert job.cancel(ids["a.txt"]) is True

        code, errors = run_with_controller(job, controller)
        assert errors == []
        assert code != 0
        assert answers == [True, False, "not running"]
        assert states_by_name(job) == {"a.txt": "cancelled", "b.txt": "done", "c.txt": "cancelled"}
        assert rec.threads == late.threads == {threading.get_ident()}
        assert late.started == [ids["b.txt"]]
        assert list(late.ended) == [ids["a.txt"], ids["c.txt"], ids["b.txt"]]


def test_item18_control_times_out_when_the_loop_is_blocked(tmp_path: Path) -> None:
    """A control waits for the loop at most ``control_timeout`` and then has no effect."""
    root = make_tree(tmp_path / "in", {"a.txt": "0.1", "b.txt": "0.1"})
    with Batch(db=tmp_path / "jobs.db") as batch:
        job = batch.submit(sleep_spec(root, workers=1))
        job.control_timeout = 0.2
        blocking, gave_up = threading.Event(), threading.Event()

        def block_loop(ev: Event) -> None:
            if isinstance(ev, TaskEvent) and ev.state is TaskState.RUNNING and not gave_up.is_set():
                blocking.set()
                gave_up.wait(20)  # a listener that hogs the loop thread

        job.on_event(block_loop)
        outcome: list[str] = []

        def controller() -> None:
            assert blocking.wait(20)
            try:
                job.pause()
            except TimeoutError as exc:
                outcome.append(str(exc))
            finally:
                gave_up.set()

        code, errors = run_with_controller(job, controller)
        assert errors == []
        assert len(outcome) == 1 and "did not respond within 0.2s" in outcome[0]
        # The pause that timed out never happened: the job ran to the end.
        assert code == 0
        assert states_by_name(job) == {"a.txt": "done", "b.txt": "done"}


def test_item18_cancel_refused_while_another_process_runs_the_job(tmp_path: Path) -> None:
    from tui_batch.errors import InputError
    from tui_batch.store import lock_job

    root = make_tree(tmp_path / "in", {"a.txt": "0.1"})
    with Batch(db=tmp_path / "jobs.db") as batch:
        job = batch.submit(sleep_spec(root, workers=1))
        fd = lock_job(batch.store, job.id)  # what a `tui-batch resume` elsewhere holds
        try:
            with pytest.raises(InputError, match="already running"):
                job.cancel()
        finally:
            import os

            os.close(fd)
        assert states_by_name(job) == {"a.txt": "queued"}
