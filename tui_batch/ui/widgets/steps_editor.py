"""The form's pipeline steps: step 1 is the action above; this editor adds steps 2..N.

A file goes through step 1, then step 2 on step 1's output, and so on. Each step row has its
own Run select (a command template, a named action, a Python function), its Command or
Function field, its options as fields, its workers (empty: the job's) and whether its output
is kept once the next step has used it. Rows are added after the focused one (``Ctrl+N`` or
"+ step"), moved (``Alt+↑`` / ``Alt+↓`` or the arrows) and removed (``Alt+X`` or ✕). The
editor reads its rows into :class:`~tui_batch.ui.step_drafts.StepDraft` s and shows the errors
the form gives it under each row; it knows nothing of the rest of the form.
"""

from __future__ import annotations

import itertools
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static

from ...actions import Action
from ...model import ActionSpec
from ..form_spec import COMMAND, PYTHON
from ..form_steps import step_errors
from ..step_drafts import StepDraft
from .option_fields import OptionFields
from .tick_box import TickBox

__all__ = ["StepRow", "StepsEditor"]

_uids = itertools.count(1)


def run_choices(actions: list[Action]) -> list[tuple[str, str]]:
    """The Run select's entries, as the main action's select lists them."""
    options: list[tuple[str, str]] = [("command template", COMMAND)]
    options += [(a.name, a.name) for a in actions]
    options.append(("python function (module:function)", PYTHON))
    return options


