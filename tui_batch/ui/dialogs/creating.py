"""Creating the job: the dialog between the preview's Start and the dashboard.

Storing a 50,000-task job takes a second or more; done on the UI thread it froze the screen
with no word of what was happening. This dialog runs ``create_job`` in a thread worker,
shows "Creating tasks… 40,000/50,000" as it goes (the preparing screen's view, the CLI's
words) and returns the new job's id, or None when it was stopped or failed.

``create_job`` is one transaction, so a stop or a failure leaves nothing behind: Esc (or
quitting) makes the progress callback raise inside the transaction, which rolls it back; a
stop that comes after the commit deletes the job it made.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, Static
from textual.worker import Worker, WorkerState

from ...errors import InputError, TuiBatchError
from ...jobs import CREATING, Plan, Progress, create_job
from ...model import Priority
from ...store import Store
from ..widgets.plan_progress import PlanProgressView
from .base import Dialog

__all__ = ["CreatingDialog"]


class _Stopped(Exception):
    """Raised from the progress callback to roll back the job being stored."""


class CreatingDialog(Dialog[int | None]):
    """Stores ``plan`` as a job, counting; dismissed with the job's id (None: not created)."""

    HELP_TITLE: ClassVar[str] = "Creating the job"
    """This dialog's section title in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "Stop"),
    ]

    def __init__(
        self,
        store: Store,
        plan: Plan,
        *,
        what: str,
        exclude: Iterable[str] = (),
        priorities: Mapping[str, Priority] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        """Where the job goes."""
        self.plan = plan
        """The preview's plan."""
        self.what = what
        """What is being created, in a few words ("checksum on 50,000 files")."""
        self.exclude = frozenset(exclude)
        """Paths deselected in the preview (taken now: the preview cannot change meanwhile)."""
        self.priorities = dict(priorities or {})
        """Per-path priorities set in the preview."""
        self.cancel = threading.Event()
        """Set by Esc and when the dialog goes (the app quitting): nothing is stored."""
        self.error: str | None = None
        """Why the job could not be created (shown by whoever pushed the dialog)."""
        total = sum(1 for r in plan.preview.rows if r.entry.path not in self.exclude)
        # Built here: the worker reports to it from its thread, never walking the DOM.
        self.view = PlanProgressView("creating", first=Progress(CREATING, 0, total))
        """The counts."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Creating the job", classes="dialog-title")
            yield Static(self.what, classes="dialog-body", markup=False)
            yield self.view
        yield self.footer()

    def on_mount(self) -> None:
        self.run_worker(self._create, thread=True, group="create", exit_on_error=False)

    def on_unmount(self) -> None:
        self.cancel.set()

    def _create(self) -> int | None:
        """On the worker thread: the job's id, None when stopped; raises when it failed."""

        def report(p: Progress) -> None:
            # A final event comes after the commit: raising then would lose the job's id.
            if self.cancel.is_set() and not p.final:
                raise _Stopped
            self.view.report(p)

        try:
            job_id = create_job(
                self.store, self.plan, exclude=self.exclude, priorities=self.priorities,
                progress=report,
            )  # fmt: skip
        except _Stopped:
            return None
        if self.cancel.is_set():  # the stop came after the commit
            self.store.delete_job(job_id)
            return None
        return job_id

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "create":
            return
        if event.state == WorkerState.SUCCESS:
            self._close(worker.result)
        elif event.state == WorkerState.ERROR:
            exc = worker.error
            if isinstance(exc, InputError):
                self.error = f"{exc.field}: {exc.message}"
            elif isinstance(exc, (TuiBatchError, OSError)):
                self.error = str(exc)
            else:
                self.error = f"{type(exc).__name__}: {exc}"
            self._close(None)

    def _close(self, job_id: int | None) -> None:
        # Help or the palette may be open over the dialog: the next screen takes their place.
        while self.app.screen is not self and self in self.app.screen_stack:
            self.app.pop_screen()
        if self.app.screen is self:
            self.dismiss(job_id)

    def action_stop(self) -> None:
        """Stop: the job is not created (the dialog closes once that is sure)."""
        if not self.cancel.is_set():
            self.cancel.set()
            self.view.say("Stopping…")
