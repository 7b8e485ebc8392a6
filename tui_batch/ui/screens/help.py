"""Help: what each screen does and every key, generated from the live bindings.

Built from the screens' BINDINGS (and their actions' docstrings) so it can never drift from
what the keys really do. Which screens it lists is the app's to say (it passes their classes):
this module imports no screen, it reads any class that has ``BINDINGS``, a ``HELP_TITLE`` and
optionally a ``HELP_INTRO``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Markdown

INTRO = """\
# tui-batch

Pick files with a **filter**, check them in the **preview**, run an action on each one in
parallel and watch the **dashboard**. Jobs are stored: a job stopped by quit, a crash or a
reboot is finished later from the **jobs** screen (`F2`) or with `tui-batch resume ID`.

* `Ctrl+P` opens the command palette: every action of every screen, searchable.
* `Tab` / `Shift+Tab` move between fields; the mouse works everywhere.
* Fields are checked as you type; the message appears under the field.
* Command templates: `{}` path, `{/}` basename, `{//}` parent, `{.}` path without extension,
  `{/.}` basename without extension, `{out}` output path. File names are never run by a shell.
"""


def _keys(screen: type[Screen[object]] | type[object]) -> str:
    """The table of a screen's keys: key, what it is called, its action's first doc line."""
    rows = []
    for binding in getattr(screen, "BINDINGS", []):
        if not isinstance(binding, Binding):
            continue
        key = binding.key_display or ", ".join(k.replace("_", " ") for k in binding.key.split(","))
        doc = ""
        method = getattr(screen, "action_" + binding.action.split("(")[0], None)
        if method is not None and method.__doc__:
            doc = method.__doc__.strip().splitlines()[0]
        rows.append(f"| `{key}` | {binding.description or binding.action} | {doc} |")
    return "| Key | Action | What it does |\n|---|---|---|\n" + "\n".join(rows)


def _section(screen: type[object]) -> str:
    """One screen's part: its title, its intro if it has one, its keys."""
    title = getattr(screen, "HELP_TITLE", None) or screen.__name__
    intro = getattr(screen, "HELP_INTRO", "")
    return f"## {title}\n\n" + (f"{intro}\n\n" if intro else "") + _keys(screen)


def help_markdown(screens: Sequence[type[object]]) -> str:
    """The whole help text: the introduction, the keys of every screen, one section each for
    ``screens`` in that order."""
    sections = [
        INTRO,
        "## Everywhere\n\n| Key | Action |\n|---|---|\n| `F1` | this help |\n"
        "| `F2` | jobs |\n| `Ctrl+P` | command palette |\n| `Ctrl+Q` | quit |",
        *(_section(screen) for screen in screens),
    ]
    return "\n\n".join(sections)


class HelpScreen(ModalScreen[None]):
    """Full-screen help; Escape or F1 closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close"),
    ]

    def __init__(self, screens: Sequence[type[object]]) -> None:
        super().__init__()
        self.screens = tuple(screens)
        """The screen classes whose keys are listed, in order."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(help_markdown(self.screens))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help").focus()

    def action_close(self) -> None:
        """Back to the screen you were on."""
        self.dismiss(None)
