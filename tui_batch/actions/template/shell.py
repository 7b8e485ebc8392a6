"""``--shell`` templates: a constant script, with every value passed as a positional parameter.

Quoting values into the script text (``shlex.quote``) is not enough: inside double quotes,
backticks or a here-document the shell re-parses the quoted text, so ``echo "{}"`` on a file
named ``$(touch x)`` would run ``touch``. A parameter expansion is never re-parsed in any
context, so the script is compiled once into ``['sh', '-c', SCRIPT, 'sh', value1, ...]`` and a
name can at worst be split into words, never executed. This module owns the small lexer that
tracks the quoting context of each placeholder, so it is replaced by the form that keeps the
value one word there (``"${1}"`` bare, ``${1}`` inside double quotes, ``'"${1}"'`` inside single
quotes), the ``{out}`` glue rule for shell words, and the ``sh -n`` check that refuses a script
the shell cannot parse before it runs 10,000 times. It never sees a file name.
"""

from __future__ import annotations

import re
import subprocess

from ...errors import InputError
from .outrule import glued_after, prefix_ok, refuse_glue
from .placeholders import DASH, NAMES, OUT, Part

__all__ = ["compile_shell", "shell_syntax_error"]

_POSITIONAL = re.compile(r"[1@*]|\{#?[1@*]")  # after '$': the script reads the path itself
_SH = "/bin/sh"  # the syntax check never looks 'sh' up on PATH (item 24 of issue 7)


class _ShellLexer:
    """Tracks the shell quoting context of a template, one character at a time.

    It follows quotes, escapes, comments, ``$(...)``, backticks and here-documents well enough
    to pick the form that keeps a value one word; if it is ever fooled (``case`` patterns,
    exotic syntax), the value is still only expanded as a parameter, never parsed as code.
    Frames: U plain, S '..', A $'..', D "..", C $(..), B `..`, H here-document body.
    """

    def __init__(self) -> None:
        self.stack = ["U"]
        self.depth = [0]  # open '(' per frame
        self.wc = False  # the current word already has content
        self.esc = False
        self.comment = False
        self.hd_pending: list[tuple[str, bool, bool]] = []  # (delimiter, strip tabs, quoted)
        self.hd_reading: list[str] | None = None  # delimiter being read after '<<'
        self.hd_strip = False
        self.hd_body: tuple[str, bool, bool] | None = None
        self.line: list[str] = []  # current here-document body line
        self.positional = False  # the script expands $1, $@ or $* itself

    def _push(self, kind: str) -> None:
        self.stack.append(kind)
        self.depth.append(0)
        if kind in "CB":
            self.wc = False

    def _pop(self) -> None:
        kind = self.stack.pop()
        self.depth.pop()
        if kind in "CB":
            self.wc = True

    def _end_delimiter(self) -> None:
        assert self.hd_reading is not None
        raw = "".join(self.hd_reading)
        quoted = any(q in raw for q in "'\"\\")
        word = raw.replace("'", "").replace('"', "").replace("\\", "")
        self.hd_pending.append((word, self.hd_strip, quoted))
        self.hd_reading = None

    def _start_body(self) -> None:
        if self.hd_pending:
            self.hd_body = self.hd_pending.pop(0)
            self.line = []

    def starts_word(self) -> bool:
        """A placeholder here would begin a command word (where '-x' could be an option)."""
        return not self.wc and self.hd_body is None

    def placeholder(self, n: int) -> str:
        """The text that stands for positional parameter ``n`` at the current position."""
        ref = f"${{{n}}}"
        if self.esc:
            raise InputError("--exec", "a placeholder cannot follow a backslash")
        if self.hd_reading is not None:
            raise InputError("--exec", "a placeholder cannot be a here-document delimiter")
        if self.hd_body is not None:
            if self.hd_body[2]:
                raise InputError(
                    "--exec", "placeholders do not expand in a quoted here-document (<<'EOF')"
                )
            self.line.append(ref)
            return ref
        self.wc = True
        where = "U" if self.comment else self.stack[-1]
        if where == "D":
            return ref
        if where == "S":
            return f"'\"{ref}\"'"
        if where == "A":
            return f"'\"{ref}\"$'"
        return f'"{ref}"'

    def feed(self, text: str) -> None:
        i = 0
        n = len(text)
        while i < n:
            c = text[i]
            nxt = text[i + 1] if i + 1 < n else ""
            i += 1
            if self.hd_body is not None:
                if c == "\n":
                    line = "".join(self.line)
                    delim, strip, _quoted = self.hd_body
                    if (line.lstrip("\t") if strip else line) == delim:
                        self.hd_body = None
                        self._start_body()
                    self.line = []
                else:
                    if c == "$" and not self.hd_body[2] and _POSITIONAL.match(text, i):
                        self.positional = True
                    self.line.append(c)
                continue
            if self.hd_reading is not None:
                if c in " \t" and not self.hd_reading:
                    continue
                if c in " \t\n;&|<>()" and self.hd_reading:
                    self._end_delimiter()
                else:
                    self.hd_reading.append(c)
                    continue
            if self.esc:
                self.esc = False
                self.wc = True
                continue
            if c == "$" and not self.comment and self.stack[-1] not in "SA":
                self.positional = self.positional or bool(_POSITIONAL.match(text, i))
            if self.comment:
                if c == "\n":
                    self.comment = False
                    self.wc = False
                    self._start_body()
                continue
            top = self.stack[-1]
            if top == "S":
                if c == "'":
                    self._pop()
                else:
                    self.wc = True
            elif top == "A":
                if c == "\\":
                    self.esc = True
                elif c == "'":
                    self._pop()
                else:
                    self.wc = True
            elif top == "D":
                if c == "\\":
                    self.esc = True
                elif c == '"':
                    self._pop()
                elif c == "`":
                    self._push("B")
                elif c == "$" and nxt == "(":
                    self._push("C")
                    i += 1
                else:
                    self.wc = True
            elif c == "\\":  # U, C, B: unquoted shell text from here on
                self.esc = True
            elif c == "'":
                self._push("S")
            elif c == '"':
                self._push("D")
            elif c == "$" and nxt == "'":
                self._push("A")
                i += 1
            elif c == "$" and nxt == "(":
                self._push("C")
                i += 1
            elif c == "`":
                if top == "B":
                    self._pop()
                else:
                    self._push("B")
            elif c == "<" and nxt == "<" and text[i + 1 : i + 2] != "<":
                i += 1
                self.hd_strip = text[i : i + 1] == "-"
                if self.hd_strip:
                    i += 1
                self.hd_reading = []
                self.wc = False
            elif c == "(":
                self.depth[-1] += 1
                self.wc = False
            elif c == ")":
                if self.depth[-1]:
                    self.depth[-1] -= 1
                elif top == "C":
                    self._pop()
                self.wc = False
            elif c == "\n":
                self.wc = False
                if len(self.stack) == 1:
                    self._start_body()
            elif c in " \t;&|<>":
                self.wc = False
            elif c == "#" and not self.wc:
                self.comment = True
            else:
                self.wc = True

    def finish(self) -> None:
        if self.hd_reading is not None:
            self._end_delimiter()


