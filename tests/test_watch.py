"""Watch mode, end to end on real folders with the real watchfiles watcher (inotify here).

Small settle windows (0.3-0.6 s) keep the suite fast; every "nothing happened" check waits
well past the window. The recording action runs in-process, so a test sees exactly which
content each task read.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tui_batch_cmd
from tests.watch_support import _start_cli, _wait, kinds, until, watching
from tui_batch.actions import TaskContext, register
from tui_batch.actions.python import PythonAction
from tui_batch.cli.watch_progress import watch_stats_line
from tui_batch.engine import Stats
from tui_batch.errors import InputError
from tui_batch.model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from tui_batch.store import Store, WatchState
from tui_batch.watch import (
    Watcher,
    is_temp_name,
    is_watch_limit_error,
    watch_identity,
)

RECORDED: list[tuple[str, bytes]] = []
_rec_lock = threading.Lock()


def _record(ctx: TaskContext) -> str | None:
    with open(ctx.path, "rb") as f:
        data = f.read()
    with _rec_lock:
        RECORDED.append((ctx.path, data))
    return None


register(PythonAction("watchtest-record", _record, kind="thread",
                      description="Test action: records each call."), replace=True)


def _record_then_linger(ctx: TaskContext) -> str | None:
    _record(ctx)
    time.sleep(0.1)  # the task ends inside the touch's settle window
    return None


register(PythonAction("watchtest-record-linger", _record_then_linger, kind="thread",
                      description="Test action: records each call, then lingers."),
         replace=True)


@pytest.fixture(autouse=True)
def _clear_recorded() -> None:
    RECORDED.clear()


def recorded(path: Path | str) -> list[bytes]:
    with _rec_lock:
        return [d for p, d in RECORDED if p == str(path)]


def spec_for(root: Path, action: ActionSpec | None = None, **flt: Any) -> JobSpec:
    out = flt.pop("out", None)
    return JobSpec(
        FilterSpec(roots=[str(root)], **flt),
        action or ActionSpec(name="watchtest-record"),
        EngineSettings(workers=2, out_dir=None if out is None else str(out)),
    )


def write_slowly(path: Path, chunks: list[bytes], gap: float) -> float:
    """Write chunk after chunk, ``gap`` seconds apart; returns when the last write was."""
    last = 0.0
    with open(path, "wb") as f:
        for i, c in enumerate(chunks):
            if i:
                time.sleep(gap)
            f.write(c)
            f.flush()
            last = time.monotonic()
    return last





# ---------------------------------------------------------------------------------- helpers


def test_temp_names() -> None:
    for name in ("a.pdf.part", "x.crdownload", "y.TMP", ".~lock.doc#", "~$report.docx",
                 ".#notes.txt", "f.swp", "backup~", ".out.tbtmp-0a1b2c3d4e.txt", "v.partial"):
        assert is_temp_name(name), name
    for name in ("a.pdf", "report.docx", "parts.txt", "tmp.txt", "temp"):
        assert not is_temp_name(name), name


def test_watch_limit_errors_recognised() -> None:
    assert is_watch_limit_error(OSError("OS file watch limit reached. (Error { kind: "
                                        "MaxFilesWatch, paths: [] })"))
    assert is_watch_limit_error(RuntimeError("error in underlying watcher: OS file watch "
                                             "limit reached."))
    assert is_watch_limit_error(RuntimeError("Error creating recommended watcher: Too many "
                                             "open files (os error 24)"))
    assert is_watch_limit_error(OSError(28, "No space left on device"))
    assert not is_watch_limit_error(FileNotFoundError("No such file or directory"))


def test_status_line_says_idle_since_and_no_eta() -> None:
    st = Stats(total=5, done=5, elapsed=60, files_per_s=0.5, eta=None,
               idle_since=time.monotonic() - 75)
    line = watch_stats_line(st, 0)
    assert "idle since" in line and "(1:15)" in line
    assert "ETA" not in line
    busy = Stats(total=5, done=3, running=2, idle_since=None)
    assert "idle since" not in watch_stats_line(busy, 1)


def test_identity_stable_and_distinct(tmp_path: Path) -> None:
    a = spec_for(tmp_path)
    b = spec_for(tmp_path)
    assert watch_identity(a) == watch_identity(b)
    c = spec_for(tmp_path, extensions=[".txt"])
    assert watch_identity(a)[0] != watch_identity(c)[0]
    assert watch_identity(a, "inbox")[0] == "id:inbox"


# ----------------------------------------------------------------------------- settle rules


def test_chunked_writes_processed_once_with_final_content(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    chunks = [f"chunk {i:02d}\n".encode() * 200 for i in range(12)]

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        async with watching(spec_for(root), store, settle=0.6) as (_w, events):
            t0 = time.monotonic()
            last_write = await asyncio.to_thread(write_slowly, root / "big.bin", chunks, 0.2)
            await until(lambda: len(recorded(root / "big.bin")) == 1, 10, "the task")
            assert time.monotonic() - t0 > 2.0
            assert time.monotonic() - last_write >= 0.55  # a window after the last write
            await asyncio.sleep(1.0)
            assert recorded(root / "big.bin") == [b"".join(chunks)]
            assert len(kinds(events, "queued", root / "big.bin")) == 1
        store.close()

    asyncio.run(main())


def test_temp_names_ignored_until_renamed(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        async with watching(spec_for(root, hidden=True), store) as (_w, _events):
            part = root / "doc.pdf.part"
            await asyncio.to_thread(write_slowly, part, [b"%PDF-1.7\n", b"x" * 5000,
                                                         b"%%EOF\n"], 0.3)
            for name in (".~lock.doc#", "~$doc.docx", ".#notes.txt", "dl.crdownload",
                         "edit.swp", "scratch.tmp"):
                (root / name).write_bytes(b"temp")
            await asyncio.sleep(1.0)
            assert RECORDED == []  # nothing, although all of it has been quiet for > settle
            part.rename(root / "doc.pdf")
            await until(lambda: len(recorded(root / "doc.pdf")) == 1, 10, "doc.pdf")
            assert recorded(root / "doc.pdf") == [b"%PDF-1.7\n" + b"x" * 5000 + b"%%EOF\n"]
            await asyncio.sleep(0.8)
            assert len(RECORDED) == 1
        store.close()

    asyncio.run(main())


def test_rapid_rewrites_one_task(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        async with watching(spec_for(root), store) as (_w, _events):
            f = root / "often.txt"
            for i in range(50):
                f.write_text(f"version {i}\n")
            await until(lambda: len(recorded(f)) >= 1, 10, "the task")
            await asyncio.sleep(1.0)
            assert recorded(f) == [b"version 49\n"]
        store.close()

    asyncio.run(main())


def test_new_content_is_a_new_task_touch_is_not(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        async with watching(spec_for(root), store) as (w, events):
            f = root / "doc.txt"
            f.write_text("first\n")
            await until(lambda: len(recorded(f)) == 1, 10, "first version")
            os.utime(f)  # touched: new mtime, same content
            await until(lambda: len(kinds(events, "unchanged", f)) == 1, 30, "the touch")
            f.write_text("first\n")  # rewritten with the same bytes
            await until(lambda: len(kinds(events, "unchanged", f)) == 2, 30, "the rewrite")
            await asyncio.sleep(0.3)
            assert len(recorded(f)) == 1
            f.write_text("second\n")
            await until(lambda: len(recorded(f)) == 2, 10, "second version")
            assert recorded(f) == [b"first\n", b"second\n"]
        counts = store.task_counts(w.job_id)
        assert counts["done"] == 2
        store.close()

    asyncio.run(main())


def test_touch_while_its_task_runs_is_unchanged_not_an_output(tmp_path: Path) -> None:
    """The touch lands after the action read the file and before its task ended: the end
    of the task sees a changed file, yet the bytes are the known ones, so it is "unchanged"
    (this was a race that made the touch test hang on a loaded machine)."""
    root = tmp_path / "in"
    root.mkdir()

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        spec = spec_for(root, ActionSpec(name="watchtest-record-linger"))
        async with watching(spec, store) as (_w, events):
            f = root / "doc.txt"
            f.write_text("first\n")
            await until(lambda: len(recorded(f)) == 1, 10, "first version")
            os.utime(f)
            await until(lambda: kinds(events, "unchanged", f) or kinds(events, "output", f),
                        30, "the touch")
            assert kinds(events, "unchanged", f) and not kinds(events, "output", f)
        store.close()

    asyncio.run(main())


def test_deleted_before_start_is_skipped_with_reason(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        async with watching(spec_for(root), store) as (w, events):
            w.engine.pause()
            f = root / "gone.txt"
            f.write_text("soon deleted\n")
            await until(lambda: bool(kinds(events, "queued", f)), 10, "queued")
            task_id = kinds(events, "queued", f)[0].task_id
            assert task_id is not None
            f.unlink()
            w.engine.resume()
            await until(lambda: w.engine.snapshot().skipped == 1, 10, "the skip")
            store.flush()
            rec = store.get_task(task_id)
            assert rec.state == "skipped" and "vanished" in (rec.reason or "")
            assert RECORDED == []
        store.close()

    asyncio.run(main())


# ------------------------------------------------------------------------ nothing missed


def test_restart_picks_up_what_arrived_while_down_and_nothing_twice(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "old.txt").write_text("there before the first start\n")
    db = tmp_path / "w.db"

    async def session1() -> int:
        store = Store(db)
        async with watching(spec_for(root), store) as (w, events):
            await until(lambda: len(recorded(root / "old.txt")) == 1, 10, "old.txt")
            (root / "a.txt").write_text("a1\n")
            (root / "c.txt").write_text("c1\n")
            await until(lambda: len(RECORDED) == 3, 10, "a and c")
            w.engine.pause()  # d is queued but never runs in this session
            (root / "d.txt").write_text("d1\n")
            await until(lambda: bool(kinds(events, "queued", root / "d.txt")), 10, "d queued")
            job = w.job_id
        assert store.get_job(job).state == "interrupted"
        store.close()
        return job

    async def session2(job: int) -> None:
        store = Store(db)
        async with watching(spec_for(root), store) as (w, _events):
            assert w.job_id == job and w.leftover == 1
            await until(lambda: len(RECORDED) == 3, 10, "b, a's new version and d")
            await asyncio.sleep(1.0)
        assert sorted(p.rpartition("/")[2] for p, _ in RECORDED) == ["a.txt", "b.txt", "d.txt"]
        assert recorded(root / "a.txt") == [b"a2\n"]
        jobs = {j.id: j for j in store.list_jobs()}
        assert len(jobs) == 1 and jobs[job].counts["done"] == 6 and jobs[job].total == 6
        assert jobs[job].state == "done"
        store.close()

    job = asyncio.run(session1())
    assert sorted(p.rpartition("/")[2] for p, _ in RECORDED) == ["a.txt", "c.txt", "old.txt"]
    RECORDED.clear()
    # while tui-batch is not running: one new file, one changed, one deleted, one untouched
    (root / "b.txt").write_text("b1\n")
    (root / "a.txt").write_text("a2\n")
    (root / "c.txt").unlink()
    asyncio.run(session2(job))


def test_folder_moved_in_is_walked(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    outside = tmp_path / "batch"
    (outside / "sub").mkdir(parents=True)
    for i in range(5):
        (outside / "sub" / f"f{i}.txt").write_text(f"{i}\n")

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        async with watching(spec_for(root), store) as (_w, _events):
            outside.rename(root / "batch")
            await until(lambda: len(RECORDED) == 5, 10, "the moved files")
            await asyncio.sleep(0.6)
            assert len(RECORDED) == 5
        store.close()

    asyncio.run(main())


def test_filter_rules_and_exclusions_honoured(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "keep").mkdir(parents=True)
    (root / "build").mkdir()
    (root / "vendor").mkdir()
    (root / ".gitignore").write_text("vendor/\nsecret*.txt\n")

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        spec = spec_for(root, extensions=[".txt"], excludes=["build"], min_size=2)
        async with watching(spec, store) as (_w, _events):
            for rel, data in (("keep/yes.txt", "ok\n"), ("no.log", "wrong ext\n"),
                              ("build/no.txt", "excluded\n"), ("vendor/no.txt", "ignored\n"),
                              ("secret1.txt", "ignored\n"), (".hidden.txt", "hidden\n"),
                              ("tiny.txt", "x")):
                (root / rel).write_text(data)
            await until(lambda: len(RECORDED) >= 1, 10, "yes.txt")
            await asyncio.sleep(0.8)
            assert [p for p, _ in RECORDED] == [str(root / "keep/yes.txt")]
        store.close()

    asyncio.run(main())


@pytest.mark.slow
def test_burst_of_files_each_processed_exactly_once(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    n = 10_000

    def burst() -> None:
        for i in range(n):
            d = root / f"d{i // 500}"
            if i % 500 == 0:
                d.mkdir()
            (d / f"f{i:05d}.txt").write_text(f"file {i}\n")

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        async with watching(spec_for(root), store, settle=0.5, retain_finished=300) as (w, _ev):
            await asyncio.to_thread(burst)
            await until(lambda: w.engine.snapshot().done >= n, 60, "every file")
            await asyncio.sleep(1.5)  # and nothing more (the burst rescan included)
            st = w.engine.snapshot()
            assert (st.done, st.total, st.failed, st.skipped) == (n, n, 0, 0)
            assert len(w.engine.tasks) <= 300  # finished tasks are not all kept
            assert w.settling == 0 and not w._pending  # the settle table empties
            job = w.job_id
        paths = [p for p, _ in RECORDED]
        assert len(paths) == n and len(set(paths)) == n
        assert store.task_counts(job)["done"] == n
        store.close()

    asyncio.run(main())


# --------------------------------------------------------------------- outputs are no inputs


def test_out_folder_inside_the_watched_folder(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    out = root / "converted"

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        async with watching(spec_for(root, ActionSpec(name="copy"), out=out), store) as (w, _):
            for i in range(3):
                (root / f"f{i}.txt").write_text(f"{i}\n")
            await until(lambda: w.engine.snapshot().done == 3, 10, "the copies")
            await asyncio.sleep(1.0)
            assert w.engine.snapshot().total == 3
        assert sorted(os.listdir(out)) == ["f0.txt", "f1.txt", "f2.txt"]
        store.close()

    asyncio.run(main())


def test_outputs_beside_inputs_and_in_place_edits_do_not_retrigger(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        # writes a sibling "<name>.bak" and appends to its input: both are the action's own
        sibling = ActionSpec(template="cp {} {}.bak")
        async with watching(spec_for(root, sibling), store) as (w, events):
            (root / "a.txt").write_text("a\n")
            await until(lambda: w.engine.snapshot().done == 1, 10, "a.txt")
            await asyncio.sleep(1.2)
            assert w.engine.snapshot().total == 1
            assert (root / "a.txt.bak").exists() and not (root / "a.txt.bak.bak").exists()
            assert kinds(events, "output", root / "a.txt.bak")
        async with watching(spec_for(root, ActionSpec(
                template="echo processed >> {}", shell=True), extensions=[".log"]),
                store) as (w, events):
            (root / "b.log").write_text("b\n")
            await until(lambda: w.engine.snapshot().done == 1, 10, "b.log")
            await asyncio.sleep(1.2)
            assert w.engine.snapshot().total == 1
            assert (root / "b.log").read_text() == "b\nprocessed\n"
        store.close()

    asyncio.run(main())


# ------------------------------------------------------------------------- robustness


def test_same_watch_twice_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    store = Store(tmp_path / "w.db")
    w = Watcher(spec_for(root), store)
    try:
        with pytest.raises(InputError) as info:
            Watcher(spec_for(root), store)
        assert info.value.field == "--watch-id"
        other = Watcher(spec_for(root), store, watch_id="second")
        asyncio.run(other.aclose())
    finally:
        asyncio.run(w.aclose())
        store.close()


class _LimitedWatcher(Watcher):
    """The first OS watch fails the way watchfiles reports an exhausted inotify limit."""

    refused = 0

    def _open_watch(self, polling: bool) -> Any:
        if not polling:
            type(self).refused += 1
            raise OSError("OS file watch limit reached. (Error { kind: MaxFilesWatch })")
        return super()._open_watch(polling)


def test_watch_limit_falls_back_to_polling(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        async with watching(spec_for(root), store, cls=_LimitedWatcher, poll_delay_ms=100) as (
                w, events):
            assert w.mode == "polling" and _LimitedWatcher.refused == 1
            assert any("polling" in e.message for e in kinds(events, "warning"))
            (root / "p.txt").write_text("polled\n")
            await until(lambda: recorded(root / "p.txt") == [b"polled\n"], 10, "p.txt")
        store.close()

    asyncio.run(main())


def test_watched_folder_removed_and_recreated(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        async with watching(spec_for(root), store) as (_w, events):
            (root / "first.txt").write_text("1\n")
            await until(lambda: len(RECORDED) == 1, 10, "first.txt")
            shutil.rmtree(root)
            await until(lambda: bool(kinds(events, "warning")), 10, "the warning")
            root.mkdir()
            await until(lambda: any("back" in e.message for e in kinds(events, "warning")),
                        10, "watching again")
            (root / "second.txt").write_text("2\n")
            await until(lambda: len(recorded(root / "second.txt")) == 1, 10, "second.txt")
        store.close()

    asyncio.run(main())


def test_undecodable_name_does_not_stop_the_watch(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    bad = os.path.join(os.fsencode(root), b"caf\xe9.txt")  # Latin-1, not UTF-8

    async def main() -> None:
        store = Store(tmp_path / "w.db")
        async with watching(spec_for(root), store) as (_w, events):
            with open(bad, "wb") as f:
                f.write(b"latin-1 name\n")
            await until(lambda: recorded(os.fsdecode(bad)) == [b"latin-1 name\n"], 15,
                        "the file with the undecodable name")
            assert any("restarting" in e.message for e in kinds(events, "warning"))
            (root / "next.txt").write_text("still watching\n")
            await until(lambda: len(recorded(root / "next.txt")) == 1, 10, "next.txt")
        store.close()

    asyncio.run(main())


def test_watch_state_forgets_moved_away_folders(tmp_path: Path) -> None:
    Store(tmp_path / "w.db").close()
    with WatchState(str(tmp_path / "w.db")) as st:
        wid, job = st.open_watch("id:x", "x")
        assert job is None
        from tui_batch.store import SeenRow

        st.record(wid, [SeenRow(p, 1, 1) for p in ("/r/d/a", "/r/d/b/c", "/r/d0", "/r/e")])
        assert st.forget(wid, ["/r/d"], subtree=True) == 2
        assert sorted(st.lookup(wid, ["/r/d/a", "/r/d0", "/r/e"])) == ["/r/d0", "/r/e"]


# ---------------------------------------------------------------------- the real command


def test_cli_sigterm_finishes_running_task_and_exits_0(tmp_path: Path,
                                                      cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    root.mkdir()
    proc, lines = _start_cli([str(root), "--settle", "0.3", "--shell", "--exec",
                              "touch {}.started; sleep 1; echo ok > {}.finished"], cli_env)
    try:
        _wait(lambda: any(x.get("kind") == "watching" for x in lines), 15, "watching")
        (root / "job.txt").write_text("work\n")
        _wait(lambda: (root / "job.txt.started").exists(), 10, "the task to start")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        proc.kill()
    _wait(lambda: any(x.get("event") == "summary" for x in lines), 5, "the summary")
    assert (root / "job.txt.finished").exists()  # the running task was let finish
    summary = next(x for x in lines if x.get("event") == "summary")
    assert summary["exit_code"] == 0 and summary["done"] == 1
    done = [x for x in lines if x.get("event") == "task" and x.get("state") == "done"]
    assert [x["path"] for x in done] == [str(root / "job.txt")]


def test_cli_sighup_stop_then_restart_runs_the_stopped_task(tmp_path: Path,
                                                            cli_env: dict[str, str]) -> None:
    root = tmp_path / "in"
    root.mkdir()
    # --watch-id: the restart changes the command yet keeps the watch (its state and job)
    args = [str(root), "--settle", "0.3", "--on-stop", "stop", "--watch-id", "inbox",
            "--shell", "--exec", "touch {}.started; sleep 30"]
    proc, lines = _start_cli(args, cli_env)
    try:
        _wait(lambda: any(x.get("kind") == "watching" for x in lines), 15, "watching")
        (root / "long.txt").write_text("work\n")
        _wait(lambda: (root / "long.txt.started").exists(), 10, "the task to start")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(15) == 0
        assert time.monotonic() - t0 < 10  # stopped, not waited for
    finally:
        proc.kill()
    (root / "long.txt.started").unlink()
    proc, lines = _start_cli([*args[:-1], "touch {}.started; echo again"], cli_env)
    try:
        _wait(lambda: any(x.get("event") == "task" and x.get("state") == "done"
                          for x in lines), 15, "the task to run again")
        watching_line = next(x for x in lines if x.get("kind") == "watching")
        assert watching_line["resumed"] and watching_line["leftover"] == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        proc.kill()
    jobs = subprocess.run([*tui_batch_cmd(), "jobs", "--json"], env=cli_env,
                          capture_output=True, text=True, check=True)
    rows = [json.loads(x) for x in jobs.stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["counts"]["done"] == 1 and rows[0]["total"] == 1


def test_cli_bad_settle_is_a_one_line_usage_error(tmp_path: Path,
                                                  cli_env: dict[str, str]) -> None:
    proc = subprocess.run([*tui_batch_cmd(), "watch", str(tmp_path), "--settle", "-1",
                           "--exec", "true"], env=cli_env, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "tui-batch: error: --settle: must be 0 or more seconds"
    ]
