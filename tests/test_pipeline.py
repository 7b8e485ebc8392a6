"""Pipelines (issue 12): several steps per file, from recipes ([[steps]]) and ``--then``.

Covered: recipes with ``[[steps]]`` read, saved and refused with the file, line and key named;
``--then`` in a fresh process making report.txt then report.txt.gz, with per-step counts in
``jobs JOB``; ``keep = false`` removing the intermediate; a failing first step stopping its
file there; the store's step/parent rows; ``watch`` refusing steps; and a two-step pipeline
killed with SIGKILL mid-way and resumed, with every (file, step) run to success exactly once.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import tui_batch_cmd
from tui_batch.actions import PythonAction, TaskContext, register, unregister
from tui_batch.errors import InputError
from tui_batch.jobs import JobRunner, create_job, dump_recipe, load_recipe, plan_job
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec, StepSpec
from tui_batch.store import ChildTask, NewTask, Store

PY = sys.executable


def _recipe(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "recipe.toml"
    p.write_text(text)
    return p


def _refused(path: Path) -> str:
    with pytest.raises(InputError) as exc:
        load_recipe(path)
    assert exc.value.field == "--recipe"
    return exc.value.message


GOOD = """\
name = "text then gzip"
[filter]
roots = ["{root}"]
[settings]
out_dir = "{out}"
[[steps]]
template = "cp {{}} {{out.txt}}"
keep = false
workers = 2
[[steps]]
name = "compress"
retries = 1
[steps.options]
level = 9
"""


def test_recipe_steps_are_read_and_saved(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    path = _recipe(tmp_path, GOOD.format(root=tmp_path / "src", out=tmp_path / "out"))
    spec = load_recipe(path)
    assert [s.action.label for s in spec.steps] == ["cp {} {out.txt}", "compress"]
    assert spec.action == spec.steps[0].action
    assert spec.steps[0].keep is False and spec.steps[0].workers == 2
    assert spec.steps[1].retries == 1 and spec.steps[1].action.options == {"level": "9"}
    text = dump_recipe(spec)
    assert "[[steps]]" in text and "[action]" not in text
    again = _recipe(tmp_path, text)
    assert load_recipe(again).to_dict() == spec.to_dict()


@pytest.mark.parametrize(
    ("change", "line", "key"),
    [
        (("retries = 1", "colour = 1"), 12, "steps[2].colour"),
        (("workers = 2", 'workers = "many"'), 9, "steps[1].workers"),
        (('name = "compress"', 'name = "no-such-action"'), 11, "steps[2].name"),
        (("level = 9", 'level = "x"'), 13, "steps[2].options"),
        (("cp {{}} {{out.txt}}", "cp {{}} /tmp/x"), 6, "steps[1]"),  # writes nothing to read
        (("cp {{}} {{out.txt}}", "gzip -k"), 7, "steps[1].template"),  # no placeholder
        (('out_dir = "{out}"', ""), 6, "steps[1]"),  # {out} without --out
    ],
)
def test_bad_step_recipes_name_file_line_and_key(
    tmp_path: Path, change: tuple[str, str], line: int, key: str
) -> None:
    (tmp_path / "src").mkdir()
    text = GOOD.replace(*change).format(root=tmp_path / "src", out=tmp_path / "out")
    message = _refused(_recipe(tmp_path, text))
    assert message.startswith(f"{tmp_path / 'recipe.toml'}:{line}: {key}"), message


def test_action_beside_steps_is_refused(tmp_path: Path) -> None:
    text = '[action]\ntemplate = "true"\n[[steps]]\nname = "compress"\n'
    assert ": action: give either [action] or [[steps]]" in _refused(_recipe(tmp_path, text))


def _run(cmd: list[str], env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, **kw)  # type: ignore[call-overload, no-any-return]


def test_then_on_the_command_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "a").mkdir(parents=True)
    (src / "a" / "report.md").write_text("hello\n")
    (src / "b.md").write_text("world\n")
    proc = _run([*tui_batch_cmd(), "run", str(src), "--exec", "cp {} {out.txt}",
                 "--then", "compress", "--out", str(out), "--headless"], cli_env)
    assert proc.returncode == 0, proc.stderr
    assert (out / "a" / "report.txt").read_text() == "hello\n"
    assert gzip.decompress((out / "a" / "report.txt.gz").read_bytes()) == b"hello\n"
    assert gzip.decompress((out / "b.txt.gz").read_bytes()) == b"world\n"
    assert "step 1 exec 2/2  step 2 compress 2/2" in proc.stderr
    shown = _run([*tui_batch_cmd(), "jobs", "1"], cli_env)
    assert "step 1    cp {} {out.txt}: 2/2 (done 2)" in shown.stdout
    assert "step 2    compress: 2/2 (done 2)" in shown.stdout
    # (watch takes --then too: tests/test_watch_pipeline.py)


def test_then_values_and_their_refusals(tmp_path: Path) -> None:
    from tui_batch.cli.options import build_spec

    out = str(tmp_path / "out")
    spec = build_spec([str(tmp_path)], {"exec_": "cp {} {out.txt}", "opt": (),
                                        "then": ("compress", "cp {} {out.bin}",
                                                 "tests.test_pipeline:_to_text"),
                                        "out": out})
    assert [(s.action.name, s.action.template) for s in spec.steps] == [
        (None, "cp {} {out.txt}"), ("compress", None),
        (None, "cp {} {out.bin}"), ("tests.test_pipeline:_to_text", None)]
    with pytest.raises(InputError, match="names no placeholder") as exc:
        build_spec([str(tmp_path)], {"exec_": "cp {} {out.txt}", "then": ("gzip -k",),
                                     "out": out})
    assert exc.value.field == "steps[2].template"
    with pytest.raises(InputError, match="give the first step") as exc:
        build_spec([str(tmp_path)], {"then": ("compress",), "out": out})
    with pytest.raises(InputError, match="writes no file for the next step") as exc:
        build_spec([str(tmp_path)], {"exec_": "cat {}", "then": ("compress",), "out": out})
    assert exc.value.field == "steps[1]"


def _pipeline_job(tmp_path: Path, store: Store, steps: list[StepSpec]) -> int:
    spec = JobSpec(filter=FilterSpec(roots=[str(tmp_path / "src")]), action=steps[0].action,
                   settings=EngineSettings(out_dir=str(tmp_path / "out"), workers=2))
    spec.set_steps(steps)
    return create_job(store, plan_job(spec, store=store))


def _run_job(store: Store, job_id: int) -> int:
    async def go() -> int:
        runner = JobRunner(store, job_id)
        try:
            return await runner.run()
        finally:
            await runner.aclose()

    return asyncio.run(go())


def _to_text(ctx: TaskContext) -> None:
    if "bad" in ctx.rel:
        raise ValueError("cannot read this one")
    assert ctx.out_path is not None
    os.makedirs(os.path.dirname(ctx.out_path), exist_ok=True)
    with open(ctx.path, "rb") as src, open(ctx.out_path, "wb") as dst:
        dst.write(src.read().upper())


@pytest.fixture
def to_text() -> object:
    act = register(PythonAction("test-to-text", _to_text, kind="io", needs_out=True,
                                out_ext=".txt"), replace=True)
    yield act
    unregister("test-to-text")


def test_keep_false_and_a_failing_first_step(tmp_path: Path, to_text: object) -> None:
    (tmp_path / "src").mkdir()
    for name in ("one.md", "two.md", "bad.md"):
        (tmp_path / "src" / name).write_text(name)
    with Store(tmp_path / "db.sqlite") as store:
        job = _pipeline_job(tmp_path, store, [
            StepSpec(ActionSpec(name="test-to-text"), keep=False),
            StepSpec(ActionSpec(name="compress")),
        ])
        assert _run_job(store, job) == 1  # the bad file failed
        tasks = store.load_tasks(job)
        counts = store.step_counts(job, 2)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["one.txt.gz", "two.txt.gz"]  # no .txt left
    assert gzip.decompress((out / "one.txt.gz").read_bytes()) == b"ONE.MD"
    bad = [t for t in tasks if t.rel == "bad.md"]
    assert [(t.step, t.state) for t in bad] == [(0, "failed")]  # stopped at step 1
    assert (counts[0]["done"], counts[0]["failed"], counts[1]["done"]) == (2, 1, 2)
    seconds = [t for t in tasks if t.step == 1]
    firsts = {t.id: t for t in tasks if t.step == 0}
    for t in seconds:  # each step-2 task reads its parent's output and keeps the file's seq
        assert t.parent in firsts and t.seq == firsts[t.parent].seq
        assert t.path == str(out / (Path(firsts[t.parent].rel).stem + ".txt"))


def test_store_rows_for_steps(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite") as store:
        job = store.create_job({}, tasks=[NewTask("a", ".", "a", 1, 1)])
        first = store.load_tasks(job)[0]
        reserved = store.reserve_task_ids(3)
        other = store.create_job({}, tasks=[NewTask("b", ".", "b", 1, 1)])
        assert store.load_tasks(other)[0].id >= reserved + 3  # nobody else takes them
        store.record_start(first.id, 1, 1.0)
        store.record_end_with_child(
            ChildTask(reserved, job, first.seq, 1, first.id, "o/a.txt", "o", "a.txt", 2, 3),
            first.id, 1, "done", started_at=1.0, ended_at=2.0)
        store.flush()
        child = store.load_tasks(job)[1]
        assert (child.step, child.parent, child.seq, child.state) == (1, first.id, 0, "queued")
        assert [c["done"] + c["queued"] for c in store.step_counts(job, 3)] == [1, 1, 0]


REC = """\
import os, shutil, sys, time
log, step, src, dst, block = sys.argv[1:6]
name = os.path.basename(src).split(".")[0]
with open(log, "a") as f:
    f.write(f"start {name} {step}\\n")
