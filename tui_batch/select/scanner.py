"""Walk the roots of a FilterSpec and yield the selected files, fast and without surprises.

Design choices (each one is something a user would otherwise trip over):

* ``os.scandir`` with an explicit stack: no recursion limit, and the file type comes from
  ``readdir`` so only candidate files (right extension, name, not excluded) are ``stat``-ed.
* Deterministic order: within a folder, files in sorted name order, then sub-folders in sorted
  order (depth first). Previews, tests and resumed jobs see the same order every time.
* Hidden, excluded and ignored folders are pruned before descent: nothing below is listed.
* Ignore files (``.gitignore``, ``.ignore``, ``.tbignore``) apply to their folder's subtree with
  gitignore semantics (nested files refine their parents; ``!pattern`` re-includes). Ignore
  files above a root are not read.
* Symlinks are skipped unless ``spec.follow``. A root given as a symlink is followed (the user
  named it). Every folder's (dev, ino) is checked against the folders on the current path
  (a cycle -> ``ScanIssue(kind="loop")``) and against every folder already scanned (a second
  way to the same folder, via a symlink or an overlapping root -> ``kind="revisit"``, skipped),
  so a scan never loops and never lists a file twice through two folder links. Bind-mount
  loops are caught the same way without ``follow``.
* Unreadable folders -> ``kind="permission"``, broken symlinks (with ``follow``) ->
  ``kind="broken-link"``, anything else that vanishes or fails -> ``kind="error"``; the scan
  carries on.
* Non-UTF-8 names stay surrogate-escaped ``str`` (``os.scandir`` on a ``str`` root does this):
  ``os.fsencode(entry.path)`` gives back the exact bytes.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

from ..model import FileEntry, FilterSpec
from .ignore import IGNORE_FILES, IgnoreChain, ignored, load_ignore_spec
from .matcher import CompiledFilter, compile_filter

__all__ = ["ScanIssue", "ScanResult", "scan", "scan_all"]

_log = logging.getLogger(__name__)

_S_IFMT = 0o170000
_S_IFREG = 0o100000
_S_IFDIR = 0o040000
_IGNORE_NAMES = frozenset(IGNORE_FILES)
_by_name = attrgetter("name")


@dataclass(slots=True, frozen=True)
class ScanIssue:
    """Something the scan could not list; the scan goes on. ``kind`` is one of ``permission``,
    ``loop``, ``revisit``, ``broken-link``, ``missing`` (a root), ``not-a-file``, ``error``."""

    path: str
    kind: str
    message: str


OnIssue = Callable[[ScanIssue], None]
OnCount = Callable[[int, int], None]
"""``progress(seen, matched)``: files looked at and files selected so far, whole scan."""


def _log_issue(issue: ScanIssue) -> None:
    _log.debug("scan: %s: %r: %s", issue.kind, issue.path, issue.message)


def _os_message(exc: OSError) -> str:
    return exc.strerror or str(exc)


def scan(
    spec: FilterSpec | CompiledFilter,
    *,
    on_issue: OnIssue | None = None,
    cancel: threading.Event | None = None,
    progress: OnCount | None = None,
) -> Iterator[FileEntry]:
    """Yield every selected file under the spec's roots (see the module doc for the rules).

    A generator, so the TUI's live count and the job runner can consume it incrementally;
    ``cancel`` (checked per folder and per selected file) stops it promptly. A root that is a
    regular file is yielded as a single file (root = its folder, rel = its name) if it passes
    the extension, name, size and time rules; hidden and ignore rules do not apply to it since
    the user named it.

    ``progress(seen, matched)`` is called once per folder, right after it is listed, and once
    at the end with the exact totals (not after a cancel). ``seen`` counts the files looked
    at: every entry that is not a folder, hidden ones only with ``hidden``. The call is not
    throttled: the caller keeps it cheap (see ``jobs.progress``).
    """
    cf = spec if isinstance(spec, CompiledFilter) else compile_filter(spec)
    report = on_issue or _log_issue
    visited: set[tuple[int, int]] = set()
    tally = [0, 0]  # seen, matched: carried from one root to the next
    for ri, root in enumerate(cf.roots):
        if cancel is not None and cancel.is_set():
            return
        yield from _scan_root(cf, ri, root, visited, report, cancel, progress, tally)
    if progress is not None and not (cancel is not None and cancel.is_set()):
        progress(tally[0], tally[1])


def _single_file(cf: CompiledFilter, root: str, st: os.stat_result) -> FileEntry | None:
    parent, name = os.path.split(root.rstrip("/") or root)
    if cf.exts is not None and not name.lower().endswith(cf.exts):
        return None
    if cf.name_search is not None and not cf.name_search(name):
        return None
    if not cf.match_meta(st.st_size, st.st_mtime_ns):
        return None
    return FileEntry(root, parent or ".", name, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino)


def _scan_root(
    cf: CompiledFilter,
    ri: int,
    root: str,
    visited: set[tuple[int, int]],
    report: OnIssue,
    cancel: threading.Event | None,
    progress: OnCount | None,
    tally: list[int],
) -> Iterator[FileEntry]:
    if cf.root_excluded(ri):
        return
    try:
        st = os.stat(root)
    except FileNotFoundError:
        report(ScanIssue(root, "missing", "no such file or folder"))
        return
    except PermissionError as exc:
        report(ScanIssue(root, "permission", _os_message(exc)))
        return
    except OSError as exc:
        report(ScanIssue(root, "error", _os_message(exc)))
        return
    if st.st_mode & _S_IFMT != _S_IFDIR:
        if st.st_mode & _S_IFMT == _S_IFREG:
            tally[0] += 1
            entry = _single_file(cf, root, st)
            if entry is not None:
                tally[1] += 1
                yield entry
        else:
            report(ScanIssue(root, "not-a-file", "not a regular file or a folder"))
        return
    key = (st.st_dev, st.st_ino)
    if key in visited:
        report(ScanIssue(root, "revisit", "already scanned (overlapping roots)"))
        return
    visited.add(key)

    # Hot-loop locals: attribute look-ups per entry add up over 100k entries.
    scandir = os.scandir
    hidden = cf.hidden
    exts = cf.exts
    follow = cf.follow
    use_ignore = cf.use_ignore
    name_search = cf.name_search
    path_rules = cf.has_path_rules
    excluded = cf.excluded
    min_size = cf.min_size
    max_size = cf.max_size
    newer_ns = cf.newer_ns
    older_ns = cf.older_ns
    meta_check = max_size is not None or newer_ns is not None or older_ns is not None
    ignore_names = _IGNORE_NAMES
    by_name = _by_name
    entry_cls = FileEntry
    seen, matched = tally  # written back to tally once per folder, not per file

    # Stack items: (folder path, root-relative path, ignore rules in force, folders on the path)
    stack: list[tuple[str, str, IgnoreChain, frozenset[tuple[int, int]]]] = [
        (root, "", (), frozenset((key,)))
    ]
    while stack:
        if cancel is not None and cancel.is_set():
            return
        dirpath, rel, chain, ancestors = stack.pop()
        prefix = rel + "/" if rel else ""
        files: list[os.DirEntry[str]] = []
        dirs: list[os.DirEntry[str]] = []
        has_ignore = False
        other_ext = 0
        try:
            it = scandir(dirpath)
        except PermissionError as exc:
            report(ScanIssue(dirpath, "permission", _os_message(exc)))
            continue
        except OSError as exc:
            report(ScanIssue(dirpath, "error", _os_message(exc)))
            continue
        with it:
            try:
                for e in it:
                    name = e.name
                    if name[0] == ".":
                        if name in ignore_names:
                            has_ignore = True
                        if not hidden:
                            continue
                    # is_dir() without arguments is the cheapest call; it follows symlinks,
                    # which is settled here for the (rare) links. (try is free in 3.11.)
                    try:
                        if e.is_dir():
                            if e.is_symlink() and not follow:
                                continue
                            dirs.append(e)
                            continue
                    except OSError as exc:  # a link to itself (ELOOP), an unreadable target
                        if follow:
                            report(ScanIssue(e.path, "broken-link", _os_message(exc)))
                        continue
                    if exts is not None and not name.lower().endswith(exts):
                        # Counted here and not per entry: only the files turned away by their
                        # extension, in a per-folder int (small ints are not allocated).
                        other_ext += 1
                        continue
                    files.append(e)
            except OSError as exc:  # readdir failing half way (EIO, a vanished NFS folder)
                report(ScanIssue(dirpath, "error", _os_message(exc)))
        seen += len(files) + other_ext
        tally[0], tally[1] = seen, matched
        if progress is not None:
            progress(seen, matched)

        if has_ignore and use_ignore:
            spec = load_ignore_spec(dirpath)
            if spec is not None:
                chain = (*chain, (len(prefix), spec))

        if files:
            found = 0  # per folder, like other_ext
            files.sort(key=by_name)
            for e in files:
                name = e.name
                if name_search is not None and not name_search(name):
                    continue
                crel = prefix + name
                if path_rules and excluded(crel, name, False, ri):
                    continue
                if chain and ignored(chain, crel, False):
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                    if st.st_mode & _S_IFMT != _S_IFREG:
                        if not follow or not e.is_symlink():
                            continue  # fifo, socket, device, or a link we do not follow
                        st = e.stat()
                        if st.st_mode & _S_IFMT != _S_IFREG:
                            continue
                except FileNotFoundError:
                    if e.is_symlink():
                        report(ScanIssue(e.path, "broken-link", "symlink target does not exist"))
                    continue  # else: deleted since it was listed
                except OSError as exc:
                    kind = "permission" if isinstance(exc, PermissionError) else "error"
                    report(ScanIssue(e.path, kind, _os_message(exc)))
                    continue
                size = st.st_size
                if size < min_size:
                    continue
                if meta_check:
                    if max_size is not None and size > max_size:
                        continue
                    mt = st.st_mtime_ns
                    if (newer_ns is not None and mt < newer_ns) or (
                        older_ns is not None and mt >= older_ns
                    ):
                        continue
                found += 1
                yield entry_cls(e.path, root, crel, size, st.st_mtime_ns, st.st_dev, st.st_ino)
                if cancel is not None and cancel.is_set():
                    return
            matched += found

        if dirs:
            dirs.sort(key=by_name)
            push: list[tuple[str, str, IgnoreChain, frozenset[tuple[int, int]]]] = []
            for e in dirs:
                name = e.name
                crel = prefix + name
                if path_rules and excluded(crel, name, True, ri):
                    continue
                if chain and ignored(chain, crel, True):
                    continue
                try:
                    dst = e.stat()  # follows a link (only kept with follow); same as lstat else
                except FileNotFoundError:
                    continue  # removed since it was listed
                except OSError as exc:
                    kind = "permission" if isinstance(exc, PermissionError) else "error"
                    report(ScanIssue(e.path, kind, _os_message(exc)))
                    continue
                dkey = (dst.st_dev, dst.st_ino)
                if dkey in ancestors:
                    report(
                        ScanIssue(
                            e.path, "loop", "folder loop: this links back to a folder above it"
                        )
                    )
                    continue
                if dkey in visited:
                    report(ScanIssue(e.path, "revisit", "folder already scanned via another path"))
                    continue
                visited.add(dkey)
                push.append((e.path, crel, chain, ancestors | {dkey}))
            push.reverse()
            stack.extend(push)
    tally[0], tally[1] = seen, matched


class ScanResult(NamedTuple):
    """Everything one scan found; a tuple, so ``entries, issues = scan_all(spec)`` works."""

    entries: list[FileEntry]
    issues: list[ScanIssue]


def scan_all(
    spec: FilterSpec | CompiledFilter, *, cancel: threading.Event | None = None
) -> ScanResult:
    """Run a whole scan and keep the issues too; unpacks as ``entries, issues``."""
    issues: list[ScanIssue] = []
    entries = list(scan(spec, on_issue=issues.append, cancel=cancel))
    return ScanResult(entries, issues)
