"""Jobs in the store: file jobs and a Batch's call jobs; open, resume or delete one.

The list is re-read every few seconds (another ``tui-batch run`` or a Batch in a plugin host
may be writing to the same store) in a thread, in a few queries whatever the number of jobs
(:mod:`..jobs_board`). Each job shows its kind (``call`` or ``files``), its group and, when it
waits, what for (``waiting for #6``); the lines under the table say more about the highlighted
one (its links and their states, which job a ``dependency failed`` one needed). Enter opens a
file job's dashboard, or a call job's detail (:mod:`..dialogs.call_job`). A job another process
holds is shown with that process's pid; a running one opens attached (Enter), `r` un-pauses it
through its socket (:mod:`..jobs_live`), and Delete is never offered on a running job.
``/`` narrows the list to the jobs whose id, name, function, roots, state or group match.
"""

from __future__ import annotations

import os
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, Static

from ...errors import ControlError, InputError
from ..jobs_board import CALL, UNSTARTED, Board, JobRow, live_jobs, load_board
from ..jobs_cells import (
    COLUMNS,
    STATE_STYLE,
    detail_markup,
    held_notice,
    job_cell,
    resume_elsewhere_notice,
)
from ..jobs_live import LiveAnswer, live_snapshots, resume_live, serves_control
from ..navigation import navigator
from ..run_lock import holding_run_lock, runner_of
from ..widgets.filter_bar import FilterBar
from ..widgets.key_footer import KeyFooter
from ..widgets.virtual_table import Cell, VirtualTable

__all__ = ["COLUMNS", "STATE_STYLE", "JobsScreen", "job_cell"]


def _text(value: str) -> str:
    return value.encode("utf-8", "replace").decode("utf-8")


def _group_order(row: JobRow) -> tuple[int, int]:
    return (row.group.id if row.group is not None else -1, row.id)


