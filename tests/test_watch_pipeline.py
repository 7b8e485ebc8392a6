"""Watch mode with ``[[steps]]`` (issue 12): every new content version of a file goes through
step 1, then step 2 on step 1's output, on real folders with the real watcher.

The in-process steps record every call (which step, which file) so a test sees exactly what
ran; step 2 can be held on an event to stop or kill a watch mid-pipeline. The command-line
test runs the real ``tui-batch watch --recipe`` and kills it with ``kill -9``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service_support import Svc
from tests.test_pipeline import REC
from tests.watch_support import _start_cli, _wait, kinds, until, watching
from tui_batch.actions import TaskContext, register, unregister
from tui_batch.actions.python import PythonAction
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec, StepSpec, TaskState
from tui_batch.store import Store
from tui_batch.watch import Watcher

RUNS: list[tuple[str, str]] = []  # (step action, input path), in call order
HOLD: dict[str, threading.Event] = {}  # file stem -> step 2 of that file waits for it
_lock = threading.Lock()


def _write(ctx: TaskContext, data: bytes) -> None:
    assert ctx.out_path is not None
    os.makedirs(os.path.dirname(ctx.out_path), exist_ok=True)
    with open(ctx.out_path, "wb") as f:
        f.write(data)


def _upper(ctx: TaskContext) -> None:
    with _lock:
        RUNS.append(("upper", ctx.path))
    if "bad" in ctx.rel:
        raise ValueError("cannot read this one")
    with open(ctx.path, "rb") as f:
        _write(ctx, f.read().upper())


def _pack(ctx: TaskContext) -> None:
    with _lock:
        RUNS.append(("pack", ctx.path))
    hold = HOLD.get(Path(ctx.path).name.split(".")[0])
    while hold is not None and not hold.wait(0.02):
        if ctx.cancelled:
            raise RuntimeError("stopped while held")
    with open(ctx.path, "rb") as f:
        _write(ctx, f.read()[::-1])


@pytest.fixture(autouse=True)
def _actions() -> object:
    RUNS.clear()
    HOLD.clear()
    register(PythonAction("wp-upper", _upper, kind="io", needs_out=True, out_ext=".txt"),
             replace=True)
    register(PythonAction("wp-pack", _pack, kind="io", needs_out=True, out_suffix=".pk"),
             replace=True)
    yield
    unregister("wp-upper")
    unregister("wp-pack")


def runs(step: str, path: Path) -> int:
    with _lock:
        return sum(1 for s, p in RUNS if s == step and p == str(path))


def steps_spec(root: Path, out: Path, second: str = "compress", keep: bool = True) -> JobSpec:
    spec = JobSpec(FilterSpec(roots=[str(root)]), ActionSpec(name="wp-upper"),
                   EngineSettings(workers=2, out_dir=str(out)))
    spec.set_steps([StepSpec(ActionSpec(name="wp-upper"), keep=keep),
                    StepSpec(ActionSpec(name=second))])
    return spec


def done_at(w: Watcher, step: int) -> int:
    assert w.pipeline is not None
    return w.pipeline.step_counts()[step][TaskState.DONE]


def chains(store: Store, job: int) -> list[tuple[str, int, str]]:
    """(file name, step, state) of every task of the job, in the store."""
    store.flush()
    return sorted((Path(t.path).name, t.step, t.state) for t in store.load_tasks(job))


def test_every_version_goes_through_both_steps(tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    doc = root / "doc.md"

    async def main() -> None:
        with Store(tmp_path / "w.db") as store:
            async with watching(steps_spec(root, out, keep=False), store) as (w, events):
                doc.write_text("first\n")
                await until(lambda: done_at(w, 1) == 1, 15, "both steps of the first version")
                assert gzip.decompress((out / "doc.txt.gz").read_bytes()) == b"FIRST\n"
                assert not (out / "doc.txt").exists()  # keep = false: used, removed
                doc.write_text("second\n")
                await until(lambda: done_at(w, 1) == 2, 15, "both steps of the second")
                assert gzip.decompress((out / "doc.txt.gz").read_bytes()) == b"SECOND\n"
                assert not (out / "doc.txt").exists()
                assert runs("upper", doc) == 2 and len(kinds(events, "queued", doc)) == 2
                assert not [e for e in kinds(events, "queued") if e.path != str(doc)]
                job = w.job_id
            assert chains(store, job) == [("doc.md", 0, "done"), ("doc.md", 0, "done"),
                                          ("doc.txt", 1, "done"), ("doc.txt", 1, "done")]
            assert store.get_job(job).spec["steps"][1]["name"] == "compress"

    asyncio.run(main())


def test_a_failing_first_step_stops_that_version(tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()

    async def main() -> None:
        with Store(tmp_path / "w.db") as store:
            async with watching(steps_spec(root, out, "wp-pack"), store) as (w, _events):
                (root / "bad.md").write_text("x\n")
                (root / "ok.md").write_text("y\n")
                assert w.pipeline is not None
                await until(lambda: done_at(w, 1) == 1
                            and w.pipeline.step_counts()[0][TaskState.FAILED] == 1, 15,
                            "ok through both steps, bad failed at step 1")
                job = w.job_id
            assert chains(store, job) == [("bad.md", 0, "failed"), ("ok.md", 0, "done"),
                                          ("ok.txt", 1, "done")]
        assert sorted(p.name for p in out.iterdir()) == ["ok.txt", "ok.txt.pk"]
        assert (out / "ok.txt.pk").read_bytes() == b"\nY"

    asyncio.run(main())


def test_finished_tasks_kept_in_memory_are_bounded_per_step(tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()

    async def main() -> None:
        with Store(tmp_path / "w.db") as store:
            spec = steps_spec(root, out, "wp-pack")
            async with watching(spec, store, retain_finished=1) as (w, _events):
                for i in range(4):
                    (root / f"f{i}.md").write_text(f"{i}\n")
                await until(lambda: done_at(w, 1) == 4, 15, "four files through both steps")
                assert len(w.engine.tasks) == 2  # the last finished task of each step
                assert w.engine.snapshot().done == 8  # the counts go on counting

    asyncio.run(main())


def test_restart_mid_pipeline_continues_at_the_step(tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    doc = root / "doc.md"
    HOLD["doc"] = threading.Event()
    spec = steps_spec(root, out, "wp-pack")

    async def main() -> None:
        with Store(tmp_path / "w.db") as store:
            async with watching(spec, store, on_stop="stop") as (w, _events):
                doc.write_text("data\n")
                assert w.pipeline is not None
                await until(lambda: w.pipeline.step_counts()[1][TaskState.RUNNING] == 1, 15,
                            "step 2 running")
            assert runs("upper", doc) == 1 and runs("pack", out / "doc.txt") == 1
            HOLD["doc"].set()
            async with watching(spec, store) as (w, _events):
                assert w.resumed and w.leftover == 1  # the step-2 task, at its step
                await until(lambda: done_at(w, 1) == 1, 15, "step 2 done")
                job = w.job_id
            assert runs("upper", doc) == 1  # the done step never ran again
            assert runs("pack", out / "doc.txt") == 2
            assert chains(store, job) == [("doc.md", 0, "done"), ("doc.txt", 1, "done")]
        assert (out / "doc.txt.pk").read_bytes() == b"\nATAD"

    asyncio.run(main())


def test_a_used_output_is_removed_only_if_no_newer_version_rewrote_it(tmp_path: Path) -> None:
    """keep = false: the first version's step 2 ends after the second version's step 1
    rewrote the intermediate; that file is the second version's input, not removed."""
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    doc = root / "doc.md"
    HOLD["doc"] = threading.Event()
    spec = steps_spec(root, out, "wp-pack", keep=False)
    spec.steps[1].workers = 1  # the second version's step 2 waits behind the first's

    async def main() -> None:
        with Store(tmp_path / "w.db") as store:
            async with watching(spec, store) as (w, _events):
                assert w.pipeline is not None
                doc.write_text("one\n")
                await until(lambda: w.pipeline.step_counts()[1][TaskState.RUNNING] == 1, 15,
                            "the first version's step 2 running")
                doc.write_text("two\n")
                await until(lambda: done_at(w, 0) == 2, 15, "the second version's step 1")
                HOLD["doc"].set()
                await until(lambda: done_at(w, 1) + w.pipeline.step_counts()[1][
                    TaskState.FAILED] == 2, 15, "both step 2 ended")
                assert done_at(w, 1) == 2
        assert not (out / "doc.txt").exists()  # removed by the version that read it last
        assert (out / "doc.txt.pk").read_bytes() == b"\nOWT"

    asyncio.run(main())


