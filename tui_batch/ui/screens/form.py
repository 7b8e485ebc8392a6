"""The filter-builder form: what to select, what to run, how to run it.

Each field is validated as the user types (the same core parsers as the CLI, so messages match)
and the error is shown under the field. A debounced background scan keeps a live count of the
matching files; every keystroke cancels the scan in flight, so typing never waits for a slow
disk.

This module is the screen: validation as the user types, the errors under the fields, the keys.
The fields themselves are laid out by :mod:`tui_batch.ui.form_layout`, read into a spec (and
filled from one) by :mod:`tui_batch.ui.form_spec`; the live count is
:class:`~tui_batch.ui.widgets.file_count.FileCount`.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, Select, Static

from ...actions import Action, default_dedupe, resolve_action
from ...errors import InputError
from ...jobs import load_recipe, save_recipe
from ...model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from .. import form_spec
from ..dialogs.recipe import RecipeDialog
from ..form_layout import form_actions, form_fields
from ..form_spec import COMMAND, PYTHON
from ..navigation import navigator
from ..validation import FIELD_WIDGETS
from ..widgets.file_count import FileCount

__all__ = ["COMMAND", "PYTHON", "FormScreen"]


class FormScreen(Screen[None]):
    """Build a job: filter, action, engine settings; Ctrl+R previews it."""

    HELP_TITLE: ClassVar[str] = "Filter form"
    """This screen's section in the help."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "preview", "Preview", priority=True),
        Binding("ctrl+o", "load_recipe", "Open recipe", priority=True),
        Binding("ctrl+s", "save_recipe", "Save recipe", priority=True),
        Binding("ctrl+q", "app.quit", "Quit", priority=True),
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
        """Errors found when building the whole spec (min > max, missing root...)."""
        self._actions: dict[str, Action] = {}
        self._filling = False
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
            yield Button("Preview ▶", id="preview-button", variant="primary", compact=True)
        yield Footer()

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
        return form_spec.build_spec(
            self, self._actions, dedupe_chosen=self._dedupe_chosen, name=name
        )

    def fill_from_spec(self, spec: JobSpec) -> None:
        """Prefill every field (recipe load, CLI flags, demo)."""
        for field_id, text in form_spec.field_texts(spec).items():
            self.query_one(f"#{field_id}", Input).value = text
        for field_id, flag in form_spec.field_flags(spec).items():
            self.query_one(f"#{field_id}", Checkbox).value = flag
        choice, pyref = form_spec.action_choice(spec.action, self._actions)
        self.query_one("#pyref", Input).value = ""
        self.query_one("#action", Select).value = choice
        if pyref:
            self.query_one("#pyref", Input).value = pyref
        self.query_one("#priority", Select).value = spec.settings.priority.name.lower()
        self._update_action_widgets()

    # ------------------------------------------------------------- validation
    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        field_id = event.input.id or ""
        result = event.validation_result
        if result is not None and not result.is_valid:
            self.field_errors[field_id] = result.failure_descriptions[0]
        else:
            self.field_errors.pop(field_id, None)
        self.cross_errors.clear()
        self._show_errors()
        if not self._filling:
            self.schedule_count()
            if field_id in ("template", "out"):
                self._sync_dedupe()

    @on(Checkbox.Changed)
    def _checkbox_changed(self, event: Checkbox.Changed) -> None:
        if not self._filling:
            if event.checkbox.id == "dedupe":
                self._dedupe_chosen = True
            elif event.checkbox.id == "shell":
                self._sync_dedupe()
            self.cross_errors.clear()
            self._show_errors()
            self.schedule_count()

    @on(Select.Changed, "#action")
    def _action_changed(self) -> None:
        self._update_action_widgets()
        self._sync_dedupe()
        self.cross_errors.clear()
        self._show_errors()

    def _sync_dedupe(self) -> None:
        """Show the action's dedupe default until the user ticks or unticks the box."""
        if self._dedupe_chosen:
            return
        out = self.value("out").strip() or None
        choice = self.query_one("#action", Select).value
        action: Any = self._actions.get(str(choice))
        if choice == COMMAND:
            try:
                action = resolve_action(
                    ActionSpec(template=self.value("template"), shell=self.checked("shell"))
                )
            except InputError:
                action = None  # its error is shown on the field; keep the box as it is
        if action is None:
            return
        with self.prevent(Checkbox.Changed):  # not the user's choice: no Changed message
            self.query_one("#dedupe", Checkbox).value = default_dedupe(action, out)

    def _update_action_widgets(self) -> None:
        choice = self.query_one("#action", Select).value
        is_command = choice == COMMAND
        self.query_one("#pyref-row").display = choice == PYTHON
        self.query_one("#template-row").display = is_command
        self.query_one("#cheatsheet").display = is_command
        help_widget = self.query_one("#action-help", Static)
        action = self._actions.get(str(choice)) if not is_command else None
        if action is None:
            help_widget.display = False
            return
        lines = [f"[b]{action.name}[/] ({action.kind}): {action.description}"]
        if action.options:
            lines.append("options: " + "; ".join(f"{k}: {v}" for k, v in action.options.items()))
        if getattr(action, "needs_out", False):
            lines.append("needs an output dir")
        help_widget.update("\n".join(lines))
        help_widget.display = True

    def _show_errors(self) -> None:
        for label in self.query(".field-error").results(Label):
            field_id = (label.id or "").removesuffix("-error")
            message = self.field_errors.get(field_id) or self.cross_errors.get(field_id) or ""
            label.update(f"↑ {message}" if message else "")
            label.set_class(bool(message), "-visible")
        for pair in self.query(".error-pair"):
            pair.display = any(lbl.has_class("-visible") for lbl in pair.query(".field-error"))
        for widget_id in ("action", "template", "pyref", "out", "priority"):
            self.query_one(f"#{widget_id}").set_class(widget_id in self.cross_errors, "-invalid")

    def show_error(self, exc: InputError) -> str:
        """Put a core error under its field; returns the widget id (for focus)."""
        widget_id = FIELD_WIDGETS.get(exc.field)
        if widget_id == "action" and self.query_one("#action", Select).value == PYTHON:
            widget_id = "pyref"
        if widget_id is None:
            self.notify(f"{exc.field}: {exc.message}", severity="error", title="Invalid input")
            return ""
        self.cross_errors[widget_id] = exc.message
        self._show_errors()
        return widget_id

    def has_errors(self) -> bool:
        """Any field currently invalid (blocks preview and start)."""
        return bool(self.field_errors or self.cross_errors)

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
        """The filter to count, or None (its error shown) while a field is wrong."""
        if self.field_errors:
            return None
        try:
            return self.build_filter()
        except InputError as exc:
            self.show_error(exc)
            return None

    # ---------------------------------------------------------------- actions
    def valid_spec(self) -> JobSpec | None:
        """Build the spec, showing any error inline and focusing its field."""
        if self.field_errors:
            first = next(iter(self.field_errors))
            self.query_one(f"#{first}").focus()
            self.notify("Fix the fields marked in red first.", severity="error")
            return None
        try:
            return self.build_spec()
        except InputError as exc:
            widget_id = self.show_error(exc)
            if widget_id:
                self.query_one(f"#{widget_id}").focus()
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
        if spec is None:
            return

        def save(path: str) -> str:
            save_recipe(spec, os.path.expanduser(path))
            return path

        def done(path: str | None) -> None:
            if path:
                self.notify(f"Saved {path}", title="Recipe")

        self.app.push_screen(RecipeDialog("Save recipe", "recipe.toml", save), done)

    def action_load_recipe(self) -> None:
        """Fill the form from a TOML recipe; a bad recipe names the wrong key."""

        def load(path: str) -> JobSpec:
            return load_recipe(os.path.expanduser(path))

        def done(spec: Any) -> None:
            if isinstance(spec, JobSpec):
                self._filling = True
                try:
                    self.fill_from_spec(spec)
                finally:
                    self._filling = False
                self.schedule_count(immediate=True)
                self.notify("Recipe loaded", title="Recipe")

        self.app.push_screen(RecipeDialog("Open recipe", "recipe.toml", load), done)
