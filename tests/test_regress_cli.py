"""Regression tests of issue 7, items 11, 13, 21, 22 and 23 (CLI, recipes, validation, demo).

Everything that a user can see goes through the real `tui-batch` command in a fresh process;
the TUI cases run it in a detached tmux session (a real terminal, no human needed).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd

PY = sys.executable
TMUX = shutil.which("tmux")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


def tb(*args: str, env: dict[str, str], cwd: Path | None = None,
       timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*tui_batch_cmd(), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, errors="replace", stdin=subprocess.DEVNULL)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """A user mistake: exit 2 and exactly one `tui-batch: error:` line, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tui-batch: error: "), lines[0]
    return lines[0]


def as_command(printed: str) -> list[str]:
    """A printed `tui-batch ...` hint as argv for the installed command (shell-split)."""
    argv = shlex.split(printed)
    assert argv[0] == "tui-batch", printed
    return [*tui_batch_cmd(), *argv[1:]]


def wait_for(pred: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def demo_trees(tmpdir: Path) -> list[Path]:
    return sorted(tmpdir.glob("tui-batch-demo-*"))


class Tmux:
    """A detached tmux server of its own (so tests never touch the user's sessions)."""

    def __init__(self, workdir: Path) -> None:
        assert TMUX is not None
        self.sock = f"tbtest-{uuid.uuid4().hex[:10]}"
        self.workdir = workdir

    def tmux(self, *args: str) -> str:
        assert TMUX is not None
        return subprocess.run([TMUX, "-L", self.sock, *args], capture_output=True, text=True,
                              timeout=20, check=True).stdout

    def start(self, argv: list[str], env: dict[str, str]) -> int:
        """Run argv as the pane's only process; returns its pid. The pane stays after exit so
        its last screen (what the command printed once the TUI closed) can be read."""
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()
                           if k in ("TMPDIR", "TUI_BATCH_DB", "HOME", "PATH", "XDG_DATA_HOME"))
        script = (f"cd {shlex.quote(str(self.workdir))} && env {exports} "
                  f"{shlex.join(argv)}; echo EXIT=$?; sleep 60")
        self.tmux("new-session", "-d", "-x", "100", "-y", "30", "-s", "t", "sh", "-c", script)
        shell_pid = int(self.tmux("list-panes", "-t", "t", "-F", "#{pane_pid}").strip())
        # the TUI is the shell's child: find it
        def child() -> int | None:
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(shell_pid)],
                                 capture_output=True, text=True).stdout.split()
            return int(out[0]) if out else None

        wait_for(lambda: child() is not None, what="the command to start")
        pid = child()
        assert pid is not None
        return pid

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t", "-S", "-100")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def close(self) -> None:
        subprocess.run([TMUX or "tmux", "-L", self.sock, "kill-server"], capture_output=True,
                       timeout=20)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(tmp_path)
    try:
        yield t
    finally:
        t.close()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of tmux's shell counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


# ==========================================================================================
# item 11: resume hints that work as printed; the demo cleans up after itself