class JobsScreen(Screen[None]):
    """Every job in the store, newest first."""

    HELP_TITLE: ClassVar[str] = "Jobs"
    """This screen's section in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: the table's own Enter (show=False) would hide this one from the footer.
        Binding("enter", "open", "Open", priority=True),
        Binding("r", "resume", "Resume"),
        Binding("n", "new", "New job"),
        Binding("d,delete", "delete", "Delete"),
        # The same keys on a job that runs: not offered, but the key says why not.
        Binding("d,delete", "delete(True)", "Delete", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", key_display="Esc"),
        Binding("escape", "back", "Back", key_display="Esc"),
        Binding("g", "reload", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.board = Board()
        """The jobs last read, with their groups, links and liveness."""
        self.jobs: list[JobRow] = []
        """The rows last loaded, newest first (``board.rows``)."""
        self.holders: dict[int, int | None] = {}
        """Jobs some process holds (run lock, or Batch host) and its pid, as of the last read."""
        self.name_filter = ""
        """The ``/`` filter text ("" shows every job)."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="jobs-box"):
            yield FilterBar(
                placeholder="job id, name, function, folder, state or group…", id="jobs-filter"
            )
            yield VirtualTable(
                COLUMNS,
                self._cell,
                sort_keys={
                    "id": lambda j: j.id,
                    "created": lambda j: j.created_at,
                    "counts": lambda j: j.total,
                    "group": _group_order,
                },
                id="jobs",
            )
        yield Static("", id="job-detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "jobs"
        self.query_one("#jobs-box").border_title = "Jobs"
        table = self.query_one("#jobs", VirtualTable)
        table.empty_text = "no jobs yet: press n to build one"
        table.focus()
        self.reload()
        self.set_interval(3.0, self.reload, name="jobs-reload")
        self.set_interval(1.0, self.refresh_live, name="jobs-live")

    def on_screen_resume(self) -> None:
        self.reload()

    def _cell(self, job: JobRow, key: str) -> Cell:
        if key == "created":
            return job_cell(job, key, navigator(self).clock.time())
        return job_cell(job, key)

    def action_reload(self) -> None:
        """Read the job list again now (it is re-read every 3 seconds anyway)."""
        self.reload()

    @work(thread=True, exclusive=True, group="jobs")
    def reload(self) -> None:
        """Read the job list in a thread (SQLite, and the lock files that say who runs what)."""
        try:
            board = load_board(navigator(self).store)
        except Exception as exc:  # a locked or broken store must not kill the screen
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show_board, board)

    def _show_board(self, board: Board) -> None:
        if not self.is_attached:
            return
        for row in live_jobs(board.rows):  # keep the live counts until the next snapshot
            old = self.board.by_id.get(row.id)
            if old is not None and old.live is not None:
                row.set_live(old.live)
        self.board, self.jobs, self.holders = board, board.rows, board.holders()
        table = self.query_one("#jobs", VirtualTable)
        keep = table.cursor_item.id if table.cursor_item is not None else None
        table.set_rows(board.rows)
        if keep is not None:
            for i, job in enumerate(table.view_items()):
                if job.id == keep:
                    table.move_cursor(i)
                    break
        self._show_title()
        self._show_detail()
        self.refresh_bindings()

    @work(thread=True, exclusive=True, group="jobs-live")
    def refresh_live(self) -> None:
        """Once a second: each running job's counts, paused and workers from its control
        socket (in a thread: a connection and a request per running job)."""
        rows = live_jobs(self.jobs)
        if rows:
            snaps = live_snapshots(navigator(self).store.path, rows)
            self.app.call_from_thread(self._show_live, rows, snaps)

    def _show_live(self, rows: list[JobRow], snaps: dict[int, dict[str, object]]) -> None:
        if not self.is_attached:
            return
        for row in rows:
            row.set_live(snaps.get(row.id))
        self.query_one("#jobs", VirtualTable).refresh_rows()
        self._show_detail()

    def _show_title(self) -> None:
        table = self.query_one("#jobs", VirtualTable)
        shown = table.row_count
        calls = sum(1 for j in self.jobs if j.kind == CALL)
        of = f", {calls} call" if calls else ""
        if self.name_filter:
            title = f"Jobs ({shown} of {len(self.jobs)} match “{_text(self.name_filter)}”)"
            table.empty_text = "no job matches the filter: Esc clears it"
        else:
            title = f"Jobs ({len(self.jobs)}{of})"
            table.empty_text = "no jobs yet: press n to build one"
        self.query_one("#jobs-box").border_title = title

    # ------------------------------------------------------------------ filter
    def action_filter(self) -> None:
        """Show only the jobs whose id, name, function, folder, state or group match."""
        self.query_one(FilterBar).open()

    def on_filter_bar_changed(self, event: FilterBar.Changed) -> None:
        self.name_filter = event.text
        matches = event.bar.matcher()
        table = self.query_one("#jobs", VirtualTable)
        table.set_filter((lambda job: matches(job.haystack())) if event.text else None)
        self._show_title()
        self._show_detail()
        self.refresh_bindings()

    @on(VirtualTable.CursorMoved, "#jobs")
    def _show_detail(self) -> None:
        detail = self.query_one("#job-detail", Static)
        detail.update(detail_markup(self.board, self.selected(), navigator(self).clock.time()))
        self.refresh_bindings()

    @on(VirtualTable.Selected, "#jobs")
    def _selected(self) -> None:
        self.action_open()

    def selected(self) -> JobRow | None:
        """The highlighted job, or None."""
        return self.query_one("#jobs", VirtualTable).cursor_item

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        job = self.selected()
        if action == "clear_filter":
            return self._has_filter()
        if action == "back":
            return not self._has_filter() and self._came_from_a_screen()
        if action == "open" and self._typing_filter():
            return False  # Enter in the filter bar keeps the filter
        if action == "filter":
            return True
        if action == "open":
            return job is not None
        if action == "delete":  # never offered on a job that runs; the hidden key says why
            busy = job is not None and (job.held or job.running)
            return busy if parameters else job is not None and not busy
        if action == "resume":  # a job some process runs, or a call job: the key says why not
            if job is None:
                return False
            if job.kind == CALL:
                return not job.final
            return job.resumable() or job.held
        return True

    def refuse_if_running(self, job: JobRow, doing: str) -> bool:
        """Tell the user (and return True) when another process holds ``job`` right now.

        Checked at the key press, not from the last reload: a run may have started since."""
        running, pid = runner_of(navigator(self).store, job)
        if not running:
            return False
        self.holders[job.id] = pid
        job.held, job.pid = True, pid
        self._show_detail()
        self._say_held(job, doing)
        return True

    def _say_held(self, job: JobRow, doing: str) -> None:
        text, title = held_notice(job, doing)
        self.notify(text, severity="error", title=title)

    def _dashboard(self, autostart: bool) -> None:
        job = self.selected()
        if job is None:
            return
        if self.refuse_if_running(job, "resumed" if autostart else "opened"):
            return
        navigator(self).open_dashboard(job.id, autostart=autostart)

    def action_open(self) -> None:
        """Show a file job's dashboard (runs nothing until Start), or a call job's detail."""
        job = self.selected()
        if job is None:
            return
        if job.kind == CALL:
            from ..dialogs.call_job import CallJobDialog

            self.app.push_screen(CallJobDialog(navigator(self).store, job.id, self.board))
            return
        self.open_file_job(job)

    @work(thread=True, exclusive=True, group="jobs-open")
    def open_file_job(self, job: JobRow) -> None:
        """A job running in another process opens attached (its live dashboard, whose keys
        control it); any other one opens as stored (runs nothing until Start)."""
        served = serves_control(navigator(self).store.path, job.id)
        self.app.call_from_thread(self._open_file_job, job, served)

    def _open_file_job(self, job: JobRow, served: bool) -> None:
        if not self.is_current:
            return
        if served:
            navigator(self).open_attached(job.id)
        else:
            self._dashboard(autostart=False)

    def action_resume(self) -> None:
        """Finish an interrupted file job: done tasks are not run again; un-pause a paused
        one that runs (in any process, through its socket). (A call job is resumed by its
        Batch or `tui-batch resume`: the key says so.)"""
        job = self.selected()
        if job is None:
            return
        if job.kind == CALL or (job.scheduled and job.state in UNSTARTED):
            self._say_resume_elsewhere(job)
            return
        if job.held and job.running:
            self.resume_running(job)
            return
        self._dashboard(autostart=True)

    @work(thread=True, exclusive=True, group="jobs-resume")
    def resume_running(self, job: JobRow) -> None:
        """`r` on a job that runs elsewhere: un-pause it there, as `tui-batch resume` does."""
        try:
            answer = resume_live(navigator(self).store.path, job.id)
        except (ControlError, OSError) as exc:
            answer = (f"Job {job.id}: {exc}", "Not resumed", None)
        self.app.call_from_thread(self._resumed_running, job, answer)

    def _resumed_running(self, job: JobRow, answer: LiveAnswer | None) -> None:
        if not self.is_attached:
            return
        if answer is None:  # it ended since the list was read: resume it as a stopped job
            return self._dashboard(autostart=True)
        text, title, snapshot = answer
        if snapshot is not None:
            self._show_live([job], {job.id: snapshot})
        self.notify(text, title=title, severity="information" if snapshot else "error")

    def _say_resume_elsewhere(self, job: JobRow) -> None:
        text, title, severity = resume_elsewhere_notice(job)
        self.notify(text, title=title, severity=severity, timeout=8)

    def action_delete(self, refused: bool = False) -> None:
        """Delete a job and its history, after confirmation (never a job that runs)."""
        from ..dialogs.confirm import ConfirmDialog

        job = self.selected()
        if job is None:
            return
        if refused:
            self._say_held(job, "deleted")
            return
        if self.refuse_if_running(job, "deleted"):
            return

        def answer(yes: bool | None) -> None:
            if yes:
                store = navigator(self).store
                try:
                    # Holding the run lock while deleting: no process can start the job
                    # between the check and the delete.
                    with holding_run_lock(store, job.id):
                        store.delete_job(job.id)
                except InputError as exc:
                    self.notify(
                        f"Not deleted: {exc.message}.", severity="error", title="Job is running"
                    )
                except Exception as exc:
                    self.notify(str(exc), severity="error")
                else:
                    self.notify(f"Deleted job {job.id}", timeout=2)
                self.reload()

        if job.kind == CALL:
            what = "Its arguments, result or error and its history are removed."
        else:
            what = f"Its {job.total:,} tasks and their history are removed. Files are not touched."
        waiting = self.board.waiting_dependents(job.id)
        if waiting:
            ids = ", ".join(f"#{j}" for j in waiting)
            what += f" {ids} run{'s' if len(waiting) == 1 else ''} after it: they will no " \
                    "longer wait for it."
        self.app.push_screen(
            ConfirmDialog(f"Delete job {job.id}?", what, yes="Delete", danger=True), answer
        )

    def action_new(self) -> None:
        """Build a new job in the form."""
        navigator(self).open_form(root=os.getcwd())

    def _typing_filter(self) -> bool:
        return self.is_mounted and self.query_one(FilterBar).input.has_focus

    def on_filter_bar_closed(self) -> None:
        self.refresh_bindings()

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()  # Open is off while the filter bar has the focus

    def _has_filter(self) -> bool:
        return self.is_mounted and self.query_one(FilterBar).active

    def _came_from_a_screen(self) -> bool:
        # The stack's first screen is Textual's blank default one.
        return len(self.app.screen_stack) > 2 and self.app.screen_stack[-1] is self

    def action_clear_filter(self) -> None:
        """Show every job again (the filter is cleared and hidden)."""
        self.query_one(FilterBar).close()

    def action_back(self) -> None:
        """Back to where the jobs list was opened from (nothing on the first screen)."""
        if self._came_from_a_screen():
            self.app.pop_screen()