if os.path.exists(f"{block}.{name}.{step}"):
    with open(f"{block}.{name}.{step}.pid", "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
shutil.copyfile(src, dst)
with open(log, "a") as f:
    f.write(f"end {name} {step}\\n")
"""


@pytest.mark.slow
def test_kill_mid_way_then_resume_runs_no_step_twice(tmp_path: Path,
                                                     cli_env: dict[str, str]) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for i in range(10):
        (src / f"f{i:02d}.md").write_text(f"file {i}\n")
    rec, log, block = tmp_path / "rec.py", tmp_path / "log", tmp_path / "block"
    rec.write_text(REC)
    Path(f"{block}.f03.1").touch()  # f03's step 1 and f05's step 2 hang until killed
    Path(f"{block}.f05.2").touch()
    db = tmp_path / "cli.db"
    cmd = [*tui_batch_cmd(), "run", str(src), "--db", str(db), "--headless", "-j", "3",
           "--out", str(out), "--exec", f"{PY} {rec} {log} 1 {{}} {{out.txt}} {block}",
           "--then", f"{PY} {rec} {log} 2 {{}} {{out.gz}} {block}"]
    proc = subprocess.Popen(cmd, env=cli_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:  # 9 files past step 1, 8 past step 2 (committed or journaled), 2 hanging
            assert proc.poll() is None and time.monotonic() < deadline
            hanging = all(Path(f"{block}.{n}.pid").exists() for n in ("f03.1", "f05.2"))
            if hanging and db.exists():
                with Store(db, readonly=True) as store:
                    counts = store.step_counts(1, 2)
                if counts[0]["done"] == 9 and counts[1]["done"] == 8:
                    break
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
        for n in ("f03.1", "f05.2"):
            pid_file = Path(f"{block}.{n}.pid")
            if pid_file.exists():
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    for n in ("f03.1", "f05.2"):
        Path(f"{block}.{n}").unlink()
    resumed = _run([*tui_batch_cmd(), "resume", "1", "--db", str(db), "--headless"], cli_env)
    assert resumed.returncode == 0, resumed.stderr
    lines = log.read_text().split()
    ends = [tuple(lines[i + 1 : i + 3]) for i in range(0, len(lines), 3) if lines[i] == "end"]
    expected = {(f"f{i:02d}", s) for i in range(10) for s in ("1", "2")}
    assert sorted(ends) == sorted(expected)  # every (file, step) succeeded exactly once
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"f{i:02d}.txt" for i in range(10)] + [f"f{i:02d}.gz" for i in range(10)])
