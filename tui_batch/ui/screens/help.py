"""Help: the keys of the screen it was opened from first, then every screen's, from the bindings.

Built from the live bindings (and their actions' docstrings) so it can never drift from what
the keys really do. It opens on the keys of the screen or dialog below it, every one of them,
those the footer has no room for included, and the keys of the widget that has the focus
there (the task list's, the filter bar's); the other screens follow for reference. Which
screens it lists is the app's to say (it passes their classes): this module imports no screen,
it reads any class that has ``BINDINGS``, a ``HELP_TITLE`` and optionally a ``HELP_INTRO``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from rich.markdown import Markdown
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..widgets.key_footer import KeyFooter

INTRO = """\
Pick files with a **filter**, check them in the **preview**, run an action on each one in
parallel and watch the **dashboard**. Jobs are stored: a job stopped by quit, a crash or a
reboot is finished later from the **jobs** screen (`F2`) or with `tui-batch resume ID`.

* `Ctrl+P` opens the command palette: every action of every screen, searchable.
* `Tab` / `Shift+Tab` move between fields; the mouse works everywhere.
* `/` filters a list by name as you type (words in any order; upper case makes it exact);
  `Esc` clears the filter.
* Fields are checked as you type; the message appears under the field.
* Command templates: `{}` path, `{/}` basename, `{//}` parent, `{.}` path without extension,
  `{/.}` basename without extension, `{out}` output path (`{out.txt}`: with a new extension),
  `{#}` the task's number in the job, `{%}` the worker slot (1..N). File names are never run
  by a shell.
"""

EVERYWHERE = """\
## Everywhere

| Key | Action |
|---|---|
| `?`, `F1` | this help (in a text field `?` is typed: use `F1`) |
| `q`, `Ctrl+Q` | quit (asks first while a job runs; in a text field use `Ctrl+Q`) |
| `F2` | jobs |
| `Ctrl+P` | command palette |"""

KeyName = Callable[[str], str]
"""How one key is written (``enter`` -> ``Enter``); the app's footer spelling."""


def _plain_key(key: str) -> str:
    return key.replace("_", " ")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _rows(
    owner: type[Any] | DOMNode,
    bindings: Iterable[BindingType],
    key_name: KeyName,
    taken: set[str] | None = None,
) -> list[str]:
    """Table rows for ``bindings``; keys in ``taken`` (bound by a namespace listed before,
    which wins: the screen's Enter over the table's) are skipped, and these keys added to it."""
    rows = []
    listed: set[str] = set()
    actions: set[str] = set()
    for binding in bindings:
        if not isinstance(binding, Binding):
            continue
        keys = set(binding.key.split(","))
        listed |= keys
        if taken is not None and keys <= taken:
            continue
        name = binding.action.split("(")[0]
        if not binding.show and name in actions:
            continue  # "+/-": one row says it; 2, 3, 4 after "1-4" likewise
        actions.add(name)
        key = binding.key_display or ", ".join(key_name(k) for k in binding.key.split(","))
        doc = ""
        if "." not in name:
            method = getattr(owner, "action_" + name, None)
            if method is not None and method.__doc__:
                doc = method.__doc__.strip().splitlines()[0]
        rows.append(
            f"| `{_cell(key)}` | {_cell(binding.description or binding.action)} | {_cell(doc)} |"
        )
    if taken is not None:
        taken |= listed
    return rows


def _table(rows: list[str]) -> str:
    return "| Key | Action | What it does |\n|---|---|---|\n" + "\n".join(rows)


def _keys(screen: type[object], key_name: KeyName = _plain_key) -> str:
    """The table of a screen's keys: key, what it is called, its action's first doc line."""
    return _table(_rows(screen, getattr(screen, "BINDINGS", []), key_name))


