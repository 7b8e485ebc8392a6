"""The form's checks that need more than one field, run on every change.

A field's own text is checked by its validator (:data:`tui_batch.ui.validation.PARSERS`); what
is left needs two fields or more: a command template and its ``sh -c`` box (placeholders,
quotes, ``{out}``, the shell's syntax), the options and the chosen action (the registry's
option declarations: a key the action does not take, a value it refuses), the action and the
output folder (``copy`` needs one), the output folder and the roots, min > max. Each check is
the core's own (``resolve_action``, ``Action.check``, ``filter_from_options``,
``check_out_dir``), so the form refuses what the CLI refuses, in its words.

Errors come back by widget id (:data:`~tui_batch.ui.validation.FIELD_WIDGETS`); a check whose
input field is already wrong is skipped, so one mistake is reported once, on its own field.
Everything here is cheap enough for every keystroke; the two that are not (``sh -n`` for a
shell template, importing a ``module:function``) are cached by their text. This module knows
no widget: it reads the fields through :class:`~tui_batch.ui.form_spec.FormFields`.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from functools import lru_cache

from ..actions import Action, append_note, default_dedupe, resolve_action
from ..errors import InputError
from ..model import ActionSpec, EngineSettings
from ..select import check_out_dir
from .form_spec import (
    COMMAND,
    NO_FUNCTION,
    NO_TEMPLATE,
    PYTHON,
    FormFields,
    build_action,
    build_filter,
)
from .validation import FIELD_WIDGETS, FILTER_FIELDS, format_options, parse_options, split_paths

__all__ = [
    "compiled_template", "cross_errors", "dedupe_shown", "dropped_note", "first_step",
    "kept_options", "options_after_switch", "path_note", "widget_for",
]


def widget_for(field: str, choice: object) -> str | None:
    """The widget showing a core error about ``field`` (a flag such as ``--opt``); ``--action``
    errors go to the Function field when a Python function is chosen."""
    widget_id = FIELD_WIDGETS.get(field)
    if widget_id == "action" and choice == PYTHON:
        return "pyref"
    return widget_id


@lru_cache(maxsize=64)
def _compiled(template: str, shell: bool) -> Action | InputError:
    """The template compiled, or its error (cached: a shell template runs ``sh -n``)."""
    try:
        return resolve_action(ActionSpec(template=template, shell=shell))
    except InputError as exc:
        return exc


@lru_cache(maxsize=16)
def _imported(ref: str) -> Action | InputError:
    """The ``module:function`` action, or why not (cached while typing elsewhere)."""
    try:
        return resolve_action(ActionSpec(name=ref))
    except InputError as exc:
        return exc


def compiled_template(template: str, shell: bool) -> Action | None:
    """The command template's action, or None when it is empty or does not compile."""
    if not template.strip():
        return None
    compiled = _compiled(template, shell)
    return None if isinstance(compiled, InputError) else compiled


def _function_complete(ref: str) -> bool:
    module, sep, function = ref.partition(":")
    return bool(sep and module.strip() and function.strip())


def _chosen_action(
    fields: FormFields, actions: dict[str, Action], *, strict: bool, reimport: bool
) -> Action | InputError | None:
    """The action the form names now, its error, or None (nothing to check yet).

    While typing, an empty Command or an unfinished ``module:`` is not an error yet: a form
    that opens in red is noise; ``strict`` (once the user asked for the preview) reports
    them. ``reimport``: import the function again (the user may have fixed the module).
    """
    choice = fields.choice("action")
    if choice == COMMAND:
        template = fields.value("template")
        if not template.strip():
            return InputError("--exec", NO_TEMPLATE) if strict else None
        return _compiled(template, fields.checked("shell"))
    if choice == PYTHON:
        ref = fields.value("pyref").strip()
        if not _function_complete(ref):
            return InputError("--action", NO_FUNCTION) if strict else None
        if reimport:
            _imported.cache_clear()
        return _imported(ref)
    action = actions.get(str(choice))
    if action is None:
        return InputError("--action", f"unknown action {choice!r}")
    return action


