"""The job store: schema, API, hot-path queue, concurrency with another process, kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import platformdirs
import pytest

import tui_batch.store.batch as store_batch
import tui_batch.store.schema as store_schema
import tui_batch.store.task_table as store_tasks
from tui_batch.errors import StoreError
from tui_batch.model import FileEntry, Priority, TaskState
from tui_batch.store import (
    JOB_STATES,
    TASK_STATES,
    AttemptRecord,
    NewTask,
    Store,
    TaskRecord,
    schema_version,
)

REPO = Path(__file__).resolve().parents[1]
BIG = 2**64 - 5  # st_dev / st_ino can exceed SQLite's signed 64-bit range


def new_tasks(n: int, root: str = "/data", start: int = 0) -> list[NewTask]:
    return [
        NewTask(f"{root}/d{i % 10}/f{i}.txt", root, f"d{i % 10}/f{i}.txt", i, 10**18 + i, 7, i)
        for i in range(start, start + n)
    ]


@pytest.fixture
def store(db_path: Path) -> Any:
    s = Store(db_path)
    yield s
    s.close()


def sub_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# ---- opening, paths, schema ------------------------------------------------------------------


def test_default_path_is_the_user_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUI_BATCH_DB", raising=False)
    expected = os.path.join(platformdirs.user_data_dir("tui-batch"), "jobs.db")
    assert Store.default_path() == expected


def test_env_overrides_default_and_explicit_path_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_db = tmp_path / "env" / "jobs.db"
    monkeypatch.setenv("TUI_BATCH_DB", str(env_db))
    assert Store.default_path() == str(env_db)
    with Store() as s:
        assert s.path == str(env_db)
    assert env_db.exists()
    explicit = tmp_path / "explicit.db"
    with Store(explicit) as s:
        assert s.path == str(explicit)
        s.create_job({})
    assert explicit.exists()


def test_parent_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "jobs.db"
    with Store(path) as s:
        s.create_job({"x": 1})
    assert path.is_file()


def test_unopenable_paths_raise_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(StoreError, match="folder"):
        Store(folder)

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database, just some text" * 100)
    with pytest.raises(StoreError, match=r"cannot open job store .*garbage\.db"):
        Store(garbage)

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(StoreError, match="cannot create folder"):
        Store(a_file / "sub" / "jobs.db")

    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a tui-batch job store"):
        Store(foreign)

    with pytest.raises(StoreError, match="in-memory"):
        Store(":memory:")


def test_pragmas_and_schema_version(store: Store) -> None:
    c = sqlite3.connect(store.path)
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert c.execute("PRAGMA user_version").fetchone()[0] == schema_version() >= 1
    c.close()
    conn = store._conn  # the store's own connection settings
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"jobs", "tasks", "attempts", "hashes", "job_deps", "groups"} <= tables
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT job_id, state, COUNT(*) FROM tasks GROUP BY job_id, state"
    ).fetchall()
    assert "COVERING INDEX tasks_job_state" in str(plan)


def test_migration_hook_upgrades_an_existing_store(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(db_path) as s:
        job = s.create_job({"v": 1})

    def add_notes(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE jobs ADD COLUMN notes TEXT DEFAULT 'migrated'")

    monkeypatch.setattr(store_schema, "MIGRATIONS", [*store_schema.MIGRATIONS, add_notes])
    with Store(db_path) as s:
        assert s.get_job(job).spec == {"v": 1}
        assert s._conn.execute("PRAGMA user_version").fetchone()[0] == len(
            store_schema.MIGRATIONS
        )
        assert s._conn.execute("SELECT notes FROM jobs").fetchone()[0] == "migrated"
    with Store(db_path):  # already current: nothing runs twice
        pass


def test_newer_schema_is_refused(db_path: Path) -> None:
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store(db_path)


# ---- jobs ------------------------------------------------------------------------------------


def test_create_and_get_job_round_trips_the_spec(store: Store) -> None:
    spec = {
        "filter": {"roots": [os.fsdecode(b"/srv/\xff\xfeodd")], "extensions": [".log"]},
        "action": {"template": "gzip -k {}", "shell": False},
        "settings": {"workers": 4, "timeout": None},
    }
    job = store.create_job(spec, name="logs")
    rec = store.get_job(job)
    assert rec.id == job
    assert rec.spec == spec
    assert os.fsencode(rec.spec["filter"]["roots"][0]) == b"/srv/\xff\xfeodd"
    assert rec.name == "logs"
    assert rec.state == "created"
    assert rec.error is None and rec.group_id is None
    assert rec.created_at == rec.updated_at <= time.time()


def test_unknown_job_messages(store: Store) -> None:
    with pytest.raises(StoreError) as info:
        store.get_job(4242)
    assert str(info.value) == f"no job 4242 in {store.path}"
    for call in (
        lambda: store.set_job_state(4242, "done"),
        lambda: store.delete_job(4242),
        lambda: store.add_tasks(4242, new_tasks(1)),
    ):
        with pytest.raises(StoreError, match="no job 4242"):
            call()


def test_set_job_state(store: Store) -> None:
    job = store.create_job({})
    created = store.get_job(job)
    time.sleep(0.01)
    for state in sorted(JOB_STATES):
        store.set_job_state(job, state)
        assert store.get_job(job).state == state
    store.set_job_state(job, "failed", error="boom")
    rec = store.get_job(job)
    assert (rec.state, rec.error) == ("failed", "boom")
    assert rec.updated_at > created.updated_at
    store.set_job_state(job, "running")
    assert store.get_job(job).error is None
    with pytest.raises(ValueError, match="unknown job state"):
        store.set_job_state(job, "exploded")
    with pytest.raises(ValueError):
        store.create_job({}, state="nope")


def test_list_jobs_newest_first_with_counts(store: Store) -> None:
    a = store.create_job({"n": "a"}, name="a")
    b = store.create_job({"n": "b"}, name="b", state="running")
    empty = store.create_job({"n": "c"})
    ids_a = store.add_tasks(a, new_tasks(5))
    store.add_tasks(b, new_tasks(3))
    store.record_start(ids_a[0], 1, 1.0)
    store.record_end(ids_a[0], 1, "done", started_at=1.0, ended_at=2.0, exit_code=0)
    store.set_task_state(ids_a[1], "skipped", reason="duplicate")
    jobs = store.list_jobs()  # sees the queued records without an explicit flush
    assert [j.id for j in jobs] == [empty, b, a]
    by_id = {j.id: j for j in jobs}
    assert by_id[a].total == 5
    assert by_id[a].counts["done"] == 1
    assert by_id[a].counts["skipped"] == 1
    assert by_id[a].counts["queued"] == 3
    assert by_id[b].counts["queued"] == 3 and by_id[b].total == 3
    assert by_id[empty].total == 0
    assert set(by_id[empty].counts) == set(TASK_STATES)
    assert by_id[b].state == "running" and by_id[b].spec == {"n": "b"} and by_id[b].name == "b"


def test_delete_job_cascades(store: Store) -> None:
    keep = store.create_job({})
    gone = store.create_job({})
    other = store.create_job({})
    store.add_dependency(other, gone)
    keep_ids = store.add_tasks(keep, new_tasks(3))
    gone_ids = store.add_tasks(gone, new_tasks(3))
    for tid in keep_ids + gone_ids:
        store.record_start(tid, 1, 1.0)
        store.record_end(tid, 1, "failed", started_at=1.0, ended_at=2.0, exit_code=1)
    store.put_hashes([((1, 2, 3, 4), "full", b"d")])
    store.delete_job(gone)
    with pytest.raises(StoreError):
        store.get_job(gone)
    assert store.load_tasks(gone) == []
    assert store.attempts(gone_ids[0]) == []
    assert len(store.attempts(keep_ids[0])) == 1
    assert store.dependencies(other) == []
    n_attempts = store._conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    assert n_attempts == 3
    assert store.get_hashes([(1, 2, 3, 4)], "full") == {(1, 2, 3, 4): b"d"}


def test_groups_and_dependencies(store: Store) -> None:
    g = store.create_group("parallel", cancel_on_failure=True)
    a = store.create_job({}, group_id=g)
    b = store.create_job({}, group_id=g)
    assert store.get_job(a).group_id == g
    store.add_dependency(b, a)
    store.add_dependency(b, a)  # idempotent
    assert store.dependencies(b) == [a]
    with pytest.raises(StoreError, match="itself"):
        store.add_dependency(a, a)
    c = store.create_job({})
    store.add_dependency(c, b)
    with pytest.raises(StoreError, match="already waits"):
        store.add_dependency(a, c)  # a <- b <- c <- a would never start
    with pytest.raises(StoreError, match="no job 999"):
        store.add_dependency(a, 999)
    with pytest.raises(StoreError, match="no group 77"):
        store.create_job({}, group_id=77)
    with pytest.raises(ValueError):
        store.create_group("sideways")


# ---- tasks -----------------------------------------------------------------------------------


def test_add_and_load_tasks_round_trip_bytes(store: Store) -> None:
    job = store.create_job({})
    raw = b"/data/\xff\xfe caf\xc3\xa9 $(touch x);.txt"
    odd = os.fsdecode(raw)
    entry = FileEntry(odd, "/data", odd[len("/data/") :], 12, 34, BIG, BIG - 1)
    tasks = [
        NewTask.from_entry(entry, priority=Priority.HIGH),
        NewTask("/data/b", "/data", "b", 5, 6, priority=Priority.LOW, state="skipped",
                reason="duplicate", duplicate_of=odd),
    ]  # fmt: skip
    ids = store.add_tasks(job, tasks)
    assert len(ids) == 2 and ids[1] == ids[0] + 1
    loaded = store.load_tasks(job)
    assert [t.id for t in loaded] == ids
    first, second = loaded
    assert isinstance(first, TaskRecord)
    assert os.fsencode(first.path) == raw
    assert first.path == odd and first.rel == entry.rel and first.root == "/data"
    assert (first.size, first.mtime_ns, first.dev, first.ino) == (12, 34, BIG, BIG - 1)
    assert first.priority == Priority.HIGH and first.state == "queued" and first.seq == 0
    assert first.attempts == 0 and first.started_at is None and first.error is None
    assert second.state == "skipped" and second.reason == "duplicate"
    assert second.duplicate_of is not None and os.fsencode(second.duplicate_of) == raw
    assert second.seq == 1
    stored = store._conn.execute("SELECT path FROM tasks WHERE id = ?", (ids[0],)).fetchone()[0]
    assert stored == raw  # a BLOB, byte-exact
    assert store.get_task(ids[0]) == first
    with pytest.raises(StoreError, match="no task"):
        store.get_task(10**9)


def test_ids_and_seq_continue_across_calls_and_jobs(store: Store) -> None:
    a = store.create_job({})
    b = store.create_job({})
    ids1 = store.add_tasks(a, new_tasks(3))
    ids2 = store.add_tasks(b, new_tasks(2))
    ids3 = store.add_tasks(a, new_tasks(2, start=3))
    assert ids1 + ids2 + ids3 == list(range(ids1[0], ids1[0] + 7))
    assert [t.seq for t in store.load_tasks(a)] == [0, 1, 2, 3, 4]
    assert [t.id for t in store.load_tasks(a)] == ids1 + ids3
    assert store.add_tasks(a, []) == []
    # ids are never reused after a delete (a late record must not hit another job's task)
    store.delete_job(b)
    ids4 = store.add_tasks(a, new_tasks(1, start=5))
    assert ids4[0] > ids3[-1]


def test_add_tasks_renumbers_when_another_writer_got_in_first(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = store.create_job({})
    store.add_tasks(job, new_tasks(2))
    real_rows = store_tasks.task_rows

    def rows_then_interleave(*args: Any) -> list[tuple[Any, ...]]:
        rows = real_rows(*args)
        monkeypatch.setattr(store_tasks, "task_rows", real_rows)
        with Store(store.path) as other:  # another process adding to the same job meanwhile
            other.add_tasks(job, new_tasks(3, start=100))
        return rows

    monkeypatch.setattr(store_tasks, "task_rows", rows_then_interleave)
    ids = store.add_tasks(job, new_tasks(2, start=200))
    tasks = store.load_tasks(job)
    assert [t.seq for t in tasks] == [0, 1, 2, 3, 4, 5, 6]
    assert [t.id for t in tasks[-2:]] == ids
    assert [t.rel for t in tasks[-2:]] == ["d0/f200.txt", "d1/f201.txt"]


def test_load_tasks_by_state_and_counts(store: Store) -> None:
    job = store.create_job({})
    ids = store.add_tasks(job, new_tasks(6))
    store.set_task_state(ids[0], "done")
    store.set_task_state(ids[1], "failed")
    store.set_task_state(ids[2], TaskState.INTERRUPTED)
    unfinished = store.load_tasks(job, states=["queued", "interrupted"])
    assert [t.id for t in unfinished] == [ids[2], *ids[3:]]
    assert store.load_tasks(job, states=[]) == []
    counts = store.task_counts(job)
    assert counts == {
        "queued": 3, "running": 0, "done": 1, "failed": 1, "cancelled": 0, "skipped": 0,
        "interrupted": 1,
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown task state"):
        store.load_tasks(job, states=["dnoe"])
    with pytest.raises(ValueError):
        store.add_tasks(job, [NewTask("/x", "/", "x", 1, 1, state="bogus")])


def test_record_start_end_and_attempts(store: Store) -> None:
    job = store.create_job({})
    (tid,) = store.add_tasks(job, new_tasks(1))
    store.record_start(tid, 1, 100.0)
    store.flush()
    running = store.get_task(tid)
    assert (running.state, running.attempts, running.started_at) == ("running", 1, 100.0)
    assert store.attempts(tid) == [
        AttemptRecord(tid, 1, "running", 100.0, None, None, None, None, None, None)
    ]
    store.record_end(
        tid, 1, TaskState.FAILED, started_at=100.0, ended_at=101.5, exit_code=None,
        signal=9, error="killed by SIGKILL", stdout_tail="out", stderr_tail="err",
        reason="timeout",
    )  # fmt: skip
    store.set_task_state(tid, "queued", reason="retry 2/3")
    store.record_start(tid, 2, 110.0)
    store.record_end(tid, 2, "done", started_at=110.0, ended_at=111.0, exit_code=0)
    store.set_task_priority(tid, Priority.URGENT)
    store.flush()
    t = store.get_task(tid)
    assert (t.state, t.attempts, t.exit_code, t.signal, t.error) == ("done", 2, 0, None, None)
    assert (t.started_at, t.ended_at, t.reason, t.priority) == (110.0, 111.0, None, 3)
    a1, a2 = store.attempts(tid)
    assert a1 == AttemptRecord(
        tid, 1, "failed", 100.0, 101.5, None, 9, "killed by SIGKILL", "out", "err"
    )
    assert (a2.n, a2.state, a2.exit_code, a2.ended_at) == (2, "done", 0, 111.0)
    with pytest.raises(ValueError):
        store.record_end(tid, 3, "finished", started_at=1, ended_at=2)
    with pytest.raises(ValueError):
        store.set_task_state(tid, "paused")


@pytest.mark.parametrize("update_from", [True, False], ids=["update-from", "executemany"])
def test_bulk_records_keep_per_task_order(db_path: Path, update_from: bool) -> None:
    """Many records in few batches, mixed operations, several per task: the final state must be
    what the calls say in order (this drives the grouping/coalescing of the writer)."""
    with Store(db_path) as s:
        s._writer.update_from = update_from and store_batch.UPDATE_FROM
        job = s.create_job({})
        n = 5000
        ids = s.add_tasks(job, new_tasks(n))
        for i, tid in enumerate(ids):
            s.record_start(tid, 1, float(i))
            if i % 3 == 0:
                s.record_end(tid, 1, "failed", started_at=float(i), ended_at=i + 0.5, error="e1")
                s.set_task_state(tid, "queued", reason="retry")
                s.record_start(tid, 2, i + 1.0)
                s.record_end(tid, 2, "done", started_at=i + 1.0, ended_at=i + 2.0, exit_code=0)
            elif i % 3 == 1:
                s.record_end(tid, 1, "done", started_at=float(i), ended_at=i + 1.0, exit_code=0)
                s.set_task_priority(tid, 2)
            # i % 3 == 2: left running
        s.flush()
        counts = s.task_counts(job)
        assert counts["done"] == n - n // 3
        assert counts["running"] == n // 3
        tasks = {t.id: t for t in s.load_tasks(job)}
        for i, tid in enumerate(ids):
            t = tasks[tid]
            if i % 3 == 0:
                assert (t.state, t.attempts, t.started_at, t.reason, t.error) == (
                    "done", 2, i + 1.0, None, None,
                )  # fmt: skip
                assert [a.state for a in s.attempts(tid)] == ["failed", "done"]
            elif i % 3 == 1:
                assert (t.state, t.attempts, t.priority, t.exit_code) == ("done", 1, 2, 0)
            else:
                assert (t.state, t.attempts, t.ended_at) == ("running", 1, None)
                assert [a.state for a in s.attempts(tid)] == ["running"]


def test_one_batch_applies_records_in_call_order(store: Store) -> None:
    """All of one task's records in a single drained batch (writer kept asleep meanwhile)."""
    job = store.create_job({})
    tid, other = store.add_tasks(job, new_tasks(2))
    store.set_task_priority(other, 0)
    store.flush()
    sizes: list[int] = []
    real_apply = store._writer.apply

    def spy(batch: list[tuple[Any, ...]]) -> None:
        sizes.append(len(batch))
        real_apply(batch)

    store._writer.apply = spy  # type: ignore[method-assign]
    store._writer.idle = False  # callers won't signal; the writer's safety-net wake-up drains all
    store.record_start(tid, 1, 1.0)
    store.record_end(tid, 1, "failed", started_at=1.0, ended_at=2.0, exit_code=3)
    store.set_task_state(tid, "queued")
    store.record_start(tid, 2, 3.0)
    store.record_start(other, 1, 3.0)
    store.record_end(tid, 2, "cancelled", started_at=3.0, ended_at=4.0, signal=15)
    store.set_task_priority(tid, 3)
    store.flush()
    assert sizes[0] >= 7  # everything in one transaction
    t = store.get_task(tid)
    assert (t.state, t.attempts, t.signal, t.exit_code, t.priority) == ("cancelled", 2, 15, None, 3)
    assert [(a.n, a.state) for a in store.attempts(tid)] == [(1, "failed"), (2, "cancelled")]
    assert store.get_task(other).state == "running"


