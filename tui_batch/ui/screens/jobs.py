"""Jobs in the store: open one's dashboard, resume an unfinished one, delete one.

The list is re-read every few seconds (another ``tui-batch run`` may be writing to the same
store) in a thread, because ``list_jobs`` is a SQLite query. A job another process is running
(its run lock is held) is shown with that process's pid and can be neither opened, resumed
nor deleted here: deleting it would pull the job from under the running process.
``/`` narrows the list to the jobs whose id, name, roots, action or state match.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, Static

from ...errors import InputError
from ...model import ActionSpec
from ...store import effective_counts, effective_state
from .. import format as fmt
from ..navigation import navigator
from ..run_lock import describe_runner, holding_run_lock, runner_of
from ..widgets.filter_bar import FilterBar
from ..widgets.key_footer import KeyFooter
from ..widgets.virtual_table import Cell, Column, VirtualTable

STATE_STYLE = {
    "done": "ok",
    "failed": "bad",
    "running": "run",
    "interrupted": "warn",
    "cancelled": "warn",
    "created": "dim",
    "paused": "warn",
}

COLUMNS = [
    Column("id", "Job", 5, align="right"),
    Column("created", "Created", 16),
    Column("state", "State", 13),
    Column("roots", "Roots", 0, min_width=10, keep_tail=True),
    Column("action", "Action", 0, min_width=10),
    Column("counts", "Done/Fail/Total", 17, align="right", hide_below=72),
]


def _text(value: str) -> str:
    return value.encode("utf-8", "replace").decode("utf-8")


def resumable(job: Any) -> bool:
    """Has tasks left to run (queued, or interrupted by a crash / quit)."""
    c = job.counts
    return c.get("queued", 0) + c.get("interrupted", 0) + c.get("running", 0) > 0


def job_roots(job: Any) -> str:
    """The job's roots as shown (``~`` for the home folder)."""
    roots = (job.spec.get("filter") or {}).get("roots") or []
    home = os.path.expanduser("~")
    shown = [("~" + r[len(home) :]) if r.startswith(home + os.sep) else r for r in roots]
    return _text(" ".join(shown))


def job_label(job: Any) -> str:
    """The job's name (if any) and its action, as the Action column shows them."""
    try:
        label = ActionSpec(**(job.spec.get("action") or {})).label
    except TypeError:
        label = "?"
    return _text(job.name + ": " + label if job.name else label)


def job_haystack(job: Any) -> str:
    """What ``/`` matches a job against: ``#id``, name, action, roots and state."""
    return f"#{job.id} {job_label(job)} {job_roots(job)} {job.state}"


