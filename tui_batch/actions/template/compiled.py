"""A command template compiled once into the pieces every task's argv is assembled from.

Compiling (split the words, parse the braces, apply the ``{out}`` rules, build the ``--shell``
script and have ``sh -n`` check it) happens when the action is resolved, so a bad template is
refused before any file is touched (CLI exit 2, TUI inline), and :meth:`CompiledTemplate.argv`,
which runs for every task, is a few list operations with no parsing and no regex.

File names are data, never code. Without ``--shell`` the template is split once with
:func:`shlex.split` and each placeholder is substituted *inside* its argv element, so no shell
ever sees the name; with ``--shell`` the values travel as positional parameters of a constant
script (:mod:`.shell`). An argv element (or shell word) that *starts* with a placeholder whose
value starts with ``-`` gets ``./`` in front, so a file named ``-rf`` can never be taken for an
option. This module only turns text into text: reserving the output's temporary name,
creating folders and renaming the result are the action's (:mod:`.action`).
"""

from __future__ import annotations

import os
import shlex

from ...errors import InputError
from .outrule import check_argv_out, one_form
from .placeholders import (
    DASH,
    NAMES,
    OUT,
    PATH_KEYS,
    SEQ,
    SLOT,
    Part,
    has_placeholder,
    parse_braces,
)
from .shell import compile_shell, shell_syntax_error

__all__ = ["CompiledTemplate", "path_is_appended"]


class CompiledTemplate:
    """The pieces of one template: argv elements, or the ``sh -c`` head and its value slots.

    Raises :class:`~tui_batch.errors.InputError` (field ``--exec``) for a template that cannot
    be compiled.
    """

    __slots__ = (
        "appends_path",
        "argv0_path",
        "dash_keys",
        "elements",
        "head",
        "need",
        "out_ext",
        "shell",
        "slots",
        "uses_out",
    )

    def __init__(self, template: str, shell: bool = False) -> None:
        if "\0" in template:
            raise InputError("--exec", "the command template contains a NUL character")
        self.shell = shell
        self.elements: list[str | tuple[Part, ...]] = []
        """argv elements: constant text, or the pieces of an element with placeholders."""
        self.head: list[str] = []
        """``['sh', '-c', SCRIPT, 'sh']`` for a shell template."""
        self.slots: list[int] = []
        """The value key of each positional parameter of the script ($1, $2, ...)."""
        self.argv0_path = False
        """argv[0] is a path placeholder alone: run that file, never a namesake on PATH."""
        self.appends_path = False
        """No placeholder (and no ``$1``/``$@`` in a shell script): the path is appended."""
        out_forms: list[str] = []
        if shell:
            self._compile_shell(template, out_forms)
        else:
            self._compile_argv(template, out_forms)
        used = self._used_keys()
        keys = {k % DASH for k in used}
        self.uses_out = OUT in keys
        self.need = frozenset(keys)
        self.dash_keys = tuple(sorted(k for k in used if k >= DASH))
        self.out_ext = one_form(out_forms) or None
        """``'.txt'`` for ``{out.txt}``: the output's extension is replaced by it."""

    def _compile_argv(self, template: str, out_forms: list[str]) -> None:
        try:
            words = shlex.split(template)
        except ValueError as exc:
            msg = str(exc)
            raise InputError(
                "--exec", f"cannot split the template: {msg[:1].lower()}{msg[1:]}"
            ) from None
        if not words:
            raise InputError("--exec", "the command template is empty")
        compiled = [parse_braces(w, out_forms) for w in words]
        if not any(has_placeholder(p) for p in compiled):
            compiled.append([0])  # no placeholder at all: the path goes last, as with fd -x
            self.appends_path = True
        for parts in compiled:
            check_argv_out(parts, OUT, "".join(NAMES[p] if isinstance(p, int) else p
                                               for p in parts))
            if not has_placeholder(parts):
                self.elements.append("".join(str(p) for p in parts))
                continue
            if isinstance(parts[0], int):
                parts[0] += DASH
            self.elements.append(tuple(parts))
        first = self.elements[0]
        dash_paths = {k + DASH for k in PATH_KEYS}
        self.argv0_path = isinstance(first, tuple) and len(first) == 1 and first[0] in dash_paths

    def _compile_shell(self, template: str, out_forms: list[str]) -> None:
        parts = parse_braces(template, out_forms)
        script, slots, positional = compile_shell(parts)
        if not slots and positional:
            slots = [DASH]  # the script reads "$1" itself: pass the path, append nothing
        elif not slots:
            script, slots, _ = compile_shell([*parts, " ", 0])
            self.appends_path = True
        error = shell_syntax_error(script)
        if error is not None:
            raise InputError("--exec", f"shell syntax error: {error}")
        self.head = ["sh", "-c", script, "sh"]
        self.slots = slots

    def _used_keys(self) -> set[int]:
        if self.shell:
            return set(self.slots)
        keys: set[int] = set()
        for el in self.elements:
            if isinstance(el, tuple):
                keys.update(p for p in el if isinstance(p, int))
        return keys

    def looked_up(self) -> str | None:
        """The program name the engine will look up through ``PATH`` (``None``: a path)."""
        if self.shell:
            return self.head[0]
        first = self.elements[0]
        if isinstance(first, str):
            return None if "/" in first else first
        if self.argv0_path or any(isinstance(p, str) and "/" in p for p in first):
            return None
        return "".join(NAMES[p % DASH] if isinstance(p, int) else p for p in first)

    # -- per task (hot path) -----------------------------------------------------------------

    def _values(self, path: str, out: str | None, seq: int, slot: int) -> list[str]:
        v = ["", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""]
        need = self.need
        v[0] = path
        if 1 in need or 4 in need:
            base = path.rpartition("/")[2]
            v[1] = base
            if 4 in need:
                v[4] = os.path.splitext(base)[0]
        if 2 in need:
            v[2] = os.path.dirname(path) or "."
        if 3 in need:
            v[3] = os.path.splitext(path)[0]
        if out is not None:
            v[5] = out
        if SEQ in need:
            v[SEQ] = str(seq)
        if SLOT in need:
            v[SLOT] = str(slot)
        for k in self.dash_keys:
            x = v[k - DASH]
            v[k] = "./" + x if x[:1] == "-" else x
        return v

    def argv(self, path: str, out: str | None, seq: int = 0, slot: int = 0) -> list[str]:
        """The argv for the input ``path``, with ``out`` as what ``{out}`` stands for, ``seq``
        for ``{#}`` (the task's number in the job) and ``slot`` for ``{%}`` (its worker slot)."""
        v = self._values(path, out, seq, slot)
        if self.shell:
            return self.head + [v[k] for k in self.slots]
        argv = []
        for el in self.elements:
            if isinstance(el, str):
                argv.append(el)
            else:
                argv.append("".join([v[p] if isinstance(p, int) else p for p in el]))
        if self.argv0_path and "/" not in argv[0]:
            argv[0] = "./" + argv[0]  # run the file itself, not a namesake on $PATH
        return argv


def path_is_appended(template: str, shell: bool) -> bool:
    """Does this template get the path appended (no placeholder, and for a shell script no
    ``$1``/``$@``/``$*`` of its own)? Parses only: no ``sh -n``. Raises InputError."""
    parts = parse_braces(template)
    if shell:
        _script, slots, positional = compile_shell(parts)
        return not slots and not positional
    try:
        words = shlex.split(template)
    except ValueError:
        raise InputError("--exec", "cannot split the template") from None
    return not any(has_placeholder(parse_braces(w)) for w in words)
