"""End-to-end: `tui-batch log` (reading, following), `jobs JOB` and `jobs --prune`, with the
real command in fresh processes (issue 9, "Full logs")."""

from __future__ import annotations

import json
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import tui_batch_cmd
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.store import NewTask, Store, lock_job, unlock_job

PY = sys.executable
OUT_200K = bytes(range(256)) * 800  # 204,800 bytes, most of them not UTF-8
ERR_200K = bytes(reversed(range(256))) * 790


def tb(*args: str, env: dict[str, str], cwd: Path | None = None,
       timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*tui_batch_cmd(), *args], env=env, cwd=cwd, capture_output=True,
                          timeout=timeout)


def run_job(tree: Path, script: str, env: dict[str, str], *extra: str) -> int:
    """Run a --shell script over ``tree`` headless; the id of the job it made. (A script
    that does not read ``$1`` gets the path appended: ours say ``: "$1"`` when they print.)"""
    proc = tb("run", str(tree), "--shell", "--exec", script, "--json", *extra, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return int(_objects(proc.stdout)[-1]["job"])


def task_ids(env: dict[str, str], job: int) -> list[int]:
    with sqlite3.connect(env["TUI_BATCH_DB"]) as c:
        return [r[0] for r in c.execute("SELECT id FROM tasks WHERE job_id = ? ORDER BY seq",
                                        (job,))]


def one_file(root: Path, name: str = "a.txt", data: str = "a\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(data)
    return root / name


def test_log_returns_every_byte_of_a_200k_output(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = one_file(tmp_path / "in")
    gen = tmp_path / "gen.py"
    gen.write_text("import sys\n"
                   f"sys.stdout.buffer.write({OUT_200K!r})\n"
                   f"sys.stderr.buffer.write({ERR_200K!r})\n")
    job = run_job(tmp_path / "in", f'"{PY}" "{gen}"', cli_env)
    # by path as given to the job, by the path under its root, by task id
    for arg in (str(path), "a.txt"):
        res = tb("log", str(job), arg, env=cli_env, cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert res.stdout == OUT_200K
        assert res.stderr == ERR_200K  # nothing of ours when one task is asked for
    (task_id,) = task_ids(cli_env, job)
    res = tb("log", str(job), str(task_id), env=cli_env)
    assert (res.stdout, res.stderr) == (OUT_200K, ERR_200K)
    # the whole job: the same bytes on stdout, a header (ours) before the block on stderr
    res = tb("log", str(job), env=cli_env)
    assert res.stdout == OUT_200K
    header, _, rest = res.stderr.partition(b"\n")
    assert header.startswith(b"== task ") and b"(done)" in header and b"a.txt" in header
    assert rest == ERR_200K


def test_output_beyond_the_cap_is_said_to_be_cut(tmp_path: Path,
                                                 cli_env: dict[str, str]) -> None:
    one_file(tmp_path / "in")
    recipe = tmp_path / "r.toml"
    recipe.write_text("[settings]\nmax_output = 1024\n")
    job = run_job(tmp_path / "in", ': "$1"; head -c 5000 /dev/zero', cli_env,
                  "--recipe", str(recipe))
    res = tb("log", str(job), "a.txt", env=cli_env, cwd=tmp_path / "in")
    assert res.returncode == 0
    assert res.stdout == b"\0" * 1024
    assert b"stdout: output cut at 1,024 bytes (3,976 bytes not kept" in res.stderr
    obj = json.loads(tb("log", str(job), "--json", env=cli_env).stdout)
    assert (obj["stdout_bytes"], obj["stdout_cut"]) == (5000, 3976)


def _wait_running(env: dict[str, str], proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 60
    db = Path(env["TUI_BATCH_DB"])
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.exists():
            lines = tb("jobs", "--json", env=env).stdout.splitlines()
            if lines and json.loads(lines[0])["state"] == "running":
                return int(json.loads(lines[0])["id"])
        time.sleep(0.1)
    raise AssertionError("the run never started")


def _read_line(proc: subprocess.Popen[bytes]) -> bytes:
    """One line of ``proc``'s stdout (a generous safety limit, not a timing assertion)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready, "log -f printed nothing"
    return proc.stdout.readline()


def test_log_follow_streams_a_running_task_until_it_ends(tmp_path: Path,
                                                         cli_env: dict[str, str]) -> None:
    one_file(tmp_path / "in")
    go = tmp_path / "go"
    # the task prints a line, then waits for the test's go-ahead: it cannot end before
    script = (f': "$1"; echo first; echo "err one" >&2; while [ ! -e "{go}" ]; do sleep 0.05;'
              ' done; echo second; echo "err two" >&2')
    run = subprocess.Popen([*tui_batch_cmd(), "run", str(tmp_path / "in"), "--shell",
                            "--exec", script, "--headless"], env=cli_env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    follow = None
    try:
        job = _wait_running(cli_env, run)
        follow = subprocess.Popen([*tui_batch_cmd(), "log", "-f", str(job), "a.txt"],
                                  env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert _read_line(follow) == b"first\n"
        assert not go.exists() and follow.poll() is None  # shown while the task still runs
        go.touch()
        out, err = follow.communicate(timeout=120)
        assert follow.returncode == 0, err
        assert out == b"second\n"
        assert err == b"err one\nerr two\n"
    finally:
        go.touch()
        run.communicate(timeout=120)
        if follow is not None and follow.poll() is None:
            follow.kill()
    assert run.returncode == 0
    # the job is over: -f prints what is there and exits
    res = tb("log", "-f", str(job), env=cli_env)
    assert res.returncode == 0 and res.stdout == b"first\nsecond\n"


def test_attempts_of_a_retried_failing_task(tmp_path: Path, cli_env: dict[str, str]) -> None:
    one_file(tmp_path / "in")
    count = tmp_path / "count"
    script = (f': "$1"; n=$(cat "{count}" 2>/dev/null || echo 0); n=$((n+1));'
              f' echo $n > "{count}"; echo "out $n"; echo "err $n" >&2; exit 3')
    job = run_job(tmp_path / "in", script, cli_env, "--retries", "2", "--backoff", "0")
    j = str(job)
    last = tb("log", j, "a.txt", env=cli_env, cwd=tmp_path / "in")
    assert (last.returncode, last.stdout, last.stderr) == (0, b"out 3\n", b"err 3\n")
    second = tb("log", j, "a.txt", "--attempt", "2", env=cli_env, cwd=tmp_path / "in")
    assert (second.stdout, second.stderr) == (b"out 2\n", b"err 2\n")
    every = tb("log", j, "a.txt", "--all-attempts", env=cli_env, cwd=tmp_path / "in")
    assert every.stdout == b"out 1\nout 2\nout 3\n"
    lines = every.stderr.decode().splitlines()
    assert [x for x in lines if not x.startswith("==")] == ["err 1", "err 2", "err 3"]
    heads = [x for x in lines if x.startswith("==")]
    assert len(heads) == 3
    assert "attempt 1 (failed, exit 3, retried)" in heads[0]
    assert "attempt 3 (failed, exit 3)" in heads[2]
    objs = [json.loads(x) for x in tb("log", j, "--all-attempts", "--json",
                                      env=cli_env).stdout.splitlines()]
    assert [(o["attempt"], o["state"], o["retried"], o["exit_code"]) for o in objs] == [
        (1, "failed", True, 3), (2, "failed", True, 3), (3, "failed", False, 3)]
    bad = tb("log", j, "a.txt", "--attempt", "4", env=cli_env, cwd=tmp_path / "in")
    assert bad.returncode == 2 and b"--attempt" in bad.stderr and b"no attempt 4" in bad.stderr


def test_failed_tasks_and_their_last_stderr_line(tmp_path: Path,
                                                 cli_env: dict[str, str]) -> None:
    tree = tmp_path / "in"
    for name in ["good1.txt", "good2.txt", *(f"bad{i:02d}.txt" for i in range(22))]:
        one_file(tree, name, name)  # distinct contents: no duplicates skipped
    script = ('case "$1" in *bad*) echo "some detail" >&2; echo "cannot read $1" >&2;'
              ' exit 1;; esac; echo "ok $1"')
    job = run_job(tree, script, cli_env, "-j", "2")
    j = str(job)
    res = tb("log", j, "--failed", env=cli_env)
    assert res.returncode == 0
    assert res.stdout == b""  # the failures printed only on stderr
    err = res.stderr.decode()
    heads = [x for x in err.splitlines() if x.startswith("== task")]
    assert len(heads) == 22 and all("(failed, exit 1)" in h and "bad" in h for h in heads)
    assert err.count("cannot read") == 22 and "good" not in err
    # without --failed: every task that printed something, in task order
    everything = tb("log", j, env=cli_env)
    assert sorted(everything.stdout.decode().split()) == sorted(
        ["ok", f"{tree}/good1.txt", "ok", f"{tree}/good2.txt"])
    detail = tb("jobs", j, env=cli_env).stdout.decode()
    assert "failures (22):" in detail
    shown = [x for x in detail.splitlines() if x.startswith("  task ")]
    assert len(shown) == 20
    for line in shown:  # "  task 7  /tmp/.../bad03.txt: exit 1: cannot read /tmp/.../bad03.txt"
        path = line.split("  ")[2].split(": ")[0]
        assert "bad" in path and line.endswith(f": exit 1: cannot read {path}")
    assert f"... and 2 more (tui-batch log {job}" in detail and "--failed)" in detail
    assert "tasks     24: done 2, failed 22" in detail
    info = json.loads(tb("jobs", j, "--json", env=cli_env).stdout)
    assert info["counts"]["failed"] == 22 and info["failed"] == 22
    assert info["failures"][0]["last_stderr"].startswith("cannot read ")
    assert info["action"]["template"] == script and info["settings"]["workers"] == 2


def test_json_output_that_is_not_utf8_is_escaped_and_flagged_and_unknown_names(tmp_path: Path,
                                                             cli_env: dict[str, str]) -> None:
    one_file(tmp_path / "in")
    script = ": \"$1\"; printf '\\377\\376 ok\\n'; printf 'fine\\n' >&2"
    job = run_job(tmp_path / "in", script, cli_env)
    obj = json.loads(tb("log", str(job), "--json", env=cli_env).stdout)
    assert obj["stdout"] == "\\xff\\xfe ok\n" and obj["stdout_binary"] is True
    assert obj["stdout_bytes"] == 6 and obj["stdout_cut"] == 0
    assert obj["stderr"] == "fine\n" and obj["stderr_binary"] is False
    assert (obj["attempt"], obj["state"], obj["exit_code"]) == (1, "done", 0)
    # an unknown task or job: exit 2, naming it
    res = tb("log", str(job), "nope.txt", env=cli_env)
    assert res.returncode == 2 and b"TASK: no task 'nope.txt' in job" in res.stderr
    res = tb("log", str(job + 5), env=cli_env)
    assert res.returncode == 2 and f"JOB: no job {job + 5}".encode() in res.stderr
    res = tb("jobs", str(job + 5), env=cli_env)
    assert res.returncode == 2 and f"JOB: no job {job + 5}".encode() in res.stderr
    assert b"  log " in tb("--help", env=cli_env).stdout


def _stored_job(store: Store, root: Path, state: str, *, task_state: str = "done") -> int:
    spec = JobSpec(FilterSpec(roots=[str(root)]), ActionSpec(template="echo {}"),
                   EngineSettings()).to_dict()
    job = store.create_job(spec, state=state, tasks=[
        NewTask(str(root / "a.txt"), str(root), "a.txt", 2, 0, state=task_state)])
    folder = Path(store.log_dir(job))
    folder.mkdir(parents=True)
    (folder / "slot-1.out").write_bytes(b"hi\n")
    return job


def test_prune_removes_old_finished_jobs_and_keeps_the_rest(tmp_path: Path,
                                                           cli_env: dict[str, str]) -> None:
    db = Path(cli_env["TUI_BATCH_DB"])
    root = tmp_path / "in"
    with Store(db) as store:
        old = _stored_job(store, root, "done")
        recent = _stored_job(store, root, "failed")
        interrupted = _stored_job(store, root, "running", task_state="running")
        halted = _stored_job(store, root, "failed", task_state="queued")  # resumable
        held = _stored_job(store, root, "done")  # a live process holds its run lock
        store.put_hashes([((1, 1, 1, 1), "xxh3", b"old"), ((2, 2, 2, 2), "xxh3", b"new")])
    ten_days_ago = time.time() - 10 * 86400
    with sqlite3.connect(db) as c:
        c.execute("UPDATE jobs SET updated_at = ? WHERE id != ?", (ten_days_ago, recent))
        c.execute("UPDATE hashes SET added_at = ? WHERE ino = 1", (ten_days_ago,))
    orphan = Path(str(db) + ".logs") / "job-999"
    orphan.mkdir()
    with Store(db) as store:
        fd = lock_job(store, held)
    try:
        dry = tb("jobs", "--prune", "7d", "--dry-run", env=cli_env)
        assert dry.returncode == 0, dry.stderr
        assert (f"would remove 1 job ({old}), 1 orphaned log folder and 1 cached hash"
                in dry.stdout.decode())
        assert Path(str(db) + ".logs", f"job-{old}").is_dir() and orphan.is_dir()
        res = tb("jobs", "--prune", "7d", env=cli_env)
        assert res.returncode == 0, res.stderr
        assert (f"removed 1 job ({old}), 1 orphaned log folder and 1 cached hash"
                in res.stdout.decode())
    finally:
        unlock_job(fd)
    with sqlite3.connect(db) as c:
        ids = sorted(r[0] for r in c.execute("SELECT id FROM jobs"))
        hashes = [r[0] for r in c.execute("SELECT ino FROM hashes")]
    assert ids == sorted([recent, interrupted, halted, held])
    assert hashes == [2]
    assert not Path(str(db) + ".logs", f"job-{old}").exists() and not orphan.exists()
    assert Path(str(db) + ".logs", f"job-{recent}").is_dir()
    bad = tb("jobs", "--prune", "soon", env=cli_env)
    assert bad.returncode == 2 and b"--prune" in bad.stderr


def _objects(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(x) for x in data.splitlines()]


def test_log_follow_of_a_whole_job_shows_each_task_as_it_ends(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    tree = tmp_path / "in"
    for name in ("a.txt", "b.txt"):
        one_file(tree, name, name)
    go = tmp_path / "go"
    # a.txt ends at once; b.txt waits for the test's go-ahead, so the job runs on
    script = (f'echo "start $1"; case "$1" in *b.txt) while [ ! -e "{go}" ]; do sleep 0.05;'
              ' done;; esac; echo "end $1"')
    run = subprocess.Popen([*tui_batch_cmd(), "run", str(tree), "--shell", "--exec", script,
                            "--headless", "-j", "2"], env=cli_env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    follow = None
    try:
        job = _wait_running(cli_env, run)
        follow = subprocess.Popen([*tui_batch_cmd(), "log", "-f", "--json", str(job)],
                                  env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = json.loads(_read_line(follow))
        assert first["rel"] == "a.txt" and first["stdout"] == f"start {first['path']}\nend " \
            f"{first['path']}\n"
        assert not go.exists() and follow.poll() is None  # b.txt runs: still following
        go.touch()
        out, err = follow.communicate(timeout=120)
        assert follow.returncode == 0, err
    finally:
        go.touch()
        run.communicate(timeout=120)
        if follow is not None and follow.poll() is None:
            follow.kill()
    (second,) = _objects(out)
    assert second["rel"] == "b.txt"
    assert second["stdout"] == f"start {second['path']}\nend {second['path']}\n"
