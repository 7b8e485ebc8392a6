"""Removing the temporary outputs a killed run left behind (``.name.tbtmp-<tag>.ext``).

A kill -9 (or a power cut) stops a task between creating its temporary output and renaming it
into place, so the temporary file stays in ``--out``: up to the size of the input, hidden, and
never cleaned by anyone. The job that owns the output cleans it the next time it starts
(``resume``, or a new run writing the same outputs): the job knows every output path it writes,
so it removes only a name that is *exactly* the temporary name of one of its own outputs
(:func:`~tui_batch.actions.output.temp_owner`), in that output's folder, written by a process
that no longer runs. A user's file that merely contains ``.tbtmp-``, an output of another job,
or a temporary that a live process (another job writing the same folder) is still writing, is
never touched.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from typing import Any

from .output import (
    _NAME_MAX,
    TEMP_MARKER,
    _inside,
    remove_temp,
    temp_final_name,
    temp_owner,
)

__all__ = ["remove_leftovers"]

_LONGEST_TAG = "x" * 10


def _alive(pid: int) -> bool:
    """Could ``pid`` still be writing? Unknown (0) and this process count as alive: keep."""
    if pid <= 0 or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists (another user's)
        return True
    return True


def _shortened(name: str) -> bool:
    """Is the temporary name of ``name`` cut to fit NAME_MAX (so it does not contain it)?"""
    return len(os.fsencode(f".{name}{TEMP_MARKER}{_LONGEST_TAG}")) > _NAME_MAX


def _owner(tmp: str, names: set[str], long_names: list[str]) -> int | None:
    final = temp_final_name(tmp)
    if final is not None and final in names:
        return temp_owner(tmp, final)
    for candidate in long_names:
        pid = temp_owner(tmp, candidate)
        if pid is not None:
            return pid
    return None


def _mirrors(action: Any) -> bool:
    """Does the action place each output in the folder mirroring its input's folder? (Then
    the inputs of one input folder share one output folder, which is listed once.)"""
    from .base import Action
    from .template import CommandAction

    return type(action).out_path_for in (Action.out_path_for, CommandAction.out_path_for)


def _groups(action: Any, inputs: Iterable[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Inputs grouped so that each group's outputs are in one folder (for a mirroring action:
    by input folder, without computing 100,000 output paths up front)."""
    if not _mirrors(action):
        return [list(inputs)]
    by_dir: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for root, rel in inputs:
        by_dir.setdefault((root, rel.rpartition("/")[0]), []).append((root, rel))
    return list(by_dir.values())


def _outputs(
    action: Any, out_dir: str, group: list[tuple[str, str]], multi_root: bool
) -> dict[str, set[str]]:
    by_folder: dict[str, set[str]] = {}
    for root, rel in group:
        try:
            final = action.out_path_for(out_dir, root, rel, multi_root)
        except Exception:  # a corrupt row: its task reports the error when it runs
            continue
        if final:
            folder, name = os.path.split(final)
            by_folder.setdefault(folder, set()).add(name)
    return by_folder


def _candidates(folder: str, out_real: str) -> list[str]:
    """Names in ``folder`` carrying the marker (none if it resolves outside ``--out``)."""
    real = os.path.realpath(folder)
    if real != out_real and _inside(real, out_real) is None:
        return []
    try:
        with os.scandir(folder) as it:
            return [e.name for e in it if TEMP_MARKER in e.name]
    except OSError:  # not created yet (nothing ran there), or unreadable
        return []


def _clean(folder: str, names: set[str], tmps: list[str]) -> int:
    long_names = [n for n in names if _shortened(n)]
    removed = 0
    for tmp in tmps:
        pid = _owner(tmp, names, long_names)
        if pid is None or _alive(pid):
            continue
        with contextlib.suppress(OSError):
            remove_temp(os.path.join(folder, tmp))
            removed += 1
    return removed


def remove_leftovers(
    action: Any, out_dir: str | None, inputs: Iterable[tuple[str, str]], multi_root: bool
) -> int:
    """Remove the leftover temporary outputs of these inputs' outputs; return how many.

    ``inputs`` are ``(root, rel)`` pairs of the job's tasks; ``action.out_path_for`` gives each
    one's output (the same call the engine makes). One directory listing per output folder, and
    output paths computed only for folders holding a marked name, so 100,000 tasks in 1,000
    folders cost 1,000 listings; nothing at all for an action that writes no output. A folder
    that resolves outside ``out_dir`` (a symlink planted inside it) is skipped, as any write
    there would be.
    """
    if not out_dir or not getattr(action, "writes_output", False):
        return 0
    out_real = os.path.realpath(out_dir)
    removed = 0
    for group in _groups(action, inputs):
        if len(group) > 1 and _mirrors(action):
            root, rel = group[0]
            try:
                first = action.out_path_for(out_dir, root, rel, multi_root)
            except Exception:
                first = None
            if first and not _candidates(os.path.dirname(first), out_real):
                continue  # the usual case: nothing left over in this folder
        for folder, names in _outputs(action, out_dir, group, multi_root).items():
            tmps = _candidates(folder, out_real)
            if tmps:
                removed += _clean(folder, names, tmps)
    return removed
