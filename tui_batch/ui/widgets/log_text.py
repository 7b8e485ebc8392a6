"""A log viewer that draws only the rows on screen, whatever the output's size.

Textual's ``Log`` measures every line it is given and ``RichLog`` keeps a renderable per line:
10 MiB of task output is 200,000 lines, which either of them takes seconds to take in. This
widget holds a :class:`~.log_lines.LogDocument` (plain strings, cleaned once) and turns a row
into segments in :meth:`render_line` only when it is on screen, cutting a long line to the
visible columns before styling it, so opening and scrolling cost one screenful.

Search hits are drawn from the pattern itself, row by row as they are drawn, so they are
right even while a running task's output grows; the hit that ``n``/``N`` moved to is the
*current* one, drawn apart. A view sent to its end stays there as rows are added (it follows,
with Textual's anchor), and stops following as soon as the user scrolls up; End follows again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar, Literal

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from .log_lines import LogDocument, Match

__all__ = ["LogText"]

Placement = Literal["top", "end", "keep", "follow"]
"""Where the view goes when its rows change: the first row; the last row, and it stays there
as rows are added (until the user scrolls up); where it was; the last row if it follows."""


class LogText(ScrollView, can_focus=True):
    """Scrolls a :class:`LogDocument`: arrows, PgUp/PgDn, Home/End, the mouse wheel."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-text--head",
        "log-text--note",
        "log-text--err",
        "log-text--match",
        "log-text--current",
    }

    DEFAULT_CSS = """
    LogText {
        overflow-x: auto;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 1;
    }
    LogText > .log-text--head { color: $text-primary; text-style: bold; }
    LogText > .log-text--note { color: $text-warning; text-style: italic; }
    LogText > .log-text--err { color: $text-error; }
    LogText > .log-text--match { background: $warning 30%; }
    LogText > .log-text--current { background: $warning; color: $background; text-style: bold; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "scroll_up", "Up", show=False),
        Binding("j", "scroll_down", "Down", show=False),
        Binding("g", "scroll_home", "First line", show=False),
        Binding("G", "scroll_end", "Last line", show=False),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.document = LogDocument()
        """The rows shown (call :meth:`content_changed` after changing them in place)."""
        self.pattern: re.Pattern[str] | None = None
        """Search hits drawn highlighted (None: no search)."""
        self.current: Match | None = None
        """The hit drawn as the current one."""
        self._styles: dict[str, Style] = {}
        self.open_search: Callable[[], None] | None = None
        """What ``/`` does here (set by the search bar; None: ``/`` is left to bindings)."""

    # ------------------------------------------------------------------ content
    def set_document(self, document: LogDocument, *, at: Placement = "top") -> None:
        """Show ``document`` (the view goes to ``at``)."""
        self.document = document
        self.content_changed(at=at)

    def content_changed(self, *, at: Placement = "follow") -> None:
        """The document's rows changed: new size, then place the view (see Placement)."""
        self.virtual_size = Size(self.document.width + 1, len(self.document))
        if at == "top":
            self.anchor(False)
            self.scroll_to(0, 0, animate=False, immediate=True, force=True)
        elif at == "end" or (at == "follow" and self.following):
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)
            # Textual's anchor keeps the view at the end through later layouts (a horizontal
            # scrollbar appearing, the pane growing) until the user scrolls up; set after the
            # scroll, which releases it
            self.anchor(True)
        self.refresh()

    @property
    def following(self) -> bool:
        """The view stays at the end as rows are added (it went there, and the user has not
        scrolled away since; End or scrolling back to the end follows again)."""
        return self.is_anchored and not getattr(self, "_anchor_released", False)

    @property
    def at_end(self) -> bool:
        """The view shows the last row."""
        return self.scroll_offset.y >= self.max_scroll_y

    @property
    def row_count(self) -> int:
        """Rows in the document."""
        return len(self.document)

    def show_row(self, row: int, column: int = 0) -> None:
        """Scroll so that ``row`` is on screen (a third from the top when it was not) and
        ``column`` too."""
        height = max(1, self.scrollable_content_region.height)
        width = max(1, self.scrollable_content_region.width)
        top = int(self.scroll_offset.y)
        y = None if top <= row < top + height else max(0, row - height // 3)
        left = int(self.scroll_offset.x)
        x = None if left <= column < left + width - 1 else max(0, column - width // 2)
        self.scroll_to(x, y, animate=False, immediate=True)

    def set_search(self, pattern: re.Pattern[str] | None, current: Match | None = None) -> None:
        """Highlight ``pattern``'s hits; ``current`` is drawn as the one moved to."""
        self.pattern = pattern
        self.current = current
        if current is not None:
            self.show_row(current.row, current.start)
        self.refresh()

    def row_text(self, row: int) -> str:
        """A document row as plain text (tests)."""
        _kind, text = self.document.row(row)
        return text.plain if isinstance(text, Text) else str(text)

    def visible_text(self) -> list[str]:
        """The rows on screen, as plain text (tests)."""
        top = int(self.scroll_offset.y)
        height = self.scrollable_content_region.height
        return [self.row_text(y) for y in range(top, min(top + height, self.row_count))]

    def on_key(self, event: events.Key) -> None:
        """``/`` opens the search at once, and keys queued here after it go to the search field.

        Textual hands a key to the widget focused when the key arrived and runs bindings
        later: ``/`` then a word typed in one burst (a fast typist, tmux, a paste) would lose
        the word. So ``/`` is handled here, as it is read, and a key that finds the focus gone
        elsewhere is passed on to where the focus is now."""
        focused = self.screen.focused
        if focused is not None and focused is not self:
            event.stop()
            event.prevent_default()
            focused.post_message(events.Key(event.key, event.character))
        elif event.key == "slash" and self.open_search is not None:
            event.stop()
            event.prevent_default()
            self.open_search()

    # ---------------------------------------------------------------- selection
    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The text under a mouse selection (copied with Ctrl+C, over SSH too)."""
        text = "\n".join(self.row_text(y) for y in range(self.row_count))
        return selection.extract(text), "\n"

    def _select(self, strip: Strip, row: int, left: int, width: int) -> Strip:
        selection = self.text_selection
        span = None if selection is None else selection.get_span(row)
        if span is None:
            return strip
        start, end = span
        start, end = max(0, start - left), width if end == -1 else min(width, end - left)
        if end <= start:
            return strip
        # its background only: its colour, resolved here, can be the background's own
        style = Style(bgcolor=self.screen.get_component_rich_style("screen--selection").bgcolor)
        before, chosen, after = strip.divide([start, end, width])
        chosen = Strip([Segment(seg.text, (seg.style or Style()) + style) for seg in chosen])
        return Strip.join([before, chosen, after])

    # ------------------------------------------------------------------- render
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self.get_component_rich_style(f"log-text--{name}", partial=True)
            self._styles[name] = style
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        if row >= len(self.document):
            return Strip.blank(width, base)
        kind, text = self.document.row(row)
        style = base + self._style(kind) if kind in ("head", "note", "err") else base
        if isinstance(text, Text):
            rich = text.copy()
            rich.stylize_before(style)
            rich.no_wrap = True
            segments = list(rich.render(self.app.console))
            strip = Strip(segments).crop_extend(scroll_x, scroll_x + width, base)
        else:
            strip = Strip(self._segments(row, text, scroll_x, width, style))
            strip = strip.crop_extend(0, width, base)
        return self._select(strip, row, scroll_x, width).apply_offsets(scroll_x, row)

    def _segments(self, row: int, text: str, left: int, width: int, style: Style) -> list[Segment]:
        """The visible part of a plain row, with its search hits styled. A long line is cut
        to the visible columns first: a 10 MiB line costs what a short one does."""
        visible = text[left : left + width]
        pattern = self.pattern
        if pattern is None or not visible:
            return [Segment(visible, style)]
        # hits that start left of the view but reach into it count too
        reach = max(0, left - 256)
        window = text[reach : left + width + 256]
        segments: list[Segment] = []
        at = 0
        match_style = style + self._style("match")
        current = self.current
        for hit in pattern.finditer(window):
            start = max(0, hit.start() + reach - left)
            end = min(len(visible), hit.end() + reach - left)
            if end <= start or start >= len(visible):
                if hit.start() + reach >= left + width:
                    break
                continue
            if start > at:
                segments.append(Segment(visible[at:start], style))
            is_current = (
                current is not None
                and current.row == row
                and current.start == hit.start() + reach
            )
            segments.append(
                Segment(visible[start:end], style + self._style("current") if is_current
                        else match_style)
            )
            at = end
        if at < len(visible):
            segments.append(Segment(visible[at:], style))
        return segments
