"""What every dialog shares: its own footer, and help and quit from inside it.

A modal screen cuts the app's bindings off (Textual stops the key chain at the modal), so
``?`` and ``q`` would do nothing in a dialog and the footer would show the keys of the screen
below, which do not work there. Each dialog binds help and quit itself and draws its own
:class:`~tui_batch.ui.widgets.key_footer.KeyFooter`, so the keys shown are the keys that work.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

from ..widgets.key_footer import KeyFooter

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A modal dialog: centred box over the dimmed screen, with its own footer."""

    HELP_TITLE: ClassVar[str] = "Dialog"
    """The dialog's section title in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("f1", "app.help", "Help", show=False),
        Binding("q", "app.quit", "Quit"),
        # The app's Ctrl+Q works here too, but a modal hides it from the footer's list.
        Binding("ctrl+q", "app.quit", "Quit", show=False, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def footer(self) -> KeyFooter:
        """The footer to yield last in ``compose``."""
        return KeyFooter()