def test_recover_interrupted(store: Store) -> None:
    job = store.create_job({}, state="running")
    ids = store.add_tasks(job, new_tasks(5))
    store.record_start(ids[0], 1, 1.0)
    store.record_end(ids[0], 1, "done", started_at=1.0, ended_at=2.0)
    store.record_start(ids[1], 1, 1.0)
    store.record_start(ids[2], 2, 1.0)
    other = store.create_job({})
    (other_tid,) = store.add_tasks(other, new_tasks(1))
    store.record_start(other_tid, 1, 1.0)
    assert store.recover_interrupted(job) == 2
    assert store.recover_interrupted(job) == 0
    counts = store.task_counts(job)
    assert (counts["interrupted"], counts["done"], counts["queued"]) == (2, 1, 2)
    (a,) = store.attempts(ids[1])
    assert a.state == "interrupted" and a.error and "interrupted" in a.error
    assert store.attempts(ids[2])[0].n == 2
    assert store.get_task(other_tid).state == "running"  # other jobs untouched


# ---- hot path: latency, cost, errors, threads ------------------------------------------------


def test_idle_record_is_committed_within_milliseconds(store: Store) -> None:
    job = store.create_job({})
    ids = store.add_tasks(job, new_tasks(20))
    reader = sqlite3.connect(store.path)
    latencies = []
    for tid in ids:
        time.sleep(0.005)  # let the writer go idle
        t0 = time.perf_counter()
        store.record_end(tid, 1, "done", started_at=1.0, ended_at=2.0)
        sql = "SELECT state FROM tasks WHERE id = ?"
        while reader.execute(sql, (tid,)).fetchone()[0] != "done":
            assert time.perf_counter() - t0 < 2.0, "record never committed"
        latencies.append(time.perf_counter() - t0)
    reader.close()
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.1  # typically well under 5 ms


