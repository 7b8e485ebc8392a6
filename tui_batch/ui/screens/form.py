"""The filter-builder form: what to select, what to run, how to run it.

Each field is validated as the user types (the same core parsers as the CLI, so messages match)
and the error is shown under the field; Ctrl+R with errors lists them all and takes the user to
the first one. A debounced background scan keeps a live count of the matching files; every
keystroke cancels the scan in flight, so typing never waits for a slow disk.

This module is the screen: the errors under the fields, the keys, what follows the Run select.
The fields themselves are laid out by :mod:`tui_batch.ui.form_layout`, read into a spec (and
filled from one) by :mod:`tui_batch.ui.form_spec`, checked across fields by
:mod:`tui_batch.ui.form_check`; the live count is
:class:`~tui_batch.ui.widgets.file_count.FileCount`.
"""

from __future__ import annotations

import os
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Header, Input, Select, Static

from ...actions import Action
from ...errors import InputError
from ...model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from .. import form_spec
from ..form_check import (
    cross_errors,
    dedupe_shown,
    first_step,
    options_after_switch,
    path_note,
    widget_for,
)
from ..form_errors import ErrorView, report_errors
from ..form_layout import FORM_HELP, form_actions, form_fields, show_action_fields
from ..form_recipe import ask_load, ask_save
from ..form_spec import COMMAND, PYTHON
from ..form_steps import with_steps
from ..navigation import navigator
from ..step_drafts import drafts_of
from ..validation import FILTER_FIELDS, lenient_options
from ..widgets.file_count import FileCount
from ..widgets.key_footer import KeyFooter
from ..widgets.option_fields import OptionFields, merged_options
from ..widgets.steps_editor import StepsEditor

__all__ = ["COMMAND", "PYTHON", "FormScreen"]

LAST_FIELD = "out"
"""The last text field: Enter there opens the preview (in every other one it moves on)."""


