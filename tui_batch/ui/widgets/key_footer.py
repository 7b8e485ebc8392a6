"""The footer every screen and dialog uses: the keys that fit, always ending with Help and Quit.

Textual's ``Footer`` lays every shown binding side by side and lets the row overflow, so at 80
columns (an SSH session) the last labels are cut mid-word and Help and Quit, the two keys a new
user looks for, are the first to go. This footer measures each key and keeps, in the order the
screen lists them (most used first), only those that fit whole; the help key and the quit key
are always drawn, last, in that order. What does not fit stays reachable from the help (``?``)
and the command palette (Ctrl+P), which list every binding.

Help and Quit show the key that works where the focus is: ``?`` and ``q``, or ``F1`` and
``^q`` while a text field has the focus (there ``?`` and ``q`` are typed, and a glob such as
``*.tx?`` needs its ``?``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.keys import key_to_character
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_ACTIONS = frozenset({"help", "app.help"})
"""Actions drawn as the footer's Help entry."""
QUIT_ACTIONS = frozenset({"quit", "app.quit"})
"""Actions drawn as the footer's Quit entry."""
HELP_KEYS = ("question_mark", "f1")
"""Keys for help, best first: the first one active where the focus is is shown."""
QUIT_KEYS = ("q", "ctrl+q")
"""Keys for quit, best first."""
TYPED_KEYS = {"slash": "/", "plus": "+", "minus": "-", "backslash": "\\", "asterisk": "*"}
"""Characters of keys ``textual.keys.key_to_character`` does not know."""


class FooterItem(NamedTuple):
    """One key as the footer draws it."""

    binding: Binding
    """The binding (its key, action and description)."""
    key_display: str
    """The key as shown (``Enter``, ``?``, ``^r``)."""
    enabled: bool
    """False: drawn dim (the action exists but is not possible now)."""
    tooltip: str
    """Shown on mouse hover."""

    @property
    def width(self) -> int:
        """Cells taken in the compact footer: key, space, description, one-cell gap."""
        return cell_len(self.key_display) + 1 + cell_len(self.binding.description) + 1


def fit_items(items: Iterable[FooterItem], tail: list[FooterItem], width: int) -> list[FooterItem]:
    """``items`` that fit whole in ``width`` cells with ``tail`` (always kept) after them.

    Items are taken in order; one too wide is skipped and a later, shorter one may still fit.
    """
    room = width - sum(item.width for item in tail)
    kept = []
    for item in items:
        if item.width <= room:
            kept.append(item)
            room -= item.width
    return kept + tail


class KeyFooter(Footer):
    """A compact footer whose keys always fit the width; Help and Quit come last."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, show_command_palette=False, compact=True)
        self._fitted_width = 0
        self._shown: tuple[object, ...] | None = None

    def items(self) -> tuple[list[FooterItem], list[FooterItem]]:
        """The keys of the current screen before fitting: (the screen's, [Help, Quit])."""
        active = self.screen.active_bindings
        by_action: dict[str, FooterItem] = {}
        for node, binding, enabled, tooltip in active.values():
            if not binding.show or binding.action in HELP_ACTIONS | QUIT_ACTIONS:
                continue
            display = self.app.get_key_display(binding)
            if node is not self.screen.focused and self._typed(binding.key, display):
                continue
            if binding.action not in by_action:
                by_action[binding.action] = FooterItem(binding, display, enabled, tooltip)
        tail = [
            item
            for keys, description in ((HELP_KEYS, "Help"), (QUIT_KEYS, "Quit"))
            if (item := self._special(keys, description)) is not None
        ]
        return list(by_action.values()), tail

    def _typed(self, key: str, display: str) -> bool:
        """The focused widget takes this key as text (a text field typing ``/``).

        Textual asks the same when it lists active bindings, but knows no character for
        ``slash``, ``plus`` or ``minus``, so those would be shown while a field types them."""
        focused = self.screen.focused
        if focused is None:
            return False
        char = key_to_character(key) or TYPED_KEYS.get(key)
        if char is None and len(display) == 1:
            char = display
        return char is not None and focused.check_consume_key(key, char)

    def _special(self, keys: tuple[str, ...], description: str) -> FooterItem | None:
        active = self.screen.active_bindings
        for key in keys:
            found = active.get(key)
            if found is None:
                continue
            _node, binding, enabled, tooltip = found
            actions = HELP_ACTIONS if description == "Help" else QUIT_ACTIONS
            if binding.action not in actions:
                continue
            shown = Binding(
                binding.key, binding.action, description, key_display=binding.key_display
            )
            return FooterItem(shown, self.app.get_key_display(shown), enabled, tooltip)
        return None

    def fitted(self) -> list[FooterItem]:
        """The keys drawn at the current width."""
        body, tail = self.items()
        return fit_items(body, tail, self._width())

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def _signature(self, items: list[FooterItem]) -> tuple[object, ...]:
        return (self._width(), *((i.key_display, i.binding.description, i.enabled) for i in items))

    def bindings_changed(self, screen: Screen[object]) -> None:
        # A dashboard refreshes its bindings on every tick; rebuilding the keys each time
        # (as Footer does) costs a remount and a CSS pass for a row that did not change.
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if self.is_attached and self._signature(self.fitted()) != self._shown:
            await self.recompose()

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        self._fitted_width = self._width()
        items = self.fitted()
        self._shown = self._signature(items)
        for item in items:
            yield FooterKey(
                item.binding.key,
                item.key_display,
                item.binding.description,
                item.binding.action,
                disabled=not item.enabled,
                tooltip=item.tooltip or item.binding.description,
            ).data_bind(compact=Footer.compact)

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready and event.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)
