"""The filter-builder form: what to select, what to run, how to run it.

Each field is validated as the user types (the same core parsers as the CLI, so messages match)
and the error is shown under the field. A debounced background scan keeps a live count of the
matching files; every keystroke cancels the scan in flight, so typing never waits for a slow
disk.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, Select, Static

from ...actions import Action, default_dedupe, list_actions, resolve_action
from ...errors import InputError
from ...filters import filter_from_options
from ...model import ActionSpec, EngineSettings, FilterSpec, JobSpec, Priority
from ...recipe import load_recipe, save_recipe
from ...scanner import scan
from .. import format as fmt
from ..validation import (
    FIELD_WIDGETS,
    PARSERS,
    CoreValidator,
    format_options,
    parse_int,
    parse_options,
    parse_seconds,
    split_paths,
    split_regexes,
    split_words,
)

COMMAND = "__command__"
"""Select value meaning "run a command template" rather than a named action."""

PYTHON = "__python__"
"""Select value meaning "a Python function given as module:function"."""

CHEAT_SHEET = (
    "[b]{}[/] path  [b]{/}[/] basename  [b]{//}[/] parent  [b]{.}[/] path w/o ext  "
    "[b]{/.}[/] basename w/o ext  [b]{out}[/] output path"
)

COUNT_DEBOUNCE = 0.25
"""Seconds of typing silence before the live count rescans."""


class FormScreen(Screen[None]):
    """Build a job: filter, action, engine settings; Ctrl+R previews it."""

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
        self.count_generation = 0
        """Bumped per count request so a stale worker's result is ignored."""
        self.last_count: tuple[int, int, bool] | None = None
        """(files, bytes, complete) of the latest count shown."""
        self._count_cancel: threading.Event | None = None
        self._count_timer: Timer | None = None
        self._actions: dict[str, Action] = {}
        self._filling = False
        self._dedupe_chosen = spec is not None and spec.settings.dedupe is not None
        """The user (or the prefilled spec) chose dedupe; until then the box shows the
        action's default (off for actions that write one output per file) and the job gets
        ``dedupe=None``, decided by the action like on the command line."""

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield Header()
        actions = sorted(list_actions(), key=lambda a: a.name)
        wanted = self.initial_spec.action.name if self.initial_spec is not None else None
        if wanted and wanted not in {a.name for a in actions}:
            with contextlib.suppress(InputError):  # a module:function action (recipe, demo)
                actions.append(resolve_action(ActionSpec(name=wanted)))
        self._actions = {a.name: a for a in actions}
        with VerticalScroll(id="form"):
            yield Static("Files", classes="section")
            yield from self._field("roots", "Roots", "folders, space separated ('a b' quoted)")
            yield from self._field("ext", "Extensions", "log txt csv (empty = all)")
            yield from self._pair(("min_size", "Size ≥", "10k 1.5MiB"), ("max_size", "≤", "2GB"))
            yield from self._pair(
                ("newer", "Modified ≥", "7d 2024-05-01"), ("older", "<", "12h 2024-06-01")
            )
            yield from self._field("name", "Name regex", r"^report-\d+ (searched in base name)")
            yield from self._field("exclude", "Exclude", "paths or globs: build '*.tmp'")
            yield from self._field("exclude_re", "Exclude re", r"regexes on rel. path: \.bak$")
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
                yield Input(
                    placeholder="mypkg.tasks:process (importable)", id="pyref", compact=True
                )
            yield Label("", id="pyref-error", classes="field-error")
            yield Static(CHEAT_SHEET, id="cheatsheet", classes="hint")
            yield Static("", id="action-help", classes="hint")
            yield from self._field("opts", "Options", "key=value ... (--opt)")
            yield Static("Engine", classes="section")
            yield from self._pair(("workers", "Workers", "0 = CPUs"), ("retries", "Retries", "0"))
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
        with Horizontal(id="form-bar"):
            yield Static("", id="count")
            yield Button("Preview ▶", id="preview-button", variant="primary", compact=True)
        yield Footer()

    def _field(self, field_id: str, label: str, placeholder: str) -> ComposeResult:
        with Horizontal(classes="field"):
            yield Label(label, classes="field-label")
            yield self._input(field_id, placeholder)
        yield Label("", id=f"{field_id}-error", classes="field-error")

    def _pair(self, left: tuple[str, str, str], right: tuple[str, str, str]) -> ComposeResult:
        with Horizontal(classes="field"):
            yield Label(left[1], classes="field-label")
            yield self._input(left[0], left[2])
            yield Label(right[1], classes="field-label pair-label")
            yield self._input(right[0], right[2])
        with Vertical(classes="error-pair"):
            yield Label("", id=f"{left[0]}-error", classes="field-error")
            yield Label("", id=f"{right[0]}-error", classes="field-error")

    def _input(self, field_id: str, placeholder: str) -> Input:
        parser = PARSERS.get(field_id)
        validators = [CoreValidator(parser)] if parser is not None else None
        return Input(
            placeholder=placeholder,
            id=field_id,
            compact=True,
            validators=validators,
            valid_empty=True,
        )

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

    def build_filter(self) -> FilterSpec:
        """The filter from the form, validated by the core (cross-field checks included)."""
        roots = split_paths(self.value("roots"), "ROOT") or ["."]
        return filter_from_options(
            roots=roots,
            ext=split_words(self.value("ext")),
            min_size=self.value("min_size").strip() or None,
            max_size=self.value("max_size").strip() or None,
            newer=self.value("newer").strip() or None,
            older=self.value("older").strip() or None,
            name=self.value("name") or None,
            exclude=split_paths(self.value("exclude"), "--exclude"),
            exclude_re=split_regexes(self.value("exclude_re")),
            hidden=self.checked("hidden"),
            follow=self.checked("follow"),
            no_ignore=not self.checked("use_ignore"),
        )

    def build_action(self) -> ActionSpec:
        """The action from the form (template or named), checked."""
        choice = self.query_one("#action", Select).value
        options = parse_options(self.value("opts"))
        if choice == COMMAND:
            template = self.value("template")
            if not template.strip():
                raise InputError("--exec", "type a command, e.g. gzip -k {}")
            spec = ActionSpec(template=template, shell=self.checked("shell"), options=options)
        elif choice == PYTHON:
            ref = self.value("pyref").strip()
            if ":" not in ref:
                raise InputError("--action", "give the function as module:function")
            spec = ActionSpec(name=ref, options=options)
        else:
            spec = ActionSpec(name=str(choice), options=options)
        spec.check()
        return spec

    def build_settings(self) -> EngineSettings:
        """Engine settings from the form."""
        out = self.value("out").strip()
        settings = EngineSettings(
            workers=parse_int(self.value("workers"), "--workers"),
            retries=parse_int(self.value("retries"), "--retries"),
            timeout=parse_seconds(self.value("timeout"), "--timeout"),
            priority=Priority.parse(str(self.query_one("#priority", Select).value)),
            dedupe=self.checked("dedupe") if self._dedupe_chosen else None,
            out_dir=os.path.expanduser(out) if out else None,
        )
        settings.check()
        return settings

    def build_spec(self) -> JobSpec:
        """The whole job spec, or InputError naming the first wrong field."""
        spec = JobSpec(
            filter=self.build_filter(),
            action=self.build_action(),
            settings=self.build_settings(),
            name=self.initial_spec.name if self.initial_spec is not None else None,
        )
        action_name = spec.action.name
        if action_name is not None and action_name in self._actions:
            self._actions[action_name].check(spec.action, spec.settings)
        elif action_name is not None:  # module:function: import it now, not at run time
            resolve_action(spec.action).check(spec.action, spec.settings)
        return spec

    def fill_from_spec(self, spec: JobSpec) -> None:
        """Prefill every field (recipe load, CLI flags, demo)."""
        import shlex

        f, a, s = spec.filter, spec.action, spec.settings
        values = {
            "roots": shlex.join(f.roots),
            "ext": " ".join(e.lstrip(".") for e in f.extensions),
            "min_size": fmt.size_input(f.min_size),
            "max_size": fmt.size_input(f.max_size),
            "newer": fmt.when_input(f.newer),
            "older": fmt.when_input(f.older),
            "name": f.name_regex or "",
            "exclude": shlex.join(f.excludes),
            "exclude_re": " ".join(f.exclude_res),
            "template": a.template or "",
            "opts": format_options(a.options),
            "workers": str(s.workers) if s.workers else "",
            "retries": str(s.retries) if s.retries else "",
            "timeout": f"{s.timeout:g}" if s.timeout else "",
            "out": s.out_dir or "",
        }
        for field_id, text in values.items():
            self.query_one(f"#{field_id}", Input).value = text
        for field_id, flag in (
            ("hidden", f.hidden),
            ("follow", f.follow),
            ("use_ignore", f.use_ignore),
            ("shell", a.shell),
            ("dedupe", s.dedupe is not False),  # None: _sync_dedupe shows the action's default
        ):
            self.query_one(f"#{field_id}", Checkbox).value = flag
        action = self.query_one("#action", Select)
        self.query_one("#pyref", Input).value = ""
        if a.name is not None and a.name in self._actions:
            action.value = a.name
        elif a.name is not None:
            action.value = PYTHON
            self.query_one("#pyref", Input).value = a.name
        else:
            action.value = COMMAND
        self.query_one("#priority", Select).value = s.priority.name.lower()
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
                    ActionSpec(template=self.value("template"), shell=self.checked("shell")))
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
    def schedule_count(self, immediate: bool = False) -> None:
        """Debounce: rescan COUNT_DEBOUNCE s after the last change; cancel the running scan."""
        if self._count_cancel is not None:
            self._count_cancel.set()
            self._count_cancel = None
        if self._count_timer is not None:
            self._count_timer.stop()
            self._count_timer = None
        if immediate:
            self._start_count()
        else:
            self._count_timer = self.set_timer(COUNT_DEBOUNCE, self._start_count)

    @property
    def count_pending(self) -> bool:
        """A recount is scheduled (debounce) and has not started yet."""
        return self._count_timer is not None

    def _start_count(self) -> None:
        self._count_timer = None
        count = self.query_one("#count", Static)
        if self.field_errors:
            count.update("[b]-[/] fix the fields marked in red")
            return
        try:
            spec = self.build_filter()
        except InputError as exc:
            self.show_error(exc)
            count.update("[b]-[/] fix the fields marked in red")
            return
        self.count_generation += 1
        cancel = threading.Event()
        self._count_cancel = cancel
        count.update("counting…")
        self.count_files(spec, cancel, self.count_generation)

    @work(thread=True, exclusive=True, group="count")
    def count_files(self, spec: FilterSpec, cancel: threading.Event, generation: int) -> None:
        """Scan in a thread; report progress every 100 ms, the total at the end."""
        files = total = 0
        last = time.monotonic()
        try:
            for entry in scan(spec, cancel=cancel):
                files += 1
                total += entry.size
                now = time.monotonic()
                if now - last > 0.1:
                    last = now
                    self.app.call_from_thread(self._show_count, generation, files, total, False)
        except (OSError, InputError) as exc:
            if not cancel.is_set():
                self.app.call_from_thread(self._show_count_error, generation, str(exc))
            return
        if not cancel.is_set():
            self.app.call_from_thread(self._show_count, generation, files, total, True)

    def _show_count(self, generation: int, files: int, total: int, complete: bool) -> None:
        if generation != self.count_generation or not self.is_attached:
            return
        self.last_count = (files, total, complete)
        text = f"[b]{fmt.count(files)}[/] files · [b]{fmt.size(total)}[/]"
        self.query_one("#count", Static).update(text if complete else f"{text} so far…")

    def _show_count_error(self, generation: int, message: str) -> None:
        if generation == self.count_generation and self.is_attached:
            self.query_one("#count", Static).update(f"[b]-[/] {message}")

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
        from .preview import PreviewScreen

        self.app.push_screen(PreviewScreen(spec))

    def action_save_recipe(self) -> None:
        """Save the form as a TOML recipe (for `tui-batch run --recipe`)."""
        spec = self.valid_spec()
        if spec is None:
            return
        from ..dialogs.recipe import RecipeDialog

        def save(path: str) -> str:
            save_recipe(spec, os.path.expanduser(path))
            return path

        def done(path: str | None) -> None:
            if path:
                self.notify(f"Saved {path}", title="Recipe")

        self.app.push_screen(RecipeDialog("Save recipe", "recipe.toml", save), done)

    def action_load_recipe(self) -> None:
        """Fill the form from a TOML recipe; a bad recipe names the wrong key."""
        from ..dialogs.recipe import RecipeDialog

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
