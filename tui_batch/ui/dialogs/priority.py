"""Pick a priority for the selected task(s)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from ...model import Priority
from .base import Dialog


class PriorityPicker(Dialog[Priority | None]):
    """Dismisses with the chosen Priority, or None. Keys 1-4 pick directly."""

    HELP_TITLE: ClassVar[str] = "Priority"
    """This dialog's section title in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Pick highlighted", key_display="Enter", show=False),
        Binding("1", "pick(0)", "Pick", key_display="1-4"),
        Binding("escape", "dismiss_none", "Cancel", key_display="Esc"),
        Binding("2", "pick(1)", "normal", show=False),
        Binding("3", "pick(2)", "high", show=False),
        Binding("4", "pick(3)", "urgent", show=False),
    ]

    def __init__(self, current: Priority, subject: str) -> None:
        super().__init__()
        self.current = current
        """Highlighted at open."""
        self.subject = subject
        """What is being prioritised (shown in the title)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Priority of {self.subject}", classes="dialog-title")
            yield OptionList(
                *(Option(f"{p.value + 1}  {p.name.lower()}", id=p.name) for p in Priority),
                id="priorities",
            )
            yield Label(
                "Waiting tasks move in the queue; running ones are not affected.", classes="hint"
            )
        yield self.footer()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = int(self.current)
        options.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Priority[str(event.option.id)])

    def action_select(self) -> None:
        """Pick the highlighted priority."""
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.dismiss(Priority(options.highlighted))

    def action_pick(self, value: int) -> None:
        """Pick a priority by its number: 1 low, 2 normal, 3 high, 4 urgent."""
        self.dismiss(Priority(value))

    def action_dismiss_none(self) -> None:
        """Close without changing anything."""
        self.dismiss(None)
