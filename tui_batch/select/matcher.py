"""Compile a FilterSpec into the fast predicates the scanner and watch mode call per path.

One matcher for both, so a file a full scan would skip is skipped when it appears under watch
too: the scanner reads the compiled attributes in its hot loop, watch mode asks
:meth:`CompiledFilter.entries_for` about a burst of event paths at once (folder rules worked
out once per folder). Parsing user text into the spec is :mod:`.parse`'s job.

Matching rules (documented once, here):

* ``--ext``: case-insensitive suffix of the base name (``.log`` matches ``A.LOG``; ``tar.gz``
  is allowed). Normalised to lower case with one leading dot.
* ``--min-size`` / ``--max-size``: inclusive bounds in bytes (fd's ``+``/``-`` semantics).
* ``--newer`` keeps files modified at or after the instant, ``--older`` strictly before it.
* ``--name``: ``re.search`` in the base name, case-sensitive (use ``(?i)`` to ignore case).
* ``--exclude``: a value without glob characters is an exact path (absolute, or relative to
  the current folder) that is pruned; a plain name without ``/`` additionally prunes every
  entry with that base name (``--exclude node_modules``, as fd users expect), and a relative
  value with ``/`` is also compared with the root-relative path. A value with ``* ? [`` is a
  gitignore-style glob: without ``/`` it is matched against the base name at any depth, with
  ``/`` against the root-relative path (``*`` stops at ``/``, ``**`` crosses folders), and an
  absolute glob against the absolute path. A trailing ``/`` restricts it to folders.
* ``--exclude-re``: ``re.search`` in the root-relative path (``/``-separated); for a folder
  it is also tried on ``rel + "/"`` so ``build/`` prunes a folder named build.
* hidden: the base name (of the file or of any folder below the root) starts with ``.``.
* Excluded or hidden folders are pruned: nothing below them is listed.
"""

from __future__ import annotations

import os
import re
import stat as _stat
from collections.abc import Callable, Iterable
from typing import Any

import pathspec

from ..model import FileEntry, FilterSpec
from .globs import alternation, glob_to_regex, has_glob
from .ignore import IGNORE_FILES, IgnoreChain, ignored, load_ignore_spec

__all__ = ["CompiledFilter", "compile_filter"]


