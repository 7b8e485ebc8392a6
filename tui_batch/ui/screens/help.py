"""Help: what each screen does and every key, generated from the live bindings.

Built from the screens' BINDINGS so it can never drift from what the keys really do.
"""

from __future__ import annotations

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


def help_markdown() -> str:
    """The whole help text (also used by tests)."""
    from .dashboard import DashboardScreen
    from .form import FormScreen
    from .jobs import JobsScreen
    from .preview import PreviewScreen

    sections = [
        INTRO,
        "## Everywhere\n\n| Key | Action |\n|---|---|\n| `F1` | this help |\n"
        "| `F2` | jobs |\n| `Ctrl+P` | command palette |\n| `Ctrl+Q` | quit |",
        "## Filter form\n\n" + _keys(FormScreen),
        "## Preview\n\n" + _keys(PreviewScreen),
        "## Dashboard\n\nThe footer shows only what applies now (e.g. *Resume* only when "
        "paused).\n\n" + _keys(DashboardScreen),
        "## Jobs\n\n" + _keys(JobsScreen),
    ]
    return "\n\n".join(sections)


class HelpScreen(ModalScreen[None]):
    """Full-screen help; Escape or F1 closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(help_markdown())
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help").focus()

    def action_close(self) -> None:
        """Back to the screen you were on."""
        self.dismiss(None)
