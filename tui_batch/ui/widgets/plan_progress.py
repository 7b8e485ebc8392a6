"""The counts of a long wait before a job runs: scanning, checking duplicates, creating tasks.

Three places wait on this work: the preparing screen of `tui-batch run`, the preview while it
scans, and the dialog that stores the job when the preview starts it. A spinner alone looks
like a hang on a 50,000-file tree, so each shows the same view: the phases already over
("✓ Scanned 50,000 files (50,000 matched) in 1.5 s"), the live count ("Creating tasks…
40,000/50,000") in the words the CLI prints (``jobs.progress_text``), and a bar once the
total is known.

The work runs in a thread and hands its events to :meth:`PlanProgressView.report`, which
posts one message per event to the view. Events come throttled (about ten a second) and a
newer count replaces an older one still queued, so a slow terminal never draws stale counts;
a phase's final event is never replaced, so every finished phase is listed.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.message import Message
from textual.widgets import LoadingIndicator, ProgressBar, Static

from ...actions import display_path
from ...jobs import SCANNING, Progress, progress_text
from ...model import JobSpec

__all__ = ["PlanProgress", "PlanProgressView", "preparing_title"]


def preparing_title(spec: JobSpec) -> str:
    """ "Preparing checksum on photos, music": what the job will do, and where."""
    roots = ", ".join(display_path(r) for r in spec.filter.roots)
    return f"Preparing {spec.action.label} on {roots}"


class PlanProgress(Message, bubble=False):
    """The latest counts of the work (posted from the worker thread)."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress
        """The event as the job system reported it."""

    def can_replace(self, message: Message) -> bool:
        # Textual asks the older message: its counts are stale once newer ones wait behind
        # it, unless it closes a phase (the "done" list keeps every phase's final counts).
        return isinstance(message, PlanProgress) and not self.progress.final


class PlanProgressView(Vertical):
    """Finished phases, the live count, a bar when the total is known, and a spinner.

    Its parts are named after ``prefix`` (``#<prefix>-done``, ``#<prefix>-count``,
    ``#<prefix>-bar``) so a screen's styles and tests can reach them."""

    DEFAULT_CSS = """
    PlanProgressView {
        height: auto;
    }
    PlanProgressView .plan-count {
        width: 1fr;
        text-align: center;
        text-style: bold;
    }
    PlanProgressView Center {
        height: auto;
        margin-top: 1;
    }
    PlanProgressView LoadingIndicator {
        height: 1;
        margin-top: 1;
    }
    PlanProgressView .plan-done {
        width: 1fr;
        height: auto;
        text-align: center;
        color: $text-muted;
    }
    """

    def __init__(
        self, prefix: str, *, first: Progress | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.prefix = prefix
        """What the parts' ids start with."""
        self.latest: Progress | None = None
        """The last counts shown (tests and screenshots read it)."""
        self._first = first or Progress(SCANNING, 0, None)
        self._finished: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("", id=f"{self.prefix}-done", classes="plan-done")
        yield Static(progress_text(self._first), id=f"{self.prefix}-count", classes="plan-count")
        with Center():
            yield ProgressBar(id=f"{self.prefix}-bar", show_eta=False)
        yield LoadingIndicator()

    def on_mount(self) -> None:
        self.bar.visible = False
        self.done_lines.display = False  # no blank line before the first phase is over

    @property
    def done_lines(self) -> Static:
        """The phases already over."""
        return self.query_one(f"#{self.prefix}-done", Static)

    @property
    def bar(self) -> ProgressBar:
        """The bar (shown while a phase with a total runs)."""
        return self.query_one(f"#{self.prefix}-bar", ProgressBar)

    @property
    def count(self) -> Static:
        """The live line."""
        return self.query_one(f"#{self.prefix}-count", Static)

    def report(self, progress: Progress) -> None:
        """A ``progress=`` callback for ``plan_job`` / ``create_job``: safe from any thread."""
        self.post_message(PlanProgress(progress))

    def on_plan_progress(self, message: PlanProgress) -> None:
        self.show(message.progress)

    def show(self, p: Progress) -> None:
        """Draw ``p`` (on the UI thread)."""
        self.latest = p
        if p.final:
            # What is done stays listed above the live line: the whole wait reads at a glance.
            self._finished.append("✓ " + progress_text(p))
            self.done_lines.update("\n".join(self._finished))
            self.done_lines.display = True
            self.count.update("")
            self.bar.visible = False
            return
        self.count.update(progress_text(p))
        if p.total:
            self.bar.visible = True
            self.bar.update(total=p.total, progress=p.done)
        else:
            self.bar.visible = False

    def say(self, text: str) -> None:
        """Replace the live line (``Stopping…``); the bar goes, the counts stay above."""
        self.count.update(text)
        self.bar.visible = False
