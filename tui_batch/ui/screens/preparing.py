"""Preparing: what `tui-batch run` shows while it scans, checks duplicates and creates its job.

A 50,000-file tree takes seconds before the dashboard can open, and a spinner alone looks
like a hang; this screen shows the counts as they grow ("Scanning… 12,345 files (8,000
matched)", "Checking duplicates… 1,200/3,000 files", "Creating tasks… 40,000/50,000"), in
the words the CLI prints (``jobs.progress_text``). The work itself runs in the app's thread
worker, which hands every event to :meth:`PreparingScreen.report` from its thread: the events
come throttled (about ten a second) and become one coalesced message each, so a slow
terminal never queues stale counts. Esc stops the work; the app then opens the form.
"""

from __future__ import annotations

import threading
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from ...jobs import Progress
from ..widgets.key_footer import KeyFooter
from ..widgets.plan_progress import PlanProgress, PlanProgressView, preparing_title

__all__ = ["PlanProgress", "PreparingScreen", "preparing_title"]


class PreparingScreen(Screen[None]):
    """Counts of the work before a job exists; Esc stops it."""

    HELP_TITLE: ClassVar[str] = "Preparing"
    """This screen's section in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "Stop"),
        # The jobs screen would open under the dashboard this screen is about to become.
        Binding("f2", "not_yet", "Jobs", show=False),
    ]

    DEFAULT_CSS = """
    PreparingScreen {
        align: center middle;
    }
    PreparingScreen #preparing-box {
        height: auto;
    }
    """

    class Stopped(Message):
        """The user stopped the work (Esc): the app decides where to go."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        """What is being prepared."""
        self.cancel = threading.Event()
        """Set by Esc and when the screen goes (the app quitting): the work stops early."""
        # Built here, not found by a query: the worker thread reports to it, even before
        # the screen is mounted, and the DOM is not the worker's to walk.
        self.view = PlanProgressView("preparing", id="preparing-progress")
        """The counts."""

    def compose(self) -> ComposeResult:
        # No Header: this screen may be replaced a few ms after it mounts, and Header's
        # deferred title update then fails to find its own children.
        with Vertical(id="preparing-box"):
            yield Static(Text(self.text), id="preparing")  # a path is not markup
            yield self.view
        yield KeyFooter()

    @property
    def latest(self) -> Progress | None:
        """The last counts shown (tests and screenshots read it)."""
        return self.view.latest

    def on_unmount(self) -> None:
        self.cancel.set()

    def report(self, progress: Progress) -> None:
        """A ``progress=`` callback for ``plan_job`` / ``create_job``: safe from any thread."""
        self.view.report(progress)

    def action_not_yet(self) -> None:
        """F2: the jobs list opens once this job exists."""
        self.notify("The jobs list opens once this job is created (Esc stops it).")

    def action_stop(self) -> None:
        """Stop scanning and go back to the form (no job is created)."""
        if not self.cancel.is_set():
            self.cancel.set()
            self.view.say("Stopping…")
            self.post_message(self.Stopped())
