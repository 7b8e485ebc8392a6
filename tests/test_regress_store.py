"""Regression tests for the job store and job states (issue 7, items 4, 5, 6, 8, 19, 20).

Everything that a user can see through the command line is tested through the real
``tui-batch`` command in a fresh process, and kills are real ``kill -9``s of that process.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd

PY = sys.executable
REPO = Path(__file__).resolve().parents[1]


def tb(*args: str, env: dict[str, str], cwd: Path | None = None,
       timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*tui_batch_cmd(), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, errors="replace")


def tb_popen(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([*tui_batch_cmd(), *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def make_tree(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"f{i:05d}").write_text(str(i))  # distinct content: nothing is a duplicate
    return root


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ro_query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read the store as a bystander would (never replays or migrates anything)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def kill9(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if proc.stderr is not None:
        proc.stderr.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    e = dict(os.environ)
    e["TUI_BATCH_DB"] = str(tmp_path / "jobs.db")
    e["TUI_BATCH_NO_TUI"] = "1"
    yield e


# ---- item 4: a job and its tasks appear together ---------------------------------------------


@pytest.mark.slow
def test_item4_kill_during_job_creation_never_leaves_a_partial_job(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """kill -9 at several moments while a 20,000-file job is being created: every job that is
    visible afterwards has all its tasks, and nothing resumes into a finished empty job."""
    n = 20_000
    tree = make_tree(tmp_path / "t", n)
    db = Path(env["TUI_BATCH_DB"])
    rng = random.Random(4)
    args = ("run", str(tree), "--exec", "true", "--no-dedupe", "--headless", "-j", "1")
    for attempt in range(4):
        known = ro_query(db, "SELECT COALESCE(MAX(id), 0) FROM jobs")[0][0] if db.exists() else 0
        proc = tb_popen(*args, env=env)
        try:
            if attempt % 2 == 0:
                # The moment the new job row becomes visible: the old code had committed the
                # job but not yet its tasks here.
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and proc.poll() is None:
                    try:
                        if ro_query(db, "SELECT COALESCE(MAX(id), 0) FROM jobs")[0][0] > known:
                            break
                    except sqlite3.Error:
                        pass  # not created yet
                    time.sleep(0.001)
            else:
                time.sleep(rng.uniform(0.3, 1.2))
        finally:
            kill9(proc)
        listed = tb("jobs", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        for job in json_lines(listed.stdout):
            assert job["total"] == n, (attempt, job)
    jobs = json_lines(tb("jobs", "--json", env=env).stdout)
    assert jobs, "no kill landed after the job was created"


def test_item4_create_job_with_tasks_is_one_transaction(tmp_path: Path) -> None:
    """The store API takes the tasks with the job, so both are written in one commit (what
    jobs.create_job uses; the kill test above checks the result through the command)."""
    from tui_batch.store import NewTask, Store

    with Store(tmp_path / "s.db") as s:
        job = s.create_job({"k": 1}, tasks=[NewTask(f"/r/{i}", "/r", str(i), i, i)
                                            for i in range(5000)])
        assert s.task_counts(job)["queued"] == 5000
        assert [t.seq for t in s.load_tasks(job)][:3] == [0, 1, 2]
        assert s.list_jobs()[0].total == 5000


# ---- item 5: completions reach the OS before the slot starts another task ----------------


JOURNAL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
    from tui_batch.store import Store, NewTask
    db, root = sys.argv[1:3]
    s = Store(db)
    spec = JobSpec(FilterSpec(roots=[root]), ActionSpec(name="noop"), EngineSettings(workers=1))
    job = s.create_job(spec.to_dict(), state="running")
    tasks = []
    for name in sorted(os.listdir(root)):
        st = os.stat(os.path.join(root, name))
        tasks.append(NewTask(os.path.join(root, name), root, name, st.st_size, st.st_mtime_ns,
                             st.st_dev, st.st_ino))
    ids = s.add_tasks(job, tasks)
    s.flush()
    for k, tid in enumerate(ids):
        s.record_start(tid, 1, 1.0)
        if k < 8:
            s.record_end(tid, 1, "done", started_at=1.0, ended_at=2.0, exit_code=0,
                         stdout_tail="out")
    # 8 done, 2 running, none of it committed yet: the writer is in its coalescing pause
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_item5_unflushed_completions_survive_kill_9(tmp_path: Path, env: dict[str, str]) -> None:
    db = Path(env["TUI_BATCH_DB"])
    sub_env = dict(env, PYTHONPATH=str(REPO))
    tree = make_tree(tmp_path / "t", 10)
    proc = subprocess.run([PY, "-c", JOURNAL_SCRIPT, str(db), str(tree)], env=sub_env,
                          timeout=60)
    assert proc.returncode == -signal.SIGKILL
    # A bystander that only reads sees them (without changing the store) ...
    (job,) = json_lines(tb("jobs", "--json", env=env).stdout)
    assert job["counts"]["done"] == 8, job
    assert ro_query(db, "SELECT COUNT(*) FROM tasks WHERE state = 'done'")[0][0] == 0
    # ... and the next command that writes commits them before anything else.
    res = tb("resume", str(job["id"]), "--json", env=env)
    assert res.returncode == 0, res.stderr
    rows = ro_query(db, "SELECT a.stdout_tail FROM tasks t JOIN attempts a"
                        " ON a.task_id = t.id AND a.n = 1 ORDER BY t.seq")
    assert [r[0] for r in rows[:8]] == ["out"] * 8  # the first attempt's record, not a rerun
    states = ro_query(db, "SELECT state, attempts FROM tasks ORDER BY seq")
    assert states[:8] == [("done", 1)] * 8  # not run again
    # the two that were running run now (their starts are not journaled: a start lost to a
    # kill changes nothing, the task runs either way)
    assert [st for st, _ in states[8:]] == ["done", "done"]
    assert [n for n in os.listdir(f"{db}.pending") if not n.startswith(".")] == []


def test_item5_journal_frames_replay_only_what_is_pending(tmp_path: Path) -> None:
    """The journal's reading rules, on real files: a cleared file yields nothing, bytes left
    from an earlier turn are not read back, a torn frame ends a file, records of both files
    come back in write order, and a live owner's journal is not replayed."""
    from tui_batch.store import journal

    db = str(tmp_path / "j.db")
    j = journal.Journal(db)
    end = (1, 7, 1, "failed", 1.0, 2.0, 3, None, "bad \udce9", "out", None, "retry")
    j.write(end)
    j.write((2, 7, "queued", "retry in 1s"))
    old = j.swap()
    assert old == 0
    j.write((1, 7, 2, "done", 3.0, 4.0, 0, None, None, None, None, None))
    assert journal.pending_records(db) == [
        end, (2, 7, "queued", "retry in 1s"),
        (1, 7, 2, "done", 3.0, 4.0, 0, None, None, None, None, None),
    ]
    assert journal.replay(db, lambda items: pytest.fail("replayed a live journal")) == 0
    j.clear(0)  # committed: file 0 empty again, its old bytes still there behind a zero header
    assert [r[2] for r in journal.pending_records(db)] == [2]
    j.swap()
    j.write((3, 7, 9))  # shorter than the stale records of file 0
    assert [r[0] for r in journal.pending_records(db)] == [1, 3]
    with open(j.paths[1], "r+b") as fh:  # tear file 1's frame
        fh.seek(12)
        fh.write(b"\xff\xff")
    assert journal.pending_records(db) == [(3, 7, 9)]
    j.close(remove=False)  # as a kill would: files stay, unlocked
    got: list[Any] = []
    assert journal.replay(db, got.extend) == 1 and got == [(3, 7, 9)]
    assert [n for n in os.listdir(journal.folder_for(db)) if not n.startswith(".")] == []


