"""End-to-end: the real `tui-batch` command on temporary trees."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd

PY = sys.executable

NASTY_NAMES = [
    b"plain.txt",
    b"with space.txt",
    b"quote'single.txt",
    b'quote"double.txt',
    b"$(touch PWNED).txt",
    b"`touch PWNED2`.txt",
    b"semi;touch PWNED3;.txt",
    b"new\nline.txt",
    b"-rf.txt",
    b"--help.txt",
    b"caf\xe9-latin1.txt",  # not valid UTF-8
    b"star*?[x].txt",
    b"back\\slash.txt",
]


def tb(*args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60,
       check: bool = False) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*tui_batch_cmd(), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, errors="replace")
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def make_nasty_tree(root: Path) -> list[bytes]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, name in enumerate(NASTY_NAMES):
        p = os.path.join(os.fsencode(root), name)
        with open(p, "wb") as fh:
            fh.write(b"x" * (i + 1))  # distinct sizes: no duplicates
        paths.append(p)
    return paths


RECORDER = ("import os, sys; "
            "open(sys.argv[1], 'ab').write(os.fsencode(sys.argv[2]) + b'\\0')")


@pytest.mark.parametrize("shell", [False, True], ids=["exec", "shell"])
def test_nasty_names_byte_exact_and_no_injection(tmp_path: Path, cli_env: dict[str, str],
                                                 shell: bool) -> None:
    tree = tmp_path / "tree"
    expected = sorted(make_nasty_tree(tree))
    log = tmp_path / "argv.log"
    template = f"{PY} -c \"{RECORDER}\" {log} {{}}"
    args = ["run", str(tree), "--exec", template, "-j", "3", "--json"]
    if shell:
        args.append("--shell")
    proc = tb(*args, env=cli_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = sorted(x for x in log.read_bytes().split(b"\0") if x)
    assert got == expected
    for bad in ("PWNED", "PWNED2", "PWNED3"):
        assert not (tmp_path / bad).exists() and not (tree / bad).exists()
    summary = json_lines(proc.stdout)[-1]
    assert summary["event"] == "summary" and summary["done"] == len(NASTY_NAMES)


def test_leading_dash_never_an_option(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "-n").write_text("x")
    proc = tb("run", ".", "--exec", "echo {/}", "--json", env=cli_env, cwd=tree)
    assert proc.returncode == 0, proc.stderr
    store = sqlite3.connect(cli_env["TUI_BATCH_DB"])
    (tail,) = store.execute("select stdout_tail from attempts").fetchone()
    assert tail == "./-n\n"


def test_run_filters_and_json_events(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "logs"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.log").write_bytes(b"a" * 2000)
    (tree / "sub" / "b.log").write_bytes(b"b" * 3000)
    (tree / "small.log").write_bytes(b"s")
    (tree / "c.txt").write_bytes(b"c" * 5000)
    (tree / ".hidden.log").write_bytes(b"h" * 5000)
    proc = tb("run", str(tree), "--ext", "log", "--min-size", "1k", "--exec", "true", "--json",
              env=cli_env)
    assert proc.returncode == 0, proc.stderr
    events = json_lines(proc.stdout)
    done = sorted(Path(e["path"]).name for e in events if e.get("event") == "task")
    assert done == ["a.log", "b.log"]
    assert events[-1]["event"] == "summary" and events[-1]["exit_code"] == 0


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--name", "a(b"], "--name"),
        (["--exclude-re", "[z"], "--exclude-re"),
        (["--min-size", "10q"], "--min-size"),
        (["--min-size", "2M", "--max-size", "1M"], "--min-size"),
        (["--newer", "yesterday-ish"], "--newer"),
        (["--action", "no-such-action"], "--action"),
        (["--exec", "echo {nope}"], "--exec"),
        (["--exec", "echo 'unterminated"], "--exec"),
        (["--exec", "cp {} {out}"], "--out"),
        (["--action", "copy"], "--out"),
        (["--exec", "true", "--priority", "meh"], "--priority"),
        (["--exec", "true", "-j", "0"], "--workers"),
        (["--exec", "true", "--opt", "novalue"], "--opt"),
        (["--exec", "true", "--recipe", "/nonexistent.toml"], "--recipe"),
        (["--exec", "true", "-j", "x"], "--workers"),
        ([], "--exec"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, cli_env: dict[str, str],
                                         args: list[str], field: str) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "f.txt").write_text("x")
    if "--exec" not in args and "--action" not in args:
        args = [*args, "--exec", "true"] if field != "--exec" else args
    proc = tb("run", str(tree), *args, env=cli_env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert field in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_root_exits_2(tmp_path: Path, cli_env: dict[str, str]) -> None:
    proc = tb("run", str(tmp_path / "nope"), "--exec", "true", env=cli_env)
    assert proc.returncode == 2
    assert "nope" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_failures_exit_1_with_retries_recorded(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "ok.txt").write_text("1")
    (tree / "bad.txt").write_text("22")
    proc = tb("run", str(tree), "--exec", "sh -c 'case $1 in *bad*) exit 7;; esac' sh {}",
              "--retries", "2", "--backoff", "0.05", "--json", env=cli_env)
    assert proc.returncode == 1
    events = json_lines(proc.stdout)
    bad = [e for e in events if e.get("event") == "task" and e["path"].endswith("bad.txt")]
    assert [e["state"] for e in bad] == ["queued", "queued", "failed"]
    assert bad[-1]["exit_code"] == 7 and bad[-1]["attempt"] == 3
    db = sqlite3.connect(cli_env["TUI_BATCH_DB"])
    n = db.execute("select count(*) from attempts where exit_code = 7").fetchone()[0]
    assert n == 3


def test_timeout(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "a").write_text("1")
    t0 = time.monotonic()
    proc = tb("run", str(tree), "--exec", "sh -c 'sleep 30'", "--timeout", "0.5", "--json",
              env=cli_env)
    assert time.monotonic() - t0 < 15
    assert proc.returncode == 1
    task = [e for e in json_lines(proc.stdout) if e.get("event") == "task"][-1]
    assert task["state"] == "failed" and "timed out" in task["error"]


def test_file_deleted_between_scan_and_run(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "a.txt").write_text("1")
    (tree / "b.txt").write_text("22")
    # the first task deletes the second file before it runs (-j 1, scan order a, b)
    proc = tb("run", str(tree), "-j", "1", "--json", "--exec",
              f"sh -c 'rm -f {tree}/b.txt' sh {{}}", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    tasks = {Path(e["path"]).name: e for e in json_lines(proc.stdout) if e.get("event") == "task"}
    assert tasks["a.txt"]["state"] == "done"
    assert tasks["b.txt"]["state"] == "skipped"
    assert "vanished" in tasks["b.txt"]["reason"]


def test_symlink_loop_reported_not_hanging(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / "f.txt").write_text("x")
    os.symlink("..", tree / "d" / "up")
    proc = tb("run", str(tree), "--follow", "--exec", "true", "--json", env=cli_env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    events = json_lines(proc.stdout)
    assert any(e.get("event") == "scan_issue" and e["kind"] == "loop" for e in events)
    assert events[-1]["done"] == 1


def test_duplicates_skipped_and_shown(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "a.txt").write_text("same content\n")
    (tree / "b.txt").write_text("same content\n")
    (tree / "c.txt").write_text("other content\n")
    proc = tb("run", str(tree), "--exec", "true", "--json", env=cli_env)
    assert proc.returncode == 0
    summary = json_lines(proc.stdout)[-1]
    assert summary["done"] == 2 and summary["skipped"] == 1
    proc = tb("run", str(tree), "--exec", "true", "--json", "--no-dedupe", env=cli_env)
    assert json_lines(proc.stdout)[-1]["done"] == 3


def test_dry_run_runs_nothing(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "a b.txt").write_text("1")
    proc = tb("run", str(tree), "--exec", "rm {}", "--dry-run", env=cli_env)
    assert proc.returncode == 0
    assert (tree / "a b.txt").exists()
    assert f"rm '{tree}/a b.txt'" in proc.stdout


def test_copy_action_mirrors_tree_atomically(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "in"
    (tree / "x" / "y").mkdir(parents=True)
    (tree / "x" / "y" / "deep.txt").write_text("deep")
    (tree / "top.txt").write_text("top!")
    out = tmp_path / "out"
    proc = tb("run", str(tree), "--action", "copy", "--out", str(out), "--json", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert (out / "x" / "y" / "deep.txt").read_text() == "deep"
    assert (out / "top.txt").read_text() == "top!"
    leftovers = [p for p in out.rglob("*") if "tmp" in p.name]
    assert not leftovers


def test_out_template_renamed_into_place(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / "a.txt").write_text("hello")
    (tree / "fail.txt").write_text("bye!!")
    out = tmp_path / "out"
    proc = tb("run", str(tree), "--out", str(out), "--json", "--shell", "--exec",
              "cat {} > {out}; case {} in *fail*) exit 1;; esac", env=cli_env)
    assert proc.returncode == 1
    assert (out / "a.txt").read_text() == "hello"
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]  # no half-written output


def test_jobs_listing(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "a").write_text("1")
    tb("run", str(tree), "--exec", "true", "--json", env=cli_env, check=True)
    proc = tb("jobs", "--json", env=cli_env, check=True)
    jobs = json_lines(proc.stdout)
    assert len(jobs) == 1 and jobs[0]["state"] == "done" and jobs[0]["counts"]["done"] == 1
    plain = tb("jobs", env=cli_env, check=True).stdout
    assert "done" in plain and "true" in plain


def test_resume_unknown_job(cli_env: dict[str, str]) -> None:
    proc = tb("resume", "999", env=cli_env)
    assert proc.returncode == 2 and "999" in proc.stderr


@pytest.mark.slow
def test_kill_9_then_resume(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    n = 60
    for i in range(n):
        (tree / f"f{i:03d}.txt").write_text("x" * (i + 1))
    log = tmp_path / "runs.log"
    template = f"sh -c 'echo \"$1\" >> {log}; sleep 0.1' sh {{}}"
    proc = subprocess.Popen([*tui_batch_cmd(), "run", str(tree), "-j", "4", "--json",
                             "--exec", template], env=cli_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 20:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.3)  # orphaned commands finish
    db = sqlite3.connect(cli_env["TUI_BATCH_DB"])
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    (job_id, state), = db.execute("select id, state from jobs").fetchall()
    assert state == "running"
    done_before = {os.fsdecode(r[0]) for r in
                   db.execute("select path from tasks where state = 'done'").fetchall()}
    assert 0 < len(done_before) < n
    db.close()
    runs_before = len(log.read_text().splitlines())

    res = tb("resume", str(job_id), "--json", env=cli_env, timeout=60)
    assert res.returncode == 0, res.stderr
    runs = log.read_text().splitlines()
    counts: dict[str, int] = {}
    for r in runs:
        counts[r] = counts.get(r, 0) + 1
    assert len(counts) == n, "a task was lost"
    for p in done_before:
        assert counts[p] == 1, f"{p} succeeded before the kill but ran again"
    # at-least-once: only the tasks in flight at the kill may run twice
    assert len(runs) - n <= 4 + (runs_before - len(done_before))
    db = sqlite3.connect(cli_env["TUI_BATCH_DB"])
    assert db.execute("select state from jobs").fetchone()[0] == "done"
    assert db.execute("select count(*) from tasks where state='done'").fetchone()[0] == n


def test_ctrl_c_exits_130_and_resume_finishes(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    for i in range(6):
        (tree / f"f{i}").write_text("x" * (i + 1))
    proc = subprocess.Popen([*tui_batch_cmd(), "run", str(tree), "-j", "2", "--json",
                             "--exec", "sh -c 'sleep 0.5'"], env=cli_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    summary = json_lines(out)[-1]
    assert summary["exit_code"] == 130
    db = sqlite3.connect(cli_env["TUI_BATCH_DB"])
    (job_id, state), = db.execute("select id, state from jobs").fetchall()
    assert state == "interrupted"
    db.close()
    res = tb("resume", str(job_id), "--json", env=cli_env)
    assert res.returncode == 0, res.stderr
    assert json_lines(res.stdout)[-1]["done"] == 6


def test_two_processes_one_database(tmp_path: Path, cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    for i in range(300):
        (tree / f"f{i:03d}").write_text("x" * (i + 1))
    # stdout in a file: a pipe nobody reads until the end would fill up (64 KiB) and stall it
    out_file = open(tmp_path / "out.jsonl", "w+")  # noqa: SIM115 - read back below
    proc = subprocess.Popen([*tui_batch_cmd(), "run", str(tree), "-j", "2", "--json",
                             "--exec", "true"], env=cli_env, stdout=out_file,
                            stderr=subprocess.PIPE, text=True)
    listings = 0
    db = Path(cli_env["TUI_BATCH_DB"])
    while proc.poll() is None:
        if not db.exists() or db.stat().st_size == 0:
            # `jobs` never creates a store: until the run has made one it says so (exit 2)
            time.sleep(0.01)
            continue
        r = tb("jobs", "--json", env=cli_env)
        assert r.returncode == 0, r.stderr
        assert "locked" not in r.stderr
        listings += 1
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert listings >= 1
    out_file.seek(0)
    assert json_lines(out_file.read())[-1]["done"] == 300
    out_file.close()


def test_permission_denied_reported(tmp_path: Path, cli_env: dict[str, str]) -> None:
    import shutil

    tree = tmp_path / "t"
    (tree / "ok").mkdir(parents=True)
    (tree / "ok" / "a.txt").write_text("a")
    (tree / "secret").mkdir()
    (tree / "secret" / "s.txt").write_text("s")
    (tree / "secret").chmod(0o000)
    prefix: list[str] = []
    if os.geteuid() == 0:
        # root reads everything: drop the capabilities that bypass permissions (util-linux)
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot provoke EACCES")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    try:
        proc = subprocess.run([*prefix, *tui_batch_cmd(), "run", str(tree), "--exec", "true",
                               "--json"], env=cli_env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        events = json_lines(proc.stdout)
        issues = [e for e in events if e.get("event") == "scan_issue"]
        assert [i["kind"] for i in issues] == ["permission"]
        assert issues[0]["path"].endswith("secret")
        assert events[-1]["done"] == 1
    finally:
        (tree / "secret").chmod(0o755)


def test_second_process_cannot_resume_a_running_job(tmp_path: Path,
                                                    cli_env: dict[str, str]) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    for i in range(4):
        (tree / f"f{i}").write_text("x" * (i + 1))
    # 4 x 1 s of work: long enough for a second CLI process to start on a loaded machine
    proc = subprocess.Popen([*tui_batch_cmd(), "run", str(tree), "-j", "1", "--json",
                             "--exec", "sh -c 'sleep 1'"], env=cli_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        job_id = None
        while time.monotonic() < deadline and job_id is None:
            jobs = json_lines(tb("jobs", "--json", env=cli_env).stdout)
            if jobs and jobs[0]["state"] == "running":
                job_id = jobs[0]["id"]
            time.sleep(0.05)
        assert job_id is not None
        from tui_batch.control import connect

        client = None
        while time.monotonic() < deadline and client is None:
            client = connect(cli_env["TUI_BATCH_DB"], job_id)
            time.sleep(0.05)
        assert client is not None
        client.close()
        # reached through its control socket: un-paused there (it was not), never run twice
        res = tb("resume", str(job_id), "--json", env=cli_env)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == {"job": job_id, "paused": False, "was_paused": False}
    finally:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json_lines(out)[-1]["done"] == 4
