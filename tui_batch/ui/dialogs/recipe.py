"""Ask for a recipe file path, and run the load/save there so errors show in the dialog.

Running the operation inside the dialog keeps the user in context: a recipe with a bad key
shows "filter.min_size: ..." under the path, and they can fix the path or cancel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label

from ...errors import InputError
from .base import Dialog


class RecipeDialog(Dialog[Any]):
    """Dismisses with the operation's result, or None when cancelled."""

    HELP_TITLE: ClassVar[str] = "Recipe file"
    """This dialog's section title in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "OK", key_display="Enter"),
        Binding("escape", "cancel", "Cancel", key_display="Esc"),
    ]

    def __init__(self, title: str, default: str, operation: Callable[[str], Any]) -> None:
        super().__init__()
        self.title_text = title
        """Dialog title ("Open recipe" / "Save recipe")."""
        self.default = default
        """Prefilled path."""
        self.operation = operation
        """Called with the path; raises InputError (shown inline) or returns the result."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Label("TOML file path", classes="dialog-body")
            yield Input(self.default, id="path", compact=True)
            yield Label("", id="path-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK (enter)", id="ok", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)
        yield self.footer()

    def on_mount(self) -> None:
        if getattr(self.app, "deterministic", False):
            self.query_one(Input).cursor_blink = False
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def action_submit(self) -> None:
        """Open or save the recipe at the typed path."""
        path = self.query_one("#path", Input).value.strip()
        error = self.query_one("#path-error", Label)
        if not path:
            error.update("↑ type a file path")
            error.add_class("-visible")
            return
        try:
            result = self.operation(path)
        except InputError as exc:
            error.update(f"↑ {exc.field}: {exc.message}")
            error.add_class("-visible")
            return
        except OSError as exc:
            error.update(f"↑ {exc.strerror or exc}")
            error.add_class("-visible")
            return
        self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without opening or saving anything."""
        self.dismiss(None)