def test_item5_replay_never_undoes_a_newer_commit(tmp_path: Path) -> None:
    """A killed process may have committed its last batch without clearing its journal, and
    starts are not journaled: replaying an older end or requeue must not undo what the
    database already holds."""
    from tui_batch.store import NewTask, Store

    with Store(tmp_path / "s.db") as s:
        job = s.create_job({}, tasks=[NewTask(f"/r/{i}", "/r", str(i), i, i) for i in range(3)])
        a, b, c = (t.id for t in s.load_tasks(job))
        s.record_end(a, 1, "failed", started_at=1, ended_at=2, exit_code=1)
        s.record_start(a, 2, 3.0)  # retried: attempt 2 committed as running
        s.record_start(b, 1, 1.0)
        s.flush()
        s._apply_replayed([
            (1, a, 1, "failed", 1, 2, 1, None, None, None, None, None),  # older than attempt 2
            (2, b, "queued", "retried by user"),  # older than b's committed start
            (1, c, 1, "done", 1, 2, 0, None, None, None, None, None),  # never committed
            (1, 999, 1, "done", 1, 2, 0, None, None, None, None, None),  # its job was deleted
        ])
        got = {t.id: (t.state, t.attempts) for t in s.load_tasks(job)}
        assert got == {a: ("running", 2), b: ("running", 1), c: ("done", 1)}


