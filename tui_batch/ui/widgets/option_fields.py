"""An action's options as form fields: one labelled text field per option it declares.

``--opt level=9`` is what the command line takes; in a form, a user should not have to know
an action's keys: each declared option gets a field named by its key, its description as the
placeholder (``gzip 1..9 (default 6)``), checked as the user types by the form that holds it.
An action that takes any option (a Python function) gets one free ``KEY=VALUE`` field instead.
The fields are rebuilt when the action changes; their values go out as a ``Changed`` message.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label

from ...actions import Action
from ...errors import InputError
from ..validation import format_options, parse_options

__all__ = ["OptionFields", "declared_options", "merged_options"]


def declared_options(action: Action | None) -> dict[str, str]:
    """The options shown one field each: those ``action`` declares (none when it takes any:
    its keys are not known)."""
    if action is None or action.accepts_any_option:
        return {}
    return dict(action.options)


def merged_options(text: str, fields: OptionFields) -> str:
    """The ``--opt`` words of ``text`` with the fields' declared options as they are now (a
    field emptied drops its key; words the fields do not show are kept)."""
    try:
        options = parse_options(text)
    except InputError:
        options = {}
    for key in fields.keys:
        options.pop(key, None)
    options.update(fields.safe_values())
    return format_options(options)


class OptionFields(Vertical):
    """The option fields of one action (``show_for``), read with :meth:`values`."""

    DEFAULT_CSS: ClassVar[str] = """
    OptionFields { height: auto; }
    OptionFields .opt-label { padding: 0 1 0 2; }
    """

    class Changed(Message):
        """An option field changed (typed by the user, not filled)."""

        def __init__(self, fields: OptionFields) -> None:
            super().__init__()
            self.fields = fields

        @property
        def control(self) -> OptionFields:
            """The option fields that changed."""
            return self.fields

    def __init__(self, *, free: bool = False, id: str | None = None,
                 classes: str | None = None) -> None:  # fmt: skip
        super().__init__(id=id, classes=classes)
        self.free = free
        """Offer one free ``KEY=VALUE`` field when the action's keys are not known."""
        self.keys: list[str] = []
        """The declared keys shown, top to bottom."""
        self.free_shown = False
        """The free ``KEY=VALUE`` field is shown."""

    def show_for(self, action: Action | None, values: dict[str, str], *,
                 any_option: bool = False) -> None:  # fmt: skip
        """Fields for ``action``'s options, filled from ``values``; ``any_option`` (a Python
        function not imported yet, an action taking any option) shows the free field."""
        declared = declared_options(action)
        free = self.free and (any_option or (action is not None and action.accepts_any_option))
        self.remove_children()
        self.keys = list(declared)
        self.free_shown = free
        rows = [self._row(key, declared[key], values.get(key, "")) for key in declared]
        if free:
            rows.append(self._row("", "e.g. key=value (--opt)", format_options(values),
                                  label="Options"))  # fmt: skip
        if rows:
            self.mount(*rows)
        self.display = bool(rows)

    def _row(self, key: str, hint: str, value: str, label: str | None = None) -> Horizontal:
        field = Input(value=value, placeholder=hint, compact=True, name=key or None,
                      classes="opt-input" if key else "opt-free", tooltip=hint)  # fmt: skip
        return Horizontal(Label(label or key, classes="field-label opt-label"), field,
                          classes="field opt-row")  # fmt: skip

    def values(self) -> dict[str, str]:
        """The options typed, key -> value (empty fields left out); ``InputError('--opt')``
        when the free field is not ``KEY=VALUE`` words."""
        values: dict[str, str] = {}
        if self.free_shown:
            for field in self.query(".opt-free").results(Input):
                values.update(parse_options(field.value))
        for field in self.query(".opt-input").results(Input):
            if field.name and field.value.strip():
                values[field.name] = field.value.strip()
        return values

    def safe_values(self) -> dict[str, str]:
        """:meth:`values`, with a free field that does not parse left out."""
        try:
            return self.values()
        except InputError:
            return {k: v for k, v in self._declared_values().items() if v}

    def _declared_values(self) -> dict[str, str]:
        return {f.name: f.value.strip() for f in self.query(".opt-input").results(Input)
                if f.name}  # fmt: skip

    def set_values(self, values: dict[str, str]) -> None:
        """Fill the fields (no ``Changed``: this is not the user typing)."""
        with self.prevent(Input.Changed):
            for field in self.query(".opt-input").results(Input):
                wanted = values.get(field.name or "", "")
                if field.value != wanted:
                    field.value = wanted

    def mark(self, message: str | None) -> None:
        """Mark the field an option error names (``'level'`` or ``level:``); the free field
        for any other error; nothing when ``message`` is None."""
        named = None
        if message:
            named = next((k for k in self.keys if f"'{k}'" in message
                          or message.startswith(f"{k}") or f" {k}=" in message), None)  # fmt: skip
        for field in self.query(".opt-input").results(Input):
            field.set_class(field.name == named and named is not None, "-invalid")
        for field in self.query(".opt-free").results(Input):
            field.set_class(bool(message) and named is None, "-invalid")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()
