"""Command palette entries for every action of the current screen.

The provider reads the active screen's bindings (and the app's), so each new binding is in the
palette automatically, and asks ``check_action`` so the palette offers exactly what the footer
offers ("Resume" only when paused).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape
from textual.screen import Screen


def _entries(screen: Screen[object]) -> Iterator[tuple[str, str, str, object]]:
    """(title, help, action, namespace) for every enabled binding of the screen and app."""
    seen: set[str] = set()
    app = screen.app
    for namespace in (screen, app):
        for binding in getattr(namespace, "BINDINGS", []):
            if not isinstance(binding, Binding) or not binding.description:
                continue
            action = binding.action
            if action in seen or action.startswith("app.focus"):
                continue
            name = action.split("(")[0]
            if "." not in name:
                target = namespace
                if target.check_action(name, ()) is False:
                    continue
                method = getattr(target, f"action_{name}", None)
                doc = ""
                if method is not None and method.__doc__:
                    doc = method.__doc__.strip().splitlines()[0]
            else:
                target, doc = namespace, ""
            seen.add(action)
            first = replace(binding, key=binding.key.split(",")[0])
            key = escape(screen.app.get_key_display(first))  # "/" or "[" are not markup
            yield binding.description, f"{escape(doc)} \\[{key}]".strip(), action, target


class ScreenActions(Provider):
    """Every action the current screen offers, runnable from Ctrl+P."""

    def _screen(self) -> Screen[object]:
        # Textual hands providers the screen the palette was opened from.
        return self.screen

    async def discover(self) -> Hits:
        for title, help_text, action, target in _entries(self._screen()):
            yield DiscoveryHit(title, partial(self._run, action, target), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action, target in _entries(self._screen()):
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(self._run, action, target),
                    help=help_text,
                )

    async def _run(self, action: str, target: object) -> None:
        await self.app.run_action(action, target)  # type: ignore[arg-type]