class StepRow(Vertical):
    """One step. Step 1 (``first``) is the action above: only its workers and keep box."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("alt+up", "move(-1)", "Step up", show=False),
        Binding("alt+down", "move(1)", "Step down", show=False),
        Binding("alt+x", "remove", "Remove step", show=False),
    ]

    def __init__(self, actions: dict[str, Action], draft: StepDraft, *, first: bool) -> None:
        self.uid = next(_uids)
        """Unique per row (ids of its widgets: ``step<uid>-…``)."""
        super().__init__(id=f"step{self.uid}", classes="step-row")
        self.actions = actions
        self.first = first
        self.initial = draft
        self.extra = dict(draft.extra)
        """Retries, timeout, priority of a loaded step, kept as they were."""

    def wid(self, part: str) -> str:
        """The id of one of this row's widgets (``step7-workers``)."""
        return f"step{self.uid}-{part}"

    def compose(self) -> ComposeResult:
        d = self.initial
        with Horizontal(classes="field step-head"):
            yield Label("Step 1" if self.first else "Step", classes="field-label step-number")
            if self.first:
                yield Static("the action above", classes="step-first")
            else:
                choice = d.choice if d.choice in {COMMAND, PYTHON} | set(self.actions) \
                    else PYTHON  # fmt: skip
                yield Select(run_choices(list(self.actions.values())), value=choice,
                             allow_blank=False, compact=True, id=self.wid("action"),
                             classes="step-action")  # fmt: skip
        if not self.first:
            with Horizontal(classes="field step-text-row"):
                yield Label("Command", classes="field-label step-text-label")
                yield Input(d.text, placeholder="e.g. gzip -c {} (use {out} to write a file)",
                            compact=True, id=self.wid("text"), classes="step-text")  # fmt: skip
                yield TickBox("sh -c", value=d.shell, compact=True, id=self.wid("shell"))
            yield Static("", classes="hint step-help")
            yield OptionFields(free=True, id=self.wid("opts"))
        with Horizontal(classes="field step-tail"):
            yield Label("Workers", classes="field-label")
            yield Input(d.workers, placeholder="job's", compact=True, id=self.wid("workers"),
                        classes="step-workers")  # fmt: skip
            yield TickBox("keep output", value=d.keep, compact=True, id=self.wid("keep"),
                          tooltip="keep this step's output once the next step used it")
            if not self.first:
                yield Button("↑", id=self.wid("up"), compact=True, classes="step-button",
                             tooltip="move this step up (Alt+↑)")  # fmt: skip
                yield Button("↓", id=self.wid("down"), compact=True, classes="step-button",
                             tooltip="move this step down (Alt+↓)")  # fmt: skip
                yield Button("✕", id=self.wid("remove"), compact=True, classes="step-button",
                             tooltip="remove this step (Alt+X)")  # fmt: skip
        yield Label("", id=self.wid("error"), classes="field-error step-error")

    def on_mount(self) -> None:
        if not self.first:
            self.show_action(self.initial.options)

    # ---------------------------------------------------------------- reading
    @property
    def choice(self) -> object:
        """The step's Run select value (COMMAND for step 1: unused)."""
        if self.first:
            return COMMAND
        return self.query_one(f"#{self.wid('action')}", Select).value

    def action(self) -> Action | None:
        """The named action chosen, or None (template, function, step 1)."""
        return self.actions.get(str(self.choice)) if not self.first else None

    def draft(self) -> StepDraft:
        """What the row says now (options read leniently: their errors are checked apart)."""
        workers = self.query_one(f"#{self.wid('workers')}", Input).value
        keep = self.query_one(f"#{self.wid('keep')}", TickBox).value
        if self.first:
            return StepDraft(workers=workers, keep=keep, extra=dict(self.extra))
        return StepDraft(
            choice=self.choice,
            text=self.query_one(f"#{self.wid('text')}", Input).value,
            shell=self.query_one(f"#{self.wid('shell')}", TickBox).value,
            options=self.options_fields.safe_values(),
            workers=workers, keep=keep, extra=dict(self.extra),
        )  # fmt: skip

    @property
    def options_fields(self) -> OptionFields:
        """This row's option fields."""
        return self.query_one(f"#{self.wid('opts')}", OptionFields)

    # ---------------------------------------------------------------- drawing
    def show_action(self, values: dict[str, str]) -> None:
        """The fields the chosen action needs: Command or Function, help, options."""
        choice = self.choice
        action = self.action()
        text_row = self.query_one(".step-text-row")
        text_row.display = choice in (COMMAND, PYTHON)
        self.query_one(".step-text-label", Label).update(
            "Command" if choice == COMMAND else "Function")
        text = self.query_one(f"#{self.wid('text')}", Input)
        text.placeholder = ("e.g. gzip -c {} (use {out} to write a file)" if choice == COMMAND
                            else "e.g. mypkg.tasks:process")  # fmt: skip
        self.query_one(f"#{self.wid('shell')}", TickBox).display = choice == COMMAND
        help_line = self.query_one(".step-help", Static)
        help_line.display = action is not None
        if action is not None:
            needs = " (needs an output dir)" if action.needs_out else ""
            help_line.update(Content(f"{action.kind}: {action.description}{needs}"))
        self.options_fields.show_for(action, values, any_option=choice == PYTHON)

    def set_number(self, number: int, last: bool) -> None:
        """Renumber (after an add, a move, a removal); the last step's output is always
        kept, so its box is off."""
        self.query_one(".step-number", Label).update(f"Step {number}")
        keep = self.query_one(f"#{self.wid('keep')}", TickBox)
        keep.disabled = last
        if not self.first:
            self.query_one(f"#{self.wid('up')}", Button).disabled = number <= 2
            self.query_one(f"#{self.wid('down')}", Button).disabled = last

    def show_error(self, message: str | None, option_error: str | None = None) -> None:
        """The step's error under it (None clears it); ``option_error`` marks the option
        field it names."""
        label = self.query_one(f"#{self.wid('error')}", Label)
        label.update(Content(f"↑ {message}") if message else "")
        label.set_class(bool(message), "-visible")
        if not self.first:
            self.options_fields.mark(option_error)

    # ----------------------------------------------------------------- events
    @on(Select.Changed)
    def _action_changed(self, event: Select.Changed) -> None:
        event.stop()
        if not self.first:
            # the new action's options only: a level=9 left from gzip is not copy's
            action = self.action()
            keep = set(action.options) if action is not None else set()
            kept = {k: v for k, v in self.options_fields.safe_values().items()
                    if k in keep or self.choice == PYTHON}  # fmt: skip
            self.show_action(kept)
        self.post_message(StepsEditor.Changed())

    @on(Input.Changed)
    @on(TickBox.Changed)
    @on(OptionFields.Changed)
    def _changed(self, event: Message) -> None:
        event.stop()
        self.post_message(StepsEditor.Changed())

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()

    @on(Button.Pressed, ".step-button")
    def _button(self, event: Button.Pressed) -> None:
        event.stop()
        part = (event.button.id or "").rsplit("-", 1)[-1]
        if part == "remove":
            self.action_remove()
        else:
            self.action_move(-1 if part == "up" else 1)

    def action_move(self, delta: int) -> None:
        """Move this step up or down (never above step 1)."""
        if not self.first:
            self.post_message(StepsEditor.Move(self, delta))

    def action_remove(self) -> None:
        """Remove this step."""
        if not self.first:
            self.post_message(StepsEditor.Remove(self))


