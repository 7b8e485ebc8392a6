"""The command line of the job system (issue 10): `run --job-name --after`, the listing and
`jobs JOB` of call jobs, and `resume` of a call job. Every command runs in a fresh process
(the real `tui-batch`); the jobs it waits for run in this process's Batch, gated by
threading.Events, so nothing depends on timing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import call_jobs
import pytest

from tests.conftest import tui_batch_cmd
from tui_batch import Batch

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def env() -> dict[str, str]:
    e = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{ROOT}", "TUI_BATCH_NO_TUI": "1"}
    return e


def tb(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*tui_batch_cmd(), *args], capture_output=True, text=True,
                          timeout=timeout, env=env())


def listing(db: Path) -> dict[int, dict[str, Any]]:
    out = tb("jobs", "--db", str(db), "--json")
    assert out.returncode == 0, out.stderr
    return {j["id"]: j for j in map(json.loads, out.stdout.splitlines())}


def tree(tmp_path: Path) -> Path:
    t = tmp_path / "tree"
    t.mkdir()
    for name in ("a.txt", "b.txt"):
        (t / name).write_text(name)
    return t


class Waiting:
    """`tui-batch run ... --after` started in the background, read until it waits."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([*tui_batch_cmd(), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env())
        self._guard = threading.Timer(60, self.proc.kill)  # a hung wait fails, not hangs
        self._guard.start()
        self.err: list[str] = []

    def until(self, text: str) -> str:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} never said: {''.join(self.err)}")

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=60)
        self._guard.cancel()
        return self.proc.returncode, out, "".join(self.err) + err


def test_run_after_waits_for_a_job_of_another_process_then_runs(tmp_path: Path) -> None:
    db, t = tmp_path / "j.db", tree(tmp_path)
    gate = threading.Event()
    with Batch(db=db, workers=1) as batch:
        dep = batch.submit_call(gate.wait, (30,), name="slow")
        run = Waiting("run", str(t), "--exec", "echo {/}", "--db", str(db), "--headless",
                      "--job-name", "later", "--after", str(dep.id))
        line = run.until("waiting for job")
        assert line.startswith("tui-batch: job 2 waiting for job 1 (job 1 running)"), line
        shown = listing(db)[2]
        assert (shown["state"], shown["reason"], shown["name"]) == (
            "waiting", "waiting for job 1", "later")
        assert shown["after"] == [1] and shown["kind"] == "files" and shown["resume"] is None
        table = tb("jobs", "--db", str(db)).stdout
        assert "job 2 waiting for job 1 (in process" in table  # not "running"
        # the same links a Batch uses, visible to this (the dependency's) process
        assert batch.store.sched_links(2) == ([1], []) and batch.job(2).name == "later"
        gate.set()
        code, out, err = run.finish()
    assert code == 0, err
    assert sorted(out.split()) == ["a.txt", "b.txt"]
    final = listing(db)[2]
    assert final["state"] == "done" and final["reason"] is None


def test_run_after_a_failed_or_unknown_job(tmp_path: Path) -> None:
    """A dependency that failed: `dependency failed`, exit 1, no task runs. An unknown one:
    exit 2 naming it, nothing stored."""
    db, t = tmp_path / "j.db", tree(tmp_path)
    with Batch(db=db) as batch:
        bad = batch.submit_call(call_jobs.fail, ("no",))
        assert bad.wait(10) == "failed"
    unknown = tb("run", str(t), "--exec", "true", "--db", str(db), "--after", "99")
    assert unknown.returncode == 2
    assert unknown.stderr == f"tui-batch: error: --after: no job 99 in {db}\n"
    proc = tb("run", str(t), "--exec", "echo {/}", "--db", str(db), "--after", str(bad.id))
    assert proc.returncode == 1 and proc.stdout == ""  # no task ran
    said = [ln for ln in proc.stderr.splitlines() if "dependency failed" in ln]
    assert said == ["tui-batch: job 2 dependency failed: job 1 failed, so it did not run"]
    jobs = listing(db)
    assert sorted(jobs) == [1, 2]  # the refused run stored nothing
    job = jobs[2]
    assert (job["state"], job["reason"], job["resume"]) == ("dependency failed",
                                                           "job 1 failed", None)
    assert job["counts"]["done"] == 0 and job["counts"]["queued"] == 2
    with Batch(db=db) as batch:  # the API reads the same outcome
        assert batch.job(2).state == "dependency failed"
        assert batch.job(2).failure().type == "DependencyFailed"  # type: ignore[union-attr]


def test_sigterm_while_waiting_leaves_it_resumable_and_resume_waits_again(
        tmp_path: Path) -> None:
    db, t = tmp_path / "j.db", tree(tmp_path)
    gate = threading.Event()
    with Batch(db=db, workers=1) as batch:
        dep = batch.submit_call(gate.wait, (30,))
        run = Waiting("run", str(t), "--exec", "echo {/}", "--db", str(db), "--headless",
                      "--after", str(dep.id))
        run.until("waiting for job 1")
        run.proc.send_signal(signal.SIGTERM)
        code, out, err = run.finish()
        assert code == 130 and out == "", err
        assert "job 2 interrupted while waiting for job 1" in err and "tui-batch resume 2" in err
        job = listing(db)[2]
        assert job["state"] == "interrupted" and job["resume"] is not None
        again = Waiting("resume", "2", "--db", str(db), "--headless")
        again.until("waiting for job 1")
        gate.set()
        code, out, err = again.finish()
    assert code == 0, err
    assert sorted(out.split()) == ["a.txt", "b.txt"]


