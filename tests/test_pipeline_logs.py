"""Whole task output at every step of a pipeline (issues 9 and 12): each step keeps its own
slot files (``job-N/step-S/``), and every reader finds them: ``tui-batch log`` by id, by
path (every step of the file) and ``--failed``, ``log -f`` following a step-2 task live, the
headless blocks (whole, and ``-k`` step by step), ``--results`` per step, ``jobs --prune``,
and the TUI's full-screen log of a step-2 task."""

from __future__ import annotations

import asyncio
import os
import queue
import shlex
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest
from ui_support import app_for, dashboard, new_job, wait_until

from tests.conftest import tui_batch_cmd
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec, StepSpec
from tui_batch.model.logfiles import LIVE, job_log_dir, slot_paths, step_dirs, step_log_dir
from tui_batch.store import Store
from tui_batch.ui.screens.dashboard import DashboardScreen
from tui_batch.ui.screens.log import LogScreen

STEP1 = "echo one {}; echo err1 {} >&2; cp {} {out.s1}"
STEP2 = ("echo two {}; seq 1 3000; echo err2 >&2; case {} in *bad*) seq 1 2000 >&2; exit 3;;"
         " esac; cp {} {out.s2}")


def _seq(n: int) -> bytes:
    return b"".join(b"%d\n" % i for i in range(1, n + 1))


def tb(*args: str, env: dict[str, str], cwd: Path | None = None,
       timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*tui_batch_cmd(), *args], env=env, cwd=cwd, capture_output=True,
                          timeout=timeout)


def _tree(root: Path, *names: str) -> Path:
    root.mkdir(parents=True)
    for name in names:
        (root / name).write_text(f"{name}\n")
    return root


def test_every_step_keeps_and_shows_its_whole_output(tmp_path: Path,
                                                     cli_env: dict[str, str]) -> None:
    src = _tree(tmp_path / "src", "a.txt", "bad.txt")
    out, res_dir = tmp_path / "out", tmp_path / "res"
    db = Path(cli_env["TUI_BATCH_DB"])
    run = tb("run", str(src), "--shell", "--exec", STEP1, "--then", STEP2, "--out", str(out),
             "--headless", "-k", "-j", "1", "--results", str(res_dir), env=cli_env)
    assert run.returncode == 1, run.stderr  # bad.txt fails at step 2
    one = {n: f"one {src / n}\n".encode() for n in ("a.txt", "bad.txt")}
    two = {n: f"two {out / n.replace('.txt', '.s1')}\n".encode() + _seq(3000)
           for n in ("a.txt", "bad.txt")}
    assert len(two["a.txt"]) > 4096  # more than the tail a later step used to keep
    # the headless blocks: every step's, whole; -k: step 1 in input order, then step 2
    assert run.stdout == one["a.txt"] + one["bad.txt"] + two["a.txt"] + two["bad.txt"]
    assert b"err2\n" + _seq(2000) in run.stderr

    logs = Path(job_log_dir(str(db), 1))
    assert (logs / "step-2" / "slot-1.out").stat().st_size == len(two["a.txt"] + two["bad.txt"])

    with sqlite3.connect(db) as c:
        ids = {(step + 1, Path(os.fsdecode(path)).stem): tid for tid, step, path
               in c.execute("SELECT id, step, path FROM tasks WHERE job_id = 1")}
    assert sorted(ids) == [(1, "a"), (1, "bad"), (2, "a"), (2, "bad")]

    # every task that printed, file by file, each step under its own header
    everything = tb("log", "1", env=cli_env)
    assert everything.stdout == one["a.txt"] + two["a.txt"] + one["bad.txt"] + two["bad.txt"]
    assert everything.stderr.count(b" step 2 [sh -c echo two {}; seq 1 3000;") == 2
    # one step-2 task by id: its bytes alone, no header
    by_id = tb("log", "1", str(ids[(2, "a")]), env=cli_env)
    assert (by_id.stdout, by_id.stderr) == (two["a.txt"], b"err2\n")
    # a file by path (as given, or its intermediate output): every step of it, in order
    for arg in (str(src / "a.txt"), str(out / "a.s1")):
        by_path = tb("log", "1", arg, env=cli_env)
        assert by_path.returncode == 0, by_path.stderr
        assert by_path.stdout == one["a.txt"] + two["a.txt"]
        heads = [line for line in by_path.stderr.decode().splitlines() if line.startswith("==")]
        assert [h.split(" [")[0] for h in heads] == [
            f"== task {ids[(1, 'a')]} step 1", f"== task {ids[(2, 'a')]} step 2"]
    failed = tb("log", "1", "--failed", env=cli_env)
    assert failed.stdout == two["bad.txt"]
    assert b"step 2 [" in failed.stderr and b"(failed, exit 3)" in failed.stderr
    assert failed.stderr.endswith(b"err2\n" + _seq(2000))

    # --results: DIR/<the scanned file's rel>/step-N/
    assert (res_dir / "a.txt" / "step-1" / "stdout").read_bytes() == one["a.txt"]
    assert (res_dir / "a.txt" / "step-2" / "stdout").read_bytes() == two["a.txt"]
    assert (res_dir / "bad.txt" / "step-2" / "exitval").read_bytes() == b"3\n"
    assert (res_dir / "bad.txt" / "step-2" / "stderr").read_bytes() == b"err2\n" + _seq(2000)

    # pruning the job removes every step's logs
    with sqlite3.connect(db) as c:
        c.execute("UPDATE jobs SET updated_at = ?", (time.time() - 10 * 86400,))
    pruned = tb("jobs", "--prune", "7d", env=cli_env)
    assert pruned.returncode == 0, pruned.stderr
    assert not logs.exists()


