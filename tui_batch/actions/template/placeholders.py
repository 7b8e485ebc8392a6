"""The placeholder table and the brace parser: the one place that knows what ``{...}`` means.

Every later stage (argv compilation, the shell script, the per-task values) works on the
pieces this module produces, literal text and small integer keys, so that no stage after
compilation ever looks at braces again and a task's argv costs a few list operations. The
keys index the value list a task fills in (see :mod:`.compiled`); the order is fixed here.
"""

from __future__ import annotations

from ...errors import InputError
from .outrule import out_ext

__all__ = [
    "DASH",
    "NAMES",
    "OUT",
    "PATH_KEYS",
    "PLACEHOLDERS",
    "SEQ",
    "SLOT",
    "Part",
    "has_placeholder",
    "parse_braces",
]

PLACEHOLDERS = ("{}", "{/}", "{//}", "{.}", "{/.}", "{out}", "{out.EXT}", "{#}", "{%}")
"""Every placeholder a template may use, in the order the help lists them."""

_KEYS = {"": 0, "/": 1, "//": 2, ".": 3, "/.": 4, "out": 5, "#": 6, "%": 7}
OUT = 5
"""The key of ``{out}`` (and of every ``{out.EXT}``)."""
SEQ = 6
"""The key of ``{#}``: the task's number in its job (1, 2, ...; stable across resume)."""
SLOT = 7
"""The key of ``{%}``: the worker slot running the attempt (1..N with N workers)."""
DASH = 8
"""``key + DASH`` is the same value with ``./`` in front when it starts with ``-``."""
PATH_KEYS = frozenset({0, 2, 3, 5})
"""Keys whose values are paths (not bare names)."""
NAMES = {v: "{" + k + "}" for k, v in _KEYS.items()}
"""Key -> how the placeholder is written, for messages."""
_UNKNOWN_HINT = "use " + " ".join(PLACEHOLDERS) + " (write {{ and }} for literal braces)"

Part = str | int
"""A compiled template piece: literal text, or a placeholder key."""


def parse_braces(text: str, out_forms: list[str] | None = None) -> list[Part]:
    """Split text into literal runs and placeholder keys; ``{{``/``}}`` are literal braces.

    Each ``{out}`` / ``{out.EXT}`` adds its extension ('' for the bare form) to ``out_forms``.
    """
    parts: list[Part] = []
    buf: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        open_at = text.find("{", i)
        close_at = text.find("}", i)
        if open_at < 0 and close_at < 0:
            buf.append(text[i:])
            break
        if close_at >= 0 and (open_at < 0 or close_at < open_at):
            buf.append(text[i:close_at])
            if text.startswith("}}", close_at):
                buf.append("}")
                i = close_at + 2
                continue
            raise InputError(
                "--exec", f"unbalanced '}}' in {text!r} (write }}}} for a literal brace)"
            )
        buf.append(text[i:open_at])
        if text.startswith("{{", open_at):
            buf.append("{")
            i = open_at + 2
            continue
        end = text.find("}", open_at + 1)
        inner = text[open_at + 1 : end] if end >= 0 else ""
        if end < 0 or "{" in inner:
            raise InputError(
                "--exec", f"unbalanced '{{' in {text!r} (write {{{{ for a literal brace)"
            )
        key = _KEYS.get(inner)
        form = ""
        if key is None and inner.startswith("out."):
            key, form = OUT, out_ext(inner)
        if key == OUT and out_forms is not None:
            out_forms.append(form)
        if key is None:
            raise InputError("--exec", f"unknown placeholder {{{inner}}}; {_UNKNOWN_HINT}")
        if buf:
            literal = "".join(buf)
            if literal:
                parts.append(literal)
            buf = []
        parts.append(key)
        i = end + 1
    literal = "".join(buf)
    if literal:
        parts.append(literal)
    return parts


def has_placeholder(parts: list[Part]) -> bool:
    """Does this run of pieces hold at least one placeholder?"""
    return any(isinstance(p, int) for p in parts)
