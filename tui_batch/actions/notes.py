"""Decisions an action implies that the user did not spell out, and the one wording for each.

Two defaults are taken for the user, so every client (``--dry-run``, the TUI preview, the first
progress line of a run) must say so in the same words, which is why they are computed here and
nowhere else:

* a template without a placeholder gets the path appended (``wc -l`` runs as ``wc -l PATH``),
  which is what fd and parallel do, and a surprise when the template was ``sleep 0.05``;
* duplicates are skipped by default, except for an action that writes one output per input
  (``copy``, ``gzip``, ``checksum`` with ``--out``, a template using ``{out}``): there a skipped
  duplicate is a missing file in the output tree, so such actions default to no dedupe unless
  ``--dedupe`` is given.
"""

from __future__ import annotations

from typing import Any

from ..model import ActionSpec

__all__ = ["append_note", "dedupe_note", "default_dedupe", "one_output_per_input", "plan_notes"]


def append_note(what: ActionSpec | Any) -> str | None:
    """``note: ...`` when the path is appended to a template that names no placeholder.

    ``what`` is an :class:`~tui_batch.model.ActionSpec` or a resolved action (anything with
    ``template`` and ``shell``); ``None`` for named actions, templates with a placeholder and
    shell scripts that read ``$1``/``$@``/``$*`` themselves. A template that does not compile
    gets no note (its error is reported where it is resolved).
    """
    template = getattr(what, "template", None)
    if template is None:
        return None
    appended = getattr(what, "appends_path", None)
    if appended is None:
        from ..errors import InputError
        from .template import path_is_appended

        try:
            appended = path_is_appended(template, bool(getattr(what, "shell", False)))
        except InputError:
            return None
    if not appended:
        return None
    return f"note: no placeholder in the template; the path is appended: {template.rstrip()} {{}}"


def one_output_per_input(action: Any) -> bool:
    """Does the action write a file of its own for every input it runs on?

    An action may say so itself with a ``one_output_per_input`` attribute (``False`` for one
    whose outputs are keyed by content, where running duplicates is wasted work); otherwise it
    is what ``writes_output`` says.
    """
    own = getattr(action, "one_output_per_input", None)
    if own is not None:
        return bool(own)
    return bool(getattr(action, "writes_output", False))


def default_dedupe(action: Any, out_dir: str | None) -> bool:
    """Dedupe when the user did not choose: on, unless each input gets an output of its own,
    or the action says otherwise (``dedupe_default``: ``checksum`` prints a line per file, as
    ``sha256sum`` does, so skipping duplicates would leave files out of its listing)."""
    own = getattr(action, "dedupe_default", None)
    if own is not None:
        return bool(own)
    return not (out_dir and one_output_per_input(action))


def _who(action: Any) -> str:
    return "the template" if getattr(action, "template", None) is not None else str(action.name)


def dedupe_note(action: Any, dedupe: bool, out_dir: str | None) -> str | None:
    """Which way dedupe went for an action that writes one output per input (else ``None``)."""
    if not (out_dir and one_output_per_input(action)):
        return None
    who = _who(action)
    if dedupe:
        return (f"dedupe on: {who} writes one output per file, and duplicates get none "
                "(--no-dedupe writes them all)")
    return (f"dedupe off: {who} writes one output per file, so duplicates are written too "
            "(--dedupe skips them)")


def plan_notes(action: Any, settings: Any) -> list[str]:
    """Every note for a planned job, in the order clients show them."""
    notes = [append_note(action), dedupe_note(action, bool(settings.dedupe), settings.out_dir)]
    return [n for n in notes if n]