def test_hot_path_calls_are_cheap(store: Store) -> None:
    job = store.create_job({})
    ids = store.add_tasks(job, new_tasks(20_000))
    t0 = time.perf_counter()
    for tid in ids:
        store.record_start(tid, 1, 1.0)
        store.record_end(tid, 1, "done", started_at=1.0, ended_at=2.0, exit_code=0)
    per_call = (time.perf_counter() - t0) / (2 * len(ids))
    store.flush()
    assert store.task_counts(job)["done"] == len(ids)
    assert per_call < 50e-6  # a few µs on a quiet machine; loose for busy CI


def test_writer_errors_are_raised_by_flush_and_good_records_kept(store: Store) -> None:
    job = store.create_job({})
    good = store.add_tasks(job, new_tasks(3))
    store.record_start(good[0], 1, 1.0)
    store.record_end(999_999, 1, "done", started_at=1.0, ended_at=2.0)  # no such task
    store.record_end(good[1], 1, "done", started_at=1.0, ended_at=2.0)
    store.set_task_state(888_888, "skipped")
    with pytest.raises(StoreError, match=r"no task 999999.*and 1 more"):
        store.flush()
    store.flush()  # reported once
    assert store.get_task(good[0]).state == "running"
    assert store.get_task(good[1]).state == "done"