def cross_errors(
    fields: FormFields,
    actions: dict[str, Action],
    *,
    blocked: Collection[str] = (),
    strict: bool = False,
    reimport: bool = False,
) -> dict[str, str]:
    """Widget id -> message for every check that needs more than one field.

    ``blocked``: widget ids whose own text is wrong (their validator says why); checks that
    read them are skipped. ``actions``: the actions the Run select lists, by name.
    ``strict`` and ``reimport``: see :func:`_chosen_action`.
    """
    choice = fields.choice("action")
    errors: dict[str, str] = {}

    def put(exc: InputError) -> None:
        errors.setdefault(widget_for(exc.field, choice) or "action", exc.message)

    if not set(FILTER_FIELDS) & set(blocked):
        try:
            build_filter(fields)
        except InputError as exc:
            put(exc)
    out = fields.value("out").strip()
    out_dir = os.path.expanduser(out) if out else None
    chosen = _chosen_action(fields, actions, strict=strict, reimport=reimport)
    if isinstance(chosen, InputError):
        put(chosen)
    elif chosen is not None and "opts" not in blocked:
        options = parse_options(fields.value("opts"))
        if choice == COMMAND:
            spec = ActionSpec(
                template=fields.value("template"), shell=fields.checked("shell"), options=options
            )
        else:
            spec = ActionSpec(name=chosen.name, options=options)
        try:
            chosen.check(spec, EngineSettings(out_dir=out_dir))
        except InputError as exc:
            put(exc)
    if out_dir and "roots" not in blocked:
        try:
            check_out_dir(split_paths(fields.value("roots"), "ROOT") or ["."], out_dir)
        except InputError as exc:
            put(exc)
    return errors


def first_step(fields: FormFields) -> ActionSpec | None:
    """The main action (a pipeline's step 1), or None while it is wrong (its own field says
    why) or not typed yet."""
    if fields.choice("action") == COMMAND and not fields.value("template").strip():
        return None
    try:
        spec = build_action(fields)
        resolve_action(spec)  # a module:function that does not import is no step 1 yet
    except InputError:
        return None
    return spec


def path_note(fields: FormFields) -> str | None:
    """The core's note when the path will be appended to the command template (``wc -l``
    runs as ``wc -l PATH``), in the words ``--dry-run`` and the preview use; None otherwise."""
    if fields.choice("action") != COMMAND:
        return None
    template = fields.value("template")
    if not template.strip():
        return None
    return append_note(ActionSpec(template=template, shell=fields.checked("shell")))


def kept_options(
    options: dict[str, str], choice: object, actions: dict[str, Action]
) -> tuple[dict[str, str], dict[str, str]]:
    """``(kept, dropped)`` when the Run select changes: only the options the new action
    declares are kept (none for a command template, every one for a Python function, whose
    options are known only once it is imported, and for an action that takes any)."""
    if choice == PYTHON:
        return dict(options), {}
    action = actions.get(str(choice)) if choice != COMMAND else None
    if action is not None and action.accepts_any_option:
        return dict(options), {}
    known = action.options if action is not None else {}
    kept = {k: v for k, v in options.items() if k in known}
    dropped = {k: v for k, v in options.items() if k not in known}
    return kept, dropped


def dropped_note(dropped: dict[str, str], choice: object) -> str:
    """What the form says when switching to ``choice`` dropped options."""
    if choice == COMMAND:
        why = "command templates take no options"
    else:
        why = f"not {'an option' if len(dropped) == 1 else 'options'} of {choice}"
    return f"{format_options(dropped)}: {why}"


def options_after_switch(
    text: str, choice: object, actions: dict[str, Action]
) -> tuple[str, str] | None:
    """``(the Options text kept, the note saying what was dropped)`` when the Run select
    changes to ``choice`` and some options are not the new action's; None when nothing is
    dropped (or the text is not ``KEY=VALUE`` yet: the field says so, the user decides)."""
    try:
        options = parse_options(text)
    except InputError:
        return None
    kept, dropped = kept_options(options, choice, actions)
    if not dropped:
        return None
    return format_options(kept), dropped_note(dropped, choice)


def dedupe_shown(fields: FormFields, actions: dict[str, Action]) -> bool | None:
    """The dedupe box the chosen action implies with this output folder, or None while the
    template does not compile (its error is shown on the field; the box stays as it is)."""
    out = fields.value("out").strip() or None
    choice = fields.choice("action")
    action = actions.get(str(choice))
    if choice == COMMAND:
        action = compiled_template(fields.value("template"), fields.checked("shell"))
    return None if action is None else default_dedupe(action, out)