def test_outputs_inside_a_watched_root_never_retrigger(tmp_path: Path) -> None:
    """--out inside the root (its events are dropped) and a root inside --out, where a file
    of the root's subfolder ``in/`` has its step outputs mirrored into the root itself."""
    inner_out = tmp_path / "a"
    (inner_out / "in").mkdir(parents=True)  # root a/ with --out a/out
    root_b = tmp_path / "b" / "in"  # root b/in with --out b
    (root_b / "in").mkdir(parents=True)

    async def main() -> None:
        with Store(tmp_path / "w.db") as store:
            spec_a = steps_spec(inner_out, inner_out / "out", "wp-pack")
            async with watching(spec_a, store) as (w, events):
                (inner_out / "in" / "doc.md").write_text("a\n")
                await until(lambda: done_at(w, 1) == 1, 15, "both steps")
                (inner_out / "later.md").write_text("b\n")  # settles after the outputs
                await until(lambda: done_at(w, 1) == 2, 15, "the later file")
                assert sorted(Path(e.path or "").name for e in kinds(events, "queued")) == [
                    "doc.md", "later.md"]
            spec_b = steps_spec(root_b, tmp_path / "b", "wp-pack")
            async with watching(spec_b, store) as (w, events):
                (root_b / "in" / "doc.md").write_text("c\n")
                await until(lambda: done_at(w, 1) == 1, 15, "both steps")
                outputs = [root_b / "doc.txt", root_b / "doc.txt.pk"]  # inside the root
                await until(lambda: all(kinds(events, "output", p) for p in outputs), 15,
                            "the outputs recognised")
                assert [e.path for e in kinds(events, "queued")] == [str(root_b / "in/doc.md")]
                assert runs("upper", root_b / "doc.txt") == 0
        assert (root_b / "doc.txt.pk").read_bytes() == b"\nC"

    asyncio.run(main())