class _Lines:
    """A process's stdout read in a thread, so a test can wait for a line with a deadline."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self.got: queue.Queue[bytes] = queue.Queue()
        self.seen = b""
        threading.Thread(target=self._pump, args=(pipe,), daemon=True).start()

    def _pump(self, pipe: IO[bytes]) -> None:
        for line in iter(pipe.readline, b""):
            self.got.put(line)

    def wait_for(self, text: bytes, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in {self.seen!r}"
            try:
                self.seen += self.got.get(timeout=left)
            except queue.Empty:
                continue


def _row(db: str, sql: str) -> Any:
    if not os.path.exists(db):
        return None
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        row = c.execute(sql).fetchone()
    return row and row[0]


def _wait_row(db: str, sql: str, runner: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + 60
    while (value := _row(db, sql)) is None:
        assert time.monotonic() < deadline and runner.poll() is None, f"nothing for {sql}"
        time.sleep(0.05)
    return value


def test_log_follow_sees_step_two_while_it_runs(tmp_path: Path,
                                                cli_env: dict[str, str]) -> None:
    src = _tree(tmp_path / "src", "a.txt")
    gate1, gate2 = tmp_path / "gate1", tmp_path / "gate2"

    def held(gate: Path) -> str:
        return f"while [ ! -e {shlex.quote(str(gate))} ]; do sleep 0.05; done"

    tried = shlex.quote(str(tmp_path / "tried"))
    # attempt 1 of step 1 fails at once (a follower shows it when it starts), attempt 2 waits
    step1 = (f"echo one {{}}; if [ ! -e {tried} ]; then touch {tried}; exit 1; fi;"
             f" {held(gate1)}; cp {{}} {{out.s1}}")
    step2 = f"echo live-two; {held(gate2)}; echo after-gate; echo err-two >&2; cp {{}} {{out.s2}}"
    db = cli_env["TUI_BATCH_DB"]
    runner = subprocess.Popen(
        [*tui_batch_cmd(), "run", str(src), "--shell", "--exec", step1, "--then", step2,
         "--out", str(tmp_path / "out"), "--headless", "--quiet", "--retries", "1",
         "--backoff", "0"],
        env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    followers: list[subprocess.Popen[bytes]] = []

    def follow(*args: str) -> subprocess.Popen[bytes]:
        p = subprocess.Popen([*tui_batch_cmd(), "log", "-f", "1", *args], env=cli_env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        followers.append(p)
        return p

    try:
        # step 1's attempt 2 runs (the job is alive): the file's follower, before its step 2
        # exists; once it showed attempt 1 it follows, and step 2 may be made
        _wait_row(db, "SELECT 1 FROM attempts WHERE n = 2", runner)
        one = f"one {src / 'a.txt'}\n".encode()
        by_path = follow(str(src / "a.txt"))
        assert by_path.stdout is not None
        path_lines = _Lines(by_path.stdout)
        path_lines.wait_for(one)
        gate1.touch()
        tid = _wait_row(db, "SELECT id FROM tasks WHERE step = 1", runner)
        task, job = follow(str(tid)), follow()
        assert task.stdout is not None
        lines = _Lines(task.stdout)
        lines.wait_for(b"live-two\n")  # step 2 is still held at its gate: read live
        gate2.touch()
        assert runner.wait(timeout=60) == 0
        task_err = task.communicate(timeout=60)[1]
        lines.wait_for(b"after-gate\n")
        assert lines.seen == b"live-two\nafter-gate\n"
        assert task_err == b"err-two\n"
        step2_out = b"live-two\nafter-gate\n"
        job_out, job_err = job.communicate(timeout=60)
        assert job_out == one + step2_out
        assert by_path.wait(timeout=60) == 0
        path_lines.wait_for(step2_out)
        assert path_lines.seen == one + one + step2_out  # attempt 1, attempt 2, step 2
        assert by_path.stderr is not None
        path_err = by_path.stderr.read()
        for err in (job_err, path_err):
            assert f"== task {tid} step 2 [".encode() in err and b"err-two\n" in err
    finally:
        gate1.touch()
        gate2.touch()
        for p in (runner, *followers):
            if p.poll() is None:
                p.kill()
            p.wait()


def test_keep_order_prints_each_step_in_input_order(tmp_path: Path,
                                                    capsysbinary: pytest.CaptureFixture[bytes]
                                                    ) -> None:
    """b.txt's step 2 ends before a.txt's step 1 does (a waits for a gate opened when b's
    step 2 has ended): -k still prints a's step 2 before b's."""
    from tui_batch.cli.task_output import OutputChoice, TaskOutput
    from tui_batch.engine import TaskEvent
    from tui_batch.jobs import JobRunner, create_job, plan_job
    from tui_batch.model import TaskState

    src = _tree(tmp_path / "src", "a.txt", "b.txt")
    gate = tmp_path / "gate"
    wait = f"while [ ! -e {shlex.quote(str(gate))} ]; do sleep 0.02; done"
    steps = [StepSpec(ActionSpec(template=f"case {{}} in *a.txt) {wait};; esac; echo one {{/}};"
                                          " cp {} {out.s1}", shell=True)),
             StepSpec(ActionSpec(template="echo two {/}; cp {} {out.s2}", shell=True))]
    spec = JobSpec(filter=FilterSpec(roots=[str(src)]), action=steps[0].action,
                   settings=EngineSettings(workers=2, dedupe=False,
                                           out_dir=str(tmp_path / "out")))
    spec.set_steps(steps)

    async def go(store: Store, job: int) -> int:
        runner = JobRunner(store, job)
        engine = runner.engine
        printer = TaskOutput(engine, store, job, OutputChoice(keep_order=True))

        def on(ev: object) -> None:
            if type(ev) is TaskEvent:
                task = engine.tasks[ev.task_id]
                printer.on_task(ev, task)
                if ev.state is TaskState.DONE and task.path.endswith("b.s1"):
                    gate.touch()

        engine.subscribe(on)
        try:
            return await runner.run()
        finally:
            printer.close()
            await runner.aclose()

    with Store(str(tmp_path / "jobs.db")) as store:
        job = create_job(store, plan_job(spec, store=store))
        assert asyncio.run(go(store, job)) == 0
    assert capsysbinary.readouterr().out == b"one a.txt\none b.txt\ntwo a.s1\ntwo b.s1\n"


def test_a_step_folder_live_record_is_found_without_knowing_the_step(tmp_path: Path) -> None:
    from tui_batch.ui.widgets.task_output import LiveFollower

    db = tmp_path / "jobs.db"
    with Store(str(db)) as store:
        job = store.create_job({"action": {"template": "x {}"}})
        folder = step_log_dir(job_log_dir(str(db), job), 2)
        assert folder.endswith(os.path.join(f"job-{job}", "step-3"))
        os.makedirs(folder)
        out, err = slot_paths(folder, 2)
        Path(out).write_bytes(b"older task\nstep three says hi\n")
        Path(err).write_bytes(b"oops\n")
        with open(os.path.join(folder, "live"), "wb") as fh:
            fh.write(LIVE.pack(0, 0, 0, 0, 0) + LIVE.pack(os.getpid(), 77, 1, 11, 0))
        assert [k for k, _ in step_dirs(job_log_dir(str(db), job))] == [0, 2]
        live = store.live_attempt(job, 77, 1)
        assert live is not None and (live.step, live.slot, live.out_off) == (2, 2, 11)
        assert store.live_attempt(job, 77, 1, step=1) is None
        assert store.follow_bytes(job, live, "stdout", 0) == b"step three says hi\n"
        follower = LiveFollower(store, job, 77, 1, cap=1 << 20)
        assert follower.read() == (b"step three says hi\n", b"oops\n")
        assert follower.step == 2
        store.remove_logs(job)
        assert not os.path.exists(job_log_dir(str(db), job))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_full_screen_log_of_a_step_two_task_shows_its_whole_output(
        tmp_path: Path) -> None:
    src = _tree(tmp_path / "tree", "a.txt")
    steps = [StepSpec(ActionSpec(template="echo first; cp {} {out.s1}", shell=True)),
             StepSpec(ActionSpec(template="seq 1 2000; echo second-err >&2; cp {} {out.s2}",
                                 shell=True))]
    spec = JobSpec(filter=FilterSpec(roots=[str(src)]), action=steps[0].action,
                   settings=EngineSettings(workers=1, dedupe=False,
                                           out_dir=str(tmp_path / "out")))
    spec.set_steps(steps)
    db = tmp_path / "jobs.db"
    job = new_job(db, spec)
    app = app_for(db, start="resume", job_id=job)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                         and app.screen.exit_code is not None, timeout=60,
                         what="the run's end")
        dash = dashboard(app)
        tasks = dash.view.task_list
        rows = tasks.view_items()
        step2 = next(i for i, t in enumerate(rows) if t.path.endswith("a.s1"))
        tasks.move_cursor(step2)
        await pilot.pause()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LogScreen)
        view = screen.view
        await wait_until(pilot, lambda: view.row_count > 2000, timeout=60,
                         what="step 2's output")
        text = [view.row_text(y) for y in range(view.row_count)]
        assert text.count("1") == 1 and "2000" in text and "second-err" in text
        assert not any("first" in t for t in text)  # step 1's output is not in step 2's
        assert any(t.startswith("── stdout · 2,000 lines") for t in text)
