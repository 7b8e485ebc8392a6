"""Gitignore-style globs (``*``, ``?``, ``[...]``, ``**``) translated to regular expressions.

Shared by the parser (an ``--exclude`` glob is refused at once if it cannot compile) and the
matcher (which joins every glob of one kind into a single alternation), so both read a glob the
same way. Package-internal: nothing outside :mod:`tui_batch.select` needs these.
"""

from __future__ import annotations

import re

__all__ = ["alternation", "glob_to_regex", "has_glob"]

_GLOB_CHARS = frozenset("*?[")


def has_glob(s: str) -> bool:
    """True if ``s`` holds a glob character (``*``, ``?`` or ``[``): else it is a literal path."""
    return not _GLOB_CHARS.isdisjoint(s)


def glob_to_regex(glob: str) -> str:
    """Gitignore-style glob -> regex source (no groups, so several can be OR-ed together).

    ``*`` and ``?`` stop at ``/``; a ``**`` path segment matches any number of folders.
    """
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob.startswith("**", i):
                at_seg_start = i == 0 or glob[i - 1] == "/"
                j = i + 2
                if at_seg_start and j < n and glob[j] == "/":
                    out.append("(?:.*/)?")  # '**/' : zero or more folders
                    i = j + 1
                    continue
                if at_seg_start and j == n:
                    out.append(".*")  # trailing '**': everything below
                    i = j
                    continue
                out.append("[^/]*")
                i = j
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and glob[j] in "!^":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : j]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                body = body.replace("\\", "\\\\")
                out.append(f"[{body}]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def alternation(sources: list[str]) -> re.Pattern[str] | None:
    if not sources:
        return None
    return re.compile("(?s:" + "|".join(f"(?:{s})" for s in sources) + r")\Z")