@pytest.mark.slow
def test_item5_kill_9_reruns_at_most_one_task_per_worker(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Many quick real commands, each appending its path to a log; kill -9 at random moments,
    resume each time, run to the end. A worker slot holds one task at a time, and that task's
    completion is in the OS before the slot starts another: so per kill, at most one task per
    worker slot ran (or had finished) without its completion being recorded, and only those
    may appear twice in the log. That is the whole guarantee: reruns per kill <= workers."""
    n, workers = 400, 2
    tree = make_tree(tmp_path / "t", n)
    log = tmp_path / "runs.log"
    log.touch()
    db = Path(env["TUI_BATCH_DB"])
    common = ("--headless", "--json")
    rng = random.Random(5)
    proc = tb_popen("run", str(tree), "--shell", "--exec", f"echo {{}} >> {shlex.quote(str(log))}",
                    "-j", str(workers), "--no-dedupe", *common, env=env)
    bounds: list[int] = []
    kills = 0
    while kills < 5:
        base = len(log.read_text().splitlines())
        deadline = time.monotonic() + 30
        while (time.monotonic() < deadline and proc.poll() is None
               and len(log.read_text().splitlines()) < base + 15):
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.03))
        if proc.poll() is not None:
            break  # the run finished before this kill
        kill9(proc)
        kills += 1
        time.sleep(0.3)  # commands orphaned by the kill finish their echo
        bounds.append(len(log.read_text().splitlines()))
        (job_id,) = ro_query(db, "SELECT id FROM jobs")[0]
        proc = tb_popen("resume", str(job_id), "-j", str(workers), *common, env=env)
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    kill9(proc)
    assert kills >= 3, "the runs finished before the kills"
    lines = log.read_text().splitlines()
    assert {Path(p).name for p in lines} == {f"f{i:05d}" for i in range(n)}, "a task was lost"
    seen: set[str] = set()
    reruns = []
    starts = [0, *bounds]
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        segment = lines[start:end]
        if k:
            reruns.append(sum(1 for p in segment if p in seen))
        seen.update(segment)
    assert all(r <= workers for r in reruns), reruns
    assert ro_query(db, "SELECT state FROM jobs") == [("done",)]


# ---- item 6: a dead run is shown as interrupted ------------------------------------------


def wait_for_job(db: Path, env: dict[str, str], cond: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        r = tb("jobs", "--db", str(db), "--json", env=env)
        last = json_lines(r.stdout)
        if last and cond(last[0]):
            return last[0]
        time.sleep(0.05)
    raise AssertionError(f"job never got there: {last}")


def test_item6_dead_run_is_listed_interrupted_with_resume_command(
    tmp_path: Path, env: dict[str, str]
) -> None:
    tree = make_tree(tmp_path / "t", 4)
    db = tmp_path / "other" / "jobs.db"  # not the default store: the hint needs --db
    proc = tb_popen("run", str(tree), "--exec", "sh -c 'sleep 1' _ {}", "-j", "2", "--db", str(db),
                    "--headless", env=env)
    try:
        live = wait_for_job(db, env, lambda j: j["counts"]["running"] == 2)
        assert live["state"] == "running" and live["pid"] == proc.pid, live
    finally:
        kill9(proc)
    job = json_lines(tb("jobs", "--db", str(db), "--json", env=env).stdout)[0]
    assert job["state"] == "interrupted", job
    assert job["pid"] is None
    assert job["counts"]["running"] == 0 and job["counts"]["interrupted"] == 2
    assert job["left"] == 4 - job["counts"]["done"] >= 2, job  # what resume would run
    expected = f"tui-batch resume {job['id']} --db {shlex.quote(str(db))}"
    assert job["resume"] == expected
    table = tb("jobs", "--db", str(db), env=env)
    assert table.returncode == 0, table.stderr
    assert "interrupted" in table.stdout and "running" not in table.stdout
    assert expected in table.stdout
    # Chosen with TUI_BATCH_DB instead: the hint still names it (the shell it is pasted into
    # may not have the variable; see hints.py).
    env2 = dict(env, TUI_BATCH_DB=str(db))
    assert json_lines(tb("jobs", "--json", env=env2).stdout)[0]["resume"] == expected
    time.sleep(1.0)  # the orphaned sleeps end


def test_item6_liveness_api(tmp_path: Path) -> None:
    """One function answers "is this job being run, and by which process" (the TUI's jobs
    screen calls it too): free lock -> not running; held lock -> running, with the pid."""
    from tui_batch.store import Store, job_liveness, lock_job

    with Store(tmp_path / "s.db") as s:
        job = s.create_job({}, state="running")
        assert job_liveness(s, job) == (False, None)
        assert not os.path.exists(f"{s.path}.locks"), "a read-only check must not create files"
        fd = lock_job(s, job)
        try:
            assert job_liveness(s, job) == (True, os.getpid())
        finally:
            os.close(fd)
        assert job_liveness(s, job) == (False, None)


@pytest.mark.slow
def test_item6_running_watch_is_not_listed_interrupted(
    tmp_path: Path, env: dict[str, str]
) -> None:
    tree = make_tree(tmp_path / "t", 1)
    db = Path(env["TUI_BATCH_DB"])
    proc = subprocess.Popen([*tui_batch_cmd(), "watch", str(tree), "--exec", "true",
                             "--headless", "--poll", "--settle", "0.1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        job = wait_for_job(db, env, lambda j: j["counts"]["done"] == 1)
        assert job["state"] == "running" and job["pid"] == proc.pid, job
    finally:
        kill9(proc)
    job = json_lines(tb("jobs", "--json", env=env).stdout)[0]
    assert job["state"] == "interrupted" and job["pid"] is None, job


# ---- item 8: cancel all ends the job 'cancelled' ---------------------------------------------


CANCEL_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from tui_batch import ActionSpec, Batch, EngineSettings, FilterSpec, JobSpec
    from tui_batch.engine import TaskEvent
    root, db, template = sys.argv[1:4]
    spec = JobSpec(FilterSpec(roots=[root]), ActionSpec(template=template, shell=True),
                   EngineSettings(workers=1, dedupe=False, kill_grace=1.0))
    with Batch(db=db) as batch:
        job = batch.submit(spec)
        ended = []
        def on_event(ev):
            if isinstance(ev, TaskEvent) and ev.duration is not None:
                ended.append(ev.task_id)
                if len(ended) == 1:  # after the first task ended: the user cancels the rest
                    asyncio.get_running_loop().call_soon(job.cancel)
        job.on_event(on_event)
        code = job.run()
        print(code, job.state, sorted(job.counts().items()))
    """
)


