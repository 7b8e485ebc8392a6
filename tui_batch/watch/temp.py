"""Temporary names: files that are still being written and will be renamed when complete.

Browsers, download managers, editors and office suites write under a temporary name and rename
the file when it is whole; the rename is an 'added' event for the final name. So a temporary
name is never a candidate, in an event, a folder walk or a reconcile scan alike: this module is
the one place that says which names those are (the built-in patterns, tui-batch's own
``.tbtmp-`` outputs and the user's ``--temp`` patterns). It knows nothing of events or files.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence

from ..actions.output import TEMP_MARKER
from ..errors import InputError

__all__ = ["TEMP_PATTERNS", "compile_temp_patterns", "is_temp_name", "temp_regex"]

TEMP_PATTERNS: tuple[str, ...] = (
    "*.tmp", "*.temp", "*.part", "*.partial", "*.crdownload", "*.download", "*.opdownload",
    "*.filepart", "*.!ut", "*.!qb", "*.aria2", "*.swp", "*.swo", "*.swx", "*~",
    ".~*", "~$*", ".#*", "*.sb-*",
)
"""Names of files that are still being written (browsers, download managers, editors, office
suites, WinSCP, aria2, macOS safe-save) and are renamed when complete. Case-insensitive."""


def temp_regex(patterns: Iterable[str]) -> re.Pattern[str]:
    """One case-insensitive regex matching a base name against any of the glob ``patterns``."""
    return re.compile("|".join(fnmatch.translate(p) for p in patterns), re.IGNORECASE | re.S)


_DEFAULT_TEMP_RE = temp_regex(TEMP_PATTERNS)


def compile_temp_patterns(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """The user's extra temporary-name patterns (``--temp``) checked and compiled, or None.

    Raises :class:`InputError` for a pattern that is empty or names a folder."""
    for pat in patterns:
        if not pat or "/" in pat:
            raise InputError("--temp", f"not a file-name pattern: {pat!r}")
    return temp_regex(patterns) if patterns else None


def is_temp_name(name: str, extra: re.Pattern[str] | None = None) -> bool:
    """Is this base name a file still being written (renamed when complete)?"""
    if TEMP_MARKER in name or _DEFAULT_TEMP_RE.match(name):
        return True
    return extra is not None and extra.match(name) is not None
