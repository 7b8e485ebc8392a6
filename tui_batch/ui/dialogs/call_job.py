"""The detail of one call job (a Python callable run by a Batch), opened with Enter on the
jobs screen.

Why a dialog: a call job has no tasks, so the dashboard has nothing to show of it; what a user
wants is what it called and with what, where it stands (its group, the jobs it runs after and
their states, what it waits for), and how it went: the result as indented JSON, or the error
and its traceback, scrollable, and copyable (``c``: OSC 52, which reaches the local clipboard
over SSH). The job is read again every second until it has ended, in a thread.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import Label, Static

from ...errors import StoreError
from ...store import Store
from ..call_detail import CallDetail, detail_lines, load_call_detail, outcome_text
from ..jobs_board import Board
from ..navigation import navigator
from .base import Dialog


class CallJobDialog(Dialog[None]):
    """A call job's function, arguments, place, links, timings and outcome; Esc closes."""

    HELP_TITLE: ClassVar[str] = "Call job"
    """This dialog's section title in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", key_display="Esc"),
        Binding("up,k", "scroll(-1)", "Scroll", key_display="↑↓"),
        Binding("down,j", "scroll(1)", "Scroll", show=False),
        Binding("pagedown,space", "page(1)", "Page", key_display="PgDn"),
        Binding("pageup,b", "page(-1)", "Page up", show=False),
        Binding("home", "edge(False)", "Top / end", key_display="Home/End", show=False),
        Binding("end", "edge(True)", "End", show=False),
        Binding("c", "copy", "Copy"),
    ]

    def __init__(self, store: Store, job_id: int, board: Board) -> None:
        super().__init__()
        self.store = store
        """Where the job is read from."""
        self.job_id = job_id
        """The job shown."""
        row = board.by_id.get(job_id)
        self.detail: CallDetail | None = (
            None if row is None else CallDetail(board, row, None)
        )
        """The job as last read (its outcome once :attr:`loaded`)."""
        self.board = board
        """The jobs screen's last read: the jobs around this one."""
        self.loaded = False
        """The job's own rows have been read (the outcome shown is the stored one)."""
        self.outcome = ""
        """The result or error text shown (what ``c`` copies)."""
        self._labels: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="call-job"):
            yield Label(f"Call job {self.job_id}", classes="dialog-title", id="call-job-title")
            with VerticalScroll(id="call-job-body"):
                yield Grid(id="call-job-facts")
                yield Label("", id="call-job-outcome-title")
                yield Static("", id="call-job-outcome", markup=False)
        yield self.footer()

    def on_mount(self) -> None:
        self.query_one("#call-job-body").focus()
        if self.detail is not None:
            self._paint(self.detail)
        self.load()
        self.set_interval(1.0, self._tick, name="call-job-reload")

    def _tick(self) -> None:
        if self.detail is None or not self.detail.row.final or not self.loaded:
            self.load()

    @work(thread=True, exclusive=True, group="call-job")
    def load(self) -> None:
        """Read the job again (a thread: SQLite)."""
        try:
            detail = load_call_detail(self.store, self.job_id, self.board)
        except StoreError:
            self.app.call_from_thread(self._gone)
            return
        except Exception as exc:  # a locked store: say so, keep what is shown
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._loaded, detail)

    def _loaded(self, detail: CallDetail) -> None:
        if not self.is_attached:
            return
        self.detail, self.loaded = detail, True
        self._paint(detail)

    def _gone(self) -> None:
        if not self.is_attached:
            return
        self.loaded = True
        self._show_facts([("Gone", f"[b $error]job {self.job_id} is no longer in the store[/]"
                                   " (deleted)")])
        self.query_one("#call-job-outcome-title", Label).update("")
        self.query_one("#call-job-outcome", Static).update("")

    def _paint(self, detail: CallDetail) -> None:
        row = detail.row
        name = f" · {escape(row.name)}" if row.name else ""
        self.query_one("#call-job-title", Label).update(f"Call job {row.id}{name}")
        now = navigator(self).clock.time()
        self._show_facts(detail_lines(detail, now))
        if not self.loaded:
            self.query_one("#call-job-outcome-title", Label).update("[b]Result[/]")
            self.query_one("#call-job-outcome", Static).update("reading…")
            return
        title, text, cut = outcome_text(detail)
        more = f" (first {len(text):,} characters)" if cut else ""
        style = "$error" if title == "Error" else "$success"
        self.query_one("#call-job-outcome-title", Label).update(f"[b {style}]{title}[/]{more}")
        self.query_one("#call-job-outcome", Static).update(text)
        self.outcome = text

    def _show_facts(self, lines: list[tuple[str, str]]) -> None:
        """Labels on the left, values wrapping beside them (widgets rebuilt only when the
        labels change: the job is re-read every second)."""
        grid = self.query_one("#call-job-facts", Grid)
        labels = [label for label, _ in lines]
        if labels != self._labels:
            self._labels = labels
            grid.remove_children()
            widgets: list[Label | Static] = []
            for label, text in lines:
                widgets += [Label(label, classes="fact-label"), Static(text, classes="fact")]
            grid.mount_all(widgets)
            return
        for value, (_, text) in zip(grid.query(".fact").results(Static), lines, strict=True):
            value.update(text)

    # ------------------------------------------------------------------ keys
    def action_close(self) -> None:
        """Back to the jobs list."""
        self.dismiss(None)

    def action_scroll(self, lines: int) -> None:
        """Scroll the detail by a line."""
        self.query_one("#call-job-body", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_page(self, pages: int) -> None:
        """Scroll the detail by a page."""
        view = self.query_one("#call-job-body", VerticalScroll)
        view.scroll_relative(y=pages * max(1, view.size.height - 1), animate=False)

    def action_edge(self, end: bool) -> None:
        """Scroll to the top or the end (the traceback's last frame)."""
        view = self.query_one("#call-job-body", VerticalScroll)
        if end:
            view.scroll_end(animate=False)
        else:
            view.scroll_home(animate=False)

    def action_copy(self) -> None:
        """Copy the result (JSON) or the error and its traceback to the clipboard."""
        if not self.outcome:
            self.notify("Nothing to copy yet.", timeout=2)
            return
        self.app.copy_to_clipboard(self.outcome)
        self.notify(f"Copied {len(self.outcome):,} characters (through the terminal).",
                    timeout=2)
