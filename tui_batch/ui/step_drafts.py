"""A pipeline's steps as the form edits them, and the checks a chain of steps needs.

The form's first action is step 1 of a pipeline; the steps editor adds steps 2..N. Each row
of the editor reads into a :class:`StepDraft` (what is typed, before parsing), which becomes a
:class:`~tui_batch.model.StepSpec` with the same parsers the main action uses, so a wrong
step gets the CLI's words. The chain itself (every step but the last writes a file for the
next one) is checked by the jobs' own ``resolve_steps`` (``jobs/pipeline_setup``), so the
form and ``run --recipe`` refuse the same pipelines. Nothing here holds a widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..actions import Action, resolve_action
from ..errors import InputError
from ..model import ActionSpec, EngineSettings, StepSpec
from .form_spec import COMMAND, NO_FUNCTION, NO_TEMPLATE, PYTHON
from .validation import parse_workers

__all__ = [
    "StepDraft",
    "check_step",
    "draft_action",
    "draft_from_step",
    "draft_to_step",
    "drafts_of",
    "pipeline_label",
]

@dataclass
class StepDraft:
    """One step as typed: the Run select's ``choice`` (:data:`COMMAND`, :data:`PYTHON` or an
    action's name), the Command or Function ``text``, its options, workers and keep box.
    ``extra``: the step's retries, timeout and priority from a loaded recipe, kept as they
    were (the form edits only what differs most between steps)."""

    choice: object = COMMAND
    text: str = ""
    shell: bool = False
    options: dict[str, str] = field(default_factory=dict)
    workers: str = ""
    keep: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def draft_action(draft: StepDraft, strict: bool = True) -> ActionSpec | None:
    """The draft's action spec, checked (``InputError`` naming ``--exec``, ``--action`` or
    ``--opt``); None while an empty Command or Function is not an error yet (not ``strict``)."""
    if draft.choice == COMMAND:
        if not draft.text.strip():
            if strict:
                raise InputError("--exec", NO_TEMPLATE)
            return None
        spec = ActionSpec(template=draft.text, shell=draft.shell, options=dict(draft.options))
    elif draft.choice == PYTHON:
        ref = draft.text.strip()
        module, sep, function = ref.partition(":")
        if not (sep and module.strip() and function.strip()):
            if strict:
                raise InputError("--action", NO_FUNCTION)
            return None
        spec = ActionSpec(name=ref, options=dict(draft.options))
    else:
        spec = ActionSpec(name=str(draft.choice), options=dict(draft.options))
    spec.check()
    return spec


def draft_to_step(draft: StepDraft) -> StepSpec:
    """The step a draft describes (its action resolved later, with the job's settings)."""
    spec = draft_action(draft)
    assert spec is not None  # strict: an empty field raised
    workers = parse_workers(draft.workers) if draft.workers.strip() else None
    step = StepSpec(action=spec, workers=workers or None, keep=draft.keep)
    step.retries = draft.extra.get("retries")
    step.timeout = draft.extra.get("timeout")
    step.priority = draft.extra.get("priority")
    return step


def draft_from_step(step: StepSpec, listed: dict[str, Action]) -> StepDraft:
    """A step of a loaded spec, as the editor shows it (a name the Run select does not list
    is a Python function)."""
    a: ActionSpec = step.action
    if a.name is None:
        choice: object = COMMAND
        text = a.template or ""
    elif a.name in listed:
        choice, text = a.name, ""
    else:
        choice, text = PYTHON, a.name
    extra: dict[str, Any] = {}
    for key in ("retries", "timeout", "priority"):
        value = getattr(step, key)
        if value is not None:
            extra[key] = value
    return StepDraft(
        choice=choice, text=text, shell=a.shell, options=dict(a.options),
        workers=str(step.workers) if step.workers else "", keep=step.keep, extra=extra,
    )  # fmt: skip


def check_step(draft: StepDraft, out_dir: str | None, strict: bool) -> Action | None:
    """The draft's action resolved and checked against the output folder (``InputError``
    on what is wrong); None when there is nothing to check yet."""
    spec = draft_action(draft, strict=strict)
    if spec is None:
        return None
    if draft.workers.strip():
        parse_workers(draft.workers)
    action = resolve_action(spec)
    action.check(spec, EngineSettings(out_dir=out_dir))
    return action


def pipeline_label(spec: Any) -> str:
    """``extract-text → compress`` (a template as its text): the steps of a pipeline."""
    return " → ".join(s.action.label for s in spec.steps)


def drafts_of(spec: Any, listed: dict[str, Action]) -> tuple[StepDraft | None, list[StepDraft]]:
    """A spec's steps as the editor shows them: step 1's workers and keep box (its action is
    the form's main one) and steps 2..N; ``(None, [])`` for a one-action job."""
    if not spec.steps:
        return None, []
    first = draft_from_step(spec.steps[0], listed)
    return first, [draft_from_step(s, listed) for s in spec.steps[1:]]