def _section(screen: type[object], key_name: KeyName = _plain_key) -> str:
    """One screen's part: its title, its intro if it has one, its keys."""
    title = getattr(screen, "HELP_TITLE", None) or screen.__name__
    intro = getattr(screen, "HELP_INTRO", "")
    return f"## {title}\n\n" + (f"{intro}\n\n" if intro else "") + _keys(screen, key_name)


def _ours(node: DOMNode) -> bool:
    return type(node).__module__.startswith("tui_batch.")


def origin_section(origin: Screen[Any], key_name: KeyName = _plain_key) -> str:
    """The keys of ``origin`` (a live screen or dialog), all of them, and those of our widgets
    that hold its focus (Textual's own widgets' editing keys are left out)."""
    cls = type(origin)
    title = getattr(cls, "HELP_TITLE", None) or cls.__name__
    intro = getattr(cls, "HELP_INTRO", "")
    taken: set[str] = set()
    rows = _rows(cls, getattr(cls, "BINDINGS", []), key_name, taken)
    focused = origin.focused
    if focused is not None:
        chain = [n for n in focused.ancestors_with_self if n is not origin and n is not origin.app]
        for node in reversed(chain):
            if _ours(node):
                rows += _rows(node, getattr(type(node), "BINDINGS", []), key_name, taken)
    body = (f"{intro}\n\n" if intro else "") + _table(rows)
    return f"# Keys here: {title}\n\n{body}"


def help_markdown(
    screens: Sequence[type[object]],
    origin: Screen[Any] | None = None,
    key_name: KeyName = _plain_key,
) -> str:
    """The whole help text: the keys of ``origin`` first (when given), what keys work
    everywhere, the introduction, then one section for each of ``screens`` in that order
    (``origin``'s own class is not repeated)."""
    others = [s for s in screens if origin is None or s is not type(origin)]
    sections = [
        *([origin_section(origin, key_name)] if origin is not None else []),
        EVERYWHERE,
        "# tui-batch\n\n" + INTRO,
        *(_section(screen, key_name) for screen in others),
    ]
    return "\n\n".join(sections)


class HelpScreen(ModalScreen[None]):
    """Full-screen help; Esc, ``?`` or F1 closes it."""

    HELP_TITLE: ClassVar[str] = "Help"
    """This screen's title in its own keys section."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", key_display="Esc"),
        Binding("up,k", "scroll(-1)", "Scroll", key_display="↑↓"),
        Binding("down,j", "scroll(1)", "Scroll", show=False),
        Binding("pageup,b", "page(-1)", "Page up", show=False),
        Binding("pagedown,space", "page(1)", "Page", key_display="PgDn"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("f1", "app.help", "Help", show=False),
        Binding("q", "app.quit", "Quit"),
        Binding("ctrl+q", "app.quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, screens: Sequence[type[object]], origin: Screen[Any] | None = None) -> None:
        super().__init__()
        self.screens = tuple(screens)
        """The screen classes whose keys are listed, in order."""
        self.origin = origin
        """The screen or dialog help was opened from: its keys come first."""
        self.text = ""
        """The help as Markdown (what is shown)."""

    def _key_name(self, key: str) -> str:
        return self.app.get_key_display(Binding(key, ""))

    def compose(self) -> ComposeResult:
        self.text = help_markdown(self.screens, self.origin, self._key_name)
        # Rich renders the Markdown in one Static: Textual's Markdown widget builds a widget
        # per table cell and took seconds to open with every screen's keys.
        with VerticalScroll(id="help"):
            yield Static(Markdown(self.text), id="help-text")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#help").focus()

    def action_close(self) -> None:
        """Back to the screen you were on."""
        self.dismiss(None)

    def action_scroll(self, lines: int) -> None:
        """Scroll the help by a line."""
        self.query_one("#help", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_page(self, pages: int) -> None:
        """Scroll the help by a page."""
        view = self.query_one("#help", VerticalScroll)
        view.scroll_relative(y=pages * max(1, view.size.height - 1), animate=False)