def _steps_recipe(tmp_path: Path) -> tuple[Path, Path, Path]:
    rec, log, block = tmp_path / "rec.py", tmp_path / "log", tmp_path / "block"
    rec.write_text(REC)
    recipe = tmp_path / "steps.toml"
    py = sys.executable
    recipe.write_text(
        "[[steps]]\n"
        f"template = \"{py} {rec} {log} 1 {{}} {{out.txt}} {block}\"\n"
        "keep = false\n"
        "[[steps]]\n"
        f"template = \"{py} {rec} {log} 2 {{}} {{out.gz}} {block}\"\n"
    )
    return recipe, log, block


@pytest.mark.slow
def test_cli_watch_recipe_kill_9_restart_then_sigterm(tmp_path: Path,
                                                     cli_env: dict[str, str]) -> None:
    """`tui-batch watch --recipe steps.toml` headless: killed with -9 while a file's step 2
    runs, started again it runs that step 2 (not step 1 again) and a new file's two steps,
    and SIGTERM ends it with exit 0."""
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    recipe, log, block = _steps_recipe(tmp_path)
    Path(f"{block}.a.2").touch()  # a's step 2 hangs until killed
    args = [str(root), "--recipe", str(recipe), "--out", str(out), "--settle", "0.2",
            "--rescan", "0"]
    proc, lines = _start_cli(args, cli_env)
    try:
        _wait(lambda: any(x.get("kind") == "watching" for x in lines), 15, "watching")
        (root / "a.md").write_text("A\n")
        _wait(lambda: Path(f"{block}.a.2.pid").exists(), 15, "a's step 2 to hang")
    finally:
        proc.kill()
        proc.wait()
        pid_file = Path(f"{block}.a.2.pid")
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    Path(f"{block}.a.2").unlink()
    proc, lines = _start_cli(args, cli_env)
    try:
        _wait(lambda: any(x.get("kind") == "watching" for x in lines), 15, "watching again")
        watching_line = next(x for x in lines if x.get("kind") == "watching")
        assert watching_line["resumed"] and watching_line["leftover"] == 1
        (root / "b.md").write_text("B\n")
        _wait(lambda: len([x for x in lines if x.get("event") == "task"
                           and x.get("state") == "done" and x.get("step") == 2]) == 2,
              20, "a's step 2 and b's two steps")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        proc.kill()
    _wait(lambda: any(x.get("event") == "summary" for x in lines), 5, "the summary")
    assert next(x for x in lines if x.get("event") == "summary")["exit_code"] == 0
    words = log.read_text().split()
    ends = sorted(tuple(words[i + 1 : i + 3]) for i in range(0, len(words), 3)
                  if words[i] == "end")
    assert ends == [("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")]  # no step ran twice
    assert words.count("start") == 5  # a's step 2 started twice (killed, then again)
    assert sorted(p.name for p in out.iterdir()) == ["a.gz", "b.gz"]  # keep = false
    with Store(cli_env["TUI_BATCH_DB"], readonly=True) as store:
        assert [c["done"] for c in store.step_counts(1, 2)] == [2, 2]