def test_close_raises_pending_writer_error(db_path: Path) -> None:
    s = Store(db_path)
    s.record_start(12345, 1, 1.0)
    with pytest.raises(StoreError, match="no task 12345"):
        s.close()
    s.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        s.get_job(1)
    with pytest.raises(StoreError, match="closed"):
        s.record_start(1, 1, 1.0)


def test_unencodable_text_is_kept_readable(store: Store) -> None:
    job = store.create_job({})
    (tid,) = store.add_tasks(job, new_tasks(1))
    bad = "cannot open " + os.fsdecode(b"/x/\xff.txt")
    store.record_end(tid, 1, "failed", started_at=1.0, ended_at=2.0, error=bad, stderr_tail=bad)
    store.flush()
    t = store.get_task(tid)
    assert t.state == "failed"
    assert t.error == "cannot open /x/\\udcff.txt"
    assert store.attempts(tid)[0].stderr_tail == t.error


def test_many_threads_record_concurrently(store: Store) -> None:
    job = store.create_job({})
    ids = store.add_tasks(job, new_tasks(8000))
    chunks = [ids[i::4] for i in range(4)]

    def work(part: list[int]) -> None:
        for tid in part:
            store.record_start(tid, 1, 1.0)
            store.record_end(tid, 1, "done", started_at=1.0, ended_at=2.0)
            if tid % 97 == 0:
                store.task_counts(job)  # synchronous reads interleaved from several threads

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.flush()
    assert store.task_counts(job)["done"] == 8000
    n = store._conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    assert n == 8000