def _slow_tree(tmp_path: Path) -> tuple[Path, Path, Path, str]:
    """Two files and a command that blocks while MARK exists (so Ctrl-C finds it running)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(2):
        (tree / f"f{i}.txt").write_text("x" * (i + 1))
    mark, started = tmp_path / "MARK", tmp_path / "STARTED"
    mark.write_text("")
    script = (f"touch {shlex.quote(str(started))}; "
              f"if [ -e {shlex.quote(str(mark))} ]; then sleep 30; fi; : ")
    return tree, mark, started, f"sh -c {shlex.quote(script)} sh {{}}"


def _interrupt_run(args: list[str], env: dict[str, str], started: Path
                   ) -> tuple[int, str, str]:
    proc = subprocess.Popen([*tui_batch_cmd(), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        wait_for(started.exists, what="the first task to start")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err


@pytest.mark.parametrize("how", ["flag", "env"])
def test_item11_resume_hint_names_the_store_and_works_as_printed(
    tmp_path: Path, how: str
) -> None:
    tree, mark, started, template = _slow_tree(tmp_path)
    store = tmp_path / "my store.db"  # a space: the hint must be shell-quoted
    env = dict(os.environ)
    args = ["run", str(tree), "-j", "1", "--exec", template]
    if how == "flag":
        args += ["--db", str(store)]
    else:
        env["TUI_BATCH_DB"] = str(store)
    code, out, err = _interrupt_run(args, env, started)
    assert code == 130, err
    hints = [ln.removeprefix("resume with: ") for ln in err.splitlines()  # messages: stderr
             if ln.startswith("resume with: ")]
    assert len(hints) == 1, err
    assert out == ""  # stdout is the tasks' output only
    assert hints[0] == f"tui-batch resume 1 --db {shlex.quote(str(store))}"

    # the printed command, from another shell whose default store is another one
    other = dict(os.environ, TUI_BATCH_DB=str(tmp_path / "other.db"))
    mark.unlink()
    res = subprocess.run([*as_command(hints[0]), "--json"], env=other, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert json_lines(res.stdout)[-1]["done"] == 2
    db = sqlite3.connect(store)
    assert db.execute("select state from jobs where id = 1").fetchone()[0] == "done"
    db.close()


def test_item11_json_summary_carries_the_resume_command(tmp_path: Path) -> None:
    tree, _mark, started, template = _slow_tree(tmp_path)
    store = tmp_path / "s.db"
    code, out, err = _interrupt_run(
        ["run", str(tree), "-j", "1", "--json", "--db", str(store), "--exec", template],
        dict(os.environ), started)
    assert code == 130, err
    summary = json_lines(out)[-1]
    assert summary["event"] == "summary"
    assert summary["resume"] == f"tui-batch resume 1 --db {shlex.quote(str(store))}"


def test_item11_resume_hint_is_bare_for_the_default_store(tmp_path: Path) -> None:
    tree, _mark, started, template = _slow_tree(tmp_path)
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path / "home"))
    env.pop("TUI_BATCH_DB", None)
    code, out, err = _interrupt_run(["run", str(tree), "-j", "1", "--exec", template], env,
                                    started)
    assert code == 130, err
    assert "resume with: tui-batch resume 1\n" in err and out == ""
    assert (tmp_path / "data" / "tui-batch" / "jobs.db").exists()


def test_item11_headless_demo_removes_its_tree(tmp_path: Path) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = tb("demo", "--headless", "--delay", "0", env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    assert demo_trees(tmp_path) == []
    assert "resume with" not in proc.stdout + proc.stderr


def _demo_until_running(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    """A headless demo, returned once its engine is running (a first task was retried)."""
    proc = subprocess.Popen([*tui_batch_cmd(), "demo", "--headless", "--delay", "0.1", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("retrying: "):
            return proc
    proc.kill()
    raise AssertionError("the demo never started its run: " + "".join(seen))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["INT", "TERM", "HUP"])
def test_item11_interrupted_demo_removes_its_tree(tmp_path: Path, sig: int) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = _demo_until_running(env)
    assert len(demo_trees(tmp_path)) == 1
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert demo_trees(tmp_path) == []
    # no command that could not work: the tree it would resume is gone
    assert "tui-batch resume" not in out + err
    assert "--keep" in out + err


@pytest.mark.slow
def test_item11_kept_demo_prints_tree_and_a_working_resume_command(tmp_path: Path) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = _demo_until_running(env, "--keep")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    (tree,) = demo_trees(tmp_path)
    assert str(tree) in out + err
    hints = [ln.removeprefix("resume with: ") for ln in err.splitlines()
             if ln.startswith("resume with: ")]
    assert len(hints) == 1, err
    assert "--db" in hints[0]
    other = dict(os.environ, TUI_BATCH_DB=str(tmp_path / "other.db"))
    res = subprocess.run([*as_command(hints[0]), "--json"], env=other, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode in (0, 1), res.stderr
    summary = json_lines(res.stdout)[-1]
    assert summary["queued"] == 0 and summary["running"] == 0
    assert summary["done"] + summary["failed"] + summary["skipped"] == summary["total"] > 40
    assert tree.is_dir()  # --keep: still there after the resume


@needs_tmux
def test_item11_demo_tui_quit_removes_its_tree(tmp_path: Path, tmux: Tmux) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    pid = tmux.start([*tui_batch_cmd(), "demo"], env)
    wait_for(lambda: "Preview" in tmux.screen(), what="the demo form")
    assert len(demo_trees(tmp_path)) == 1
    tmux.keys("C-q")
    wait_for(lambda: not pid_alive(pid), what="the TUI to exit")
    wait_for(lambda: "EXIT=" in tmux.screen(), what="the exit status")
    assert "EXIT=0" in tmux.screen()
    assert demo_trees(tmp_path) == []


@needs_tmux
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_item11_demo_tui_killed_by_signal_removes_its_tree(tmp_path: Path, tmux: Tmux,
                                                          sig: int) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    pid = tmux.start([*tui_batch_cmd(), "demo"], env)
    wait_for(lambda: "Preview" in tmux.screen(), what="the demo form")
    assert len(demo_trees(tmp_path)) == 1
    os.kill(pid, sig)
    wait_for(lambda: not pid_alive(pid), what="the TUI to die")
    wait_for(lambda: demo_trees(tmp_path) == [], what="the demo tree to be removed")


@pytest.mark.slow
@needs_tmux
def test_item11_kept_demo_tui_keeps_and_names_its_tree(tmp_path: Path, tmux: Tmux) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    pid = tmux.start([*tui_batch_cmd(), "demo", "--keep"], env)
    wait_for(lambda: "Preview" in tmux.screen(), what="the demo form")
    tmux.keys("C-q")
    wait_for(lambda: not pid_alive(pid), what="the TUI to exit")
    wait_for(lambda: "EXIT=" in tmux.screen(), what="the exit status")
    (tree,) = demo_trees(tmp_path)
    screen = tmux.screen().replace("\n", "")  # long paths wrap at the pane's width
    assert str(tree) in screen
    assert "--db" in screen


# ==========================================================================================
# item 13: --out that is the input root through a symlink


def _out_cases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    real = tmp_path / "in"
    (real / "sub").mkdir(parents=True)
    (real / "a.txt").write_text("a")
    (real / "sub" / "b.txt").write_text("bb")
    (tmp_path / "link").symlink_to(real)
    return {
        "out-is-link-to-root": (str(real), str(tmp_path / "link")),
        "root-is-link-to-out": (str(tmp_path / "link"), str(real)),
        "out-via-dotdot-link": (str(real), str(tmp_path / "link" / "sub" / "..")),
    }


@pytest.mark.parametrize("case", ["out-is-link-to-root", "root-is-link-to-out",
                                  "out-via-dotdot-link"])
@pytest.mark.parametrize("command", ["run", "watch"])
def test_item13_out_equal_to_root_through_links_is_refused(
    tmp_path: Path, case: str, command: str
) -> None:
    root, out = _out_cases(tmp_path)[case]
    before = sorted(p.name for p in Path(root).rglob("*"))
    db = tmp_path / "jobs.db"
    proc = tb(command, root, "--action", "copy", "--out", out, "--db", str(db), "--headless",
              env=dict(os.environ), timeout=30)
    line = one_error_line(proc)
    assert line.startswith("tui-batch: error: --out: "), line
    assert "input folder" in line
    assert sorted(p.name for p in Path(root).rglob("*")) == before
    if db.exists():
        con = sqlite3.connect(db)
        assert con.execute("select count(*) from jobs").fetchone()[0] == 0
        con.close()


def test_item13_python_api_refuses_out_equal_to_root_through_a_link(tmp_path: Path) -> None:
    """The TUI form and the Python API plan through jobs.plan_job, not the CLI."""
    root, out = _out_cases(tmp_path)["out-is-link-to-root"]
    code = (
        "import sys\n"
        "from tui_batch.api import Batch\n"
        "from tui_batch.errors import InputError\n"
        "from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec\n"
        f"spec = JobSpec(FilterSpec(roots=[{root!r}]), ActionSpec(name='copy'),\n"
        f"               EngineSettings(out_dir={out!r}))\n"
        f"with Batch({str(tmp_path / 'api.db')!r}) as b:\n"
        "    try:\n"
        "        b.submit(spec)\n"
        "    except InputError as exc:\n"
        "        print(exc.field, exc.message)\n"
        "        sys.exit(0)\n"
        "print('accepted')\n"
        "sys.exit(1)\n"
    )
    proc = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("--out ")


def test_item13_out_inside_root_through_a_link_still_works(tmp_path: Path) -> None:
    """Not a regression of the fix: an --out inside the root is pruned from the scan."""
    root, _ = _out_cases(tmp_path)["out-is-link-to-root"]
    out = tmp_path / "link" / "backup"
    proc = tb("run", root, "--action", "copy", "--out", str(out), "--json",
              env=dict(os.environ, TUI_BATCH_DB=str(tmp_path / "j.db")))
    assert proc.returncode == 0, proc.stderr
    assert json_lines(proc.stdout)[-1]["done"] == 2
    assert (Path(root) / "backup" / "sub" / "b.txt").read_text() == "bb"


# ==========================================================================================
# item 21: bad recipes are refused naming the file, the key and the line

OK_ACTION = '[action]\ntemplate = "true {}"\n'

BAD_RECIPES: list[tuple[str, bytes, str, int | None, bool]] = [
    # id, content, key named, line (None: not known), give ROOT on the command line
    ("not-utf8", b'[action]\ntemplate = "caf\xe9 {}"\n', "UTF-8", 2, False),
    ("workers-text", (OK_ACTION + '[settings]\nworkers = "x"\n').encode(),
     "settings.workers", 4, False),
    ("timeout-text", (OK_ACTION + '[settings]\ntimeout = "soon"\n').encode(),
     "settings.timeout", 4, False),
    ("template-int", b"[action]\ntemplate = 5\n", "action.template", 2, False),
    ("action-text", b'action = "x"\n', "action", 1, False),
    ("options-text", (OK_ACTION + 'options = "x"\n').encode(), "action.options", 3, False),
    ("template-list", b'[action]\ntemplate = ["cat", "{}"]\n', "action.template", 2, False),
    ("unknown-filter-key-with-root", (b'[filter]\nbogus = 1\n' + OK_ACTION.encode()),
     "filter.bogus", 2, True),
    ("kill-grace-text", (OK_ACTION + '[settings]\nkill_grace = "abc"\n').encode(),
     "settings.kill_grace", 4, False),
    ("no-retry-codes-text", (OK_ACTION + '\n[settings]\nno_retry_exit_codes = "all"\n').encode(),
     "settings.no_retry_exit_codes", 5, False),
    ("no-retry-code-range", (OK_ACTION + '[settings]\nno_retry_exit_codes = [1, 300]\n').encode(),
     "settings.no_retry_exit_codes", 4, False),
    ("workers-absurd", (OK_ACTION + '[settings]\nworkers = 10000000\n').encode(),
     "settings.workers", 4, False),
    ("timeout-nan", (OK_ACTION + '[settings]\ntimeout = nan\n').encode(),
     "settings.timeout", 4, False),
    ("shell-text", b'[action]\ntemplate = "true {}"\nshell = "yes"\n', "action.shell", 3, False),
    ("name-int", (b"name = 5\n" + OK_ACTION.encode()), "name", 1, False),
    ("settings-int", (b"settings = 3\n" + OK_ACTION.encode()), "settings", 1, False),
    ("unknown-top-key", (b"bogus = 1\n" + OK_ACTION.encode()), "bogus", 1, False),
    ("unknown-settings-key", (OK_ACTION + '[settings]\n  "bogus" = 1\n').encode(),
     "settings.bogus", 4, True),
    ("unknown-action-key", (OK_ACTION + 'bogus = 1\n').encode(), "action.bogus", 3, False),
    ("bad-filter-value-with-root", (b'[filter]\nmin_size = "12 parsecs"\n' + OK_ACTION.encode()),
     "filter.min_size", 2, True),
    ("bad-filter-value", (b'[filter]\nmin_size = "12 parsecs"\n' + OK_ACTION.encode()),
     "filter.min_size", 2, False),
    ("option-table-value", (OK_ACTION + '[action.options]\nlevel = [1]\n').encode(),
     "action.options.level", 4, False),
    ("both-template-and-name", b'[action]\ntemplate = "true {}"\nname = "copy"\n',
     "action", None, False),
    ("inline-table", b'action = { template = 5 }\n', "action.template", 1, False),
    ("not-toml", b"[action\n", "not valid TOML", None, False),
]


@pytest.mark.parametrize(("content", "key", "line", "with_root"),
                         [c[1:] for c in BAD_RECIPES], ids=[c[0] for c in BAD_RECIPES])
def test_item21_bad_recipe_refused_naming_file_key_and_line(
    tmp_path: Path, content: bytes, key: str, line: int | None, with_root: bool
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f.txt").write_text("x")
    recipe = tmp_path / "my recipe.toml"
    recipe.write_bytes(content)
    args = ["run", "--recipe", str(recipe), "--dry-run"]
    if with_root:
        args.insert(1, str(tree))
    proc = tb(*args, env=dict(os.environ), cwd=tree)
    msg = one_error_line(proc)
    assert msg.startswith("tui-batch: error: --recipe: "), msg
    assert str(recipe) in msg
    assert key in msg
    if line is not None:
        assert f"{recipe}:{line}:" in msg, msg


def test_item21_recipe_errors_in_the_tui_loader_name_file_and_line(tmp_path: Path) -> None:
    """The TUI form's Open recipe uses recipe.load_recipe: the same message."""
    from tui_batch.errors import InputError
    from tui_batch.jobs import load_recipe

    recipe = tmp_path / "r.toml"
    recipe.write_text(OK_ACTION + '[settings]\nworkers = "x"\n')
    with pytest.raises(InputError) as ei:
        load_recipe(recipe)
    assert ei.value.field == "--recipe"
    assert ei.value.message.startswith(f"{recipe}:4: settings.workers: ")


