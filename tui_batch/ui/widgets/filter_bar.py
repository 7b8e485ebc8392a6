"""A one-line ``/`` name filter shared by every list screen (task list, preview, jobs).

Every list in the TUI filters by name the same way, as ``/`` does in less, vim and htop: the
bar appears, the list narrows as you type, Esc clears it and hides it again. One widget keeps
the keys, the matching rule and the look identical everywhere.

API (what a screen does with it)::

    from ..widgets.filter_bar import FilterBar, name_matches

    def compose(self):
        yield FilterBar(placeholder="name contains…", id="filter")   # hidden until opened
        yield MyTable()

    BINDINGS = [Binding("slash", "filter", "Filter", key_display="/")]

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()        # show, focus; remembers the focused widget

    def on_filter_bar_changed(self, event: FilterBar.Changed) -> None:
        self.apply(event.text)                  # "" = no filter; sent on every keystroke

    def on_filter_bar_closed(self, event: FilterBar.Closed) -> None:
        ...                                     # optional: the bar was cleared and hidden

Keys inside the bar: typing filters at once (``FilterBar.Changed(text)``); Enter keeps the
filter, leaves the bar visible and gives focus back to the widget focused before
:meth:`FilterBar.open` (``FilterBar.Submitted(text)``); Esc clears the text (a last
``Changed("")``), hides the bar, gives focus back and posts ``FilterBar.Closed``. A screen whose
Esc otherwise goes back should first call :meth:`FilterBar.close` when :attr:`FilterBar.active`
is true, so Esc always undoes the filter before it leaves the screen.

Matching is :func:`name_matches`: every space-separated word of the text must occur in the
name; smart case (case-insensitive unless the text has an upper-case letter), as fd and
ripgrep do. :meth:`FilterBar.matcher` returns it bound to the current text, compiled once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label


def compile_matcher(text: str) -> Callable[[str], bool]:
    """A predicate for names matching ``text`` (see :func:`name_matches`), compiled once."""
    words = text.split()
    if not words:
        return lambda name: True
    if any(ch.isupper() for ch in text):
        return lambda name: all(word in name for word in words)
    lowered = [word.lower() for word in words]
    return lambda name: all(word in name.lower() for word in lowered)


def name_matches(text: str, name: str) -> bool:
    """True when every word of ``text`` occurs in ``name`` (smart case; empty text: all)."""
    return compile_matcher(text)(name)


class FilterBar(Widget):
    """A hidden one-line input that filters a list by name while you type."""

    DEFAULT_CSS = """
    FilterBar {
        display: none;
        height: 1;
        width: 1fr;
        background: $panel;
        padding: 0 1;
    }
    FilterBar.-open {
        display: block;
        layout: horizontal;
    }
    FilterBar > Label {
        width: auto;
        color: $accent;
        text-style: bold;
        padding: 0 1 0 0;
    }
    FilterBar > Input {
        width: 1fr;
        background: $panel;
    }
    FilterBar > Input:focus {
        background: $surface;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Clear filter", key_display="Esc"),
        # The Input handles Enter itself; this entry names what it does here, in the footer.
        Binding("enter", "submit", "Keep filter", key_display="Enter"),
    ]

    class Changed(Message, namespace="filter_bar"):
        """The filter text changed ("" when cleared); sent on every keystroke."""

        def __init__(self, bar: FilterBar, text: str) -> None:
            super().__init__()
            self.bar = bar
            """The bar that sent it."""
            self.text = text
            """The whole filter text now."""

        @property
        def control(self) -> FilterBar:
            return self.bar

    class Submitted(Message, namespace="filter_bar"):
        """Enter: the filter is kept and focus went back to the list."""

        def __init__(self, bar: FilterBar, text: str) -> None:
            super().__init__()
            self.bar = bar
            """The bar that sent it."""
            self.text = text
            """The filter text kept."""

        @property
        def control(self) -> FilterBar:
            return self.bar

    class Closed(Message, namespace="filter_bar"):
        """Esc (or :meth:`FilterBar.close`): the filter was cleared and the bar hidden."""

        def __init__(self, bar: FilterBar) -> None:
            super().__init__()
            self.bar = bar
            """The bar that sent it."""

        @property
        def control(self) -> FilterBar:
            return self.bar

    def __init__(
        self,
        *,
        placeholder: str = "filter by name…",
        prompt: str = "/",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._placeholder = placeholder
        self._prompt = prompt
        self._return_focus: Widget | None = None

    def compose(self) -> ComposeResult:
        yield Label(self._prompt)
        field = Input(placeholder=self._placeholder, compact=True)
        # Closed, the field takes no focus: a screen's auto-focus runs before styles hide
        # the bar, and would otherwise land in an invisible input.
        field.can_focus = False
        yield field

    @property
    def input(self) -> Input:
        """The text input inside the bar."""
        return self.query_one(Input)

    @property
    def text(self) -> str:
        """The current filter text ("" when no filter)."""
        return self.input.value

    @property
    def is_open(self) -> bool:
        """The bar is visible."""
        return self.has_class("-open")

    @property
    def active(self) -> bool:
        """The bar is visible or holds a filter (Esc should close it before leaving)."""
        return self.is_open or bool(self.text)

    def matcher(self) -> Callable[[str], bool]:
        """:func:`name_matches` bound to the current text."""
        return compile_matcher(self.text)

    def open(self) -> None:
        """Show the bar and focus it, keeping any text already typed."""
        focused = self.screen.focused
        if focused is not None and focused is not self.input:
            self._return_focus = focused
        self.add_class("-open")
        self.input.can_focus = True
        self.input.focus()
        self.input.action_end()

    def close(self) -> None:
        """Clear the filter, hide the bar and give focus back (posts Changed("") and Closed)."""
        had_text = bool(self.input.value)
        with self.input.prevent(Input.Changed):
            self.input.value = ""
        if had_text:
            self.post_message(self.Changed(self, ""))
        self.remove_class("-open")
        self._give_back_focus()
        self.input.can_focus = False
        self.post_message(self.Closed(self))

    def action_close(self) -> None:
        """Clear and hide the filter."""
        self.close()

    async def action_submit(self) -> None:
        """Keep the filter and go back to the list."""
        await self.input.action_submit()

    def _give_back_focus(self) -> None:
        target = self._return_focus
        self._return_focus = None
        if target is not None and target.is_attached and target.focusable:
            target.focus()
        elif self.input.has_focus:
            self.screen.focus_next()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()  # the screen hears FilterBar.Changed only, never a stray Input.Changed
        self.post_message(self.Changed(self, event.value))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value:
            self.close()
            return
        self._give_back_focus()
        self.post_message(self.Submitted(self, event.value))
