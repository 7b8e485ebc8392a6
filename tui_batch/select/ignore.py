"""Ignore files (``.gitignore``, ``.ignore``, ``.tbignore``): reading one folder's rules and
applying nested rules to a root-relative path with gitignore semantics.

The scanner (per folder as it walks) and the matcher (per event path in watch mode) both use
these, so a file a full scan skips is also skipped when it appears under watch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pathspec

__all__ = ["IGNORE_FILES", "IgnoreChain", "ignored", "load_ignore_spec"]

IGNORE_FILES: tuple[str, ...] = (".gitignore", ".ignore", ".tbignore")
"""Read in this order from one folder; a later file's rules win (as .ignore beats .gitignore
in fd and ripgrep, and .tbignore, ours, beats both)."""

# One level of ignore rules: (characters of the root-relative path to strip, rules).
IgnoreChain = tuple[tuple[int, pathspec.GitIgnoreSpec], ...]


def load_ignore_spec(
    dirpath: str, names: Iterable[str] = IGNORE_FILES
) -> pathspec.GitIgnoreSpec | None:
    """Rules from the ignore files of one folder, or None if it has none (or none readable).

    Files are decoded with surrogateescape so a pattern naming a non-UTF-8 file matches the
    surrogate-escaped str the scanner produces for it.
    """
    lines: list[str] = []
    for name in names:
        try:
            with open(os.path.join(dirpath, name), "rb") as f:
                data = f.read()
        except OSError:
            continue
        lines.extend(data.decode("utf-8", "surrogateescape").splitlines())
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines):
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def ignored(chain: IgnoreChain, rel: str, is_dir: bool) -> bool:
    """Gitignore semantics across nested files: the deepest folder with a matching rule wins,
    and inside one folder the last matching rule (``!pattern`` re-includes)."""
    for strip, spec in reversed(chain):
        sub = rel[strip:]
        res = spec.check_file(sub + "/" if is_dir else sub)
        if res.include is not None:
            return bool(res.include)
    return False
