"""Between the form's fields and a :class:`~tui_batch.model.JobSpec`, both ways.

The form builds a job from what is typed with the same core parsers as the CLI (so a wrong
field gets the CLI's message, with the CLI's flag as its field name), and fills its fields from
a spec (a recipe, the CLI's flags, the demo). Both directions live here, next to each other, so
a field cannot be read one way and written another; the fields are read through
:class:`FormFields` (widget id -> text, tick or choice), so this module knows no widget.
"""

from __future__ import annotations

import os
import shlex
from typing import Protocol

from ..actions import Action, resolve_action
from ..errors import InputError
from ..model import ActionSpec, EngineSettings, FilterSpec, JobSpec, Priority
from ..select import check_out_dir, filter_from_options
from . import format as fmt
from .validation import (
    format_options,
    parse_options,
    parse_retries,
    parse_seconds,
    parse_workers,
    split_paths,
    split_regexes,
    split_words,
)

COMMAND = "__command__"
"""Select value meaning "run a command template" rather than a named action."""

PYTHON = "__python__"
"""Select value meaning "a Python function given as module:function"."""

NO_TEMPLATE = "type a command, e.g. gzip -k {}"
"""The error of an empty Command field (the form's, the CLI has no empty --exec to refuse)."""

NO_FUNCTION = "give the function as module:function"
"""The error of a Function field that is not ``module:function``."""


class FormFields(Protocol):
    """The form's fields by widget id."""

    def value(self, field_id: str) -> str:
        """Current text of an Input."""
        ...

    def checked(self, field_id: str) -> bool:
        """Current state of a Checkbox."""
        ...

    def choice(self, field_id: str) -> object:
        """Current value of a Select."""
        ...


# ------------------------------------------------------------ fields -> spec
def build_filter(fields: FormFields) -> FilterSpec:
    """The filter, validated by the core (cross-field checks included)."""
    roots = split_paths(fields.value("roots"), "ROOT") or ["."]
    return filter_from_options(
        roots=roots,
        ext=split_words(fields.value("ext")),
        min_size=fields.value("min_size").strip() or None,
        max_size=fields.value("max_size").strip() or None,
        newer=fields.value("newer").strip() or None,
        older=fields.value("older").strip() or None,
        name=fields.value("name") or None,
        exclude=split_paths(fields.value("exclude"), "--exclude"),
        exclude_re=split_regexes(fields.value("exclude_re")),
        hidden=fields.checked("hidden"),
        follow=fields.checked("follow"),
        no_ignore=not fields.checked("use_ignore"),
    )


def build_action(fields: FormFields) -> ActionSpec:
    """The action (a template or a named action), checked."""
    choice = fields.choice("action")
    options = parse_options(fields.value("opts"))
    if choice == COMMAND:
        template = fields.value("template")
        if not template.strip():
            raise InputError("--exec", NO_TEMPLATE)
        spec = ActionSpec(template=template, shell=fields.checked("shell"), options=options)
    elif choice == PYTHON:
        ref = fields.value("pyref").strip()
        module, sep, function = ref.partition(":")
        if not (sep and module.strip() and function.strip()):
            raise InputError("--action", NO_FUNCTION)
        spec = ActionSpec(name=ref, options=options)
    else:
        spec = ActionSpec(name=str(choice), options=options)
    spec.check()
    return spec


def build_settings(fields: FormFields, dedupe_chosen: bool) -> EngineSettings:
    """Engine settings; ``dedupe`` is the box's state only once the user chose it, else None
    (decided by the action, as on the command line)."""
    out = fields.value("out").strip()
    settings = EngineSettings(
        workers=parse_workers(fields.value("workers")),
        retries=parse_retries(fields.value("retries")),
        timeout=parse_seconds(fields.value("timeout")),
        priority=Priority.parse(str(fields.choice("priority"))),
        dedupe=fields.checked("dedupe") if dedupe_chosen else None,
        out_dir=os.path.expanduser(out) if out else None,
    )
    settings.check()
    return settings


def build_spec(
    fields: FormFields, actions: dict[str, Action], *, dedupe_chosen: bool, name: str | None
) -> JobSpec:
    """The whole job spec, or InputError naming the first wrong field. The action is checked
    against the settings (``actions``: the ones the form lists, already resolved; a template
    is compiled and a module:function action imported now, not at run time), and the output
    folder against the roots, as the CLI does."""
    spec = JobSpec(
        filter=build_filter(fields),
        action=build_action(fields),
        settings=build_settings(fields, dedupe_chosen),
        name=name,
    )
    action_name = spec.action.name
    if action_name is not None and action_name in actions:
        actions[action_name].check(spec.action, spec.settings)
    else:
        resolve_action(spec.action).check(spec.action, spec.settings)
    check_out_dir(spec.filter.roots, spec.settings.out_dir)
    return spec


# ------------------------------------------------------------ spec -> fields
def field_texts(spec: JobSpec) -> dict[str, str]:
    """The text of every Input that shows a part of ``spec`` (widget id -> text)."""
    f, a, s = spec.filter, spec.action, spec.settings
    return {
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


def field_flags(spec: JobSpec) -> dict[str, bool]:
    """The state of every Checkbox (widget id -> ticked). Dedupe None shows ticked until the
    form shows the action's default."""
    f, a, s = spec.filter, spec.action, spec.settings
    return {
        "hidden": f.hidden,
        "follow": f.follow,
        "use_ignore": f.use_ignore,
        "shell": a.shell,
        "dedupe": s.dedupe is not False,
    }


def action_choice(spec: ActionSpec, listed: dict[str, Action]) -> tuple[str, str]:
    """``(the Run select's value, the Function field's text)`` for an action: a listed
    action by name, any other name as a Python function, no name as a command template."""
    if spec.name is not None and spec.name in listed:
        return spec.name, ""
    if spec.name is not None:
        return PYTHON, spec.name
    return COMMAND, ""