def test_records_are_flushed_at_exit_without_close(db_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        from tui_batch.store import Store, NewTask
        s = Store({str(db_path)!r})
        job = s.create_job({{}})
        ids = s.add_tasks(job, [NewTask(f"/r/{{i}}", "/r", str(i), 1, 1) for i in range(2000)])
        for t in ids:
            s.record_end(t, 1, "done", started_at=1.0, ended_at=2.0)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=sub_env(), timeout=60)
    with Store(db_path) as s:
        (job,) = s.list_jobs()
        assert job.counts["done"] == 2000


# ---- hash cache ------------------------------------------------------------------------------


def test_hash_cache(store: Store) -> None:
    k1, k2, k3 = (1, 2, 3, 4), (BIG, BIG, 10, 20), (5, 6, 7, 8)
    store.put_hashes([(k1, "prefix:65536", b"\x01" * 8), (k1, "full", b"\x02" * 16)])
    store.put_hashes([(k2, "full", b"\x03" * 16)])
    assert store.get_hashes([k1, k2, k3], "full") == {k1: b"\x02" * 16, k2: b"\x03" * 16}
    assert store.get_hashes([k1, k2], "prefix:65536") == {k1: b"\x01" * 8}
    store.put_hashes([(k1, "full", b"\x04" * 16)])  # replaces
    assert store.get_hashes([k1], "full") == {k1: b"\x04" * 16}
    assert store.get_hashes([], "full") == {}
    store.put_hashes([])