def job_cell(job: Any, key: str, now: float | None = None) -> Cell:
    """Cell text for a JobSummary."""
    if key == "id":
        return str(job.id)
    if key == "created":
        return fmt.timestamp(job.created_at) if now is None else fmt.ago(job.created_at, now)
    if key == "state":  # ↺: resumable, which a job that runs now is not
        more = " ↺" if resumable(job) and job.state != "running" else ""
        return (job.state + more, STATE_STYLE.get(job.state, ""))
    if key == "roots":
        return job_roots(job)
    if key == "action":
        return job_label(job)
    if key == "counts":
        c = job.counts
        return f"{c.get('done', 0):,}/{c.get('failed', 0):,}/{job.total:,}"
    return ""


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
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", key_display="Esc"),
        Binding("escape", "back", "Back", key_display="Esc"),
        Binding("g", "reload", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[Any] = []
        """The JobSummary rows last loaded."""
        self.holders: dict[int, int | None] = {}
        """Jobs some process is running (run lock held) and its pid, as of the last reload."""
        self.name_filter = ""
        """The ``/`` filter text ("" shows every job)."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="jobs-box"):
            yield FilterBar(placeholder="job id, name, action, folder or state…", id="jobs-filter")
            yield VirtualTable(
                COLUMNS,
                self._cell,
                sort_keys={
                    "id": lambda j: j.id,
                    "created": lambda j: j.created_at,
                    "counts": lambda j: j.total,
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

    def on_screen_resume(self) -> None:
        self.reload()

    def _cell(self, job: Any, key: str) -> Cell:
        if key == "created":
            return job_cell(job, key, navigator(self).clock.time())
        return job_cell(job, key)

    def action_reload(self) -> None:
        """Read the job list again now (it is re-read every 3 seconds anyway)."""
        self.reload()

    @work(thread=True, exclusive=True, group="jobs")
    def reload(self) -> None:
        """Read the job list in a thread (SQLite)."""
        store = navigator(self).store
        try:
            jobs, holders = [], {}
            for job in store.list_jobs():
                # As the run locks say: a job whose process died is interrupted, not running.
                running, pid = runner_of(store, job)
                if running:
                    holders[job.id] = pid
                counts = effective_counts(job.counts, running)
                jobs.append(replace(job, state=effective_state(job.state, running), counts=counts))
        except Exception as exc:  # a locked or broken store must not kill the screen
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show_jobs, jobs, holders)

    def _show_jobs(self, jobs: list[Any], holders: dict[int, int | None] | None = None) -> None:
        if not self.is_attached:
            return
        self.jobs = jobs
        self.holders = holders or {}
        table = self.query_one("#jobs", VirtualTable)
        keep = table.cursor_item.id if table.cursor_item is not None else None
        table.set_rows(jobs)
        if keep is not None:
            for i, job in enumerate(table.view_items()):
                if job.id == keep:
                    table.move_cursor(i)
                    break
        self._show_title()
        self._show_detail()
        self.refresh_bindings()

    def _show_title(self) -> None:
        table = self.query_one("#jobs", VirtualTable)
        shown = table.row_count
        if self.name_filter:
            title = f"Jobs ({shown} of {len(self.jobs)} match “{_text(self.name_filter)}”)"
            table.empty_text = "no job matches the filter: Esc clears it"
        else:
            title = f"Jobs ({len(self.jobs)})"
            table.empty_text = "no jobs yet: press n to build one"
        self.query_one("#jobs-box").border_title = title

    # ------------------------------------------------------------------ filter
    def action_filter(self) -> None:
        """Show only the jobs whose id, name, action, folder or state match what you type."""
        self.query_one(FilterBar).open()

    def on_filter_bar_changed(self, event: FilterBar.Changed) -> None:
        self.name_filter = event.text
        matches = event.bar.matcher()
        table = self.query_one("#jobs", VirtualTable)
        table.set_filter((lambda job: matches(job_haystack(job))) if event.text else None)
        self._show_title()
        self._show_detail()
        self.refresh_bindings()

    @on(VirtualTable.CursorMoved, "#jobs")
    def _show_detail(self) -> None:
        job = self.selected()
        detail = self.query_one("#job-detail", Static)
        if job is None:
            detail.update("")
            return
        counts = "  ".join(f"{k} {v:,}" for k, v in job.counts.items() if v)
        flt = job.spec.get("filter") or {}
        exts = " ".join(flt.get("extensions") or []) or "all types"
        error = f"  [b $error]{_text(job.error)}[/]" if job.error else ""
        running = ""
        if job.id in self.holders:
            running = f" · [b $accent]running in {describe_runner(self.holders[job.id])}[/]"
        detail.update(f"[b]#{job.id}[/] {exts} · {counts or 'no tasks'}{running}{error}")
        self.refresh_bindings()

    @on(VirtualTable.Selected, "#jobs")
    def _selected(self) -> None:
        self.action_open()

    def selected(self) -> Any:
        """The highlighted JobSummary, or None."""
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
        if action in ("open", "delete"):
            return job is not None
        if action == "resume":  # a running job: the key says why not
            return job is not None and (resumable(job) or job.id in self.holders)
        return True

    def refuse_if_running(self, job: Any, doing: str) -> bool:
        """Tell the user (and return True) when another process runs ``job`` right now.

        Checked at the key press, not from the last reload: a run may have started since."""
        running, pid = runner_of(navigator(self).store, job)
        if not running:
            return False
        self.holders[job.id] = pid
        self._show_detail()
        self.notify(
            f"Job {job.id} is running in {describe_runner(pid)}: it cannot be {doing} "
            "until that run ends.",
            severity="error",
            title="Job is running",
        )
        return True

    def _dashboard(self, autostart: bool) -> None:
        job = self.selected()
        if job is None:
            return
        if self.refuse_if_running(job, "resumed" if autostart else "opened"):
            return
        navigator(self).open_dashboard(job.id, autostart=autostart)

    def action_open(self) -> None:
        """Show the job's dashboard (runs nothing until Start)."""
        self._dashboard(autostart=False)

    def action_resume(self) -> None:
        """Finish an interrupted job: done tasks are not run again."""
        self._dashboard(autostart=True)

    def action_delete(self) -> None:
        """Delete a job and its history, after confirmation."""
        from ..dialogs.confirm import ConfirmDialog

        job = self.selected()
        if job is None or self.refuse_if_running(job, "deleted"):
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

        self.app.push_screen(
            ConfirmDialog(
                f"Delete job {job.id}?",
                f"Its {job.total:,} tasks and their history are removed. Files are not touched.",
                yes="Delete",
                danger=True,
            ),
            answer,
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
