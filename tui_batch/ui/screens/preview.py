"""Preview: the files a job would process, before anything runs.

Planning (scan + dedupe + output paths) runs in a thread so a big tree never blocks the screen.
The table is a :class:`VirtualTable`, so 100,000 files scroll, sort and toggle instantly. Rows
deselected here and per-row priorities are passed to ``create_job``.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Footer, Header, LoadingIndicator, Static

from ...actions import plan_notes
from ...errors import InputError
from ...jobs import Plan, create_job, plan_job
from ...model import JobSpec, Priority
from .. import format as fmt
from ..navigation import navigator
from ..widgets.virtual_table import Cell, Column, VirtualTable

COLUMNS = [
    Column("mark", "✓", 1, sortable=True),
    Column("path", "File", 0, min_width=14, keep_tail=True),
    Column("size", "Size", 9, align="right"),
    Column("modified", "Modified", 16, hide_below=96),
    Column("priority", "Prio", 6),
    Column("note", "Duplicate of / output", 0, min_width=12, keep_tail=True),
]


def _rel(path: str, roots: list[str]) -> str:
    import os

    for root in roots:
        prefix = root.rstrip(os.sep) + os.sep
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def _text(value: str) -> str:
    return value.encode("utf-8", "replace").decode("utf-8")


class PreviewScreen(Screen[None]):
    """Review the selection; space toggles a row, Enter starts the job."""

    HELP_TITLE: ClassVar[str] = "Preview"
    """This screen's section in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_row", "Toggle"),
        Binding("a", "toggle_all", "All/none"),
        Binding("plus,equals_sign", "priority(1)", "Prio +", key_display="+"),
        Binding("minus", "priority(-1)", "Prio -", key_display="-"),
        Binding("o", "sort", "Sort"),
        Binding("enter,ctrl+r", "start", "Start", priority=True),
        Binding("escape", "back", "Back"),
        Binding("ctrl+q", "app.quit", "Quit", priority=True),
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
        self._rows_by_path: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="preview-box"):
            yield LoadingIndicator(id="preview-loading")
            yield VirtualTable(COLUMNS, self._cell, sort_keys=self._sort_keys(), id="preview")
        yield Static("scanning…", id="totals")
        yield Static("", id="preview-notes")
        yield Footer()

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
        action = self.spec.action.label
        return f"Preview · {_text(action)}"

    def on_unmount(self) -> None:
        self._cancel.set()

    @work(thread=True, exclusive=True, group="plan")
    def plan_it(self) -> None:
        """Scan, dedupe and compute outputs off the event loop."""
        store = getattr(self.app, "store", None)
        try:
            plan = plan_job(self.spec, store=store, cancel=self._cancel)
        except InputError as exc:
            self.app.call_from_thread(self._plan_failed, f"{exc.field}: {exc.message}")
            return
        except OSError as exc:
            self.app.call_from_thread(self._plan_failed, str(exc))
            return
        if not self._cancel.is_set():
            self.app.call_from_thread(self._show_plan, plan)

    def _plan_failed(self, message: str) -> None:
        self.query_one("#preview-loading").display = False
        self.query_one("#totals", Static).update(f"[b $error]cannot preview:[/] {message}")
        self.notify(message, severity="error", title="Preview")

    def _show_plan(self, plan: Plan) -> None:
        self.plan = plan
        self._rows_by_path = {row.entry.path: row for row in plan.preview.rows}
        self.query_one("#preview-loading").display = False
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
                f"{_text(plan.issues[0].path)}",
                severity="warning",
                title="Scan",
            )
        self.refresh_bindings()

    # -------------------------------------------------------------------- cells
    def _cell(self, row: Any, key: str) -> Cell:
        entry = row.entry
        if key == "mark":
            return ("✗", "bad") if entry.path in self.excluded else ("✓", "ok")
        if key == "path":
            text = _text(entry.rel)
            return (text, "dim") if entry.path in self.excluded else text
        if key == "size":
            return fmt.size(entry.size)
        if key == "modified":
            return fmt.timestamp(entry.mtime_ns / 1e9)
        if key == "priority":
            prio = self.priority_of(entry.path)
            return (prio.name.lower(), "accent" if prio >= Priority.HIGH else "dim")
        if key == "note":
            if row.duplicate_of is not None:
                return ("= " + _text(_rel(row.duplicate_of, self.spec.filter.roots)), "warn")
            if row.collision:
                return ("⚠ collides: " + _text(row.out_path or "?"), "bad")
            if row.out_path:
                return ("→ " + _text(row.out_path), "dim")
            return ""
        return ""

    def _sort_keys(self) -> dict[str, Any]:
        return {
            "mark": lambda r: r.entry.path in self.excluded,
            "path": lambda r: r.entry.rel,
            "size": lambda r: r.entry.size,
            "modified": lambda r: r.entry.mtime_ns,
            "priority": lambda r: -int(self.priority_of(r.entry.path)),
            "note": lambda r: (r.duplicate_of is None, not r.collision, r.duplicate_of or ""),
        }

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
        if not t:
            return
        parts = [
            f"[b]{fmt.count(t['selected'])}[/] of {fmt.count(t['files'])} files",
            f"[b]{fmt.size(t['bytes'])}[/]",
            f"[b $warning]{fmt.count(t['duplicates'])}[/] duplicates (skipped)",
            f"[b]{fmt.count(t['excluded'])}[/] excluded",
        ]
        if t["collisions"]:
            parts.append(f"[b $error]{fmt.count(t['collisions'])}[/] output collisions")
        if t["issues"]:
            parts.append(f"{fmt.count(t['issues'])} scan issues")
        self.query_one("#totals", Static).update(" · ".join(parts))

    # ----------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_row", "toggle_all", "priority", "sort", "start"):
            return self.plan is not None
        return True

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

    def action_back(self) -> None:
        """Back to the form (nothing was created)."""
        self._cancel.set()
        self.app.pop_screen()

    def action_start(self) -> None:
        """Confirm, create the job in the store, and open its dashboard."""
        from ..dialogs.confirm import ConfirmDialog

        if self.plan is None:
            return
        t = self.totals()
        runnable = t["selected"] - t["duplicates"]
        if runnable <= 0:
            self.notify(
                "Nothing to run: every file is excluded or a duplicate.", severity="warning"
            )
            return
        workers = self.spec.settings.workers or "one per CPU"
        message = (
            f"Run [b]{_text(self.spec.action.label)}[/] on [b]{runnable:,}[/] files "
            f"({fmt.size(t['bytes'])}) with {workers} workers"
            f"{f', {self.spec.settings.retries} retries' if self.spec.settings.retries else ''}."
        )
        if t["duplicates"]:
            message += f"\n{t['duplicates']:,} duplicates will be skipped."
        for note in self.notes():
            message += "\n" + escape(note)
        if t["collisions"]:
            message += f"\n[b $error]{t['collisions']:,} outputs collide; those tasks will fail.[/]"

        def answer(yes: bool | None) -> None:
            if yes:
                self.create_and_run()

        self.app.push_screen(ConfirmDialog("Start the job?", message, yes="Start"), answer)

    def create_and_run(self) -> None:
        """Write the job and its tasks, then switch to the dashboard."""
        assert self.plan is not None
        nav = navigator(self)
        job_id = create_job(
            nav.store, self.plan, exclude=self.excluded, priorities=dict(self.priorities)
        )
        nav.open_dashboard(job_id, autostart=True, replace=True)
