"""The record of one selected file, handed from the scanner to dedupe, the store and the engine.

It lives in ``model`` (plain data, no behaviour) so every layer can carry it without importing
the scanner.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FileEntry"]


@dataclass(slots=True)
class FileEntry:
    """One selected file, as the scanner saw it.

    ``path`` is a str that may carry surrogate escapes (non-UTF-8 names, PEP 383); it is passed
    to the OS as-is and stored as bytes (``os.fsencode``), so names round-trip byte-exact.
    """

    path: str
    root: str
    rel: str  # path relative to root
    size: int
    mtime_ns: int
    dev: int = 0
    ino: int = 0