class StepsEditor(Vertical):
    """Steps 2..N of a pipeline, under the main action; empty: a one-action job."""

    class Changed(Message):
        """A step changed, was added, moved or removed: check the steps again
        (``structural``: rows came, went or moved, so their fields are others)."""

        def __init__(self, structural: bool = False) -> None:
            super().__init__()
            self.structural = structural

    class Move(Message):
        """A row asks to move by ``delta``."""

        def __init__(self, row: StepRow, delta: int) -> None:
            super().__init__()
            self.row = row
            self.delta = delta

    class Remove(Message):
        """A row asks to be removed."""

        def __init__(self, row: StepRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, actions: dict[str, Action], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.actions = actions
        """The actions the Run selects list, by name."""
        self.labels: dict[str, str] = {}
        """Widget id of a wrong step field -> the step's name ("Step 2"), for the list of
        errors."""

    def compose(self) -> ComposeResult:
        yield Vertical(id="step-rows")
        with Horizontal(classes="field", id="add-step-row"):
            yield Label("", classes="field-label")
            yield Button("+ step", id="add-step", compact=True,
                         tooltip="run another action on each file's output (Ctrl+N)")
            yield Static(" then run another action on each output (Ctrl+N)", classes="hint",
                         id="add-step-hint")  # fmt: skip

    @property
    def rows(self) -> list[StepRow]:
        """Every row, step 1 first (none for a one-action job)."""
        return list(self.query_one("#step-rows").query_children(StepRow))

    def drafts(self) -> list[StepDraft]:
        """Every step as typed, step 1 (the main action's workers and keep box) first."""
        return [row.draft() for row in self.rows]

    async def add_step(self, after: StepRow | None = None,
                       draft: StepDraft | None = None) -> StepRow:  # fmt: skip
        """A new step after ``after`` (default: at the end); step 1's row comes first when
        this is the first step added."""
        box = self.query_one("#step-rows")
        if not self.rows:
            await box.mount(StepRow(self.actions, StepDraft(), first=True))
        row = StepRow(self.actions, draft or StepDraft(), first=False)
        rows = self.rows
        if after is not None and after in rows and after is not rows[-1]:
            await box.mount(row, after=after)
        else:
            await box.mount(row)
        self.renumber()
        self.post_message(self.Changed(structural=True))
        return row

    async def fill(self, first: StepDraft | None, drafts: list[StepDraft]) -> None:
        """Show these steps (``first``: step 1's workers and keep; no drafts: no steps)."""
        box = self.query_one("#step-rows")
        await box.remove_children()
        if drafts:
            rows = [StepRow(self.actions, first or StepDraft(), first=True)]
            rows += [StepRow(self.actions, d, first=False) for d in drafts]
            await box.mount(*rows)
        self.renumber()
        self.post_message(self.Changed(structural=True))

    def renumber(self) -> None:
        """Step numbers, last-step state, the add button's words."""
        rows = self.rows
        for n, row in enumerate(rows, 1):
            row.set_number(n, n == len(rows))
        self.query_one("#add-step-hint", Static).update(
            " add a step after the last one (Ctrl+N: after the focused one)" if rows
            else " then run another action on each output (Ctrl+N)")

    def check(self, first: ActionSpec | None, out_dir: str | None, *,
              strict: bool) -> dict[str, str]:  # fmt: skip
        """Check every step (``first``: the main action, None while it is wrong),
        show each error under its row; returns them by the widget to go to (for the form's
        list of errors)."""
        rows = self.rows
        errors = step_errors(first, [row.draft() for row in rows], out_dir, strict=strict)
        found: dict[str, str] = {}
        self.labels = {}
        for n, row in enumerate(rows):
            error = errors.get(n)
            row.show_error(error.message if error else None, error.option_error if error else None)
            if error is not None:
                widget_id = row.wid(error.part)
                found[widget_id] = error.message
                self.labels[widget_id] = f"Step {n + 1}"
        return found

    def row_of(self, widget: object) -> StepRow | None:
        """The row holding ``widget`` (the focused one), or None."""
        node = widget
        while node is not None:
            if isinstance(node, StepRow):
                return node
            node = getattr(node, "parent", None)
        return None

    @on(Button.Pressed, "#add-step")
    async def _add_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        row = await self.add_step()
        self.focus_row(row)

    def focus_row(self, row: StepRow) -> None:
        """Focus the row's first field and scroll it into view."""
        target = row.query("Select, Input").first()
        target.focus()
        self.call_after_refresh(row.scroll_visible, animate=False)

    @on(Move)
    async def _move(self, event: StepsEditor.Move) -> None:
        rows = self.rows
        i = rows.index(event.row)
        j = i + event.delta
        if j < 1 or j >= len(rows):
            return
        box = self.query_one("#step-rows")
        focused = self.screen.focused
        if event.delta < 0:
            box.move_child(event.row, before=rows[j])
        else:
            box.move_child(event.row, after=rows[j])
        self.renumber()
        if focused is not None:
            focused.focus()
            self.call_after_refresh(focused.scroll_visible, animate=False)
        self.post_message(self.Changed(structural=True))

    @on(Remove)
    async def _remove(self, event: StepsEditor.Remove) -> None:
        rows = self.rows
        i = rows.index(event.row)
        if len(rows) <= 2:  # the last added step: back to a one-action job
            await self.query_one("#step-rows").remove_children()
            self.query_one("#add-step", Button).focus()
        else:
            neighbour = rows[i + 1] if i + 1 < len(rows) else rows[i - 1]
            await event.row.remove()
            self.focus_row(neighbour)
        self.renumber()
        self.post_message(self.Changed(structural=True))
