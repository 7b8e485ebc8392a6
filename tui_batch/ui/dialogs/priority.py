"""Pick a priority for the selected task(s)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from ...model import Priority


class PriorityPicker(ModalScreen[Priority | None]):
    """Dismisses with the chosen Priority, or None. Keys 1-4 pick directly."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Cancel"),
        Binding("1", "pick(0)", "low", show=False),
        Binding("2", "pick(1)", "normal", show=False),
        Binding("3", "pick(2)", "high", show=False),
        Binding("4", "pick(3)", "urgent", show=False),
    ]

    def __init__(self, current: Priority, subject: str) -> None:
        super().__init__(classes="dialog-screen")
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

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = int(self.current)
        options.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Priority[str(event.option.id)])

    def action_pick(self, value: int) -> None:
        self.dismiss(Priority(value))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
