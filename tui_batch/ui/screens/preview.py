"""Preview: the files a job would process, before anything runs.

Planning (scan + dedupe + output paths) runs in a thread so a big tree never blocks the
screen, and shows its counts as they grow ("Scanning… 12,345 files (8,000 matched)",
"Checking duplicates… 1,200/3,000 files"); Esc stops it and goes back. The table is a
:class:`VirtualTable`, so 100,000 files scroll, sort and toggle instantly. Rows deselected
here and per-row priorities are passed to ``create_job``, which Start runs in a thread behind
the creating dialog ("Creating tasks… 40,000/50,000") before the dashboard opens. ``/``
narrows the table to the paths that match; toggling all then toggles the rows shown.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.worker import Worker, WorkerState

from ...actions import display_path, plan_notes
from ...errors import InputError
from ...jobs import Plan, plan_job
from ...jobs.pipeline_setup import final_output, resolve_steps
from ...model import JobSpec, Priority
from ..dialogs.confirm import ConfirmDialog
from ..dialogs.creating import CreatingDialog
from ..navigation import navigator
from ..preview_rows import (
    COLUMNS,
    DUPLICATE_MARK,
    counted,
    preview_cell,
    printable,
    sort_keys,
    start_message,
    totals_line,
    workers_phrase,
)
from ..step_drafts import pipeline_label
from ..widgets.filter_bar import FilterBar
from ..widgets.key_footer import KeyFooter
from ..widgets.plan_progress import PlanProgressView
from ..widgets.virtual_table import Cell, VirtualTable

__all__ = ["DUPLICATE_MARK", "PreviewScreen", "counted", "workers_phrase"]


class PreviewScreen(Screen[None]):
    """Review the selection; space toggles a row, Enter starts the job."""

    DEFAULT_CSS = """
    PreviewScreen #preview-waiting {
        height: 1fr;
        align: center middle;
    }
    """

    HELP_TITLE: ClassVar[str] = "Preview"
    """This screen's section in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: Enter on the table would otherwise select the row. The filter bar's
        # Enter is its own (check_action turns this one off while the bar has the focus).
        Binding("enter,ctrl+r", "start", "Start", priority=True),
        Binding("space", "toggle_row", "Toggle"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("a", "toggle_all", "All/none"),
        Binding("escape", "clear_filter", "Clear filter", key_display="Esc"),
        Binding("escape", "back", "Back", key_display="Esc"),
        Binding("plus,equals_sign", "priority(1)", "Priority", key_display="+/-"),
        Binding("minus", "priority(-1)", "Priority -", key_display="-", show=False),
        Binding("o", "sort", "Sort"),
    ]

    def __init__(self, spec: JobSpec) -> None:
        super().__init__()
        self.spec = spec
        """The job spec being previewed."""
        self.plan: Plan | None = None
        """The plan once scanning finished."""
        self.excluded: set[str] = set()
        """Paths deselected by the user."""
        self.priorities: dict[str, Priority] = {}
        """Per-path priorities changed by the user."""
        self._cancel = threading.Event()
        # Built here: the planning thread reports to it, never walking the DOM.
        self.scan_view = PlanProgressView("preview", id="preview-progress")
        """The counts shown while scanning and checking duplicates."""
        self.name_filter = ""
        """The ``/`` filter text ("" shows every file)."""
        self._steps: list[Any] | None = None
        """A pipeline's actions, resolved once its plan is in (None: one action)."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="preview-box"):
            yield FilterBar(placeholder="part of a path, e.g. draft .md", id="preview-filter")
            with Vertical(id="preview-waiting"):
                yield self.scan_view
            yield VirtualTable(COLUMNS, self._cell, sort_keys=self._sort_keys(), id="preview")
        roots = ", ".join(display_path(r) for r in self.spec.filter.roots)
        yield Static(Text(f"Looking in {roots} · Esc stops and goes back"), id="totals")
        yield Static("", id="preview-notes")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "preview"
        self.query_one("#preview-box").border_title = self._title()
        table = self.query_one("#preview", VirtualTable)
        table.display = False
        table.empty_text = "no file matches the filter"
        notes = self.query_one("#preview-notes", Static)
        notes.display = False  # shown once the plan says there is something to say
        notes.styles.height = "auto"
        notes.styles.padding = (0, 1)
        self.plan_it()

    def _title(self) -> str:
        title = f"Preview · {printable(self.spec.action.label)}"
        if self.spec.steps:
            title = (f"Preview · {printable(pipeline_label(self.spec))} · "
                     f"{len(self.spec.steps)} steps")  # fmt: skip
        if self.name_filter and self.plan is not None:
            shown = self.table.row_count
            total = len(self.plan.preview.rows)
            title += f" · {shown:,} of {total:,} match “{printable(self.name_filter)}”"
        return title

    def on_unmount(self) -> None:
        self._cancel.set()

    def plan_it(self) -> None:
        """Scan, dedupe and compute outputs off the event loop, counting as it goes."""
        self.run_worker(self._plan, thread=True, exclusive=True, group="plan",
                        exit_on_error=False)  # fmt: skip

    def _plan(self) -> Plan:
        store = getattr(self.app, "store", None)  # opened here, off the UI thread, if need be
        return plan_job(self.spec, store=store, cancel=self._cancel, progress=self.scan_view.report)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A message, not call_from_thread: a worker that ends as the app quits must not
        # wait on an event loop that is gone.
        if event.worker.group != "plan" or self._cancel.is_set():
            return
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, Plan):
            self._show_plan(event.worker.result)
        elif event.state == WorkerState.ERROR:
            exc = event.worker.error
            self._plan_failed(f"{exc.field}: {exc.message}" if isinstance(exc, InputError)
                              else str(exc))  # fmt: skip

    def _plan_failed(self, message: str) -> None:
        self.query_one("#preview-waiting").display = False
        self.query_one("#totals", Static).update(f"[b $error]cannot preview:[/] {escape(message)}")
        self.notify(message, severity="error", title="Preview", markup=False)

    def _show_plan(self, plan: Plan) -> None:
        self.plan = plan
        if self.spec.steps:
            try:
                self._steps = resolve_steps(copy.deepcopy(self.spec))  # it sets dedupe
            except InputError:  # checked by the form; step 1's output is still right
                self._steps = None
        self.query_one("#preview-waiting").display = False
        table = self.query_one("#preview", VirtualTable)
        table.display = True
        table.set_rows(plan.preview.rows)
        table.focus()
        self.update_totals()
        notes = self.notes()
        if notes:
            box = self.query_one("#preview-notes", Static)
            box.update(Text("\n".join(notes), style="italic"))
            box.display = True
        if plan.issues:
            self.notify(
                f"{len(plan.issues)} scan issue(s), e.g. {plan.issues[0].kind}: "
                f"{printable(plan.issues[0].path)}",
                severity="warning",
                title="Scan",
            )
        self.refresh_bindings()

    # -------------------------------------------------------------------- cells
    def _cell(self, row: Any, key: str) -> Cell:
        return preview_cell(
            row, key, excluded=self.excluded, priority=self.priority_of(row.entry.path),
            roots=self.spec.filter.roots, output_of=self._final_output,
        )  # fmt: skip

    def _final_output(self, row: Any) -> str | None:
        """A pipeline's last output of a row (step 1's output through every next step)."""
        if self._steps is None or self.plan is None:
            return row.out_path
        entry = row.entry
        return final_output(self._steps, self.spec.settings.out_dir, entry.root, entry.rel,
                            self.plan.multi_root)  # fmt: skip

    def _sort_keys(self) -> dict[str, Any]:
        return sort_keys(lambda path: path in self.excluded, self.priority_of)

    def priority_of(self, path: str) -> Priority:
        """A row's priority (the job's default unless changed here)."""
        return self.priorities.get(path, self.spec.settings.priority)

    def notes(self) -> list[str]:
        """What the job will do that the user did not write (path appended, dedupe decided
        by the action), in the words ``--dry-run`` and a headless run use."""
        if self.plan is None:
            return []
        return plan_notes(self.plan.action, self.plan.spec.settings)

    # ------------------------------------------------------------------ totals
    def totals(self) -> dict[str, int]:
        """Counts shown under the table (selected files, bytes, duplicates, ...)."""
        if self.plan is None:
            return {}
        rows = self.plan.preview.rows
        selected = [r for r in rows if r.entry.path not in self.excluded]
        return {
            "files": len(rows),
            "selected": len(selected),
            "bytes": sum(r.entry.size for r in selected),
            "duplicates": sum(1 for r in selected if r.duplicate_of is not None),
            "collisions": sum(1 for r in selected if r.collision),
            "excluded": len(self.excluded),
            "issues": len(self.plan.issues),
        }

    def update_totals(self) -> None:
        """Refresh the totals line."""
        t = self.totals()
        if t:
            self.query_one("#totals", Static).update(totals_line(t))

    # ----------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start" and self._typing_filter():
            return False  # Enter keeps the filter; it does not start the job
        if action == "clear_filter":
            return self.is_mounted and self.query_one(FilterBar).active
        if action in ("toggle_row", "toggle_all", "priority", "sort", "start", "filter"):
            return self.plan is not None
        return True

    def _typing_filter(self) -> bool:
        return self.is_mounted and self.query_one(FilterBar).input.has_focus

    # ------------------------------------------------------------------ filter
    def action_filter(self) -> None:
        """Show only the files whose path matches what you type (Esc clears)."""
        self.query_one(FilterBar).open()

    def on_filter_bar_changed(self, event: FilterBar.Changed) -> None:
        self.name_filter = event.text
        if self.plan is None:
            return
        matches = event.bar.matcher()
        self.table.set_filter(
            (lambda row: matches(printable(row.entry.rel))) if event.text else None
        )
        self.query_one("#preview-box").border_title = self._title()
        self.table.empty_text = (
            "no file matches the filter: Esc clears it" if event.text else "no file matches"
        )

    def on_filter_bar_closed(self) -> None:
        self.refresh_bindings()

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()  # Start is off while the filter bar has the focus

    @property
    def table(self) -> VirtualTable[Any]:
        """The preview table."""
        return self.query_one("#preview", VirtualTable)

    def action_toggle_row(self) -> None:
        """Include / exclude the row under the cursor, then move down (like a file manager)."""
        row = self.table.cursor_item
        if row is None:
            return
        path = row.entry.path
        if path in self.excluded:
            self.excluded.discard(path)
        else:
            self.excluded.add(path)
        self.table.action_cursor_down()
        self.table.refresh_rows()
        self.update_totals()

    def action_toggle_all(self) -> None:
        """Exclude every shown row, or include them all if all are excluded."""
        items = self.table.view_items()
        paths = {r.entry.path for r in items}
        if paths <= self.excluded:
            self.excluded -= paths
        else:
            self.excluded |= paths
        self.table.refresh_rows()
        self.update_totals()

    def action_priority(self, delta: int) -> None:
        """Raise / lower the priority of the row under the cursor."""
        row = self.table.cursor_item
        if row is None:
            return
        current = self.priority_of(row.entry.path)
        new = Priority(max(0, min(3, int(current) + delta)))
        self.priorities[row.entry.path] = new
        self.table.refresh_rows()

    def action_sort(self) -> None:
        """Sort by the next column (clicking a header works too)."""
        self.table.cycle_sort()

    def action_clear_filter(self) -> None:
        """Show every file again (the filter is cleared and hidden)."""
        self.query_one(FilterBar).close()

    def action_back(self) -> None:
        """Back to the form (nothing was created)."""
        self._cancel.set()
        self.app.pop_screen()

    def action_start(self) -> None:
        """Confirm, create the job in the store, and open its dashboard."""
        if self.plan is None:
            return
        t = self.totals()
        if t["selected"] - t["duplicates"] <= 0:
            self.notify(
                "Nothing to run: every file is excluded or a duplicate.", severity="warning"
            )
            return
        message = start_message(self.spec, t, self.notes())

        def answer(yes: bool | None) -> None:
            if yes:
                self.create_and_run()

        self.app.push_screen(ConfirmDialog("Start the job?", message, yes="Start"), answer)

    def create_and_run(self) -> None:
        """Write the job and its tasks in a thread behind the creating dialog, then switch to
        the dashboard; stopped or failed, the preview stays as it was."""
        assert self.plan is not None
        nav = navigator(self)
        t = self.totals()
        runnable = t["selected"] - t["duplicates"]
        what = f"{printable(self.spec.action.label)} on {counted(runnable, 'file')}"
        if t["duplicates"]:
            what += f", {counted(t['duplicates'], 'duplicate')} skipped"
        dialog = CreatingDialog(
            nav.store, self.plan, what=what, exclude=self.excluded, priorities=self.priorities
        )

        def created(job_id: int | None) -> None:
            if job_id is not None:
                nav.open_dashboard(job_id, autostart=True, replace=True)
            elif dialog.error is not None:
                self.notify(dialog.error, severity="error", title="Cannot create the job",
                            markup=False)  # fmt: skip
            else:
                self.notify("Stopped: no job was created.", title="Stopped")

        self.app.push_screen(dialog, created)
