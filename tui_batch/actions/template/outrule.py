"""What a template may do with ``{out}``: the rules, and the messages that refuse the rest.

``{out}`` becomes a temporary name beside the final output, renamed into place when the command
succeeds (see :mod:`.action`). That only works when the command writes the
very file ``{out}`` names, so the placeholder must be a whole argument (or shell word):
``cp {} {out}.txt`` would write ``.a.tbtmp-XXXX.pdf.txt``, which nothing ever renames, and the
task would be reported done with no output. Two forms are accepted besides the bare one:

* ``{out.EXT}``: the output's extension replaced (``pdftotext {} {out.txt}`` writes
  ``OUT/doc.txt`` for ``doc.pdf``), which is what ``{out}.txt`` was meant to do;
* text ending in ``=`` or ``:`` before it (``dd of={out}``, ``--output={out}``, ``PNG:{out}``):
  an option that names the file the program writes;
* ``/`` after it (``tar -x -C {out}/``): ``{out}`` is a folder, renamed into place with
  everything the command wrote inside it.

Everything else glued to ``{out}`` is refused before the run, naming the supported form.
"""

from __future__ import annotations

import re

from ...errors import InputError

__all__ = ["check_argv_out", "glued_after", "one_form", "out_ext", "prefix_ok", "refuse_glue"]

_EXT_RE = re.compile(r"(?:\.[A-Za-z0-9_+~-]+)+")
_OPTION_ENDS = ("=", ":")
_WORD_ENDS = frozenset(" \t\n;&|<>)`")


def out_ext(inner: str) -> str:
    """The extension of ``{out.EXT}`` (``inner`` is ``'out.txt'``): ``'.txt'``, validated."""
    ext = inner[3:]
    if not _EXT_RE.fullmatch(ext):
        raise InputError(
            "--exec",
            f"{{{inner}}}: write {{out.EXT}} with an extension of letters, digits, '_', '-', "
            "'+' or '~' (for example {out.txt} or {out.tar.gz})",
        )
    return ext


def one_form(forms: list[str]) -> str | None:
    """The single ``{out...}`` form a template uses ('' for ``{out}``), or refuse a mix."""
    distinct = list(dict.fromkeys(forms))
    if len(distinct) > 1:
        shown = " and ".join("{out" + f + "}" for f in distinct)
        raise InputError(
            "--exec", f"a template writes one output: use one form of {{out}}, not {shown}"
        )
    return distinct[0] if distinct else None


def prefix_ok(before: str) -> bool:
    """Text glued before ``{out}`` that names an option's value (``of=``, ``--output=``)."""
    return before.rstrip("\"'").endswith(_OPTION_ENDS)


def refuse_glue(snippet: str, after: str = "") -> InputError:
    """The error for ``{out}`` with text glued to it (``snippet`` shows where)."""
    m = _EXT_RE.match(after)
    ext = m.group(0) if m else ".txt"
    return InputError(
        "--exec",
        f"{snippet!r} glues text to {{out}}, so the output could not be renamed into place: "
        f"{{out}} must be a whole argument (or follow '=' or ':', as in of={{out}}); "
        f"to change the output's extension write {{out{ext}}}",
    )


def check_argv_out(parts: list[str | int], out_key: int, shown: str) -> None:
    """Refuse an argv element (already split) that glues text to ``{out}``."""
    if out_key not in parts:
        return
    at = parts.index(out_key)
    after = parts[at + 1] if at + 1 < len(parts) else None
    before = parts[:at]
    ok_before = not before or (len(before) == 1 and isinstance(before[0], str)
                               and prefix_ok(before[0]))
    ok_after = after is None or (isinstance(after, str) and after.startswith("/"))
    if not ok_after or not ok_before:
        raise refuse_glue(shown, after if isinstance(after, str) else "")


def glued_after(stack: list[str], text: str) -> bool | None:
    """Does ``text``, right after ``{out}`` in a shell script, continue its word?

    ``stack`` is the lexer's quoting frames at the placeholder. Closing quotes do not continue
    the word; a blank, an operator or the end of a substitution end it. ``None``: ``text`` was
    only closing quotes, so the answer depends on what follows it.
    """
    frames = list(stack)
    for c in text:
        top = frames[-1] if frames else "U"
        if (top == "D" and c == '"') or (top in "SA" and c == "'"):
            frames.pop()
            continue
        if c == "/":
            return False  # {out} is a folder: what goes inside it moves with it
        if top in "DSA":
            return True
        return c not in _WORD_ENDS
    return None