def test_item21_good_recipe_with_root_and_flags_still_merges(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("a.log", "b.txt", "big.log"):
        (tree / name).write_text("x" * (5000 if name == "big.log" else 10))
    recipe = tmp_path / "r.toml"
    recipe.write_text('[filter]\nextensions = [".log"]\nmax_size = "1k"\n'
                      '[action]\ntemplate = "true {}"\noptions = {}\n'
                      '[settings]\nworkers = 2\nretries = 1\nno_retry_exit_codes = [3]\n')
    proc = tb("run", str(tree), "--recipe", str(recipe), "--dry-run", "--json",
              env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    plans = [e for e in json_lines(proc.stdout) if e["event"] == "plan"]
    assert [os.path.basename(p["path"]) for p in plans] == ["a.log"]


# ==========================================================================================
# item 22: numeric flags outside their range are refused with the range

RUN_BAD = [
    ("--timeout", "nan"), ("--timeout", "inf"), ("--timeout", "-1"), ("--timeout", "0"),
    ("--timeout", "1e12"),
    ("--halt-after", "-1"), ("--halt-after", "0"),
    ("-j", "10000000"), ("-j", "0"), ("-j", "-3"),
    ("--retries", "-1"), ("--retries", "1000000"),
    ("--backoff", "nan"), ("--backoff", "-1"), ("--backoff", "1e300"),
    ("--halt-percent", "nan"), ("--halt-percent", "150"), ("--halt-percent", "0"),
    ("--no-retry-code", "-1"), ("--no-retry-code", "256"),
]
FLAG_FIELD = {"-j": "--workers"}


@pytest.mark.parametrize(("flag", "value"), RUN_BAD, ids=[f"{f}={v}" for f, v in RUN_BAD])
def test_item22_run_numeric_flag_out_of_range_refused(tmp_path: Path, flag: str,
                                                      value: str) -> None:
    (tmp_path / "f.txt").write_text("x")
    db = tmp_path / "j.db"
    proc = tb("run", str(tmp_path), "--exec", "true {}", f"{flag}={value}" if flag != "-j"
              else "-j" + value, "--db", str(db), env=dict(os.environ), timeout=30)
    msg = one_error_line(proc)
    field = FLAG_FIELD.get(flag, flag)
    assert msg.startswith(f"tui-batch: error: {field}: "), msg
    assert any(ch.isdigit() for ch in msg.split(": ", 2)[2]), msg  # the allowed range
    assert not db.exists()  # refused before anything was written


WATCH_BAD = [
    ("--settle", "nan"), ("--settle", "inf"), ("--settle", "1e9"),
    ("--rescan", "nan"), ("--rescan", "-5"), ("--rescan", "inf"),
    ("--grace", "nan"), ("--grace", "-1"), ("--grace", "1e9"),
    ("--retain", "0"), ("--retain", "1000000000000"),
    ("-j", "10000000"), ("--timeout", "nan"),
]


@pytest.mark.parametrize(("flag", "value"), WATCH_BAD, ids=[f"{f}={v}" for f, v in WATCH_BAD])
def test_item22_watch_numeric_flag_out_of_range_refused(tmp_path: Path, flag: str,
                                                        value: str) -> None:
    db = tmp_path / "j.db"
    opt = f"{flag}={value}" if flag != "-j" else "-j" + value
    proc = tb("watch", str(tmp_path), "--exec", "true {}", opt, "--db", str(db),
              env=dict(os.environ), timeout=30)
    msg = one_error_line(proc)
    assert msg.startswith(f"tui-batch: error: {FLAG_FIELD.get(flag, flag)}: "), msg
    assert any(ch.isdigit() for ch in msg.split(": ", 2)[2]), msg
    assert not db.exists()


@pytest.mark.parametrize("value", ["0", "10000000"])
def test_item22_resume_workers_out_of_range_refused(tmp_path: Path, value: str) -> None:
    proc = tb("resume", "1", "-j", value, "--db", str(tmp_path / "j.db"),
              env=dict(os.environ))
    assert one_error_line(proc).startswith("tui-batch: error: --workers: ")


def test_item22_range_edges_accepted(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    proc = tb("run", str(tmp_path), "--exec", "true {}", "-j", "1024", "--timeout", "0.5",
              "--halt-after", "1", "--halt-percent", "100", "--retries", "0",
              "--backoff", "0", "--no-retry-code", "255", "--dry-run",
              env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr


def test_item22_same_ranges_for_the_form_and_the_api() -> None:
    """The TUI form builds EngineSettings and calls check(); the API's specs go through
    from_dict / check too: one table of ranges for every client."""
    from tui_batch.errors import InputError
    from tui_batch.model import EngineSettings

    for kw, field in [({"workers": 10_000_000}, "--workers"), ({"timeout": float("nan")},
                      "--timeout"), ({"halt_after_failures": -1}, "--halt-after"),
                      ({"kill_grace": float("inf")}, "--grace"),
                      ({"backoff": float("nan")}, "--backoff"),
                      ({"jitter": 2.0}, "settings.jitter"),
                      ({"no_retry_exit_codes": [999]}, "--no-retry-code")]:
        with pytest.raises(InputError) as ei:
            EngineSettings(**kw).check()  # type: ignore[arg-type]
        assert ei.value.field == field, kw
    with pytest.raises(InputError) as ei:
        EngineSettings.from_dict({"workers": "x"})
    assert ei.value.field == "settings.workers"
    EngineSettings(workers=1024, timeout=0.1, kill_grace=0).check()


# ==========================================================================================
# item 23: `tui-batch --db X` (no ROOT) opens the TUI on that store


def test_item23_db_without_root_is_accepted_by_the_parser(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    # no terminal here: refused for that reason, not for the option
    for args in (["--db", str(db)], [f"--db={db}"]):
        msg = one_error_line(tb(*args, env=dict(os.environ)))
        assert "No such option" not in msg
        assert "terminal" in msg
    msg = one_error_line(tb("--db", str(db), str(tmp_path / "nope"), env=dict(os.environ)))
    assert msg.startswith("tui-batch: error: FOLDER: no such folder"), msg


def test_item23_db_before_a_subcommand_goes_to_it(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "f.txt").write_text("x")
    db = tmp_path / "x.db"
    env = dict(os.environ, TUI_BATCH_DB=str(tmp_path / "other.db"))
    proc = tb("--db", str(db), "run", str(tmp_path / "t"), "--exec", "true {}", env=env)
    assert proc.returncode == 0, proc.stderr
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from jobs").fetchone()[0] == 1
    con.close()
    assert not (tmp_path / "other.db").exists()


@pytest.mark.slow
@needs_tmux
def test_item23_tui_opened_with_db_and_no_root_uses_that_store(tmp_path: Path,
                                                               tmux: Tmux) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "f.txt").write_text("x")
    db = tmp_path / "x.db"
    made = tb("run", str(tree), "--db", str(db), "--exec", "true {}", env=dict(os.environ))
    assert made.returncode == 0, made.stderr
    env = dict(os.environ, TUI_BATCH_DB=str(tmp_path / "other.db"))
    pid = tmux.start([*tui_batch_cmd(), "--db", str(db)], env)
    wait_for(lambda: "Preview" in tmux.screen(), what="the form")
    tmux.keys("F2")
    wait_for(lambda: "true {}" in tmux.screen(), what="the job of x.db on the jobs screen")
    tmux.keys("C-q")
    wait_for(lambda: not pid_alive(pid), what="the TUI to exit")
    assert not (tmp_path / "other.db").exists()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_item11_tui_quit_dialog_resume_hint_names_the_store(tmp_path: Path,
                                                                 anyio_backend: str) -> None:
    from tui_batch.cli.demo_tree import demo_spec, make_demo_tree
    from tui_batch.ui.app import BatchApp
    from tui_batch.ui.dialogs.confirm import ConfirmDialog
    from tui_batch.ui.screens.dashboard import DashboardScreen

    tree = make_demo_tree(tmp_path / "tree")
    db = tmp_path / "a store.db"
    app = BatchApp(db=str(db), deterministic=True, start="run", spec=demo_spec(tree, 5.0))
    async with app.run_test(size=(100, 30)) as pilot:
        deadline = time.monotonic() + 20
        while not (isinstance(app.screen, DashboardScreen) and app.screen.running):
            assert time.monotonic() < deadline, "the run never started"
            await pilot.pause(0.05)
        await pilot.press("ctrl+q")
        await pilot.pause(0.1)
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert f"tui-batch resume 1 --db {shlex.quote(str(db))}" in dialog.message
        await pilot.press("y")
