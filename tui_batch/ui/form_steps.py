"""The form's pipeline steps: their checks as the user types, and the spec they make.

The steps editor (:mod:`tui_batch.ui.widgets.steps_editor`) gives its rows as
:class:`~tui_batch.ui.step_drafts.StepDraft` s, step 1 (the main action's workers and keep
box) first. Here each is checked the way the command line checks a ``--then`` step (the
action resolved and checked against the output folder, the workers' range) and the chain
too (a step that writes no file leaves the next one nothing to read); the spec gets its
``steps`` from them. Nothing here holds a widget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InputError
from ..jobs.pipeline_setup import resolve_steps
from ..model import ActionSpec, EngineSettings, FilterSpec, JobSpec, StepSpec
from .form_spec import PYTHON
from .step_drafts import StepDraft, check_step, draft_action, draft_to_step
from .validation import parse_workers

__all__ = ["StepError", "step_errors", "with_steps"]


@dataclass(frozen=True)
class StepError:
    """What is wrong with one step: the message, the part of the row it is about
    (``action``, ``text``, ``workers``) and, for an option's value, the option error (which
    the row marks on that option's field)."""

    message: str
    part: str
    option_error: str | None = None


def _part(exc: InputError, draft: StepDraft) -> str:
    if exc.field in ("-j", "--workers"):
        return "workers"
    if exc.field in ("--exec", "--shell") or (exc.field == "--action" and draft.choice == PYTHON):
        return "text"
    return "action"


def step_errors(
    first: ActionSpec | None, drafts: list[StepDraft], out_dir: str | None, *, strict: bool
) -> dict[int, StepError]:
    """Step index (0 = step 1) -> its error. ``first``: the main action (None while it is
    wrong: its own field says why). ``strict``: an empty Command is an error too."""
    errors: dict[int, StepError] = {}
    if drafts and drafts[0].workers.strip():
        try:
            parse_workers(drafts[0].workers)
        except InputError as exc:
            errors[0] = StepError(exc.message, "workers")
    for i, draft in enumerate(drafts[1:], 1):
        try:
            check_step(draft, out_dir, strict)
        except InputError as exc:
            option = exc.message if exc.field == "--opt" else None
            errors[i] = StepError(exc.message, _part(exc, draft), option)
    empty = any(draft_action(d, strict=False) is None for d in drafts[1:])
    if len(drafts) > 1 and first is not None and not errors and not empty:
        chain = _chain_error(first, drafts, out_dir)
        if chain is not None:
            errors[chain[0]] = chain[1]
    return errors


_STEP_FIELD = re.compile(r"steps\[(\d+)\](?:\.(\w+))?")


def _chain_error(
    first: ActionSpec, drafts: list[StepDraft], out_dir: str | None
) -> tuple[int, StepError] | None:
    """The chain checked as ``run --recipe`` checks it (a step before the last that writes
    no file for the next one, a step writing over its input, a template naming no input):
    ``(step index, error)``, or None when it holds."""
    spec = JobSpec(filter=FilterSpec(), action=first, settings=EngineSettings(out_dir=out_dir))
    try:
        resolve_steps(with_steps(spec, drafts))
    except InputError as exc:
        match = _STEP_FIELD.match(exc.field)
        if match is None:
            return None  # not about a step (the main action, --out): its own field says it
        index = int(match.group(1)) - 1
        part = "text" if match.group(2) == "template" else "action"
        return index, StepError(exc.message, "workers" if index == 0 else part)
    return None


def with_steps(spec: JobSpec, drafts: list[StepDraft]) -> JobSpec:
    """``spec`` made a pipeline of its action then the drafts' (fewer than two: unchanged);
    raises ``InputError`` naming ``steps[N]...``. The chain itself is checked by
    :func:`~tui_batch.jobs.pipeline_setup.resolve_steps` (the preview's plan runs it)."""
    if len(drafts) < 2:
        return spec
    first = drafts[0]
    workers = parse_workers(first.workers) if first.workers.strip() else None
    steps = [StepSpec(action=spec.action, workers=workers or None, keep=first.keep,
                      retries=first.extra.get("retries"), timeout=first.extra.get("timeout"),
                      priority=first.extra.get("priority"))]  # fmt: skip
    for n, draft in enumerate(drafts[1:], 2):
        try:
            steps.append(draft_to_step(draft))
        except InputError as exc:
            raise InputError(f"steps[{n}].{exc.field.lstrip('-')}", exc.message) from None
    steps[-1].keep = True  # the last output is the job's result: never removed
    spec.set_steps(steps)
    return spec