def test_hash_cache_is_fast_for_100k_keys(store: Store) -> None:
    keys = [(2049, 10_000 + i, i * 3, 1_700_000_000 * 10**9 + i) for i in range(100_000)]
    t0 = time.perf_counter()
    store.put_hashes([(k, "full", i.to_bytes(16, "big")) for i, k in enumerate(keys)])
    t1 = time.perf_counter()
    found = store.get_hashes([*keys, (1, 1, 1, 1)], "full")
    t2 = time.perf_counter()
    assert len(found) == 100_000
    assert found[keys[12345]] == (12345).to_bytes(16, "big")
    assert t1 - t0 < 5 and t2 - t1 < 5  # ~0.2 s each on a quiet machine


# ---- scale -----------------------------------------------------------------------------------


def test_100k_tasks_add_list_load(store: Store) -> None:
    job = store.create_job({"big": True})
    tasks = new_tasks(100_000)
    t0 = time.perf_counter()
    ids = store.add_tasks(job, tasks)
    add_s = time.perf_counter() - t0
    assert ids == list(range(ids[0], ids[0] + 100_000))
    store.create_job({"small": True})
    t0 = time.perf_counter()
    jobs = store.list_jobs()
    list_s = time.perf_counter() - t0
    assert jobs[1].total == 100_000 and jobs[1].counts["queued"] == 100_000
    loaded = store.load_tasks(job, states=["queued"])
    assert len(loaded) == 100_000 and loaded[-1].rel == tasks[-1].rel
    assert add_s < 5.0  # ~0.5 s on a quiet machine
    assert list_s < 0.5  # ~10 ms