@pytest.fixture
def svc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Svc]:
    s = Svc(tmp_path)
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "TUI_BATCH_DB"):
        monkeypatch.setenv(name, s.env[name])
    try:
        yield s
    finally:
        s.shutdown()


def test_detached_watch_with_then_runs_the_steps_in_the_service(svc: Svc) -> None:
    root, out = svc.tmp / "in", svc.tmp / "out"
    root.mkdir()
    answer = json.loads(svc.cli(
        "watch", str(root), "--exec", "cp {} {out.txt}", "--then", "compress", "--out",
        str(out), "--settle", "0.05", "--detach", "--json").stdout.strip().splitlines()[-1])
    assert answer["event"] == "detached" and answer["kind"] == "watch"
    job = int(answer["job"])
    (root / "a.md").write_text("hi\n")

    def both_done() -> bool:
        with Store(svc.db, readonly=True) as store:
            return [c["done"] for c in store.step_counts(job, 2)] == [1, 1]

    svc.wait_for(both_done)
    assert gzip.decompress((out / "a.txt.gz").read_bytes()) == b"hi\n"
    row = next(j for j in svc.status()["jobs"] if j["job_id"] == job)
    assert row["stats"]["done"] == 2


def test_watch_dashboard_shows_the_steps(tmp_path: Path) -> None:
    """`tui-batch watch --recipe` on a terminal: the dashboard's Step column and its line of
    counts per step, as a pipeline run's dashboard has them."""
    from tests.ui_support import frozen_clock, wait_until
    from tui_batch.ui.app import BatchApp
    from tui_batch.ui.screens.dashboard import DashboardScreen
    from tui_batch.ui.widgets.task_list import TaskList

    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        app = BatchApp(spec=steps_spec(root, out, "wp-pack"), start="watch", store=store,
                       clock=frozen_clock(), deterministic=True,
                       watch={"settle": 0.2, "rescan": None})
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                             and app.screen.engine is not None, what="the dashboard")
            screen = app.screen
            assert isinstance(screen, DashboardScreen)
            (root / "doc.md").write_text("x\n")
            await wait_until(pilot, lambda: screen.engine.snapshot().done == 2, timeout=20,
                             what="both steps")
            await wait_until(pilot, lambda: "2 wp-pack 1/1" in str(
                screen.query_one("#stats-steps").render()), timeout=5, what="step counts")
            tasks = screen.query_one(TaskList)
            assert tasks.header_text().split()[:2] == ["Status", "Step"]
            assert str(screen.query_one("#stats-steps").render()) == (
                "1 wp-upper 1/1  2 wp-pack 1/1")
            await screen.stop_and_wait()

    asyncio.run(main())
