"""What the preview says, as text: its columns, one row's cells, the totals line and the
start confirmation.

Kept apart from the screen (``screens/preview``) so that the screen holds only state and
keys; nothing here holds a widget, and the words are testable on plain rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from typing import Any

from textual.markup import escape

from ..model import JobSpec, Priority
from . import format as fmt
from .widgets.columns import Cell, Column

__all__ = [
    "COLUMNS",
    "DUPLICATE_MARK",
    "counted",
    "preview_cell",
    "printable",
    "rel_to_roots",
    "sort_keys",
    "start_message",
    "totals_line",
    "workers_phrase",
]

COLUMNS = [
    Column("mark", "✓", 1, sortable=True),
    Column("path", "File", 0, min_width=14, keep_tail=True),
    Column("size", "Size", 9, align="right"),
    Column("modified", "Modified", 16, hide_below=96),
    Column("priority", "Prio", 6),
    Column("note", "Duplicate of / output", 0, min_width=12, keep_tail=True),
]
"""The preview table's columns."""

DUPLICATE_MARK = "="
"""The mark column of a duplicate: skipped, never run (a ✓ would say it runs)."""


def rel_to_roots(path: str, roots: list[str]) -> str:
    """``path`` under the first of ``roots`` that holds it, else ``path`` itself."""
    for root in roots:
        prefix = root.rstrip(os.sep) + os.sep
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def printable(value: str) -> str:
    """A path as it can be drawn: undecodable bytes (surrogate escapes) become "�"."""
    return value.encode("utf-8", "replace").decode("utf-8")


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``1 duplicate``, ``2 duplicates``, ``1,000 files``."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def workers_phrase(workers: int | None) -> str:
    """How many workers, as the start confirmation says it (``one worker per CPU``)."""
    return "one worker per CPU" if not workers else counted(workers, "worker")


def preview_cell(
    row: Any,
    key: str,
    *,
    excluded: Collection[str],
    priority: Priority,
    roots: list[str],
    output_of: Callable[[Any], str | None] | None = None,
) -> Cell:
    """One cell of a preview row (a ``select.PreviewRow``): ``priority`` is the row's;
    ``output_of`` gives a pipeline's final output of a row (default: its ``out_path``)."""
    entry = row.entry
    if key == "mark":
        if entry.path in excluded:
            return ("✗", "bad")
        return (DUPLICATE_MARK, "warn") if row.duplicate_of is not None else ("✓", "ok")
    if key == "path":
        text = printable(entry.rel)
        return (text, "dim") if entry.path in excluded else text
    if key == "size":
        return fmt.size(entry.size)
    if key == "modified":
        return fmt.timestamp(entry.mtime_ns / 1e9)
    if key == "priority":
        return (priority.name.lower(), "accent" if priority >= Priority.HIGH else "dim")
    if key == "note":
        if row.duplicate_of is not None:
            same = printable(rel_to_roots(row.duplicate_of, roots))
            return (f"{DUPLICATE_MARK} {same}", "warn")  # the start of a long path may go
        if row.collision:
            return ("⚠ collides: " + printable(row.out_path or "?"), "bad")
        out = output_of(row) if output_of is not None else row.out_path
        if out:
            return ("→ " + printable(out), "dim")
    return ""


def sort_keys(
    is_excluded: Callable[[str], bool], priority_of: Callable[[str], Priority]
) -> dict[str, Callable[[Any], Any]]:
    """The sort key of each sortable column; the callables are asked when sorting."""
    return {
        "mark": lambda r: is_excluded(r.entry.path),
        "path": lambda r: r.entry.rel,
        "size": lambda r: r.entry.size,
        "modified": lambda r: r.entry.mtime_ns,
        "priority": lambda r: -int(priority_of(r.entry.path)),
        "note": lambda r: (r.duplicate_of is None, not r.collision, r.duplicate_of or ""),
    }


def totals_line(t: Mapping[str, int]) -> str:
    """The markup line under the table: selected files, bytes, duplicates skipped, ..."""
    parts = [
        f"[b]{fmt.count(t['selected'])}[/] of {fmt.count(t['files'])} files",
        f"[b]{fmt.size(t['bytes'])}[/]",
        f"[b $warning]{DUPLICATE_MARK} {fmt.count(t['duplicates'])}[/] "
        f"{'duplicate' if t['duplicates'] == 1 else 'duplicates'} skipped",
        f"[b]{fmt.count(t['excluded'])}[/] excluded",
    ]
    if t["collisions"]:
        noun = "output collision" if t["collisions"] == 1 else "output collisions"
        parts.append(f"[b $error]{fmt.count(t['collisions'])}[/] {noun}")
    if t["issues"]:
        parts.append(counted(t["issues"], "scan issue"))
    return " · ".join(parts)


def start_message(spec: JobSpec, t: Mapping[str, int], notes: list[str]) -> str:
    """The markup body of "Start the job?": what runs, on how many files, with what."""
    runnable = t["selected"] - t["duplicates"]
    retries = spec.settings.retries
    what = spec.action.label
    if spec.steps:  # a pipeline: every step, in order
        what = " → ".join(s.action.label for s in spec.steps) + f" ({len(spec.steps)} steps)"
    message = (
        f"Run [b]{escape(printable(what))}[/] on [b]{counted(runnable, 'file')}[/] "
        f"({fmt.size(t['bytes'])}) with {workers_phrase(spec.settings.workers)}"
        f"{', ' + counted(retries, 'retry', 'retries') + ' each' if retries else ''}."
    )
    if t["duplicates"]:
        same = "has the same content as" if t["duplicates"] == 1 else "have the same content as"
        message += (
            f"\n{counted(t['duplicates'], 'duplicate')} will be skipped ({same} a file that runs)."
        )
    for note in notes:
        message += "\n" + escape(note)
    if t["collisions"]:
        message += f"\n[b $error]{t['collisions']:,} outputs collide; those tasks will fail.[/]"
    return message