@pytest.mark.parametrize(
    ("first", "state"), [("true", "cancelled"), ("exit 3", "failed")], ids=["ok", "failed"]
)
def test_item8_cancel_all_ends_the_job_cancelled(
    tmp_path: Path, env: dict[str, str], first: str, state: str
) -> None:
    tree = make_tree(tmp_path / "t", 4)
    db = Path(env["TUI_BATCH_DB"])
    # f00000 ends at once (ok or failed), the others would sleep: all cancelled
    template = f'case "$1" in *f00000) {first} ;; *) sleep 20 ;; esac'
    template = f"sh -c {shlex.quote(template)} _ {{}}"
    proc = subprocess.run([PY, "-c", CANCEL_SCRIPT, str(tree), str(db), template],
                          env=dict(env, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    code, job_state, _ = proc.stdout.split(" ", 2)
    assert int(code) == 1  # the brief: 1 = some task failed or was cancelled
    assert job_state == state
    (job,) = json_lines(tb("jobs", "--json", env=env).stdout)
    assert job["state"] == state
    assert job["counts"]["cancelled"] == 3


# ---- item 19: a foreign SQLite file is refused before anything is written ----------------


def test_item19_foreign_sqlite_file_is_left_byte_identical(
    tmp_path: Path, env: dict[str, str]
) -> None:
    foreign = tmp_path / "customers.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = sha256(foreign)
    tree = make_tree(tmp_path / "t", 2)
    for args in (("jobs",), ("jobs", "--json"),
                 ("run", str(tree), "--exec", "true", "--headless"),
                 ("resume", "1", "--headless")):
        r = tb(*args, "--db", str(foreign), env=env)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and "not a tui-batch job store" in r.stderr, r.stderr
        assert r.stderr.startswith("tui-batch: error: --db: ")
        assert sha256(foreign) == before, args
    assert sorted(os.listdir(tmp_path)) == ["customers.db", "t"]
    conn = sqlite3.connect(foreign)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


# ---- item 20: read-only commands never create or write a store ---------------------------


def test_item20_jobs_on_a_missing_store_creates_nothing(
    tmp_path: Path, env: dict[str, str]
) -> None:
    missing = tmp_path / "nowhere" / "jobs.db"
    r = tb("jobs", "--db", str(missing), env=env)
    assert r.returncode == 2
    assert r.stderr == f"tui-batch: error: --db: no job store at {missing}\n"
    assert not missing.parent.exists()
    # the default store (TUI_BATCH_DB) likewise
    r = tb("jobs", "--json", env=env)
    assert r.returncode == 2 and "no job store at" in r.stderr
    assert not Path(env["TUI_BATCH_DB"]).exists()


def test_item20_tilde_is_expanded_or_refused(tmp_path: Path, env: dict[str, str]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    tree = make_tree(tmp_path / "t", 1)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    e = dict(env, HOME=str(home), TUI_BATCH_DB="~nosuchuser-tb/x.db")
    for args in (("jobs",), ("run", str(tree), "--exec", "true", "--headless")):
        r = tb(*args, env=e, cwd=cwd)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and "nosuchuser-tb" in r.stderr, r.stderr
        assert r.stderr.startswith("tui-batch: error: TUI_BATCH_DB: "), r.stderr
    r = tb("jobs", "--db", "~nosuchuser-tb/x.db", env=e, cwd=cwd)
    assert r.returncode == 2 and r.stderr.startswith("tui-batch: error: --db: "), r.stderr
    assert os.listdir(cwd) == []
    # ~ alone is the home folder, for the variable and for --db
    e["TUI_BATCH_DB"] = "~/x.db"
    assert tb("run", str(tree), "--exec", "true", "--headless", env=e, cwd=cwd).returncode == 0
    assert (home / "x.db").is_file()
    r = tb("jobs", "--json", "--db", "~/x.db", env=e, cwd=cwd)
    assert r.returncode == 0 and len(json_lines(r.stdout)) == 1, r.stderr
    assert os.listdir(cwd) == []


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to run as another user")
def test_item20_jobs_reads_a_store_it_may_not_write(env: dict[str, str]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tb-ro-"))  # outside pytest's 0700 tmp tree
    try:
        folder.chmod(0o755)
        tree = make_tree(folder / "t", 3)
        db = folder / "jobs.db"
        r = tb("run", str(tree), "--exec", "true", "--headless", "--db", str(db), env=env)
        assert r.returncode == 0, r.stderr
        db.chmod(0o644)
        # what makes it hard: SQLite would have to create jobs.db-shm to read a WAL store
        assert not Path(f"{db}-shm").exists() and not Path(f"{db}-wal").exists()
        before = sha256(db)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        e = dict(env, HOME=str(folder))
        for args in (["jobs", "--json"], ["jobs"]):
            p = subprocess.run([*nobody, *tui_batch_cmd(), *args, "--db", str(db)], env=e,
                               capture_output=True, text=True, timeout=60, cwd=folder)
            assert p.returncode == 0, p.stderr
            assert p.stderr == ""
        (job,) = json_lines(subprocess.run(
            [*nobody, *tui_batch_cmd(), "jobs", "--json", "--db", str(db)], env=e,
            capture_output=True, text=True, timeout=60, cwd=folder).stdout)
        assert job["state"] == "done" and job["counts"]["done"] == 3
        assert sha256(db) == before
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_item20_resume_on_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    """`resume 1 --db MISSING` used to create an empty store before saying "no job 1"."""
    missing = tmp_path / "nope" / "jobs.db"
    env = dict(os.environ)
    env.pop("TUI_BATCH_DB", None)
    proc = subprocess.run([*tui_batch_cmd(), "resume", "1", "--db", str(missing), "--headless"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"tui-batch: error: --db: no job store at {missing}, so no job 1")
    assert not missing.parent.exists()
