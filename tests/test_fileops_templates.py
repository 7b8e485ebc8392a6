"""copy / move / hardlink (issue 12), ``{#}`` and ``{%}``, the TUI_BATCH_* environment and the
new TaskContext fields.

Moves are checked for the one promise that matters: whatever happens (a target in the way, a
second file system, a ``kill -9`` at any moment), every file is at its source or its target,
whole, and ``resume`` finishes the job.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd
from tui_batch.actions import (
    ActionError,
    CommandAction,
    PythonAction,
    TaskContext,
    TaskSkipped,
    make_context,
    register,
    resolve_action,
    unregister,
)
from tui_batch.engine import Engine, Task
from tui_batch.errors import InputError
from tui_batch.jobs import JobRunner, create_job, plan_job
from tui_batch.model import ActionSpec, EngineSettings, FileEntry, FilterSpec, JobSpec, TaskState
from tui_batch.store import Store

SHM = Path("/dev/shm")
OTHER_FS = SHM.is_dir() and os.access(SHM, os.W_OK)


def entry(root: Path, rel: str, data: bytes, mode: int = 0o640,
          mtime_ns: int = 1_600_000_000_123_456_789) -> FileEntry:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    os.chmod(p, mode)
    os.utime(p, ns=(mtime_ns, mtime_ns))
    st = p.stat()
    return FileEntry(str(p), str(root), rel, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino)


def run(name: str, e: FileEntry, out: Path, attempt: int = 1, **opts: str) -> str | None:
    act = resolve_action(ActionSpec(name=name, options=opts))
    act.check(ActionSpec(name=name, options=opts), EngineSettings(out_dir=str(out)))
    assert isinstance(act, PythonAction)
    ctx = make_context(act, e, out_dir=str(out), options=opts, attempt=attempt)
    result: str | None = act.func(ctx)
    return result


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


def other_out(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """An output folder on another file system than tmp_path (a tmpfs), removed afterwards."""
    if not OTHER_FS or SHM.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system to move across")
    out = SHM / f"tb-test-{os.getpid()}-{request.node.name[:40]}"
    request.addfinalizer(lambda: subprocess.run(["rm", "-rf", str(out)], check=False))
    return out


# -- mirror, modes, mtimes -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["copy", "move", "hardlink"])
def test_mirrors_the_tree_keeping_mode_and_mtime(tmp_path: Path, name: str) -> None:
    e = entry(tmp_path / "in", "sub/deep/a b.txt", b"payload" * 999, mode=0o751)
    out = tmp_path / "out"
    assert run(name, e, out) is None
    final = out / "sub" / "deep" / "a b.txt"
    st = final.stat()
    assert final.read_bytes() == b"payload" * 999
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o751, 1_600_000_000_123_456_789)
    assert os.path.exists(e.path) == (name != "move")
    if name == "hardlink":
        assert os.path.samefile(e.path, final)
    assert hidden(out) == []  # no temporary name left


def test_move_across_file_systems(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    out = other_out(tmp_path, request)
    e = entry(tmp_path / "in", "d/big.bin", os.urandom(3 << 20), mode=0o600)
    assert run("move", e, out) is None
    final = out / "d" / "big.bin"
    assert not os.path.exists(e.path)
    st = final.stat()
    assert (st.st_size, stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (3 << 20, 0o600, e.mtime_ns)
    assert hidden(out) == []


def test_hardlink_across_file_systems_fails_clearly(tmp_path: Path,
                                                     request: pytest.FixtureRequest) -> None:
    out = other_out(tmp_path, request)
    e = entry(tmp_path / "in", "a.txt", b"x")
    with pytest.raises(ActionError, match="cannot hardlink across file systems"):
        run("hardlink", e, out)
    assert Path(e.path).read_bytes() == b"x"
    assert hidden(out) == []


# -- conflicts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["copy", "move", "hardlink"])
def test_conflict_skip_is_the_default_and_touches_nothing(tmp_path: Path, name: str) -> None:
    e = entry(tmp_path / "in", "a.txt", b"new")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_bytes(b"theirs")
    with pytest.raises(TaskSkipped, match=r"target exists: .*a\.txt"):
        run(name, e, out)
    assert (out / "a.txt").read_bytes() == b"theirs"
    assert Path(e.path).read_bytes() == b"new"
    assert sorted(os.listdir(out)) == ["a.txt"]


@pytest.mark.parametrize("name", ["copy", "move", "hardlink"])
def test_conflict_overwrite(tmp_path: Path, name: str) -> None:
    e = entry(tmp_path / "in", "a.txt", b"new")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_bytes(b"theirs")
    run(name, e, out, conflict="overwrite")
    assert (out / "a.txt").read_bytes() == b"new"
    assert os.path.exists(e.path) == (name != "move")
    assert sorted(os.listdir(out)) == ["a.txt"]


@pytest.mark.parametrize("name", ["copy", "move", "hardlink"])
def test_conflict_rename_takes_the_first_free_name_and_is_safe_to_repeat(
        tmp_path: Path, name: str) -> None:
    e = entry(tmp_path / "in", "r.tar.gz", b"new")
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.tar.gz").write_bytes(b"theirs")
    (out / "r (1).tar.gz").write_bytes(b"also theirs")
    run(name, e, out, conflict="rename")
    assert (out / "r (2).tar.gz").read_bytes() == b"new"
    if name != "move":  # run again (a resumed task): it finds its own result, adds nothing
        run(name, e, out, attempt=2, conflict="rename")
    assert sorted(os.listdir(out)) == ["r (1).tar.gz", "r (2).tar.gz", "r.tar.gz"]
    assert (out / "r.tar.gz").read_bytes() == b"theirs"


def test_conflict_option_is_checked_up_front(tmp_path: Path) -> None:
    act = resolve_action(ActionSpec(name="move", options={"conflict": "clobber"}))
    with pytest.raises(InputError, match="conflict must be one of skip, overwrite, rename"):
        act.check(ActionSpec(name="move", options={"conflict": "clobber"}),
                  EngineSettings(out_dir=str(tmp_path)))


def test_identical_target_is_done_not_a_conflict(tmp_path: Path) -> None:
    """What a killed earlier attempt left (whole copy in place): copy is done, move unlinks."""
    e = entry(tmp_path / "in", "a.txt", b"same")
    out = tmp_path / "out"
    run("copy", e, out)
    assert run("copy", e, out, attempt=2) is None  # skip policy, yet not skipped
    assert run("move", e, out, attempt=2) is None
    assert not os.path.exists(e.path)
    assert (out / "a.txt").read_bytes() == b"same"


def test_move_resumed_after_link_before_unlink(tmp_path: Path) -> None:
    """Same file system: a kill between link() and unlink() leaves two names of one file."""
    e = entry(tmp_path / "in", "a.txt", b"data")
    out = tmp_path / "out"
    out.mkdir()
    os.link(e.path, out / "a.txt")
    assert run("move", e, out, attempt=2) is None
    assert not os.path.exists(e.path)
    assert (out / "a.txt").read_bytes() == b"data"


def test_move_resumed_after_unlink_is_done(tmp_path: Path, db_path: Path) -> None:
    """The file was moved, then the process died before the store heard of it: resume ends
    the task done (not 'skipped: file vanished')."""
    src = tmp_path / "in"
    e = entry(src, "a.txt", b"data")
    out = tmp_path / "out"
    spec = JobSpec(filter=FilterSpec(roots=[str(src)]), action=ActionSpec(name="move"),
                   settings=EngineSettings(workers=1, out_dir=str(out)))
    store = Store(str(db_path))
    try:
        job_id = create_job(store, plan_job(spec, store=store))
        (task,) = store.load_tasks(job_id)
        store.record_start(task.id, 1, time.time())  # it was running...
        store.flush()
        out.mkdir()
        os.rename(e.path, out / "a.txt")  # ...and had moved the file when it was killed
        runner = JobRunner(store, job_id)

        async def go() -> int:
            try:
                return await runner.run()
            finally:
                await runner.aclose()

        assert asyncio.run(go()) == 0
        (task,) = store.load_tasks(job_id)
        assert task.state == "done", task.reason
    finally:
        store.close()


def test_skipped_by_the_action_is_a_skipped_task_with_its_reason(tmp_path: Path,
                                                                  db_path: Path) -> None:
    src = tmp_path / "in"
    entry(src, "a.txt", b"new")
    entry(src, "b.txt", b"b")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_bytes(b"theirs")
    spec = JobSpec(filter=FilterSpec(roots=[str(src)]), action=ActionSpec(name="copy"),
                   settings=EngineSettings(workers=2, out_dir=str(out)))
    store = Store(str(db_path))
    try:
        job_id = create_job(store, plan_job(spec, store=store))
        runner = JobRunner(store, job_id)

        async def go() -> int:
            try:
                return await runner.run()
            finally:
                await runner.aclose()

        assert asyncio.run(go()) == 0  # a skip is no failure
        by_name = {Path(t.path).name: t for t in store.load_tasks(job_id)}
        assert by_name["a.txt"].state == "skipped"
        assert by_name["a.txt"].reason == f"target exists: {out / 'a.txt'}"
        assert by_name["b.txt"].state == "done"
    finally:
        store.close()


# -- move and kill -9 ----------------------------------------------------------------------------


def _content(i: int) -> bytes:
    return (f"file {i:04d} ".encode() * 4000)[: 40_000 + i]


@pytest.mark.slow
@pytest.mark.parametrize("across", [False, True], ids=["same-fs", "across-fs"])
def test_move_survives_kill_9_and_resume_finishes(tmp_path: Path, cli_env: dict[str, str],
                                                  request: pytest.FixtureRequest,
                                                  across: bool) -> None:
    n = 90
    src = tmp_path / "in"
    out = other_out(tmp_path, request) if across else tmp_path / "out"
    for i in range(n):
        p = src / f"d{i % 7}" / f"f{i:04d}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(_content(i))
    names = {i: Path(f"d{i % 7}") / f"f{i:04d}.bin" for i in range(n)}

    def check_whole() -> int:
        """Every file at its source or target, whole; returns how many are at the target."""
        moved = 0
        for i, rel in names.items():
            at_src, at_out = src / rel, out / rel
            ok = [p for p in (at_src, at_out) if p.exists() and p.read_bytes() == _content(i)]
            assert ok, f"file {i} lost: neither {at_src} nor {at_out} holds it whole"
            moved += at_out in ok and at_src not in ok
        return moved

    db = tmp_path / "kill.db"
    cmd = [*tui_batch_cmd(), "run", str(src), "--action", "move", "--out", str(out), "-j", "2",
           "--headless", "--db", str(db)]
    for threshold in (1, n // 2):
        proc = subprocess.Popen(cmd if threshold == 1 else
                                [*tui_batch_cmd(), "resume", "1", "--db", str(db), "--headless"],
                                env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if sum(1 for _ in out.rglob("f*.bin")) >= threshold:
                break
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.stderr is not None
        proc.stderr.close()
        check_whole()
    done = subprocess.run([*tui_batch_cmd(), "resume", "1", "--db", str(db), "--headless"],
                          env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert check_whole() == n
    assert not any(src.rglob("*.bin"))
    assert hidden(out) == []  # the killed runs' temporary copies were removed


# -- {#}, {%} and the environment ----------------------------------------------------------------


def test_placeholders_seq_and_slot_in_argv_and_shell() -> None:
    act = CommandAction("echo {#} {%} {/}")
    ctx = TaskContext("/in/-a.txt", "/in", "-a.txt", task_id=9, seq=4, slot=2)
    assert act.prepare(ctx).argv == ["echo", "4", "2", "./-a.txt"]
    sh = CommandAction('echo "{#}-{%}" {}', shell=True)
    argv = sh.prepare(ctx).argv
    assert argv[:2] == ["sh", "-c"] and argv[4:] == ["4", "2", "/in/-a.txt"]  # as $1 $2 $3
    assert "4" not in argv[2]  # values are never pasted into the script
    assert not CommandAction("touch {#}.done").appends_path  # a placeholder like any other


def _jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_seq_slot_and_env_stable_across_resume(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """-j 2: {%} and TUI_BATCH_SLOT are 1..2; {#} numbers the files 1..N once each, and a task
    run again after an interrupted run keeps its number."""
    n = 12
    src = tmp_path / "in"
    src.mkdir()
    for i in range(n):
        (src / f"f{i:02d}.txt").write_text(str(i))
    rec = tmp_path / "rec"
    rec.mkdir()
    gate = tmp_path / "gate"
    script = (f'echo "{{#}} {{%}} $TUI_BATCH_SLOT $TUI_BATCH_JOB_ID $TUI_BATCH_TASK_ID '
              f'$TUI_BATCH_ATTEMPT" >> {rec}/{{/}}; '
              f'case {{/}} in f05*) if [ ! -e {gate} ]; then : > {gate}; sleep 60; fi;; esac')
    db = tmp_path / "seq.db"
    first = subprocess.Popen(
        [*tui_batch_cmd(), "run", str(src), "--shell", "--exec", script, "-j", "2", "--headless",
         "--db", str(db)], env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gate.exists()
    first.send_signal(signal.SIGTERM)  # stop: the sleeping task becomes interrupted
    assert first.wait(timeout=30) == 130
    again = subprocess.run([*tui_batch_cmd(), "resume", "1", "--db", str(db), "--json"],
                           env=cli_env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    seqs: dict[str, int] = {}
    attempts = {}
    for f in sorted(rec.iterdir()):
        lines = [line.split() for line in f.read_text().splitlines()]
        assert len({line[0] for line in lines}) == 1, (f.name, lines)  # same {#} every time
        for _seq, slot, env_slot, job, _task, attempt in lines:
            assert slot == env_slot and slot in ("1", "2")
            assert job == "1"
            attempts[f.name] = attempt
        seqs[f.name] = int(lines[0][0])
        assert int(lines[0][4]) == seqs[f.name]  # one job: its task ids are 1..N too
    assert sorted(seqs.values()) == list(range(1, n + 1))
    assert seqs == {f"f{i:02d}.txt": i + 1 for i in range(n)}  # scan order
    assert attempts["f05.txt"] == "2"  # run again on resume, same number


@pytest.mark.parametrize("mode", ["loop", "thread", "forkserver"])
def test_env_reaches_commands_in_every_spawn_mode(mode: str, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("TUI_BATCH_SPAWN", mode)
    act = CommandAction('echo "$TUI_BATCH_JOB_ID $TUI_BATCH_TASK_ID $TUI_BATCH_SLOT '
                        '$TUI_BATCH_ATTEMPT {#} {%}"', shell=True)
    engine = Engine(act, EngineSettings(workers=2), job_id=77)
    engine.submit([Task(id=100 + i, path=f"/x/{i}", seq=i + 1, check_file=False)
                   for i in range(4)])

    async def go() -> None:
        try:
            await engine.run()
        finally:
            await engine.aclose()

    asyncio.run(go())
    for i in range(4):
        job, task, slot, attempt, seq, slot2 = engine.tasks[100 + i].stdout_tail.split()
        assert (job, task, attempt, seq) == ("77", str(100 + i), "1", str(i + 1))
        assert slot == slot2 and slot in ("1", "2")


@pytest.mark.parametrize("kind", ["io", "cpu", "async"])
def test_task_context_fields_in_python_actions(kind: str, tmp_path: Path,
                                               db_path: Path) -> None:
    src = tmp_path / "in"
    for i in range(3):
        entry(src, f"f{i}.txt", b"x" * i)
    name = f"h7ctx_{kind}"
    func = _CTX_FUNCS[kind]
    register(PythonAction(name, func, kind=kind), replace=True)
    try:
        spec = JobSpec(filter=FilterSpec(roots=[str(src)]), action=ActionSpec(name=name),
                       settings=EngineSettings(workers=2))
        store = Store(str(db_path))
        try:
            job_id = create_job(store, plan_job(spec, store=store))
            runner = JobRunner(store, job_id)
            outs: dict[str, str] = {}

            def seen(ev: Any) -> None:
                t = runner.engine.tasks.get(getattr(ev, "task_id", -1))
                if t is not None and t.state is TaskState.DONE:
                    outs[Path(t.path).name] = t.stdout_tail

            runner.engine.subscribe(seen)

            async def go() -> int:
                try:
                    return await runner.run()
                finally:
                    await runner.aclose()

            assert asyncio.run(go()) == 0
            ids = {Path(t.path).name: t.id for t in store.load_tasks(job_id)}
        finally:
            store.close()
    finally:
        unregister(name)
    for i in range(3):
        job, seq, slot, task, attempt = outs[f"f{i}.txt"].split()
        assert (job, seq, task, attempt) == (str(job_id), str(i + 1), str(ids[f"f{i}.txt"]), "1")
        assert slot in ("1", "2")


def _ctx_line(ctx: TaskContext) -> str:
    return f"{ctx.job_id} {ctx.seq} {ctx.slot} {ctx.task_id} {ctx.attempt}"


async def _ctx_async(ctx: TaskContext) -> str:
    return _ctx_line(ctx)


_CTX_FUNCS: dict[str, Any] = {"io": _ctx_line, "cpu": _ctx_line, "async": _ctx_async}