def test_a_waiter_killed_with_9_reads_interrupted(tmp_path: Path) -> None:
    db, t = tmp_path / "j.db", tree(tmp_path)
    gate = threading.Event()
    with Batch(db=db, workers=1) as batch:
        dep = batch.submit_call(gate.wait, (30,))
        run = Waiting("run", str(t), "--exec", "true", "--db", str(db), "--headless",
                      "--after", str(dep.id))
        run.until("waiting for job 1")
        run.proc.kill()
        run.finish()
        job = listing(db)[2]
        assert job["state"] == "interrupted" and job["pid"] is None
        assert job["reason"] == "its process ended while waiting for job 1"
        gate.set()


def make_call_jobs(db: Path) -> None:
    with Batch(db=db, workers=2) as batch:
        steps = batch.group("steps", sequential=True)
        fact = batch.submit_call("math:factorial", (5,), name="fact", group=steps)
        add = batch.submit_call(call_jobs.add, (1,), {"b": 2}, after=[fact], group=steps)
        bad = batch.submit_call(call_jobs.fail, ("bad input",), priority="high")
        never = batch.submit_call(call_jobs.add, (1, 1), after=[bad])
        obj = batch.submit_call(call_jobs.echo, (object,))
        for j in (fact, add, bad, never, obj):
            j.wait(10)


def test_jobs_lists_call_jobs_with_name_group_dependencies_and_state(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    make_call_jobs(db)
    text = tb("jobs", "--db", str(db)).stdout
    lines = text.splitlines()
    assert all(len(ln) <= 80 for ln in lines), text
    row = {int(ln.split()[0]): ln for ln in lines[1:] if ln.split()[0].isdigit()}
    assert row[1].split()[2:] == ["done", "call", "fact", "math:factorial", "group", "steps"]
    assert row[2].endswith(" call  call_jobs:add  group steps  after 1")
    assert " dep. failed " in row[4] and row[4].endswith("after 3")
    assert "job 4 dependency failed: job 3 failed" in lines
    jobs = listing(db)
    assert jobs[1]["kind"] == "call" and jobs[1]["name"] == "fact"
    assert jobs[1]["group"] == {"id": 1, "name": "steps", "sequential": True,
                                "cancel_on_failure": False, "workers": None}
    assert (jobs[2]["after"], jobs[2]["after_any"]) == ([1], [])
    assert jobs[3]["priority"] == "high" and jobs[3]["state"] == "failed"
    assert (jobs[4]["state"], jobs[4]["reason"]) == ("dependency failed", "job 3 failed")


def test_jobs_job_shows_a_call_jobs_arguments_result_and_error(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    make_call_jobs(db)
    info = json.loads(tb("jobs", "2", "--db", str(db), "--json").stdout)
    assert (info["kind"], info["func"], info["args"], info["kwargs"]) == (
        "call", "call_jobs:add", [1], {"b": 2})
    assert (info["result"], info["result_kind"], info["error"]) == (3, "json", None)
    assert info["group"]["name"] == "steps" and info["dep_states"] == {"1": "done"}
    assert info["attempts"] == 1 and info["elapsed"] is not None
    bad = json.loads(tb("jobs", "3", "--db", str(db), "--json").stdout)
    assert bad["error"]["type"] == "ValueError" and bad["error"]["message"] == "bad input"
    assert "in fail" in bad["error"]["traceback"] and bad["result"] is None
    text = tb("jobs", "3", "--db", str(db)).stdout
    assert "error:\n  ValueError: bad input\n" in text and 'call_jobs.py", line' in text
    text = tb("jobs", "4", "--db", str(db)).stdout
    assert "  reason    job 3 failed" in text and "  after     job 3 (failed)" in text
    text = tb("jobs", "5", "--db", str(db)).stdout
    assert "not JSON-serialisable: kept only in the process that ran it" in text
    assert "args      not stored" in text


HOST = """
import sys, threading, time
from tui_batch import Batch
with Batch(db=sys.argv[1], workers=1) as batch:
    batch.submit_call(threading.Event().wait, (60,), name="blocker")
    batch.submit_call("math:factorial", (6,), name="fact")
    batch.submit_call("call_jobs:add", (2, 3), after=[2])
    batch.submit_call(lambda: 1, name="lam")
    print("ready", flush=True)
    time.sleep(60)
"""


@pytest.mark.slow
def test_resume_of_call_jobs_after_kill_9_of_their_host(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    host = subprocess.Popen([sys.executable, "-c", HOST, str(db)], env=env(),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None and host.stdout.readline().strip() == "ready"
        busy = tb("resume", "2", "--db", str(db))
        assert busy.returncode == 2 and "belongs to a running program" in busy.stderr
        os.kill(host.pid, signal.SIGKILL)
    finally:
        host.wait(10)
    jobs = listing(db)
    assert jobs[2]["state"] == "interrupted" and jobs[2]["resume"] is not None
    assert (jobs[4]["state"], jobs[4]["resume"]) == ("interrupted", None)
    assert jobs[4]["reason"] == "not resumable: not an importable function"
    lam = tb("resume", "4", "--db", str(db))
    assert lam.returncode == 2
    assert lam.stderr == ("tui-batch: error: JOB: job 4 is not resumable: not an importable "
                          "function\n")
    # job 3 runs after job 2: resumed alone it waits for it, whoever runs job 2
    after = Waiting("resume", "3", "--db", str(db))
    after.until("job 3 waiting for job 2")
    first = tb("resume", "2", "--db", str(db))
    assert first.returncode == 0 and first.stdout == "720\n", first.stderr
    code, out, err = after.finish()
    assert code == 0 and out == "5\n", err
    again = tb("resume", "2", "--db", str(db), "--json")
    summary = json.loads(again.stdout)
    assert again.returncode == 0 and summary["ran"] is False and summary["result"] == 720
    with Batch(db=db) as batch:
        assert batch.job(3).result() == 5
