"""A checkbox that reads on or off at a glance: ``[x] label`` or ``[ ] label``.

Textual's Checkbox draws the same ``▐X▌`` in both states and tells them apart only by colour,
which many SSH terminals, themes and colour-blind users lose: a whole row of boxes looked
ticked. The state here is in the characters themselves, as in a paper form, and the colour
only adds to it.
"""

from __future__ import annotations

from typing import ClassVar

from textual.content import Content
from textual.widgets import Checkbox

ON = "[x]"
"""Drawn for a ticked box."""

OFF = "[ ]"
"""Drawn for an empty box."""


class TickBox(Checkbox):
    """A :class:`~textual.widgets.Checkbox` drawn as ``[x]`` / ``[ ]``: same API and messages
    (``Checkbox.Changed``), so code that queries ``Checkbox`` finds it."""

    DEFAULT_CSS: ClassVar[str] = """
    TickBox > .toggle--button {
        color: $text-muted;
        background: transparent;
    }
    TickBox.-on > .toggle--button {
        color: $text-success;
        background: transparent;
        text-style: bold;
    }
    """

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.styled(ON if self.value else OFF, style)
