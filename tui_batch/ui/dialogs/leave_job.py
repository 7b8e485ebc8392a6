"""Quitting the dashboard of a job that runs in the per-user service: leave it or stop it.

A job started from the TUI runs in the service, so quitting the dashboard need not stop it.
This dialog asks which the user means, the harmless answer first (and highlighted): leave the
job running in the background (it can be attached to again from any terminal), or stop it
(saved, resumable), or stay. ``q`` again answers with the highlighted choice, as a second
``q`` answers "quit" in the plain quit question.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from ...jobs import resume_command
from ..quitting import attach_command
from .base import Dialog

Choice = Literal["leave", "stop"]
"""The answer; None (Esc, Cancel) stays on the dashboard."""


class LeaveJobDialog(Dialog[Choice | None]):
    """Dismisses with ``"leave"``, ``"stop"`` or None (cancel)."""

    HELP_TITLE: ClassVar[str] = "Quit while a job runs in the background"
    """This dialog's section title in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Choose", key_display="Enter"),
        Binding("l", "answer('leave')", "Leave running"),
        Binding("s", "answer('stop')", "Stop"),
        Binding("escape,c", "answer('')", "Cancel", key_display="Esc"),
    ]

    def __init__(self, job_id: int, db: str, *, watch: bool = False) -> None:
        super().__init__()
        self.job_id = job_id
        """The job the dashboard shows."""
        self.is_watch = watch
        """The job is a watch (it is left watching, or stopped watching)."""
        self.resume = resume_command(job_id, db)
        """The command that finishes the job once stopped (``tui-batch resume N``)."""
        self.attach = attach_command(job_id, db)
        """The command that shows the job again (``tui-batch attach N``)."""

    def compose(self) -> ComposeResult:
        n = self.job_id
        doing = "watching" if self.is_watch else "running"
        with Vertical(classes="dialog"):
            yield Label(f"Quit while job {n} is {doing}?", classes="dialog-title")
            yield Static(
                f"Job {n} runs in the background service: it goes on after you quit, and "
                f"`{self.attach}` shows it again from any terminal. Stopped, it keeps what is "
                f"done; `{self.resume}` finishes it later.",
                classes="dialog-body", markup=False,
            )
            yield OptionList(
                Option(f"Leave job {n} {doing} in the background (l)", id="leave"),
                Option("Stop it (resumable) (s)", id="stop"),
                Option("Cancel (Esc)", id="cancel"),
                id="leave-choices",
            )
        yield self.footer()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_answer(str(event.option.id))

    def action_select(self) -> None:
        """Answer with the highlighted choice (Enter; and ``q`` again)."""
        options = self.query_one(OptionList)
        index = options.highlighted
        option = options.get_option_at_index(index) if index is not None else None
        self.action_answer(str(option.id) if option is not None else "")

    def action_answer(self, choice: str) -> None:
        """``leave`` (the job goes on), ``stop`` (the job is stopped, resumable), anything
        else: stay on the dashboard."""
        self.dismiss("leave" if choice == "leave" else "stop" if choice == "stop" else None)
