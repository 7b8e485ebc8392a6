"""How the form shows what is wrong: under each field, in the bar, and all at once on Ctrl+R.

The checks themselves are elsewhere (the validators of :mod:`tui_batch.ui.validation`, the
checks across fields of :mod:`tui_batch.ui.form_check`); this module only puts their messages
on screen, from the widget ids the layout (:mod:`tui_batch.ui.form_layout`) gives each field:
``<id>-error`` under it, ``#form-errors`` in the bar. Messages are shown as plain text (a
regex such as ``[a`` in one is not markup).
"""

from __future__ import annotations

from typing import Any

from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Label, Static

from .form_layout import FIELD_LABELS
from .widgets.option_fields import OptionFields

FIELDS = "#form Input, #form Select, #form Checkbox"
"""Every field of the form, in the order the user sees them (the DOM's)."""


def fields_to_fix(n: int) -> str:
    """``1 field to fix`` / ``3 fields to fix``."""
    return f"{n} field{'' if n == 1 else 's'} to fix"


class ErrorView:
    """The form's error lines, found once (a CSS query per keystroke cost more than every
    check together) and redrawn only where a message changed."""

    def __init__(self, screen: Screen[Any]) -> None:
        self.order = {w.id: n for n, w in enumerate(screen.query(FIELDS)) if w.id}
        """Widget id -> its rank, top to bottom."""
        self.fields: dict[str, Widget] = {
            w.id: w for w in screen.query("#form Input, #form Select") if w.id
        }
        self.labels = {
            (label.id or "").removesuffix("-error"): label
            for label in screen.query(".field-error").results(Label)
        }
        self.pairs = [
            (pair, list(pair.query(".field-error").results(Label)))
            for pair in screen.query(".error-pair")
        ]
        self.option_fields = next(iter(screen.query("#opt-fields").results(OptionFields)), None)
        """The main action's options as fields: the one an ``--opt`` error names is marked."""
        self.summary = screen.query_one("#form-errors", Static)
        self.shown: dict[str, str] = {}
        """What is on screen now (widget id -> message)."""

    def in_form_order(self, errors: dict[str, str]) -> dict[str, str]:
        """``errors`` sorted top to bottom as the fields are laid out."""
        last = len(self.order)
        return {i: errors[i] for i in sorted(errors, key=lambda i: self.order.get(i, last))}

    def show(self, errors: dict[str, str]) -> None:
        """Each message under its field, the field marked, the count of wrong fields in the
        bar; fields not in ``errors`` are cleared."""
        # Marked on every call: an Input re-validating its own text resets the mark, even
        # when the message (from a check across fields) stays the same.
        for field_id, widget in self.fields.items():
            widget.set_class(field_id in errors, "-invalid")
        if self.option_fields is not None:
            self.option_fields.mark(errors.get("opts"))
        if errors == self.shown:
            return
        for field_id in set(errors) | set(self.shown):
            message = errors.get(field_id, "")
            label = self.labels.get(field_id)
            if label is not None and message != self.shown.get(field_id, ""):
                label.update(Content(f"↑ {message}") if message else "")
                label.set_class(bool(message), "-visible")
        for pair, labels in self.pairs:
            pair.display = any(label.has_class("-visible") for label in labels)
        self.summary.update(fields_to_fix(len(errors)) if errors else "")
        self.summary.display = bool(errors)
        self.shown = dict(errors)


def go_to(screen: Screen[Any], widget: Widget) -> None:
    """Focus a field and scroll the form so that it and the error line under it are in view."""
    widget.focus(scroll_visible=False)
    screen.query_one("#form", VerticalScroll).scroll_to_center(widget, animate=False)


def report_errors(
    screen: Screen[Any], errors: dict[str, str], labels: dict[str, str] | None = None
) -> None:
    """Ctrl+R (or Ctrl+S) with errors: go to the first wrong field and list every error, by
    field name (``labels``: names of fields the layout does not list, a pipeline's steps)."""
    names = {**FIELD_LABELS, **(labels or {})}
    if not errors:
        return
    go_to(screen, screen.query_one(f"#{next(iter(errors))}"))
    screen.notify(
        "\n".join(f"{names.get(i, i)}: {m}" for i, m in errors.items()),
        title=fields_to_fix(len(errors)),
        severity="error",
        timeout=10,
        markup=False,
    )