class FormScreen(Screen[None]):
    """Build a job: filter, action, engine settings; Ctrl+R previews it."""

    HELP_TITLE: ClassVar[str] = "Filter form"
    """This screen's section in the help."""

    HELP_INTRO: ClassVar[str] = FORM_HELP
    """How the form behaves, above its keys in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "preview", "Preview", priority=True),
        Binding("ctrl+o", "load_recipe", "Open", priority=True),
        Binding("ctrl+s", "save_recipe", "Save", priority=True),
        Binding("ctrl+n", "add_step", "+ Step", priority=True),
        # Priority: focus moves while the app reads the key, before it forwards the next
        # one. Otherwise keys that arrive with the Tab (a paste, keystrokes batched over SSH)
        # are handed to the field being left before it has even seen the Tab.
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
        # Outside text fields (a checkbox, a select, a button) these keys do what they do
        # on every other screen; in a text field they are typed.
        Binding("question_mark", "app.help", "Help", show=False, key_display="?"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(self, root: str | None = None, spec: JobSpec | None = None) -> None:
        super().__init__()
        self.initial_root = root
        """Folder prefilled in ROOTS (the CLI's positional argument)."""
        self.initial_spec = spec
        """A spec (recipe, CLI flags, demo) to prefill every field from."""
        self.field_errors: dict[str, str] = {}
        """Per-field errors from the as-you-type validators (widget id -> message)."""
        self.cross_errors: dict[str, str] = {}
        """Errors of checks across fields (min > max, an option the action does not take,
        a template that does not compile...), widget id -> message."""
        self.step_problems: dict[str, str] = {}
        """Errors of the pipeline's steps (a step field's widget id -> message)."""
        self._actions: dict[str, Action] = {}
        self._filling = False
        self._choice: object = COMMAND
        """The Run select's value the fields were last made for (options kept for it)."""
        self._strict = False
        """Set by the first Ctrl+R: from then on an empty Command is an error too."""
        self._errors_shown: ErrorView | None = None
        self._note: str | None = None
        self._dedupe_chosen = spec is not None and spec.settings.dedupe is not None
        """The user (or the prefilled spec) chose dedupe; until then the box shows the
        action's default (off for actions that write one output per file) and the job gets
        ``dedupe=None``, decided by the action like on the command line."""

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield Header()
        wanted = self.initial_spec.action.name if self.initial_spec is not None else None
        actions = form_actions(wanted)
        self._actions = {a.name: a for a in actions}
        yield from form_fields(actions)
        with Horizontal(id="form-bar"):
            yield FileCount(self._count_filter, id="count")
            yield Static("", id="form-errors")
            yield Button("Preview ▶", id="preview-button", variant="primary", compact=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        if getattr(self.app, "deterministic", False):
            for inp in self.query(Input):
                inp.cursor_blink = False
        self._filling = True
        try:
            if self.initial_spec is not None:
                self.fill_from_spec(self.initial_spec)
            else:
                self.query_one("#roots", Input).value = self.initial_root or "."
        finally:
            self._filling = False
        self._update_action_widgets()
        self._sync_dedupe()
        self._revalidate()
        # The prefilled root is not selected (the first key typed would replace it, with no
        # undo): the cursor waits at its end.
        for inp in self.query(Input):
            inp.select_on_focus = False
        roots = self.query_one("#roots", Input)
        roots.focus()
        roots.cursor_position = len(roots.value)
        self.schedule_count(immediate=True)

    # ----------------------------------------------------------------- values
    def value(self, field_id: str) -> str:
        """Current text of an Input."""
        return self.query_one(f"#{field_id}", Input).value

    def checked(self, field_id: str) -> bool:
        """Current state of a Checkbox."""
        return self.query_one(f"#{field_id}", Checkbox).value

    def choice(self, field_id: str) -> object:
        """Current value of a Select."""
        return self.query_one(f"#{field_id}", Select).value

    def build_filter(self) -> FilterSpec:
        """The filter from the form, validated by the core (cross-field checks included)."""
        return form_spec.build_filter(self)

    def build_action(self) -> ActionSpec:
        """The action from the form (template or named), checked."""
        return form_spec.build_action(self)

    def build_settings(self) -> EngineSettings:
        """Engine settings from the form."""
        return form_spec.build_settings(self, self._dedupe_chosen)

    def build_spec(self) -> JobSpec:
        """The whole job spec, or InputError naming the first wrong field."""
        name = self.initial_spec.name if self.initial_spec is not None else None
        spec = form_spec.build_spec(
            self, self._actions, dedupe_chosen=self._dedupe_chosen, name=name
        )
        return with_steps(spec, self.query_one(StepsEditor).drafts())

    def fill_from_spec(self, spec: JobSpec) -> None:
        """Prefill every field (recipe load, CLI flags, demo)."""
        for field_id, text in form_spec.field_texts(spec).items():
            self.query_one(f"#{field_id}", Input).value = text
        for field_id, flag in form_spec.field_flags(spec).items():
            self.query_one(f"#{field_id}", Checkbox).value = flag
        choice, pyref = form_spec.action_choice(spec.action, self._actions)
        self.query_one("#pyref", Input).value = ""
        self._choice = choice  # the spec's options belong to its action: none is dropped
        self.query_one("#action", Select).value = choice
        if pyref:
            self.query_one("#pyref", Input).value = pyref
        self.query_one("#priority", Select).value = spec.settings.priority.name.lower()
        self._update_action_widgets()
        self.call_next(self.query_one(StepsEditor).fill, *drafts_of(spec, self._actions))

    # ------------------------------------------------------------- validation
    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        field_id = event.input.id or ""
        result = event.validation_result
        if result is not None and not result.is_valid:
            self.field_errors[field_id] = result.failure_descriptions[0]
        else:
            self.field_errors.pop(field_id, None)
        self._revalidate()
        if not self._filling:
            self.schedule_count()
            if field_id in ("template", "out"):
                self._sync_dedupe()
            if field_id == "opts":
                self.query_one("#opt-fields", OptionFields).set_values(lenient_options(event.value))

    @on(Input.Submitted, "#form Input")
    def _next_field(self, event: Input.Submitted) -> None:
        """Enter moves on, as in a paper form; in the last field it asks for the preview."""
        event.stop()
        if event.input.id == LAST_FIELD:
            self.action_preview()
        else:
            self.focus_next()

    @on(Checkbox.Changed)
    def _checkbox_changed(self, event: Checkbox.Changed) -> None:
        if not self._filling:
            if event.checkbox.id == "dedupe":
                self._dedupe_chosen = True
            elif event.checkbox.id == "shell":
                self._sync_dedupe()
            self._revalidate()
            self.schedule_count()

    @on(Select.Changed, "#action")
    def _action_changed(self) -> None:
        # The select's value now, not the message's: a message posted before a fill (the
        # select's first value) must not drop the options the filled spec gave its action.
        choice = self.query_one("#action", Select).value
        if choice != self._choice:
            self._choice = choice
            self._drop_options(choice)
        self._update_action_widgets()
        self._sync_dedupe()
        self._revalidate()

    def _drop_options(self, choice: object) -> None:
        """The new action's options only: a ``level=9`` left from gzip is not copy's."""
        switched = options_after_switch(self.value("opts"), choice, self._actions)
        if switched is not None:
            self.query_one("#opts", Input).value = switched[0]
            self.notify(switched[1], title="Options dropped", markup=False)

    def _sync_dedupe(self) -> None:
        """Show the action's dedupe default until the user ticks or unticks the box."""
        shown = None if self._dedupe_chosen else dedupe_shown(self, self._actions)
        if shown is not None:
            with self.prevent(Checkbox.Changed):  # not the user's choice: no Changed message
                self.query_one("#dedupe", Checkbox).value = shown

    def _update_action_widgets(self) -> None:
        show_action_fields(self, self.query_one("#action", Select).value, self._actions)

    def _revalidate(self, *, reimport: bool = False) -> None:
        """Run the checks across fields again and show every error (called on each change)."""
        self.cross_errors = cross_errors(
            self, self._actions, blocked=self.field_errors, strict=self._strict,
            reimport=reimport,
        )
        out = self.value("out").strip()
        self.step_problems = self.query_one(StepsEditor).check(
            first_step(self), os.path.expanduser(out) if out else None, strict=self._strict)
        self._show_errors()
        note = path_note(self) if "template" not in self.errors() else None
        if note != self._note:
            self._note = note
            widget = self.query_one("#template-note", Static)
            widget.update(Content(f"↳ {note}") if note else "")
            widget.display = bool(note)

    @property
    def _error_view(self) -> ErrorView:
        if self._errors_shown is None:  # the fields exist once composed
            self._errors_shown = ErrorView(self)
        return self._errors_shown

    def errors(self) -> dict[str, str]:
        """Every error shown now, widget id -> message, in the form's order (top first)."""
        found = {**self.cross_errors, **self.field_errors, **self.step_problems}
        return self._error_view.in_form_order(found)

    def _show_errors(self) -> None:
        self._error_view.show(self.errors())

    def show_error(self, exc: InputError) -> str:
        """Put a core error under its field; returns the widget id (for focus)."""
        widget_id = widget_for(exc.field, self.query_one("#action", Select).value)
        if widget_id is None:
            self.notify(f"{exc.field}: {exc.message}", severity="error", title="Invalid input",
                        markup=False)
            return ""
        self.cross_errors[widget_id] = exc.message
        self._show_errors()
        return widget_id

    # ------------------------------------------------------------- live count
    @property
    def file_count(self) -> FileCount:
        """The live count widget."""
        return self.query_one(FileCount)

    @property
    def last_count(self) -> tuple[int, int, bool] | None:
        """(files, bytes, complete) of the latest count shown."""
        return self.file_count.last_count

    @property
    def count_pending(self) -> bool:
        """A recount is scheduled (debounce) and has not started yet."""
        return self.file_count.pending

    def schedule_count(self, immediate: bool = False) -> None:
        """Count again after the typing pauses (at once when ``immediate``)."""
        self.file_count.schedule(immediate)

    def _count_filter(self) -> FilterSpec | None:
        """The filter to count, or None while a filter field is wrong (its error is shown:
        the checks across fields ran on the same change). A wrong engine field does not
        stop the count."""
        if set(FILTER_FIELDS) & set(self.field_errors):
            return None
        try:
            return self.build_filter()
        except InputError:
            return None

    # ---------------------------------------------------------------- actions
    def valid_spec(self) -> JobSpec | None:
        """Build the spec; with errors, list them all and go to the first (None)."""
        self._strict = True
        self._revalidate(reimport=True)
        if self.errors():
            report_errors(self, self.errors(), self.query_one(StepsEditor).labels)
            return None
        try:
            return self.build_spec()
        except InputError as exc:  # a check the form does not run as you type
            widget_id = self.show_error(exc)
            if widget_id:
                report_errors(self, self.errors(), self.query_one(StepsEditor).labels)
            return None

    @on(Button.Pressed, "#preview-button")
    def action_preview(self) -> None:
        """Open the preview of the files the job would process."""
        spec = self.valid_spec()
        if spec is None:
            return
        navigator(self).open_preview(spec)

    def action_save_recipe(self) -> None:
        """Save the form as a TOML recipe (for `tui-batch run --recipe`)."""
        spec = self.valid_spec()
        if spec is not None:
            ask_save(self, spec)

    def action_load_recipe(self) -> None:
        """Fill the form from a TOML recipe; a bad recipe names the wrong key."""

        def loaded(spec: JobSpec) -> None:
            self._filling = True
            try:
                self.fill_from_spec(spec)
            finally:
                self._filling = False
            self._revalidate()
            self.schedule_count(immediate=True)

        ask_load(self, loaded)

    async def action_add_step(self) -> None:
        """A pipeline step after the focused one (at the end outside the steps)."""
        editor = self.query_one(StepsEditor)
        editor.focus_row(await editor.add_step(after=editor.row_of(self.focused)))

    # ------------------------------------------------------------------ steps
    @on(StepsEditor.Changed)
    def _steps_changed(self, event: StepsEditor.Changed) -> None:
        event.stop()
        if event.structural:
            self._errors_shown = None  # rows came, went or moved: find the fields again
        self._revalidate()

    @on(OptionFields.Changed, "#opt-fields")
    def _option_field_changed(self, event: OptionFields.Changed) -> None:
        event.stop()
        self.query_one("#opts", Input).value = merged_options(self.value("opts"), event.fields)
