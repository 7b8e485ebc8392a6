"""The filter form's fields: which ones, in what order, under which widget ids.

Only the layout: every field is an Input, a Checkbox (drawn ``[x]`` / ``[ ]``, a
:class:`~tui_batch.ui.widgets.tick_box.TickBox`) or a Select with an id, a label, and a Label
under it (``<id>-error``) where the form shows what is wrong with it. Placeholders are examples
("e.g. 10k"), never values: an empty field means the default, said in the placeholder. The ids
are the contract with :mod:`tui_batch.ui.form_spec` (which reads and fills them), the form
screen and :mod:`tui_batch.ui.form_errors` (which show what is wrong); the styles are in the
app's TCSS (``.field``, ``.field-error``, ``.error-pair``).
"""

from __future__ import annotations

import contextlib

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from ..actions import Action, list_actions, resolve_action
from ..errors import InputError
from ..model import ActionSpec, Priority
from .form_spec import COMMAND, PYTHON
from .validation import PARSERS, CoreValidator, parse_options
from .widgets.option_fields import OptionFields
from .widgets.steps_editor import StepsEditor
from .widgets.tick_box import TickBox

CHEAT_SHEET = (
    "[b]{}[/] path  [b]{/}[/] basename  [b]{//}[/] parent  [b]{.}[/] path w/o ext  "
    "[b]{/.}[/] basename w/o ext  [b]{out}[/] output path  [b]{#}[/] task number  "
    "[b]{%}[/] worker slot"
)
"""The placeholders of a command template, shown under it."""

FORM_HELP = (
    "`Enter` in a text field moves to the next field; in the last one (Output dir) it "
    "opens the preview, as `Ctrl+R` does. Nothing starts from the form: the preview shows "
    "the files and confirms the start.\n\n"
    "Fields are checked as you type, with the command line's words; `Ctrl+R` with a wrong "
    "field lists every error and takes you to the first. An empty field means the "
    "default its example names. Changing the action drops the options it does not take; "
    "an action's options are fields of their own, under the `--opt` line they make.\n\n"
    "A pipeline runs several actions per file, each on the previous one's output: `Ctrl+N` "
    "(or `+ step`) adds a step after the focused one; in a step `Alt+↑` / `Alt+↓` move it "
    "and `Alt+X` removes it. Each step has its workers (empty: the job's) and keeps its "
    "output unless `keep output` is off; `Ctrl+S` saves the steps as `[[steps]]`."
)
"""How the form behaves, above its keys in the help (the screen's ``HELP_INTRO``)."""


def form_actions(wanted: str | None) -> list[Action]:
    """The actions the Run select lists, by name: every registered one, and ``wanted`` (the
    prefilled spec's action: a module:function one from a recipe or the demo) if it resolves."""
    actions = sorted(list_actions(), key=lambda a: a.name)
    if wanted and wanted not in {a.name for a in actions}:
        with contextlib.suppress(InputError):
            actions.append(resolve_action(ActionSpec(name=wanted)))
    return actions


FIELD_LABELS: dict[str, str] = {
    "roots": "Roots",
    "ext": "Extensions",
    "min_size": "Size at least",
    "max_size": "Size at most",
    "newer": "Modified after",
    "older": "Modified before",
    "name": "Name regex",
    "exclude": "Exclude",
    "exclude_re": "Exclude regex",
    "action": "Run",
    "template": "Command",
    "pyref": "Function",
    "opts": "Options",
    "workers": "Workers",
    "retries": "Retries",
    "timeout": "Timeout",
    "priority": "Priority",
    "out": "Output dir",
}
"""Each field's full name, for the list of errors (a pair's second label alone, "at most",
would not say which field)."""


