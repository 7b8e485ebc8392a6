"""The jobs screen with a Batch's call jobs (issue 10) and no delete on a running job (issue 11):
kind, group and what a waiting job waits for; the chain behind a dependency failure; the call
job detail dialog (result as JSON, error and traceback); resume and delete refused with a reason.
Jobs are made with tui_batch.Batch in the test (functions by reference from tests/call_jobs.py);
a gated job (a threading.Event) keeps its host busy, so nothing here depends on timing."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import call_jobs
import pytest
from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets._footer import FooterKey
from ui_support import app_for, make_tree, new_job, spec_for, wait_until

from tui_batch import Batch
from tui_batch.store import Store
from tui_batch.ui.app import BatchApp
from tui_batch.ui.dialogs.call_job import CallJobDialog
from tui_batch.ui.dialogs.confirm import ConfirmDialog
from tui_batch.ui.jobs_board import JobRow, load_board
from tui_batch.ui.screens.jobs import JobsScreen, job_cell
from tui_batch.ui.widgets.columns import cell_text
from tui_batch.ui.widgets.virtual_table import VirtualTable

pytestmark = pytest.mark.anyio

SIZE = (80, 24)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def jobs_ready(pilot: Pilot[Any], count: int) -> JobsScreen:
    app = pilot.app
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, JobsScreen) and len(app.screen.jobs) == count,
        what=f"{count} jobs",
    )
    screen = app.screen
    assert isinstance(screen, JobsScreen)
    return screen


def cell(screen: JobsScreen, job_id: int, key: str) -> str:
    row = next(r for r in screen.jobs if r.id == job_id)
    return cell_text(job_cell(row, key))


async def highlight(pilot: Pilot[Any], screen: JobsScreen, job_id: int) -> JobRow:
    table = screen.query_one("#jobs", VirtualTable)
    ids = [r.id for r in table.view_items()]
    table.move_cursor(ids.index(job_id))
    await pilot.pause()
    row = screen.selected()
    assert row is not None and row.id == job_id
    return row


def info(screen: JobsScreen) -> str:
    return str(screen.query_one("#job-detail", Static).render())


def notes(app: BatchApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def footer(screen: Any) -> list[str]:
    return [str(k.description) for k in screen.query(FooterKey)]


async def footer_shows(pilot: Pilot[Any], screen: Any, *keys: str, not_: tuple[str, ...] = ()
                       ) -> None:
    """Wait for the footer to redraw with ``keys`` and without ``not_`` (fails if it never
    does)."""
    await wait_until(pilot, lambda: all(k in footer(screen) for k in keys)
                     and not any(k in footer(screen) for k in not_),
                     what=f"footer with {keys}, without {not_}: {footer(screen)}")


def running(job: Any) -> None:
    deadline = time.monotonic() + 10
    while job.state != "running":
        assert time.monotonic() < deadline, job.state
        time.sleep(0.005)


async def test_board_shows_kind_group_and_what_each_job_waits_for(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    files = new_job(db, spec_for(make_tree(tmp_path / "t", 2), "sleep", seconds="0"))
    gate = threading.Event()
    with Batch(db=db, workers=2) as batch:
        try:
            ok = batch.submit_call(call_jobs.add, (1, 2), name="adder")
            bad = batch.submit_call("math:sqrt", (-1,))
            assert ok.wait(10) == "done" and bad.wait(10) == "failed"
            dep = batch.submit_call(call_jobs.add, (3, 4), after=[bad], name="needs sqrt")
            leaf = batch.submit_call(call_jobs.add, (5, 6), after=[dep])
            steps = batch.group("steps", sequential=True)
            first = batch.submit_call(gate.wait, (30,), group=steps, name="first step")
            second = batch.submit_call(call_jobs.add, (7, 8), group=steps, name="second step")
            later = batch.submit_call(call_jobs.echo, ("x",), after=[second])
            fan = batch.group("fan", cancel_on_failure=True)
            wide = batch.submit_call(call_jobs.add, (0, 0), group=fan)
            assert leaf.wait(10) == "dependency failed" and wide.wait(10) == "done"
            running(first)
            app = app_for(db, start="jobs")
            async with app.run_test(size=SIZE) as pilot:
                screen = await jobs_ready(pilot, 9)
                # The host is alive and holds every job: only the running one says so.
                assert cell(screen, first.id, "state") == "running"
                assert cell(screen, ok.id, "state") == "done"
                assert cell(screen, second.id, "state") == f"waiting for #{first.id}"
                assert cell(screen, later.id, "state") == f"waiting for #{second.id}"
                assert cell(screen, leaf.id, "state") == "dependency failed"
                assert cell(screen, second.id, "group") == "steps (seq)"
                assert cell(screen, wide.id, "group") == "fan (par)"
                assert cell(screen, ok.id, "group") == ""
                assert cell(screen, second.id, "kind") == "call"
                assert cell(screen, files, "kind") == "files"
                assert cell(screen, ok.id, "action") == "adder: call_jobs:add"

                await highlight(pilot, screen, leaf.id)
                assert (f"dependency failed: job {dep.id} (needs sqrt) could not run ← "
                        f"job {bad.id} (sqrt) failed: ValueError: math domain error"
                        ) in info(screen)
                await highlight(pilot, screen, second.id)
                text = info(screen)
                assert "call_jobs:add(7, 8)" in text
                assert "group steps (sequential), 2 of 2" in text
                assert f"waiting for job {first.id}" in text and "'steps'" in text
                await highlight(pilot, screen, wide.id)
                assert "group fan (parallel), 1 of 1, cancel on failure" in info(screen)
                await highlight(pilot, screen, later.id)
                assert f"after #{second.id} waiting" in info(screen)

                await pilot.press("slash", *"steps")  # the group's name, and the reasons
                await pilot.pause()
                shown = {r.id for r in screen.query_one("#jobs", VirtualTable).view_items()}
                assert shown == {first.id, second.id}
                await pilot.press("escape")
                await pilot.press("slash", *"needs")  # a job's name
                await pilot.pause()
                shown = {r.id for r in screen.query_one("#jobs", VirtualTable).view_items()}
                assert shown == {dep.id}
        finally:
            gate.set()


async def test_enter_on_a_call_job_shows_its_result_or_its_traceback(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    files = new_job(db, spec_for(make_tree(tmp_path / "t", 2), "sleep", seconds="0"))
    with Batch(db=db) as batch:
        res = batch.submit_call(call_jobs.echo, ({"items": [1, 2], "name": "x"},), name="echo")
        bad = batch.submit_call("call_jobs:fail", ("bad input",), priority="high")
        assert res.wait(10) == "done" and bad.wait(10) == "failed"
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await jobs_ready(pilot, 3)
        await highlight(pilot, screen, res.id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CallJobDialog)
                         and app.screen.loaded, what="the detail")
        dialog = app.screen
        assert isinstance(dialog, CallJobDialog)
        outcome = str(dialog.query_one("#call-job-outcome", Static).render())
        assert '"items": [\n    1,\n    2\n  ],' in outcome  # indented JSON
        facts = " ".join(str(s.render()) for s in dialog.query(".fact").results(Static))
        assert "call_jobs:echo" in facts and "done" in facts and "1 of 1" in facts
        assert "Result (JSON)" in str(dialog.query_one("#call-job-outcome-title").render())
        assert "Esc Close" in " ".join(f"{k.key_display} {k.description}"
                                       for k in dialog.query(FooterKey))
        await pilot.press("escape")
        assert app.screen is screen

        await highlight(pilot, screen, bad.id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CallJobDialog)
                         and app.screen.loaded, what="the detail")
        dialog = app.screen
        assert isinstance(dialog, CallJobDialog)
        outcome = str(dialog.query_one("#call-job-outcome", Static).render())
        assert outcome.startswith("ValueError: bad input\n\nTraceback")
        assert "call_jobs.py" in outcome and "in fail" in outcome
        facts = " ".join(str(s.render()) for s in dialog.query(".fact").results(Static))
        assert "high" in facts and '("bad input")' in facts
        await pilot.press("end")  # the traceback's last frame, scrolled to
        await pilot.press("escape")
        assert app.screen is screen
        assert cell(screen, files, "kind") == "files"  # Enter: its dashboard (test_ui_flows)


async def test_resume_and_delete_say_why_not(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    gate = threading.Event()
    with Batch(db=db, workers=2) as batch:
        try:
            done = batch.submit_call(call_jobs.add, (1, 1))
            assert done.wait(10) == "done"
            busy = batch.submit_call(gate.wait, (30,), name="busy")
            behind = batch.submit_call(call_jobs.add, (2, 2), after=[busy])
            running(busy)
            app = app_for(db, start="jobs")
            async with app.run_test(size=SIZE) as pilot:
                screen = await jobs_ready(pilot, 3)
                await highlight(pilot, screen, busy.id)
                # never offered on a running job
                await footer_shows(pilot, screen, "Resume", "Open", not_=("Delete",))
                before = len(notes(app))
                await pilot.press("d")
                await pilot.pause()
                assert isinstance(app.screen, JobsScreen)  # no "Delete job?" question
                await pilot.press("r")
                await pilot.pause()
                assert isinstance(app.screen, JobsScreen)  # no dashboard either
                said = notes(app)[before:]
                assert len(said) == 2, said
                assert f"Job {busy.id} is running in" in said[0]
                assert said[1].startswith(f"Job {busy.id} is a Python call job, run by its Batch")
                assert ("resume it from its host (Batch.resume_unfinished) or with "
                        f"`tui-batch resume {busy.id}`") in said[1]

                await highlight(pilot, screen, done.id)  # ended, but its Batch is open
                await footer_shows(pilot, screen, "Open", not_=("Delete", "Resume"))
                await pilot.press("d")
                await pilot.pause()
                assert not isinstance(app.screen, ConfirmDialog)
                assert "belongs to a Batch that is open" in notes(app)[-1]
        finally:
            gate.set()
    # Its host gone, the job left waiting is resumable, from its host or the CLI only.
    with Store(str(db)) as store:
        board = load_board(store)
    assert not board.by_id[behind.id].held
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await jobs_ready(pilot, 3)
        await highlight(pilot, screen, done.id)
        await footer_shows(pilot, screen, "Delete")  # nobody holds it now
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
        await pilot.press("n")


async def test_a_waiting_job_left_by_a_closed_batch(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    gate = threading.Event()
    batch = Batch(db=db)
    try:
        stuck = batch.submit_call(gate.wait, (30,))  # in-process: it cannot run again
        left = batch.submit_call(call_jobs.add, (1, 2), after=[stuck], name="left")
        running(stuck)
        batch.close(grace=0.05)
    finally:
        gate.set()
    app = app_for(db, start="jobs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await jobs_ready(pilot, 2)
        assert cell(screen, left.id, "state") == f"waiting for #{stuck.id} ↺"
        assert cell(screen, stuck.id, "state") == "interrupted"  # no ↺: not resumable
        await highlight(pilot, screen, stuck.id)
        assert "not resumable: not an importable function" in info(screen)
        await pilot.press("r")
        await pilot.pause()
        assert "cannot run again" in notes(app)[-1]
        await pilot.press("d")  # the stuck one: a job waits for it, and the question says so
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
        body = str(app.screen.query_one(".dialog-body", Static).render())
        assert f"#{left.id} runs after it: they will no longer wait for it" in body
        await pilot.press("n")
        await highlight(pilot, screen, left.id)
        assert f"tui-batch resume {left.id}" in info(screen)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, JobsScreen)
        assert notes(app)[-1] == (
            f"Job {left.id} is a Python call job: resume it from its host "
            f"(Batch.resume_unfinished) or with `tui-batch resume {left.id}`.")
        await footer_shows(pilot, screen, "Delete", "Resume")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: len(screen.jobs) == 1, what="deleted")
