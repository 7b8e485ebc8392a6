"""The filter form's fields: which ones, in what order, under which widget ids.

Only the layout: every field is an Input, Checkbox or Select with an id, a label, and a Label
under it (``<id>-error``) where the form shows what is wrong with it. The ids are the contract
with :mod:`tui_batch.ui.form_spec` (which reads and fills them) and with the form screen (which
validates them as the user types); the styles are in the app's TCSS (``.field``,
``.field-error``, ``.error-pair``).
"""

from __future__ import annotations

import contextlib

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Checkbox, Input, Label, Select, Static

from ..actions import Action, list_actions, resolve_action
from ..errors import InputError
from ..model import ActionSpec, Priority
from .form_spec import COMMAND, PYTHON
from .validation import PARSERS, CoreValidator

CHEAT_SHEET = (
    "[b]{}[/] path  [b]{/}[/] basename  [b]{//}[/] parent  [b]{.}[/] path w/o ext  "
    "[b]{/.}[/] basename w/o ext  [b]{out}[/] output path"
)
"""The placeholders of a command template, shown under it."""


def form_actions(wanted: str | None) -> list[Action]:
    """The actions the Run select lists, by name: every registered one, and ``wanted`` (the
    prefilled spec's action: a module:function one from a recipe or the demo) if it resolves."""
    actions = sorted(list_actions(), key=lambda a: a.name)
    if wanted and wanted not in {a.name for a in actions}:
        with contextlib.suppress(InputError):
            actions.append(resolve_action(ActionSpec(name=wanted)))
    return actions


def form_fields(actions: list[Action]) -> ComposeResult:
    """Every field, in a scrolling column (``#form``); ``actions`` are the Run select's."""
    with VerticalScroll(id="form"):
        yield Static("Files", classes="section")
        yield from _field("roots", "Roots", "folders, space separated ('a b' quoted)")
        yield from _field("ext", "Extensions", "log txt csv (empty = all)")
        yield from _pair(("min_size", "Size ≥", "10k 1.5MiB"), ("max_size", "≤", "2GB"))
        yield from _pair(("newer", "Modified ≥", "7d 2024-05-01"), ("older", "<", "12h 2024-06-01"))
        yield from _field("name", "Name regex", r"^report-\d+ (searched in base name)")
        yield from _field("exclude", "Exclude", "paths or globs: build '*.tmp'")
        yield from _field("exclude_re", "Exclude re", r"regexes on rel. path: \.bak$")
        with Horizontal(classes="field switches"):
            yield Label("Include", classes="field-label")
            yield Checkbox("hidden", id="hidden", compact=True)
            yield Checkbox("follow symlinks", id="follow", compact=True)
            yield Checkbox(
                "ignore files",
                id="use_ignore",
                value=True,
                compact=True,
                tooltip="honour .gitignore / .ignore / .tbignore",
            )
        yield Static("Action", classes="section")
        options: list[tuple[str, str]] = [("command template", COMMAND)]
        options += [(a.name, a.name) for a in actions]
        options.append(("python function (module:function)", PYTHON))
        with Horizontal(classes="field"):
            yield Label("Run", classes="field-label")
            yield Select(options, value=COMMAND, allow_blank=False, id="action", compact=True)
        yield Label("", id="action-error", classes="field-error")
        with Horizontal(classes="field", id="template-row"):
            yield Label("Command", classes="field-label")
            yield Input(placeholder="gzip -k {}", id="template", compact=True)
            yield Checkbox("sh -c", id="shell", compact=True)
        yield Label("", id="template-error", classes="field-error")
        with Horizontal(classes="field", id="pyref-row"):
            yield Label("Function", classes="field-label")
            yield Input(placeholder="mypkg.tasks:process (importable)", id="pyref", compact=True)
        yield Label("", id="pyref-error", classes="field-error")
        yield Static(CHEAT_SHEET, id="cheatsheet", classes="hint")
        yield Static("", id="action-help", classes="hint")
        yield from _field("opts", "Options", "key=value ... (--opt)")
        yield Static("Engine", classes="section")
        yield from _pair(("workers", "Workers", "0 = CPUs"), ("retries", "Retries", "0"))
        with Horizontal(classes="field"):
            yield Label("Timeout s", classes="field-label")
            yield Input(
                placeholder="none",
                id="timeout",
                compact=True,
                validators=[CoreValidator(PARSERS["timeout"])],
                valid_empty=True,
            )
            yield Label("Priority", classes="field-label pair-label")
            yield Select(
                [(p.name.lower(), p.name.lower()) for p in Priority],
                value="normal",
                allow_blank=False,
                id="priority",
                compact=True,
            )
        yield Label("", id="timeout-error", classes="field-error")
        with Horizontal(classes="field"):
            yield Label("Output dir", classes="field-label")
            yield Input(placeholder="--out DIR (needed by copy, gzip)", id="out", compact=True)
            yield Checkbox(
                "dedupe",
                id="dedupe",
                value=True,
                compact=True,
                tooltip="skip exact duplicate files",
            )
        yield Label("", id="out-error", classes="field-error")


def _field(field_id: str, label: str, placeholder: str) -> ComposeResult:
    """A labelled text field on its own row, its error under it."""
    with Horizontal(classes="field"):
        yield Label(label, classes="field-label")
        yield _input(field_id, placeholder)
    yield Label("", id=f"{field_id}-error", classes="field-error")


def _pair(left: tuple[str, str, str], right: tuple[str, str, str]) -> ComposeResult:
    """Two text fields ``(id, label, placeholder)`` on one row, their errors under it."""
    with Horizontal(classes="field"):
        yield Label(left[1], classes="field-label")
        yield _input(left[0], left[2])
        yield Label(right[1], classes="field-label pair-label")
        yield _input(right[0], right[2])
    with Vertical(classes="error-pair"):
        yield Label("", id=f"{left[0]}-error", classes="field-error")
        yield Label("", id=f"{right[0]}-error", classes="field-error")


def _input(field_id: str, placeholder: str) -> Input:
    """A text field, checked as the user types when :data:`PARSERS` has a parser for it."""
    parser = PARSERS.get(field_id)
    validators = [CoreValidator(parser)] if parser is not None else None
    return Input(
        placeholder=placeholder,
        id=field_id,
        compact=True,
        validators=validators,
        valid_empty=True,
    )
