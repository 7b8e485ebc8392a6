"""Issue 9, "Output on the command line": headless run, resume and watch print what the tasks
print, as GNU parallel does (one block per task, stdout on stdout, everything else on stderr).

Every case runs the real `tui-batch` command in a fresh process.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd


def tb(*args: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[bytes]:
    """The command with stdout and stderr as bytes (output is passed through byte for byte)."""
    return subprocess.run([*tui_batch_cmd(), *args], env=env, capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def json_lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


def task_paths(db: str) -> list[str]:
    """The job's tasks that ran, in creation order (the order -k prints)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT path FROM tasks WHERE state != 'skipped' ORDER BY id")
        return [os.fsdecode(r[0]) for r in rows]
    finally:
        con.close()


def make_tree(root: Path, names: list[str]) -> list[Path]:
    files = []
    for i, name in enumerate(names):
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"content {i}\n")
        files.append(p)
    return files


# -- blocks ----------------------------------------------------------------------------------


def test_blocks_of_concurrent_tasks_never_interleave(tmp_path: Path,
                                                     cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    make_tree(root, [f"f{i:02d}.txt" for i in range(20)])
    # each line is written in several pieces, with pauses, while three other tasks do the same
    script = ('for n in 1 2 3; do printf "%s" "$1"; sleep 0.01; printf " line $n"; '
              'sleep 0.01; printf " end\\n"; printf "e%s" "$1" >&2; sleep 0.01; '
              'printf " err $n\\n" >&2; done')
    proc = tb("run", str(root), "-j", "4", "--shell", "--exec", script, env=cli_env)
    assert proc.returncode == 0, proc.stderr
    blocks: dict[str, list[str]] = {}
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 60
    for k in range(0, 60, 3):  # every task's three lines come together, whole
        path = lines[k].split(" ")[0]
        assert lines[k:k + 3] == [f"{path} line {n} end" for n in (1, 2, 3)], lines[k:k + 3]
        blocks[path] = lines[k:k + 3]
    assert sorted(blocks) == sorted(str(p) for p in root.iterdir())
    err = proc.stderr.decode().splitlines()
    for path in blocks:
        i = err.index(f"e{path} err 1")
        assert err[i:i + 3] == [f"e{path} err {n}" for n in (1, 2, 3)]


def test_stdout_has_only_task_output_and_messages_go_to_stderr(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    root = tmp_path / "in"
    files = make_tree(root, ["a.txt", "b.txt", "c.txt"])
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        code = subprocess.run([*tui_batch_cmd(), "run", str(root), "--exec", "wc -l {}"],
                              env=cli_env, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL,
                              timeout=90).returncode
    assert code == 0, err.read_text()
    assert sorted(out.read_bytes().splitlines()) == sorted(
        f"1 {p}".encode() for p in files)
    text = err.read_text()
    assert "job 1 finished" in text and "3 files" in text


def test_failed_and_retried_attempts(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    make_tree(root, ["ok.txt", "bad.txt"])
    count = tmp_path / "count"
    # bad.txt fails twice (stdout and stderr each time), then succeeds
    script = (f'case "$1" in *bad*) echo x >> {shlex.quote(str(count))}; '
              f'n=$(wc -l < {shlex.quote(str(count))}); echo "out $n"; echo "err $n" >&2; '
              '[ "$n" -ge 3 ];; *) echo fine;; esac')
    proc = tb("run", str(root), "--shell", "--exec", script, "--retries", "2", "--backoff", "0",
              env=cli_env)
    assert proc.returncode == 0, proc.stderr
    # the data stream gets the attempt that stands only; every attempt's stderr is shown
    assert sorted(proc.stdout.decode().splitlines()) == ["fine", "out 3"]
    err = proc.stderr.decode().splitlines()
    assert [ln for ln in err if ln.startswith("err ")] == ["err 1", "err 2", "err 3"]


def test_quiet_prints_no_task_output(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    make_tree(root, ["a.txt"])
    proc = tb("run", str(root), "--quiet", "--shell", "--exec", 'echo "$1"; echo err >&2',
              env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    assert b"err\n" not in proc.stderr and b"job 1 finished" in proc.stderr


# -- -k and --tag -----------------------------------------------------------------------------


def test_keep_order_prints_in_creation_order(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    names = [f"f{i}.txt" for i in range(8)]
    make_tree(root, names)
    (root / "zz.txt").write_text("content 6\n")  # a duplicate: skipped, releases its place
    db = str(tmp_path / "k.db")
    # the first files take longest, so they end last; one fails, one prints nothing
    script = ('case "$1" in *f0*) sleep 0.6;; *f1*) sleep 0.4;; *f2*) sleep 0.2;; esac; '
              'case "$1" in *f5*) exit 0;; esac; echo "$1"; case "$1" in *f3*) exit 4;; esac')
    proc = tb("run", str(root), "-k", "-j", "4", "--db", db, "--shell", "--exec", script,
              env=cli_env)
    assert proc.returncode == 1, proc.stderr  # f3 failed
    order = [p for p in task_paths(db) if "f5" not in p]
    assert len(order) == 7  # one of f6 and zz.txt was skipped
    assert proc.stdout.decode().splitlines() == order


def test_tag_prefixes_every_line_with_the_relative_path(tmp_path: Path,
                                                        cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    make_tree(root, ["sub/a.txt"])
    proc = tb("run", str(root), "--tag", "--shell", "--exec",
              "printf 'one\\ntwo\\nno newline'; echo oops \"$(basename \"$1\")\" >&2", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"sub/a.txt\tone\nsub/a.txt\ttwo\nsub/a.txt\tno newline"
    assert b"sub/a.txt\toops a.txt\n" in proc.stderr


# -- --results -------------------------------------------------------------------------------


def test_results_files_mirror_the_input_tree(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    make_tree(root, ["a.txt", "sub/b.txt"])
    res = root / "res"  # inside the root: left out of the scan
    proc = tb("run", str(root), "--results", str(res), "--shell", "--exec",
              'cat "$1"; echo "err $1" >&2; case "$1" in *b.txt) exit 3;; esac', env=cli_env)
    assert proc.returncode == 1, proc.stderr
    assert (res / "a.txt" / "stdout").read_bytes() == b"content 0\n"
    assert (res / "a.txt" / "stderr").read_bytes() == f"err {root}/a.txt\n".encode()
    assert (res / "a.txt" / "exitval").read_bytes() == b"0\n"
    assert (res / "sub" / "b.txt" / "stdout").read_bytes() == b"content 1\n"
    assert (res / "sub" / "b.txt" / "exitval").read_bytes() == b"3\n"
    names = sorted(str(p.relative_to(res)) for p in res.rglob("*") if p.is_file())
    assert names == ["a.txt/exitval", "a.txt/stderr", "a.txt/stdout",
                     "sub/b.txt/exitval", "sub/b.txt/stderr", "sub/b.txt/stdout"]
    # printed as well, like parallel --results
    assert sorted(proc.stdout.splitlines()) == [b"content 0", b"content 1"]
    # a second run over the same tree does not take the results for inputs
    again = tb("run", str(root), "--results", str(res), "--json", "--exec", "true", env=cli_env)
    assert json_lines(again.stdout)[-1]["total"] == 2


@pytest.mark.parametrize("where", ["root", "out", "in-out"])
def test_results_folder_that_would_clash_is_refused(tmp_path: Path, cli_env: dict[str, str],
                                                    where: str) -> None:
    root = tmp_path / "in"
    make_tree(root, ["a.txt"])
    out = tmp_path / "out"
    res = {"root": root, "out": out, "in-out": out / "res"}[where]
    proc = tb("run", str(root), "--out", str(out), "--exec", "cp {} {out}", "--results",
              str(res), env=cli_env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.decode().startswith("tui-batch: error: --results: ")
    assert not out.exists()


# -- --json ----------------------------------------------------------------------------------


def test_json_task_events_carry_the_output(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    make_tree(root, ["a.txt"])
    proc = tb("run", str(root), "--json", "--max-output", "4", "--shell", "--exec",
              "printf 'hello\\n'; printf 'x\\377y\\n' >&2", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    events = json_lines(proc.stdout)  # nothing but JSON on stdout
    (done,) = [e for e in events if e["event"] == "task" and e["state"] == "done"]
    assert done["stdout"] == "hell" and done["stdout_bytes"] == 6 and done["stdout_cut"] == 2
    assert "stdout_binary" not in done
    assert done["stderr"] == "x\\xffy\n" and done["stderr_binary"] is True
    assert "stderr_bytes" not in done and "stderr_cut" not in done  # not cut: len is all
    assert b"hell" not in proc.stderr


def test_max_output_cut_is_said_after_the_block(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    (f,) = make_tree(root, ["big.txt"])
    proc = tb("run", str(root), "--max-output", "1KiB", "--shell", "--exec",
              ": \"$1\"; head -c 5000 /dev/zero | tr '\\0' a", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"a" * 1024
    assert (f"tui-batch: {f}: output cut at 1 KiB (3976 bytes of stdout not kept)\n".encode()
            in proc.stderr)
    bad = tb("run", str(root), "--max-output", "lots", "--exec", "true", env=cli_env)
    assert bad.returncode == 2 and b"--max-output" in bad.stderr


# -- built-ins -------------------------------------------------------------------------------


def test_checksum_prints_what_sha256sum_prints(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    make_tree(root, ["a.txt", "sub/b c.txt", "back\\slash.txt", "new\nline.txt"])
    raw = os.path.join(os.fsencode(root), b"x\xff.bin")
    with open(raw, "wb") as fh:
        fh.write(b"not utf-8 name")
    db = str(tmp_path / "c.db")
    proc = tb("run", str(root), "-k", "--db", db, "--action", "checksum", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    paths = task_paths(db)
    want = subprocess.run(["sha256sum", *paths], capture_output=True, check=True).stdout
    assert proc.stdout == want


def test_checksum_lists_duplicates_too(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    root.mkdir()
    for name in ("a", "b", "c"):
        (root / name).write_text("same content\n")
    proc = tb("run", str(root), "-k", "--action", "checksum", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    paths = [str(root / n) for n in ("a", "b", "c")]
    want = subprocess.run(["sha256sum", *paths], capture_output=True, check=True).stdout
    assert proc.stdout == want  # as sha256sum: a line per file, the same content or not


def test_gzip_and_copy_print_nothing(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    make_tree(root, ["a.txt"])
    for action in ("gzip", "copy"):
        proc = tb("run", str(root), "--action", action, "--out", str(tmp_path / action),
                  env=cli_env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == b""


# -- resume, watch, a closed pipe --------------------------------------------------------------


def test_resume_prints_the_tasks_it_runs(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    files = make_tree(root, ["a.txt", "b.txt"])
    mark, started = tmp_path / "MARK", tmp_path / "STARTED"
    mark.write_text("")
    script = (f"touch {shlex.quote(str(started))}; "
              f"while [ -e {shlex.quote(str(mark))} ]; do sleep 0.05; done; "
              'echo "did $1"')
    db = str(tmp_path / "r.db")
    proc = subprocess.Popen([*tui_batch_cmd(), "run", str(root), "-j", "1", "--db", db,
                             "--shell", "--exec", script], env=cli_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not started.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert out == b""  # the interrupted attempt prints nothing: it runs again
    assert b"resume with: " in err
    mark.unlink()
    res = tb("resume", "1", "--db", db, "--tag", env=cli_env)
    assert res.returncode == 0, res.stderr
    assert sorted(res.stdout.splitlines()) == [f"{p.name}\tdid {p}".encode() for p in files]


def test_headless_watch_prints_each_task_as_it_ends(tmp_path: Path,
                                                    cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    root.mkdir()
    proc = subprocess.Popen([*tui_batch_cmd(), "watch", str(root), "--settle", "0.2",
                             "--exec", "cat {}"], env=cli_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    lines: list[bytes] = []
    assert proc.stdout is not None and proc.stderr is not None
    err_lines: list[bytes] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()  # type: ignore[arg-type]
    threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True).start()  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + 30
        while not any(ln.startswith(b"watching ") for ln in err_lines):
            assert time.monotonic() < deadline and proc.poll() is None, err_lines
            time.sleep(0.02)
        (root / "one.txt").write_text("first file\n")
        while b"first file\n" not in lines:
            assert time.monotonic() < deadline and proc.poll() is None, err_lines
            time.sleep(0.02)
        (root / "two.txt").write_text("second file\n")
        while b"second file\n" not in lines:
            assert time.monotonic() < deadline and proc.poll() is None, err_lines
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert lines == [b"first file\n", b"second file\n"]  # nothing but the tasks' output


def test_closed_stdout_stops_the_run_resumably(tmp_path: Path, cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    make_tree(root, [f"f{i:02d}.txt" for i in range(40)])
    db = str(tmp_path / "p.db")
    proc = subprocess.Popen([*tui_batch_cmd(), "run", str(root), "-j", "2", "--db", db,
                             "--shell", "--exec", 'echo "$1"; sleep 0.2'], env=cli_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    _, err = proc.communicate(timeout=60)
    assert first.startswith(str(root).encode()), err
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"resume with: " in err
    con = sqlite3.connect(db)
    try:
        (state,) = con.execute("SELECT state FROM jobs").fetchone()
        (left,) = con.execute("SELECT count(*) FROM tasks WHERE state != 'done'").fetchone()
    finally:
        con.close()
    assert state == "interrupted" and left > 0
