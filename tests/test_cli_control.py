"""Controlling a job that runs in another process: pause, resume, cancel, workers, priority,
retry and wait, each in a fresh process against a real foreground `tui-batch run`, through the
job's control socket (issue 11). Timing claims (the 100 ms answer) are the bench's; these
tests gate on states, never on durations."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd
from tui_batch.control import connect
from tui_batch.errors import StoreError
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.store import NewTask, Store, lock_job, unlock_job

_LIMIT = 60.0  # a generous safety limit for a loaded machine, never an assertion on speed


def tb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*tui_batch_cmd(), *args], env=env, capture_output=True, text=True,
                          timeout=120)


def tb_all(cmds: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """Independent commands, each in its own process, started together (start-up dominates)."""
    procs = [subprocess.Popen([*tui_batch_cmd(), *c], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for c in cmds]
    done = []
    for c, p in zip(cmds, procs, strict=True):
        out, err = p.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(c, p.returncode, out, err))
    return done


def tree(root: Path, n: int) -> Path:
    root.mkdir()
    for k in range(n):  # distinct contents: duplicates would be skipped
        (root / f"f{k}.txt").write_text(f"file {k}\n")
    return root


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*tui_batch_cmd(), "run", *args, "--headless"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def sleeping(env: dict[str, str], root: Path, seconds: float, *extra: str
             ) -> subprocess.Popen[str]:
    return start(env, str(root), "--action", "sleep", "--opt", f"seconds={seconds}", *extra)


def served(env: dict[str, str], proc: subprocess.Popen[str]) -> int:
    """The id of the job ``proc`` runs, once its control socket answers."""
    db = env["TUI_BATCH_DB"]
    deadline = time.monotonic() + _LIMIT
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        jobs = []
        # not there yet, or being created
        with contextlib.suppress(StoreError), Store(db, readonly=True) as store:
            jobs = store.list_jobs()
        if jobs:
            client = connect(db, jobs[0].id, 2.0)
            if client is not None:
                client.close()
                return jobs[0].id
        time.sleep(0.05)
    raise AssertionError("the run never served its control socket")


def snapshot(env: dict[str, str], job: int) -> dict[str, Any]:
    client = connect(env["TUI_BATCH_DB"], job, 2.0)
    assert client is not None
    with client:
        return client.call("snapshot")


def until(cond: Any, what: str) -> None:
    deadline = time.monotonic() + _LIMIT
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def tasks(env: dict[str, str], job: int) -> list[Any]:
    with Store(env["TUI_BATCH_DB"], readonly=True) as store:
        return store.load_tasks(job)


def state_of(env: dict[str, str], job: int) -> str:
    """The stored state of a job whose process has ended."""
    with Store(env["TUI_BATCH_DB"], readonly=True) as store:
        return store.get_job(job).state


@pytest.fixture
def run_proc() -> Iterator[list[subprocess.Popen[str]]]:
    """Runs started by a test, killed if the test left them running."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.communicate()


def test_pause_stops_new_starts_and_resume_starts_them_again(
        tmp_path: Path, cli_env: dict[str, str], run_proc: list[subprocess.Popen[str]]) -> None:
    go = tmp_path / "go"
    # every task waits for the test's go-ahead: the first one is running when pause lands
    script = f': "$1"; while [ ! -e "{go}" ]; do sleep 0.02; done'
    run = start(cli_env, str(tree(tmp_path / "in", 4)), "--shell", "--exec", script, "-j", "1")
    run_proc.append(run)
    try:
        job = served(cli_env, run)
        res = tb("pause", str(job), env=cli_env)
        assert res.returncode == 0, res.stderr
        assert f"job {job} paused" in res.stdout
        assert snapshot(cli_env, job)["paused"] is True
        go.touch()  # the running task ends; while paused, nothing else starts
        until(lambda: snapshot(cli_env, job)["stats"]["done"] == 1, "the running task ended")
        time.sleep(0.5)  # a broken pause starts the next task at once (it would end too)
        assert [t.attempts for t in tasks(cli_env, job)].count(0) == 3
        assert snapshot(cli_env, job)["stats"]["running"] == 0 and run.poll() is None
        res = tb("resume", str(job), env=cli_env)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == f"job {job} resumed: tasks start again"
        res = tb("wait", str(job), env=cli_env)
    finally:
        go.touch()
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"job {job} ended: done (4 done)"
    assert run.wait(_LIMIT) == 0
    # a job that ended cannot be controlled: said, exit 1
    res = tb("pause", str(job), env=cli_env)
    assert res.returncode == 1
    assert res.stderr.strip() == f"tui-batch: job {job} is not running (done)"


