"""Which changed paths are worth a look: the cheap checks an event goes through before the
settle table, and the walk of a folder that appeared.

File-change streams are noisy (temporary names, the action's own ``--out`` writes, excluded
folders) and can be large, so the checks run in order of cost: the name, the output folder,
the folders on the way (the filter's folder rules), and only then one ``stat``. A folder moved
into a root produces a single event; :meth:`Intake.walk` lists the files under it with the same
rules. The module owns these rules for events; it neither waits nor remembers anything (the
settle table and the seen table do), and the filter's own rules stay in the compiled matcher.
"""

from __future__ import annotations

import os
import re
import stat as _stat
import threading

from ..select import CompiledFilter
from .temp import is_temp_name

__all__ = ["Intake"]


class Intake:
    """The cheap checks for the paths that events and folder walks name.

    ``roots`` are absolute; ``out_dir`` is ``--out`` (its events are dropped before any stat
    when it lies inside a root: the filter excludes it too, this is the cheap early exit for
    what can be a stream of output writes); ``temp_extra`` the user's ``--temp`` patterns.
    """

    def __init__(
        self,
        roots: tuple[str, ...],
        cf: CompiledFilter,
        out_dir: str | None,
        temp_extra: re.Pattern[str] | None,
    ) -> None:
        self.roots = roots
        self.cf = cf
        self.temp_extra = temp_extra
        self._out_prefixes: tuple[str, ...] = ()
        if out_dir:
            outs = {os.path.abspath(out_dir), os.path.realpath(out_dir)}
            self._out_prefixes = tuple(
                o.rstrip("/") + "/" for o in outs
                if any(o.startswith(r.rstrip("/") + "/") for r in roots)
            )

    def stat(self, path: str) -> os.stat_result | None:
        """``stat`` (``lstat`` unless the filter follows symlinks), None when it fails."""
        try:
            return os.stat(path) if self.cf.follow else os.lstat(path)
        except OSError:
            return None

    def is_temp(self, name: str) -> bool:
        """Is this base name a temporary one (built-in or ``--temp`` patterns)?"""
        return is_temp_name(name, self.temp_extra)

    def under_out(self, path: str) -> bool:
        return bool(self._out_prefixes) and (
            path.startswith(self._out_prefixes) or path + "/" in self._out_prefixes
        )

    def inside(self, path: str) -> bool:
        """Could an event about this path make a task: under a root, not under ``--out``?"""
        return not self.under_out(path) and self.locate(path) is not None

    def locate(self, path: str) -> tuple[int, str] | None:
        """``(root index, path relative to it)``, or None outside every root."""
        for i, r in enumerate(self.roots):
            b = r.rstrip("/") + "/"
            if path.startswith(b) and len(path) > len(b):
                return i, path[len(b) :]
        return self.cf.locate(path)

    def check(self, path: str) -> tuple[bool, os.stat_result | None]:
        """Is the path an event named a candidate for the settle table, and what is it now?

        Cheap checks first (name, output folder, folders on the way), then a stat. Returns
        ``(True, stat)`` for a selectable file or folder and for a path that is missing now
        (``(True, None)``: what was there may have to be forgotten), ``(False, None)`` for the
        rest."""
        name = path.rpartition("/")[2]
        if not name or self.is_temp(name) or self.under_out(path):
            return False, None
        loc = self.locate(path)
        if loc is None:
            return False, None
        i, rel = loc
        dir_rel = ""
        for comp in rel.split("/")[:-1]:
            dir_rel = f"{dir_rel}/{comp}" if dir_rel else comp
            if self.cf.excluded_dir(dir_rel, comp, i):
                return False, None
        # the change kind is not trusted: one batch can hold 'deleted' and 'added' for one
        # path in any order (an atomic replace); what the path is now is what counts
        st = self.stat(path)
        if st is None:
            return True, None
        if _stat.S_ISDIR(st.st_mode):  # (a symlink is a folder here only with follow)
            return not self.cf.excluded_dir(rel, name, i), st
        return self.cf.match_name(rel, name, i), st

    def walk(
        self, folder: str, cancel: threading.Event
    ) -> list[tuple[str, os.stat_result]]:
        """Files under a folder that appeared (moved in, or created before its watch was).

        Runs on a worker thread; stops early once ``cancel`` is set."""
        loc = self.locate(folder)
        if loc is None:
            return []
        i, base_rel = loc
        out: list[tuple[str, os.stat_result]] = []
        seen: set[tuple[int, int]] = set()
        stack = [(folder, base_rel)]
        while stack and not cancel.is_set():
            d, drel = stack.pop()
            try:
                dst = os.stat(d)
                if (dst.st_dev, dst.st_ino) in seen:
                    continue
                seen.add((dst.st_dev, dst.st_ino))
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                rel = f"{drel}/{e.name}"
                try:
                    if e.is_dir(follow_symlinks=self.cf.follow):
                        if not self.cf.excluded_dir(rel, e.name, i):
                            stack.append((e.path, rel))
                        continue
                    if self.is_temp(e.name):
                        continue
                    if self.cf.match_name(rel, e.name, i):
                        st = e.stat(follow_symlinks=self.cf.follow)
                        if _stat.S_ISREG(st.st_mode):
                            out.append((e.path, st))
                except OSError:
                    continue
        return out