def form_fields(actions: list[Action]) -> ComposeResult:
    """Every field, in a scrolling column (``#form``); ``actions`` are the Run select's."""
    with VerticalScroll(id="form"):
        yield Static("Files", classes="section")
        yield from _field("roots", "Roots", "e.g. ~/logs /srv/in (quote a name with spaces)")
        yield from _field("ext", "Extensions", "e.g. log txt (empty: every file)")
        yield from _pair(("min_size", "Size at least", "e.g. 10k or 1.5MiB"),
                         ("max_size", "at most", "e.g. 2GB"))
        yield from _pair(("newer", "Modified after", "e.g. 7d or 2024-05-01"),
                         ("older", "before", "e.g. 12h or 2024-06-01"))
        yield from _field("name", "Name regex", r"e.g. ^report-\d+ (on the file name)")
        yield from _field("exclude", "Exclude", "e.g. build '*.tmp' (paths or globs)")
        yield from _field("exclude_re", "Exclude regex", r"e.g. \.bak$ (on the relative path)")
        with Horizontal(classes="field switches"):
            yield Label("Scan", classes="field-label")
            yield TickBox("hidden files", id="hidden", compact=True)
            yield TickBox("follow symlinks", id="follow", compact=True)
            yield TickBox(
                "obey .gitignore",
                id="use_ignore",
                value=True,
                compact=True,
                tooltip="skip what .gitignore / .ignore / .tbignore files exclude",
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
            yield Input(placeholder="e.g. gzip -k {}", id="template", compact=True)
            yield TickBox("sh -c", id="shell", compact=True, tooltip="run it with a shell")
        yield Label("", id="template-error", classes="field-error")
        note = Static("", id="template-note", classes="hint")
        note.display = False  # shown by the form when the path is appended
        yield note
        with Horizontal(classes="field", id="pyref-row"):
            yield Label("Function", classes="field-label")
            yield Input(placeholder="e.g. mypkg.tasks:process", id="pyref", compact=True)
        yield Label("", id="pyref-error", classes="field-error")
        yield Static(CHEAT_SHEET, id="cheatsheet", classes="hint")
        yield Static("", id="action-help", classes="hint")
        with Horizontal(classes="field", id="opts-row"):
            yield Label("Options", classes="field-label")
            yield _input("opts", "e.g. key=value (--opt)")
        yield Label("", id="opts-error", classes="field-error")
        yield OptionFields(id="opt-fields")
        yield StepsEditor({a.name: a for a in actions}, id="steps")
        yield Static("Engine", classes="section")
        yield from _pair(("workers", "Workers", "e.g. 4 (empty: one per CPU)"),
                         ("retries", "Retries", "e.g. 2 (empty: 0)"))
        with Horizontal(classes="field"):
            yield Label("Timeout", classes="field-label")
            yield _input("timeout", "e.g. 60s (empty: none)")
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
            yield _input("out", "e.g. ~/out (copy, gzip need one)")
            yield TickBox(
                "skip duplicates",
                id="dedupe",
                value=True,
                compact=True,
                tooltip="run once per content: files identical to an earlier one are skipped",
            )
        yield Label("", id="out-error", classes="field-error")


def show_action_fields(screen: Widget, choice: object, actions: dict[str, Action]) -> None:
    """Show the rows the Run select's ``choice`` needs: the Command or the Function field,
    the placeholders' cheat sheet, the action's help, the Options field when it takes any."""
    is_command = choice == COMMAND
    screen.query_one("#pyref-row").display = choice == PYTHON
    screen.query_one("#template-row").display = is_command
    screen.query_one("#cheatsheet").display = is_command
    action = actions.get(str(choice)) if not is_command else None
    takes_options = choice == PYTHON or (
        action is not None and bool(action.options or action.accepts_any_option)
    )
    opts = screen.query_one("#opts", Input)
    opts.placeholder = options_placeholder(action)
    screen.query_one("#opts-row").display = takes_options or bool(opts.value)
    try:
        values = parse_options(opts.value)
    except InputError:
        values = {}
    screen.query_one("#opt-fields", OptionFields).show_for(action, values)
    help_widget = screen.query_one("#action-help", Static)
    help_widget.display = action is not None
    if action is not None:
        help_widget.update(action_help(action))


def action_help(action: Action) -> Content:
    """The lines under the Run select for a named action: what it is, its options, its needs
    (plain text: a plugin's description is not markup)."""
    lines = [Content.assemble((action.name, "bold"), f" ({action.kind}): {action.description}")]
    if action.options:
        lines.append(
            Content("options: " + "; ".join(f"{k}: {v}" for k, v in action.options.items()))
        )
    if getattr(action, "needs_out", False):
        lines.append(Content("needs an output dir"))
    return Content("\n").join(lines)


def options_placeholder(action: Action | None) -> str:
    """What the Options field suggests for an action: its own keys when it declares some."""
    if action is not None and action.options and not action.accepts_any_option:
        return "e.g. " + " ".join(f"{key}=…" for key in action.options)
    return "e.g. key=value (--opt)"


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
