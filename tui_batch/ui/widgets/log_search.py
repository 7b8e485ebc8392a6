"""``/`` search in a log view: the bar at the bottom, the hits, ``n``/``N`` between them.

Why a widget of its own: the full-screen log owns the keys, but what a search is (the query,
its pattern, every hit in a 10 MiB output, which one is current, what the bar says) is one
piece of state that must stay right while a running task's output grows. Finding the hits
runs in a thread (one regex pass over the output, yet 100,000 hits take a moment to list),
a moment after typing stops; the hits are drawn by the log view itself from the pattern, so
they show at once.

As in ``less``: the search starts from the top of the screen, Enter goes back to the log
with the hits kept (``n``/``N`` move), Esc closes the search and removes the highlight.
"""

from __future__ import annotations

import re
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from .log_lines import MAX_MATCHES, LogDocument, Match, find_matches, search_pattern
from .log_text import LogText

__all__ = ["LogSearch"]

SEARCH_DELAY = 0.15
"""Seconds after the last key typed before the hits are listed."""


class LogSearch(Horizontal):
    """The search bar of a :class:`LogText` (hidden until :meth:`open`)."""

    DEFAULT_CSS = """
    LogSearch {
        height: 1;
        display: none;
        background: $panel;
    }
    LogSearch.-open { display: block; }
    LogSearch > #log-search-label { width: auto; padding: 0 1; color: $accent; text-style: bold; }
    LogSearch > Input { width: 1fr; background: $panel; }
    LogSearch > Input:focus { background: $surface; }
    LogSearch > #log-search-count { width: auto; min-width: 10; padding: 0 1; }
    """

    PLACEHOLDER: ClassVar[str] = "text to find (any case unless it has capitals)"

    def __init__(self, view: LogText, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        """The log view searched."""
        view.open_search = self.open
        self.pattern: re.Pattern[str] | None = None
        """What is searched (None: no search)."""
        self.matches: list[Match] = []
        """Every hit, in document order (at most MAX_MATCHES)."""
        self.index: int | None = None
        """The current hit's index in :attr:`matches`."""
        self._timer: Timer | None = None
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield Static("/", id="log-search-label")
        yield Input(placeholder=self.PLACEHOLDER, id="log-search-input", compact=True)
        yield Static("", id="log-search-count")

    @property
    def input(self) -> Input:
        """The query field."""
        return self.query_one("#log-search-input", Input)

    @property
    def is_open(self) -> bool:
        """The bar is shown (a search is going on, or being typed)."""
        return self.has_class("-open")

    # -------------------------------------------------------------- controls
    def open(self) -> None:
        """Show the bar and put the cursor in the query (kept from the last search)."""
        self.add_class("-open")
        # at once, not after the queued events (focus() defers): keys typed right after the
        # slash, in the same burst (a fast typist, a paste), must land in the field
        self.screen.set_focus(self.input)
        self.input.select_all()

    def close(self) -> None:
        """Hide the bar, forget the hits, give the focus back to the log."""
        self.remove_class("-open")
        self.pattern, self.matches, self.index = None, [], None
        self._generation += 1
        self.view.set_search(None)
        self.screen.set_focus(self.view)

    def step(self, delta: int) -> None:
        """Move to the next (1) or previous (-1) hit, round the end."""
        if not self.matches:
            self.bell_if_searched()
            return
        if self.index is None:
            self.index = self._first_from_top() if delta > 0 else len(self.matches) - 1
        else:
            self.index = (self.index + delta) % len(self.matches)
        self._show_current()

    def bell_if_searched(self) -> None:
        """Say, in the bar, that there is nothing to move to."""
        if self.pattern is not None:
            self._count("no match")

    def content_changed(self) -> None:
        """The document grew or changed: list the hits again (current hit kept if it is)."""
        if self.pattern is not None:
            self._find(self.pattern, keep=True)

    # --------------------------------------------------------------- typing
    @on(Input.Changed, "#log-search-input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        pattern = search_pattern(event.value)
        self._timer = self.set_timer(SEARCH_DELAY, lambda: self._find(pattern, keep=False))

    @on(Input.Submitted, "#log-search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        pattern = search_pattern(event.value)
        if pattern is None:
            self.close()
            return
        self.screen.set_focus(self.view)
        if self.pattern is None or pattern.pattern != self.pattern.pattern:
            self._find(pattern, keep=False)

    # --------------------------------------------------------------- finding
    def _find(self, pattern: re.Pattern[str] | None, *, keep: bool) -> None:
        self._generation += 1
        self.pattern = pattern
        if pattern is None:
            self.matches, self.index = [], None
            self.view.set_search(None)
            self._count("")
            return
        self.view.set_search(pattern, self.view.current if keep else None)
        self._search(self.view.document, pattern, self._generation, keep)

    @work(thread=True, exclusive=True, group="log-search")
    def _search(self, doc: LogDocument, pattern: re.Pattern[str], generation: int,
                keep: bool) -> None:
        try:
            matches = find_matches(doc, pattern)
        except Exception:  # the document changed under the search: the next change redoes it
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._found, matches, generation, keep)

    def _found(self, matches: list[Match], generation: int, keep: bool) -> None:
        if generation != self._generation or not self.is_attached:
            return
        current = self.view.current
        self.matches = matches
        if keep and current is not None and current in matches:
            self.index = matches.index(current)
            self._count_current()
            return
        if not matches:
            self.index = None
            self.view.set_search(self.pattern)
            self._count("no match")
            return
        self.index = self._first_from_top()
        self._show_current()

    def _first_from_top(self) -> int:
        top = int(self.view.scroll_offset.y)
        return next((i for i, m in enumerate(self.matches) if m.row >= top), 0)

    def _show_current(self) -> None:
        if self.index is None:
            return
        self.view.set_search(self.pattern, self.matches[self.index])
        self._count_current()

    def _count_current(self) -> None:
        more = "+" if len(self.matches) >= MAX_MATCHES else ""
        position = "" if self.index is None else f"{self.index + 1:,} of "
        self._count(f"{position}{len(self.matches):,}{more}")

    def _count(self, text: str) -> None:
        self.query_one("#log-search-count", Static).update(text)
