"""Full task output kept per attempt in the job's log folder (issue 9, "Full logs"): the
engine's slot files, the cap, the place of each attempt in the store, the live records that let
another process follow a running attempt, and removal with the job / by prune."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tui_batch.engine.executors.spool import Spool, SpoolFolder
from tui_batch.jobs import JobRunner, create_job, plan_job
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.model.logfiles import LogRef, job_log_dir
from tui_batch.store import Store
from tui_batch.store import schema as store_schema
from tui_batch.store.batch import apply_replayed
from tui_batch.store.journal_format import frame, read_frames


def _tree(root: Path, n: int) -> Path:
    root.mkdir()
    for i in range(n):
        (root / f"f{i:02d}.txt").write_text(f"{i}\n")
    return root


def _job(db: Path, root: Path, template: str, **settings: object) -> int:
    spec = JobSpec(
        FilterSpec(roots=[str(root)]),
        ActionSpec(template=template, shell=True),
        EngineSettings(dedupe=False, **settings),  # type: ignore[arg-type]
    )
    with Store(db) as store:
        return create_job(store, plan_job(spec, store=store))


def _run(db: Path, job_id: int) -> int:
    async def go() -> int:
        runner = JobRunner(store, job_id)
        try:
            return await runner.run()
        finally:
            await runner.aclose()

    with Store(db) as store:
        return asyncio.run(go())


def _outputs(db: Path, job_id: int) -> dict[str, list[tuple[bytes, bytes]]]:
    """rel path -> (stdout, stderr) of each attempt, read back through the store."""
    out: dict[str, list[tuple[bytes, bytes]]] = {}
    with Store(db) as store:
        for t in store.load_tasks(job_id):
            out[t.rel] = [
                (store.output(job_id, a, "stdout").data, store.output(job_id, a, "stderr").data)
                for a in store.attempts(t.id)
            ]
    return out


def test_whole_output_of_every_attempt_is_kept_byte_exact(tmp_path: Path) -> None:
    root = _tree(tmp_path / "in", 6)
    db = tmp_path / "j.db"
    # 200 KB of stdout per task, a line on stderr, and bytes that are not UTF-8
    script = "head -c 200000 /dev/zero | tr '\\0' x; printf '\\377err %s\\n' \"$1\" >&2"
    job = _job(db, root, script, workers=3)
    assert _run(db, job) == 0
    outs = _outputs(db, job)
    assert len(outs) == 6
    for rel, attempts in outs.items():
        (stdout, stderr), = attempts
        assert stdout == b"x" * 200_000
        assert stderr == b"\xfferr " + os.fsencode(str(root / rel)) + b"\n"
    folder = job_log_dir(str(db), job)
    assert sorted(os.listdir(folder)) == sorted(
        ["live"] + [f"slot-{k}.{s}" for k in (1, 2, 3) for s in ("out", "err")]
    )
    assert os.stat(folder).st_mode & 0o777 == 0o700


def test_each_attempt_of_a_retried_task_has_its_own_output(tmp_path: Path) -> None:
    root = _tree(tmp_path / "in", 1)
    db = tmp_path / "j.db"
    count = tmp_path / "count"
    job = _job(db, root, f": \"$1\"; echo run >> {count}; n=$(wc -l < {count}); echo out $n; "
                         "echo err $n >&2; [ $n -ge 3 ]", retries=2, backoff=0.0, workers=1)
    assert _run(db, job) == 0
    (attempts,) = _outputs(db, job).values()
    assert attempts == [(b"out 1\n", b"err 1\n"), (b"out 2\n", b"err 2\n"),
                        (b"out 3\n", b"err 3\n")]


def test_output_beyond_the_cap_is_cut_and_counted(tmp_path: Path) -> None:
    root = _tree(tmp_path / "in", 1)
    db = tmp_path / "j.db"
    job = _job(db, root, ": \"$1\"; seq 1 20000; echo done >&2", max_output=1000)
    assert _run(db, job) == 0
    with Store(db) as store:
        (task,) = store.load_tasks(job)
        (att,) = store.attempts(task.id)
        out = store.output(job, att, "stdout")
        full = "".join(f"{i}\n" for i in range(1, 20001)).encode()
        assert out.data == full[:1000]
        assert out.total == len(full) and out.cut == len(full) - 1000
        assert att.log is not None and att.log.cut("stdout") == len(full) - 1000
        assert (att.stdout_tail or "").endswith("19999\n20000\n")  # the tail is the real end
        assert store.output(job, att, "stderr").data == b"done\n"
    # the slot file holds only what was kept
    assert os.path.getsize(Path(job_log_dir(str(db), job)) / "slot-1.out") == 1000


def test_a_silent_command_records_no_log_and_costs_no_file_bytes(tmp_path: Path) -> None:
    root = _tree(tmp_path / "in", 3)
    db = tmp_path / "j.db"
    job = _job(db, root, "true", workers=1)
    assert _run(db, job) == 0
    with Store(db) as store:
        for t in store.load_tasks(job):
            (att,) = store.attempts(t.id)
            assert att.log is None
            assert store.output(job, att, "stdout").data == b""
    assert os.path.getsize(Path(job_log_dir(str(db), job)) / "slot-1.out") == 0


def test_a_running_attempt_can_be_followed_from_its_live_record(tmp_path: Path) -> None:
    root = _tree(tmp_path / "in", 1)
    db = tmp_path / "j.db"
    gate = tmp_path / "gate"
    job = _job(db, root,
               f': "$1"; echo first; while [ ! -e {gate} ]; do sleep 0.05; done; echo second')
    seen: list[bytes] = []

    def follow() -> None:
        with Store(db, readonly=True) as store:
            deadline = time.monotonic() + 30
            task_id = None
            while time.monotonic() < deadline:
                tasks = store.load_tasks(job)
                task_id = tasks[0].id if tasks else None
                live = task_id and store.live_attempt(job, task_id, 1)
                if live:
                    data = store.follow_bytes(job, live, "stdout", 0)
                    if data:
                        seen.append(data)
                        break
                time.sleep(0.05)
        gate.touch()

    t = threading.Thread(target=follow)
    t.start()
    assert _run(db, job) == 0
    t.join()
    assert seen == [b"first\n"]  # read while the command was still waiting for the gate
    assert _outputs(db, job) == {"f00.txt": [(b"first\nsecond\n", b"")]}


def test_deleting_a_job_removes_its_logs(tmp_path: Path) -> None:
    root = _tree(tmp_path / "in", 2)
    db = tmp_path / "j.db"
    job = _job(db, root, "echo hi")
    assert _run(db, job) == 0
    folder = Path(job_log_dir(str(db), job))
    assert folder.is_dir()
    with Store(db) as store:
        store.delete_job(job)
    assert not folder.exists()


def test_prune_removes_old_finished_jobs_their_logs_and_old_hashes(tmp_path: Path) -> None:
    root = _tree(tmp_path / "in", 2)
    db = tmp_path / "j.db"
    old, recent, unfinished = (_job(db, root, "echo hi") for _ in range(3))
    assert _run(db, old) == 0 and _run(db, recent) == 0
    with Store(db) as store:
        store.set_job_state(unfinished, "interrupted")
        store.put_hashes([((1, 2, 3, 4), "xxh3", b"d" * 16), ((5, 6, 7, 8), "xxh3", b"e" * 16)])
    conn = sqlite3.connect(db)
    week = time.time() - 8 * 86400
    with conn:
        conn.execute("UPDATE jobs SET updated_at = ? WHERE id IN (?, ?)", (week, old, unfinished))
        conn.execute("UPDATE hashes SET added_at = ? WHERE dev = 1", (week,))
    conn.close()
    orphan = Path(job_log_dir(str(db), 999))
    orphan.mkdir(parents=True)
    with Store(db) as store:
        removed, hashes = store.prune(7 * 86400)
        assert removed == [old] and hashes == 1
        assert {j.id for j in store.list_jobs()} == {recent, unfinished}
        assert set(store.get_hashes([(1, 2, 3, 4), (5, 6, 7, 8)], "xxh3")) == {(5, 6, 7, 8)}
    assert not Path(job_log_dir(str(db), old)).exists()
    assert Path(job_log_dir(str(db), recent)).is_dir()
    assert not orphan.exists()


def test_an_older_store_is_migrated_and_its_attempts_read_from_their_tails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "old.db"
    monkeypatch.setattr(store_schema, "MIGRATIONS", store_schema.MIGRATIONS[:1])
    with Store(db) as store:
        job = store.create_job({"v": 1})
        conn = store._conn
        with conn:
            conn.execute("INSERT INTO tasks (job_id, seq, path, root, rel, size, mtime_ns)"
                         " VALUES (?, 0, x'61', x'', x'61', 1, 1)", (job,))
            conn.execute("INSERT INTO attempts (task_id, n, state, stdout_tail, stderr_tail)"
                         " VALUES (1, 1, 'done', 'old out', 'old err')")
    monkeypatch.undo()
    with Store(db) as store:
        (att,) = store.attempts(1)
        assert att.log is None
        assert store.output(job, att, "stdout").data == b"old out"
        assert store.output(job, att, "stderr").data == b"old err"
        store.put_hashes([((1, 1, 1, 1), "xxh3", b"z" * 16)])  # the new column is there


def test_journal_frames_carry_the_place_of_the_output() -> None:
    ref = LogRef(2, 100, 50, 70, 0, 0, 0)
    item = (1, 7, 1, "done", 1.0, 2.0, 0, None, None, "tail", None, None, *ref)
    data = frame(1, item)
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"tb-frame-{os.getpid()}"
    try:
        path.write_bytes(data + bytes(8))
        ((seq, back),) = list(read_frames(str(path)))
    finally:
        path.unlink()
    assert seq == 1 and back == item


def test_a_journal_of_the_older_layout_still_replays(db_path: Path) -> None:
    with Store(db_path) as store:
        job = store.create_job({"v": 1})
        conn = store._conn
        with conn:
            conn.execute("INSERT INTO tasks (job_id, seq, path, root, rel, size, mtime_ns)"
                         " VALUES (?, 0, x'61', x'', x'61', 1, 1)", (job,))
        old = (1, 1, 1, "done", 1.0, 2.0, 0, None, None, "out", None, None)  # 12 fields
        with conn:
            apply_replayed(conn, [old])
        (att,) = store.attempts(1)
        assert att.state == "done" and att.stdout_tail == "out" and att.log is None


def test_without_a_writable_log_folder_the_run_keeps_tails(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    folder = SpoolFolder(str(blocker / "logs"))
    assert folder.log_dir is None  # warned, and fell back to nameless spool files
    sp = Spool(folder)
    try:
        os.write(sp.out, b"hello\n")
        assert sp.end() == ("hello\n", "", None)
    finally:
        sp.close()
        folder.close()


def test_slots_are_reused_lowest_first_and_start_at_the_file_end(tmp_path: Path) -> None:
    folder = SpoolFolder(str(tmp_path / "logs"))
    a, b = Spool(folder), Spool(folder)
    assert (a.slot, b.slot) == (1, 2)
    os.write(a.out, b"abc")
    assert a.end()[2] == LogRef(1, 0, 3, 3, 0, 0, 0)
    a.close()
    c = Spool(folder)
    assert c.slot == 1 and c.out_start == 3  # appends after what slot 1 already holds
    os.write(c.err, b"e")
    assert c.end()[2] == LogRef(1, 3, 0, 0, 0, 1, 1)
    for sp in (b, c):
        sp.close()
    folder.close()
