"""What a job would do, before it does anything: one row per selected file with its duplicate
status and output path, plus the totals and every output collision.

The preview is where mistakes are cheap: two inputs writing one output, or an output landing
on an input (``--out`` equal to or inside the scanned tree), are flagged here so the CLI can
refuse and the TUI can show them, instead of finding out after files were overwritten.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import FileEntry
from .dedupe import DedupeResult, find_duplicates
from .hashing import DEFAULT_PREFIX_BYTES, HashCache

__all__ = ["Preview", "PreviewRow", "build_preview", "default_mirror_path", "mark_collisions"]

OutPathFor = Callable[[FileEntry], "str | None"]


@dataclass(slots=True)
class PreviewRow:
    """One selected file. ``collision`` says why its output is unsafe (None = fine)."""

    entry: FileEntry
    duplicate_of: str | None = None
    out_path: str | None = None
    collision: str | None = None


@dataclass
class Preview:
    """Rows in scan order, and the totals the preview screen and ``--dry-run`` show."""

    rows: list[PreviewRow]
    count: int = 0
    total_bytes: int = 0
    duplicates: int = 0
    collisions: int = 0
    dedupe: DedupeResult | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def to_process(self) -> int:
        """Files that would run (duplicates are skipped)."""
        return self.count - self.duplicates

    @property
    def bytes_to_process(self) -> int:
        return sum(r.entry.size for r in self.rows if r.duplicate_of is None)

    def recount(self) -> None:
        """Refresh the totals after rows were removed or changed (e.g. deselected in the TUI)."""
        self.count = len(self.rows)
        self.total_bytes = sum(r.entry.size for r in self.rows)
        self.duplicates = sum(1 for r in self.rows if r.duplicate_of is not None)
        self.collisions = sum(1 for r in self.rows if r.collision)


def _own_mirror_path(out_dir: str, root: str, rel: str, multi_root: bool) -> str:
    if multi_root:
        base = os.path.basename(os.path.normpath(os.path.abspath(root))) or "root"
        return os.path.join(out_dir, base, rel)
    return os.path.join(out_dir, rel)


def _mirror_function() -> Callable[[str, str, str, bool], str]:
    try:  # imported lazily: the actions package imports a lot, the preview rarely needs it
        from ..actions import mirror_path
    except ImportError:  # pragma: no cover - the actions package is part of the product
        return _own_mirror_path
    return mirror_path


def default_mirror_path(out_dir: str, root: str, rel: str, multi_root: bool) -> str:
    """``out_dir/rel``, or ``out_dir/<basename(root)>/rel`` with several roots (so two roots
    holding the same ``rel`` do not collide). Uses the actions' ``mirror_path`` when present,
    so the preview and the run can never disagree."""
    return _mirror_function()(out_dir, root, rel, multi_root)


class _Resolver:
    """Resolve paths to a canonical form for comparison, one ``realpath`` per folder.

    Outputs do not exist yet and inputs may be reached through a symlinked root or ``--out``;
    resolving the parent folder (cached: 100k rows live in ~1k folders) and keeping the base
    name makes ``out/a.txt`` and ``tree/a.txt`` compare equal when ``out`` links to ``tree``.
    """

    def __init__(self) -> None:
        self._dirs: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        head, sep, tail = path.rpartition("/")
        if tail in ("", ".", ".."):  # not "folder/name": let realpath sort it out
            return os.path.realpath(path)
        if not sep:
            head = "."  # a bare name, relative to the current folder
        elif not head:
            head = "/"
        real = self._dirs.get(head)
        if real is None:
            real = self._dirs[head] = os.path.realpath(head)
        return real + "/" + tail if real != "/" else "/" + tail


def mark_collisions(rows: Sequence[PreviewRow], inputs: Iterable[FileEntry] | None = None) -> int:
    """Set ``collision`` on every row whose output is unsafe; return how many.

    Unsafe: the output is an input path (its own or another selected file's, duplicates
    included since they stay on disk), or two rows that would run (not duplicates) share an
    output. Rows without an output or marked duplicate (they do not run) are never flagged.
    Call again after deselecting rows: a collision may disappear.
    """
    resolve = _Resolver()
    input_paths: dict[str, str] = {}
    for e in inputs if inputs is not None else (r.entry for r in rows):
        input_paths.setdefault(resolve(e.path), e.path)
    by_out: dict[str, list[PreviewRow]] = {}
    for row in rows:
        if row.out_path is None or row.duplicate_of is not None:
            if row.collision and row.out_path is not None:
                row.collision = None
            continue
        row.collision = None
        key = resolve(row.out_path)
        by_out.setdefault(key, []).append(row)
        hit = input_paths.get(key)
        if hit is not None:
            if hit == row.entry.path:
                row.collision = "output would overwrite this input file"
            else:
                row.collision = f"output would overwrite the input file {hit!r}"
    for group in by_out.values():
        if len(group) > 1:
            for row in group:
                if row.collision:
                    continue
                other = next(r for r in group if r is not row)
                more = f" (and {len(group) - 2} more)" if len(group) > 2 else ""
                row.collision = f"same output as {other.entry.path!r}{more}"
    return sum(1 for r in rows if r.collision)


def build_preview(
    entries: Sequence[FileEntry] | Iterable[FileEntry],
    *,
    action: Any = None,
    out_dir: str | None = None,
    roots: Sequence[str] | None = None,
    dedupe: bool | None = True,
    cache: HashCache | None = None,
    out_path_for: OutPathFor | None = None,
    dedupe_result: DedupeResult | None = None,
    prefix_bytes: int = DEFAULT_PREFIX_BYTES,
    cancel: threading.Event | None = None,
) -> Preview:
    """Rows for ``entries`` (scan order kept), duplicates marked, outputs and collisions found.

    Output path of each row, first that applies: ``out_path_for(entry)`` (None = the action
    writes nothing for it); ``action.out_path_for(out_dir, root, rel, multi_root)`` if the
    action has one; the mirror rule (:func:`default_mirror_path`) when ``out_dir`` is given;
    else None. ``multi_root`` is ``len(roots) > 1``; without ``roots`` it is inferred from the
    entries. A ``dedupe_result`` computed elsewhere is reused instead of hashing again.
    ``dedupe`` is a job's setting, already resolved (``jobs.resolve_checked_action``); ``None``
    (never resolved) hashes nothing, the safe side for an action writing one output per file.
    """
    ents = entries if isinstance(entries, list) else list(entries)
    if roots is None:
        roots = list(dict.fromkeys(e.root for e in ents))
    multi_root = len(roots) > 1

    result: DedupeResult | None = dedupe_result
    if result is None and dedupe:
        result = find_duplicates(ents, cache=cache, prefix_bytes=prefix_bytes, cancel=cancel)
    dup_of = result.duplicate_of if result is not None else {}

    compute: OutPathFor | None = out_path_for
    if compute is None and action is not None and callable(getattr(action, "out_path_for", None)):
        action_out = action.out_path_for

        def compute(e: FileEntry) -> str | None:
            return action_out(out_dir, e.root, e.rel, multi_root)

    elif compute is None and out_dir is not None:
        od = out_dir
        mirror = _mirror_function()

        def compute(e: FileEntry) -> str | None:
            return mirror(od, e.root, e.rel, multi_root)

    rows: list[PreviewRow] = []
    for e in ents:
        row = PreviewRow(e, dup_of.get(e.path))
        if compute is not None:
            try:
                row.out_path = compute(e)
            except Exception as exc:  # a bad rel (corrupt store row) must show, not crash
                row.collision = f"cannot compute the output path: {exc}"
        rows.append(row)

    preview = Preview(rows, dedupe=result)
    if compute is not None:
        mark_collisions(rows, ents)
    preview.recount()

    if out_dir is not None:
        od_real = os.path.realpath(out_dir)
        for r in roots:
            rr = os.path.realpath(r)
            if od_real == rr or od_real.startswith(rr.rstrip(os.sep) + os.sep):
                preview.warnings.append(
                    f"the output folder {out_dir!r} is inside the scanned folder {r!r}: "
                    "exclude it, or outputs of a later run will be picked up as inputs"
                )
    if result is not None and result.changed_paths:
        preview.warnings.append(
            f"{len(result.changed_paths)} file(s) changed while being checked for duplicates"
        )
    return preview
