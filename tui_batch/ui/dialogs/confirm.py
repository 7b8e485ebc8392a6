"""Yes/no confirmation for destructive or irreversible actions (cancel all, delete, quit)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static

from .base import Dialog


class ConfirmDialog(Dialog[bool]):
    """Returns True when confirmed: y, or Enter on the confirming button; n and Esc refuse."""

    HELP_TITLE: ClassVar[str] = "Confirmation"
    """This dialog's section title in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        Binding("left,right", "app.focus_next", "Switch", key_display="←→", show=False),
    ]

    def __init__(
        self,
        title: str,
        message: str,
        *,
        yes: str = "Yes",
        no: str = "No",
        danger: bool = False,
    ) -> None:
        super().__init__()
        self.title_text = title
        """Bold first line."""
        self.message = message
        """What will happen, in a sentence or two."""
        self.yes = yes
        """Label of the confirming button (say what it does: "Cancel all")."""
        self.no = no
        """Label of the refusing button."""
        self.danger = danger
        """Style the confirming button as destructive."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.message, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    f"{self.yes} (y)",
                    id="yes",
                    variant="error" if self.danger else "primary",
                    compact=True,
                )
                yield Button(f"{self.no} (n)", id="no", compact=True)
        yield self.footer()

    def on_mount(self) -> None:
        self.query_one("#no" if self.danger else "#yes", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        """Answer: yes (y) or no (n, Esc)."""
        self.dismiss(value)