# ---- other processes -------------------------------------------------------------------------

READER = textwrap.dedent(
    """
    import sys, time, traceback
    from tui_batch.store import Store
    path, job, until = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    reads = errors = 0
    s = Store(path)
    while time.time() < until:
        try:
            if reads % 10 == 0:  # like `tui-batch jobs`: a fresh open every time
                s.close()
                s = Store(path)
            jobs = s.list_jobs()
            assert any(j.id == job for j in jobs)
            s.task_counts(job)
            s.load_tasks(job, states=["running", "failed"])
            s.attempts(1)
            s.get_job(job)
            reads += 1
        except Exception:
            errors += 1
            traceback.print_exc()
    s.close()
    print(reads, errors)
    """
)


def test_reader_process_never_sees_database_locked(db_path: Path) -> None:
    with Store(db_path) as s:
        job = s.create_job({}, state="running")
        ids = s.add_tasks(job, new_tasks(20_000))
        until = time.time() + 4.0
        readers = [
            subprocess.Popen(
                [sys.executable, "-c", READER, str(db_path), str(job), str(until)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=sub_env(),
            )
            for _ in range(2)
        ]
        written = 0
        extra = 0
        while time.time() < until:
            for tid in ids[written : written + 500]:
                s.record_start(tid, 1, time.time())
                s.record_end(tid, 1, "done", started_at=1.0, ended_at=2.0, stdout_tail="x" * 200)
            written = (written + 500) % len(ids)
            s.flush()
            if written % 5000 == 0:  # synchronous writes too: a big insert and a job update
                extra += 1
                s.add_tasks(job, new_tasks(2000, start=100_000 * extra))
                s.set_job_state(job, "running")
        results = []
        for p in readers:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            results.append(out)
        for out, p in zip(results, readers, strict=True):
            reads, errors = map(int, out.split())
            assert errors == 0, p.stderr
            assert reads >= 20
        assert "locked" not in "".join(results)


WRITER = textwrap.dedent(
    """
    import sys, time
    from tui_batch.store import Store, NewTask
    s = Store(sys.argv[1])
    job = s.create_job({"kill": 9}, state="running")
    ids = s.add_tasks(job, [NewTask(f"/r/f{i}", "/r", f"f{i}", i, i) for i in range(200_000)])
    print("job", job, flush=True)
    for k, tid in enumerate(ids):
        t = time.time()
        s.record_start(tid, 1, t)
        if k % 5 == 0:  # a failed attempt, queued again, then a second one
            s.record_end(tid, 1, "failed", started_at=t, ended_at=t + 1, exit_code=1,
                         error="first", stderr_tail="e" * 500)
            s.set_task_state(tid, "queued", reason="retry")
            s.record_start(tid, 2, t + 2)
            s.record_end(tid, 2, "done", started_at=t + 2, ended_at=t + 3, exit_code=0)
        elif k % 7 != 3:  # a few stay running, as if the process died mid-task
            s.record_end(tid, 1, "done", started_at=t, ended_at=t + 1, exit_code=0,
                         stdout_tail="o" * 300)
        if k % 1000 == 999:
            s.flush()
            print("committed", k + 1, flush=True)
    """
)


def check_consistency(path: Path) -> tuple[int, dict[int, Any]]:
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    tasks = {
        r[0]: r
        for r in conn.execute("SELECT id, seq, state, attempts, ended_at, exit_code FROM tasks")
    }
    attempts: dict[int, dict[int, Any]] = {}
    for task_id, n, state, ended_at, exit_code in conn.execute(
        "SELECT task_id, n, state, ended_at, exit_code FROM attempts"
    ):
        attempts.setdefault(task_id, {})[n] = (state, ended_at, exit_code)
    conn.close()
    for tid, (_, _seq, state, n_att, ended_at, exit_code) in tasks.items():
        rows = attempts.get(tid, {})
        assert all(n <= n_att for n in rows), (tid, rows)
        if n_att == 0:
            assert state == "queued" and not rows
            continue
        last = rows[n_att]  # the current attempt's row exists: same transaction as the task
        if state == "running":
            assert last[0] == "running" and ended_at is None
        elif state == "queued":  # failed attempt, queued again for a retry
            assert last[0] == "failed" and last[1] == ended_at
        else:
            assert last == (state, ended_at, exit_code), (tid, state, last)
    return len(tasks), tasks


@pytest.mark.slow
def test_kill_9_leaves_a_consistent_store(db_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=sub_env(),
    )
    assert proc.stdout is not None
    committed = 0
    job = None
    try:
        for line in proc.stdout:
            word, value = line.split()
            if word == "job":
                job = int(value)
            else:
                committed = int(value)
                if committed >= 20_000:
                    break
    finally:
        proc.send_signal(signal.SIGKILL)  # in the middle of later batches
        proc.wait(timeout=30)
    assert job is not None and committed >= 20_000
    total, tasks = check_consistency(db_path)
    assert total == 200_000
    for tid, (_, seq, state, *_rest) in tasks.items():
        if seq < committed:  # flushed before the kill: all there
            k = seq
            expected = "running" if (k % 5 != 0 and k % 7 == 3) else "done"
            assert state == expected, (tid, seq, state)
    with Store(db_path) as s:  # opens cleanly, resumable
        rec = s.get_job(job)
        assert rec.spec == {"kill": 9} and rec.state == "running"
        stuck = s.task_counts(job)["running"]
        assert s.recover_interrupted(job) == stuck > 0
        assert s.task_counts(job)["running"] == 0
        assert json.loads(json.dumps(s.list_jobs()[0].counts))["interrupted"] == stuck
    check_consistency(db_path)


def test_get_hashes_bulk_path_filters_kind_and_missing(tmp_path: Path) -> None:
    """Asking for most of the cache takes the table-scan path; it must return exactly what the
    per-key path would: right kind only, missing keys absent, big inode numbers intact."""
    from tui_batch.store.hashcache import _HASH_CHUNK

    n = 4 * _HASH_CHUNK + 100
    with Store(tmp_path / "h.db") as s:
        keys = [(2**64 - 1, i, i + 1, i * 10) for i in range(n)]
        s.put_hashes([(k, "prefix:4096", i.to_bytes(8, "big")) for i, k in enumerate(keys)])
        s.put_hashes([(k, "full", b"F" * 16) for k in keys[: n // 2]])
        asked = [*keys[: n - 50], (7, 7, 7, 7)]  # 50 stored keys not asked, 1 unknown asked
        got = s.get_hashes(asked, "prefix:4096")
        assert len(got) == n - 50
        assert got[keys[3]] == (3).to_bytes(8, "big")
        assert (7, 7, 7, 7) not in got
        full = s.get_hashes(keys, "full")
        assert len(full) == n // 2 and set(full.values()) == {b"F" * 16}