class CompiledFilter:
    """A FilterSpec turned into cheap predicates for the scanner's hot loop and watch mode.

    The scanner reads the public attributes directly (``exts``, ``hidden``, ``min_size``, ...)
    to avoid a method call per directory entry; everything else calls the methods.
    """

    def __init__(self, spec: FilterSpec) -> None:
        self.spec = spec
        self.roots: tuple[str, ...] = tuple(os.fspath(r) for r in spec.roots) or (".",)
        self.exts: tuple[str, ...] | None = tuple(spec.extensions) or None
        self.hidden: bool = spec.hidden
        self.follow: bool = spec.follow
        self.use_ignore: bool = spec.use_ignore
        self.min_size: int = spec.min_size or 0
        self.max_size: int | None = spec.max_size
        self.newer_ns: int | None = None if spec.newer is None else int(spec.newer * 1e9)
        self.older_ns: int | None = None if spec.older is None else int(spec.older * 1e9)
        self.name_search: Callable[[str], Any] | None = (
            re.compile(spec.name_regex).search if spec.name_regex else None
        )
        self._ex_res = [re.compile(x).search for x in spec.exclude_res]

        name_any: list[str] = []
        name_dir: list[str] = []
        rel_any: list[str] = []
        rel_dir: list[str] = []
        abs_any: list[str] = []
        abs_dir: list[str] = []
        self._ex_names: set[str] = set()  # literal base names (``--exclude node_modules``)
        self._ex_dir_names: set[str] = set()  # the same with a trailing '/': folders only
        rel_literals: set[str] = set()
        abs_paths: set[str] = set()
        for raw in spec.excludes:
            dir_only = raw.endswith("/") and raw.strip("/") != ""
            x = raw.rstrip("/") or "/"
            if has_glob(x):
                if os.path.isabs(x):
                    (abs_dir if dir_only else abs_any).append(glob_to_regex(os.path.normpath(x)))
                    continue
                if x.startswith("./"):
                    x = x[2:]
                if x.startswith("**/") and "/" not in x[3:]:
                    x = x[3:]  # '**/name' is the same as 'name'
                if "/" in x:
                    (rel_dir if dir_only else rel_any).append(glob_to_regex(x.lstrip("/")))
                else:
                    (name_dir if dir_only else name_any).append(glob_to_regex(x))
                continue
            abs_paths.add(os.path.abspath(x))
            abs_paths.add(os.path.realpath(x))
            if not os.path.isabs(x):
                norm = os.path.normpath(x)
                if "/" not in norm and norm not in (".", ".."):
                    (self._ex_dir_names if dir_only else self._ex_names).add(norm)
                elif not norm.startswith(("../", "./")) and norm not in (".", ".."):
                    rel_literals.add(norm)
        self._ex_name_any = alternation(name_any)
        self._ex_name_dir = alternation(name_dir)
        self._ex_rel_any = alternation(rel_any)
        self._ex_rel_dir = alternation(rel_dir)
        self._ex_abs_any = alternation(abs_any)
        self._ex_abs_dir = alternation(abs_dir)

        # Exact excluded paths, per root, as root-relative paths ('' = the whole root).
        self._abs_roots: list[tuple[str, str]] = []
        self._ex_rel_by_root: list[set[str]] = []
        for r in self.roots:
            ar, rr = os.path.abspath(r), os.path.realpath(r)
            self._abs_roots.append((ar, rr))
            rels = set(rel_literals)
            for p in abs_paths:
                for base in (ar, rr):
                    if p == base:
                        rels.add("")
                    elif p.startswith(base.rstrip("/") + "/"):
                        rels.add(p[len(base.rstrip("/")) + 1 :])
            self._ex_rel_by_root.append(rels)
        self.has_path_rules: bool = bool(
            self._ex_names
            or self._ex_dir_names
            or self._ex_res
            or any(self._ex_rel_by_root)
            or name_any
            or name_dir
            or rel_any
            or rel_dir
            or abs_any
            or abs_dir
        )
        self._ignore_cache: dict[str, tuple[tuple[int, ...], pathspec.GitIgnoreSpec | None]] = {}

    # -- helpers ----------------------------------------------------------------------------

    def _root_index(self, root: str | int | None) -> int:
        if isinstance(root, int):
            return root
        if root is None:
            return 0
        try:
            return self.roots.index(root)
        except ValueError:
            return -1

    def root_excluded(self, root: str | int) -> bool:
        """An ``--exclude`` naming the root itself (or a folder above it) empties that root."""
        i = self._root_index(root)
        return i >= 0 and "" in self._ex_rel_by_root[i]

    def excluded(self, rel: str, name: str, is_dir: bool, root: str | int | None = None) -> bool:
        """Exclusion rules only (not hidden, not ignore files) for one entry."""
        if name in self._ex_names:
            return True
        i = self._root_index(root)
        if i >= 0 and rel in self._ex_rel_by_root[i]:
            return True
        if self._ex_name_any is not None and self._ex_name_any.match(name):
            return True
        if self._ex_rel_any is not None and self._ex_rel_any.match(rel):
            return True
        if is_dir:
            if name in self._ex_dir_names:
                return True
            if self._ex_name_dir is not None and self._ex_name_dir.match(name):
                return True
            if self._ex_rel_dir is not None and self._ex_rel_dir.match(rel):
                return True
        if self._ex_abs_any is not None or (is_dir and self._ex_abs_dir is not None):
            ab = self._abs_roots[i][0] if i >= 0 else os.path.abspath(".")
            full = os.path.join(ab, rel)
            if self._ex_abs_any is not None and self._ex_abs_any.match(full):
                return True
            if is_dir and self._ex_abs_dir is not None and self._ex_abs_dir.match(full):
                return True
        return any(search(rel) or (is_dir and search(rel + "/")) for search in self._ex_res)

    # -- the contract -----------------------------------------------------------------------

    def excluded_dir(self, rel: str, name: str, root: str | int | None = None) -> bool:
        """True if the scanner must not descend into this folder (hidden or excluded).

        ``root`` (the spec root or its index) only matters for exact-path excludes with several
        roots; it defaults to the first root.
        """
        if not self.hidden and name[:1] == ".":
            return True
        return self.has_path_rules and self.excluded(rel, name, True, root)

    def match_name(self, rel: str, name: str, root: str | int | None = None) -> bool:
        """The checks that need no stat: hidden, extension, name regex, excludes."""
        if not self.hidden and name[:1] == ".":
            return False
        if self.exts is not None and not name.lower().endswith(self.exts):
            return False
        if self.name_search is not None and not self.name_search(name):
            return False
        return not (self.has_path_rules and self.excluded(rel, name, False, root))

    def match_meta(self, size: int, mtime_ns: int) -> bool:
        """Size and modification-time bounds (inclusive min/max, newer <= t < older)."""
        if size < self.min_size or (self.max_size is not None and size > self.max_size):
            return False
        if self.newer_ns is not None and mtime_ns < self.newer_ns:
            return False
        return not (self.older_ns is not None and mtime_ns >= self.older_ns)

    def match_file(
        self, rel: str, name: str, size: int, mtime: float, root: str | int | None = None
    ) -> bool:
        """Every per-file rule for one file; ``mtime`` in epoch seconds (``st_mtime``).

        Folder rules for the ancestors are not checked here (the scanner prunes them; use
        :meth:`match_path` for a lone path).
        """
        return self.match_name(rel, name, root) and self.match_meta(size, int(mtime * 1e9))

    def locate(self, path: str) -> tuple[int, str] | None:
        """(root index, root-relative path) of ``path`` under one of the roots, or None.

        Tries the path as given, then resolved, against each root as given and resolved, so
        watch events reporting either form are recognised.
        """
        cands = [os.path.abspath(path)]
        real = os.path.realpath(path)
        if real != cands[0]:
            cands.append(real)
        for p in cands:
            for i, (ar, rr) in enumerate(self._abs_roots):
                for base in (ar, rr):
                    b = base.rstrip("/")
                    if p.startswith(b + "/") and len(p) > len(b) + 1:
                        return i, p[len(b) + 1 :]
        return None

    def _ignore_spec_cached(self, dirpath: str) -> pathspec.GitIgnoreSpec | None:
        """Per-folder ignore rules for watch mode, reloaded when an ignore file changes."""
        sig: list[int] = []
        for n in IGNORE_FILES:
            try:
                st = os.stat(os.path.join(dirpath, n))
                sig.extend((st.st_mtime_ns, st.st_size, st.st_ino))
            except OSError:
                sig.extend((-1, -1, -1))
        key = tuple(sig)
        hit = self._ignore_cache.get(dirpath)
        if hit is not None and hit[0] == key:
            return hit[1]
        spec = None if all(v == -1 for v in key) else load_ignore_spec(dirpath)
        self._ignore_cache[dirpath] = (key, spec)
        return spec

    def entry_for(self, path: str, st: os.stat_result | None = None) -> FileEntry | None:
        """The FileEntry the scanner would produce for this one path, or None if not selected.

        For watch mode: considers every rule a full scan would (folders on the way hidden or
        excluded, ignore files from the root down, extension, name, excludes, size, mtime,
        symlinks only with ``follow``). ``st`` saves a stat when the caller has one (an
        ``lstat`` result unless following symlinks). Paths outside every root give None.
        """
        stat = None if st is None else (lambda _p: st)
        return self.entries_for((path,), stat).get(path)

    def entries_for(
        self,
        paths: Iterable[str],
        stat: Callable[[str], os.stat_result | None] | None = None,
    ) -> dict[str, FileEntry]:
        """:meth:`entry_for` for a batch of paths: ``{path: FileEntry}`` of the selected ones.

        Watch mode gets thousands of files in a few folders in one burst; the folder rules
        (hidden, excluded, ignore files from the root down) are worked out once per folder per
        call instead of once per file. ``stat(path)`` gives a path's stat (an ``lstat``
        result unless following symlinks) or None when it is gone; default: the file system.
        """
        folders: dict[tuple[int, str], IgnoreChain | None] = {}  # None: folder not selected
        out: dict[str, FileEntry] = {}
        for path in paths:
            loc = self._locate_fast(path)
            if loc is None or self.root_excluded(loc[0]):
                continue
            i, rel = loc
            dir_rel, _, name = rel.rpartition("/")
            chain = self._folder_chain(folders, i, dir_rel)
            if chain is None or not self.match_name(rel, name, i):
                continue
            if chain and ignored(chain, rel, False):
                continue
            root = self.roots[i]
            full = os.path.join(root, rel)
            entry = self._entry(root, rel, full, stat(path) if stat else self._stat(full))
            if entry is not None:
                out[path] = entry
        return out

    def _locate_fast(self, path: str) -> tuple[int, str] | None:
        # events name paths under a root as given: a prefix test avoids two realpath calls
        for i, r in enumerate(self.roots):
            b = r.rstrip("/") + "/"
            if path.startswith(b) and len(path) > len(b):
                return i, path[len(b) :]
        return self.locate(path)

    def _folder_chain(
        self, folders: dict[tuple[int, str], IgnoreChain | None], i: int, dir_rel: str
    ) -> IgnoreChain | None:
        """The ignore rules in force inside one folder, or None if the folder is not scanned
        (excluded, hidden, or ignored itself or on the way); memoised in ``folders``."""
        key = (i, dir_rel)
        if key in folders:
            return folders[key]
        root = self.roots[i]
        if dir_rel:
            parent_rel, _, comp = dir_rel.rpartition("/")
            parent = self._folder_chain(folders, i, parent_rel)
            if parent is None or self.excluded_dir(dir_rel, comp, i) or (
                parent and ignored(parent, dir_rel, True)
            ):
                folders[key] = None
                return None
            chain, prefix = parent, len(dir_rel) + 1
        else:
            chain, prefix = (), 0
        if self.use_ignore:
            spec = self._ignore_spec_cached(os.path.join(root, dir_rel) if dir_rel else root)
            if spec is not None:
                chain = (*chain, (prefix, spec))
        folders[key] = chain
        return chain

    def _stat(self, full: str) -> os.stat_result | None:
        try:
            return os.stat(full) if self.follow else os.lstat(full)
        except OSError:
            return None

    def _entry(
        self, root: str, rel: str, full: str, st: os.stat_result | None
    ) -> FileEntry | None:
        """The size, time and file-type rules for one path whose name and folders passed."""
        if st is None:
            return None
        if _stat.S_ISLNK(st.st_mode):
            if not self.follow:
                return None
            try:
                st = os.stat(full)
            except OSError:
                return None
        if not _stat.S_ISREG(st.st_mode):
            return None
        if not self.follow and os.path.islink(full):
            return None
        if not self.match_meta(st.st_size, st.st_mtime_ns):
            return None
        return FileEntry(full, root, rel, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino)

    def match_path(self, path: str, st: os.stat_result | None = None) -> bool:
        """Would a full scan select this path? (See :meth:`entry_for`; this is its bool.)"""
        return self.entry_for(path, st) is not None


def compile_filter(spec: FilterSpec) -> CompiledFilter:
    """Compile once per scan (or per watch session): regexes and globs are built here."""
    return CompiledFilter(spec)