def _shell_out_glue(lex: _ShellLexer, parts: list[Part], at: int) -> None:
    """Refuse ``{out}`` at ``parts[at]`` when the shell word it sits in has more text."""
    if lex.comment or lex.hd_body is not None:
        return  # not a word the command sees as a file name
    before = parts[at - 1] if at > 0 else ""
    after = parts[at + 1] if at + 1 < len(parts) else None
    lead = str(before).rsplit(None, 1)[-1] if str(before).strip() else ""
    shown = lead + NAMES[OUT] + (str(after).split(None, 1)[0] if isinstance(after, str)
                                 and after.strip() else "")
    if not lex.starts_word() and not (isinstance(before, str) and prefix_ok(before)):
        raise refuse_glue(shown, after if isinstance(after, str) else "")
    glued = glued_after(lex.stack, after) if isinstance(after, str) else after is not None
    if glued is None:  # only closing quotes: the next placeholder would continue the word
        glued = at + 2 < len(parts) and isinstance(parts[at + 2], int)
    if glued:
        raise refuse_glue(shown, after.lstrip("\"'") if isinstance(after, str) else "")


def compile_shell(parts: list[Part]) -> tuple[str, list[int], bool]:
    """The constant script, the value key of each positional parameter ($1, $2, ...), and
    whether the script expands ``$1``/``$@``/``$*`` itself."""
    out: list[str] = []
    slots: list[int] = []
    slot_of: dict[int, int] = {}
    lex = _ShellLexer()
    for at, part in enumerate(parts):
        if isinstance(part, int):
            if part == OUT:
                _shell_out_glue(lex, parts, at)
            key = part + DASH if lex.starts_word() else part
            n = slot_of.get(key)
            if n is None:
                slots.append(key)
                n = slot_of[key] = len(slots)
            out.append(lex.placeholder(n))
        else:
            out.append(part)
            lex.feed(part)
    lex.finish()
    return "".join(out), slots, lex.positional


def shell_syntax_error(script: str) -> str | None:
    """``sh -n``: the shell's own parser, so a template is refused before it runs 10,000 times."""
    try:
        proc = subprocess.run(
            [_SH, "-n", "-c", script],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None  # no usable sh here: the run will say so
    if proc.returncode == 0:
        return None
    msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    text = msg[-1] if msg else f"sh -n exited with {proc.returncode}"
    for prefix in ("sh: 1: ", "sh: "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text