@pytest.mark.slow
def test_workers_priority_and_cancel_from_another_shell(
        tmp_path: Path, cli_env: dict[str, str], run_proc: list[subprocess.Popen[str]]) -> None:
    run = sleeping(cli_env, tree(tmp_path / "in", 6), 600, "-j", "1")
    run_proc.append(run)
    job = served(cli_env, run)
    waiter = subprocess.Popen([*tui_batch_cmd(), "wait", str(job), "--json"], env=cli_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_proc.append(waiter)
    res = tb("workers", str(job), "2", env=cli_env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"job {job}: 2 workers"
    assert snapshot(cli_env, job)["workers"] == 2
    until(lambda: snapshot(cli_env, job)["stats"]["running"] == 2, "2 tasks run")
    queued = [t for t in tasks(cli_env, job) if not t.attempts]
    low, high, huge, prio, named, unknown = tb_all([
        ["workers", str(job), "0"], ["workers", str(job), "5000"],
        ["priority", str(job), "huge"], ["priority", str(job), "urgent", "--json"],
        ["cancel", str(job), queued[0].path, "--json"],  # a path, as `log` takes them
        ["cancel", str(job), "no-such.txt"]], cli_env)
    assert (low.returncode, low.stderr) == (2, "tui-batch: error: N: must be 1 or more\n")
    assert (high.returncode, high.stderr) == (2, "tui-batch: error: N: must be at most 1024\n")
    assert huge.returncode == 2
    assert huge.stderr.startswith("tui-batch: error: P: unknown priority 'huge'")
    assert len(huge.stderr.splitlines()) == 1
    assert prio.returncode == 0, prio.stderr
    assert json.loads(prio.stdout)["priority"] == "urgent"
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout) == {"job": job, "cancelled": 1, "tasks": [queued[0].id]}
    assert unknown.returncode == 2 and "no task 'no-such.txt'" in unknown.stderr
    res = tb("cancel", str(job), env=cli_env)
    assert res.returncode == 0, res.stderr
    assert f"job {job} cancelled (5 tasks cancelled)" in res.stdout
    assert run.wait(_LIMIT) == 1
    assert state_of(cli_env, job) == "cancelled"
    out, err = waiter.communicate(timeout=_LIMIT)
    assert waiter.returncode == 1, err
    (line,) = out.splitlines()
    obj = json.loads(line)
    assert (obj["job"], obj["state"], obj["done"]) == (job, "cancelled", False)
    assert obj["counts"] == {"cancelled": 6}
    # the waiting tasks took the new priority, in the store too (a resume keeps it)
    waited = [t for t in tasks(cli_env, job) if not t.attempts and t.id != queued[0].id]
    assert len(waited) == 3 and {t.priority for t in waited} == {3}


def test_retry_of_a_running_job_through_its_socket(
        tmp_path: Path, cli_env: dict[str, str], run_proc: list[subprocess.Popen[str]]) -> None:
    root = tree(tmp_path / "in", 2)
    go, mark = tmp_path / "go", tmp_path / "mark"
    # f0 fails its first attempt at once; f1 holds the job open until the test says go
    script = (f'case "$1" in *f0.txt) if [ ! -e "{mark}" ]; then touch "{mark}"; exit 3; fi;; '
              f'*) while [ ! -e "{go}" ]; do sleep 0.05; done;; esac')
    run = start(cli_env, str(root), "--shell", "--exec", script, "-j", "2", "--retries", "0")
    run_proc.append(run)
    try:
        job = served(cli_env, run)
        until(lambda: snapshot(cli_env, job)["stats"]["failed"] == 1, "f0 failed")
        res = tb("retry", str(job), env=cli_env)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == f"job {job}: 1 task queued again"
        until(lambda: snapshot(cli_env, job)["stats"]["done"] == 1, "f0 succeeded")
    finally:
        go.touch()
    assert run.wait(_LIMIT) == 0
    assert [(t.state, t.attempts) for t in tasks(cli_env, job)] == [("done", 2), ("done", 1)]


def test_retry_of_a_finished_job_runs_its_failed_tasks_here(
        tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tree(tmp_path / "in", 3)
    res = tb("run", str(root), "--action", "fail", "--opt", "times=1", "--retries", "0",
             "--headless", env=cli_env)
    assert res.returncode == 1
    with Store(cli_env["TUI_BATCH_DB"], readonly=True) as store:
        (job,) = (j.id for j in store.list_jobs())
    assert state_of(cli_env, job) == "failed"
    res = tb("wait", str(job), env=cli_env)  # already over: says how, at once
    assert res.returncode == 1 and f"job {job} ended: failed (3 failed)" in res.stdout
    res = tb("retry", str(job), "--headless", env=cli_env)
    assert res.returncode == 0, res.stderr
    assert f"job {job}: 3 tasks queued again" in res.stderr
    assert state_of(cli_env, job) == "done"
    assert [(t.state, t.attempts) for t in tasks(cli_env, job)] == [("done", 2)] * 3
    res = tb("retry", str(job), "--json", env=cli_env)
    assert res.returncode == 0
    assert json.loads(res.stdout) == {"job": job, "retried": 0, "running": False}
    assert tb("wait", str(job), env=cli_env).returncode == 0


@pytest.mark.slow
def test_an_interrupted_job_is_said_not_running_and_wait_does_not_hang(
        tmp_path: Path, cli_env: dict[str, str], run_proc: list[subprocess.Popen[str]]) -> None:
    run = sleeping(cli_env, tree(tmp_path / "in", 2), 600, "-j", "1")
    run_proc.append(run)
    job = served(cli_env, run)
    run.send_signal(signal.SIGINT)
    assert run.wait(_LIMIT) == 130
    db = cli_env["TUI_BATCH_DB"]
    said = (f"tui-batch: job {job} is not running (interrupted): resume it with "
            f"`tui-batch resume {job} --db {db}`")
    controls = [["pause", str(job)], ["cancel", str(job)], ["priority", str(job), "high"]]
    waits = [["wait", str(job)], ["wait", "--all"]]
    unknown = [["workers", "99", "2"], ["wait", str(job), "99"], ["retry", "99"]]
    results = tb_all([*controls, *waits, ["wait", str(job), "--json"], *unknown], cli_env)
    for res in results[:3]:
        assert (res.returncode, res.stderr.strip()) == (1, said), res.args
    for res in results[3:5]:  # nothing would end it: said at once, not waited for
        assert res.returncode == 1, res.args
        assert res.stdout.strip() == said.removeprefix("tui-batch: ")
    obj = json.loads(results[5].stdout)
    assert (obj["state"], obj["done"], obj["running"]) == ("interrupted", False, False)
    for res in results[6:]:  # unknown jobs are bad usage: one line, exit 2
        assert res.returncode == 2, res.args
        assert res.stderr.startswith("tui-batch: error: JOB: no job 99"), (res.args, res.stderr)


def test_a_job_held_without_a_socket_is_polled_in_the_store(
        tmp_path: Path, cli_env: dict[str, str], run_proc: list[subprocess.Popen[str]]) -> None:
    # what a Python Batch host looks like from outside: the job's lock held, no socket
    db = cli_env["TUI_BATCH_DB"]
    spec = JobSpec(FilterSpec(roots=[str(tmp_path)]), ActionSpec(template="echo {}"),
                   EngineSettings()).to_dict()
    with Store(db) as store:
        job = store.create_job(spec, state="running", tasks=[
            NewTask(str(tmp_path / "a.txt"), str(tmp_path), "a.txt", 2, 0, state="running")])
        fd = lock_job(store, job)
        try:
            waiter = subprocess.Popen([*tui_batch_cmd(), "wait", str(job)], env=cli_env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
            run_proc.append(waiter)
            res = tb("pause", str(job), env=cli_env)
            assert res.returncode == 1
            assert res.stderr.strip() == (
                f"tui-batch: job {job} is running in process {os.getpid()}, which serves no "
                "control socket (a Python Batch host controls its own jobs)")
            assert waiter.poll() is None
            store.set_task_state(store.load_tasks(job)[0].id, "done")
            store.set_job_state(job, "done")
        finally:
            unlock_job(fd)
    out, err = waiter.communicate(timeout=_LIMIT)
    assert waiter.returncode == 0, err
    assert out.strip() == f"job {job} ended: done (1 done)"


def test_store_queues_failed_and_cancelled_tasks_again_in_one_go(tmp_path: Path) -> None:
    spec = JobSpec(FilterSpec(roots=[str(tmp_path)]), ActionSpec(template="echo {}"),
                   EngineSettings()).to_dict()
    states = ["done", "failed", "cancelled", "skipped"]
    with Store(tmp_path / "s.db") as store:
        job = store.create_job(spec, state="failed", tasks=[
            NewTask(str(tmp_path / s), str(tmp_path), s, 1, 0, state=s) for s in states])
        other = store.create_job(spec, state="failed", tasks=[
            NewTask(str(tmp_path / "x"), str(tmp_path), "x", 1, 0, state="failed")])
        assert store.retry_failed_tasks(job) == 2
        assert [t.state for t in store.load_tasks(job)] == ["done", "queued", "queued",
                                                            "skipped"]
        assert store.get_job(job).state == "interrupted"  # resumable if killed before rerun
        assert [t.state for t in store.load_tasks(other)] == ["failed"]
        store.set_job_state(job, "done")
        assert store.retry_failed_tasks(job) == 0
        assert store.get_job(job).state == "done"
