"""Command templates: ``--exec 'gzip -k {}'``, placeholders as fd and GNU parallel have them.

The template is compiled once, when the action is resolved, so a bad template is refused before
any file is touched (CLI exit 2, TUI inline) and :meth:`CommandAction.prepare`, which runs for
every task, is a few list operations with no parsing and no regex.

File names are data, never code:

* Without ``--shell`` the template is split once with :func:`shlex.split` and each placeholder
  is substituted *inside* its argv element; no shell ever sees the name.
* With ``--shell`` the script is constant and the values travel as positional parameters:
  ``['sh', '-c', 'gzip -c "${1}" > "${2}"', 'sh', path, out]``. Quoting values into the script
  text (``shlex.quote``) is not enough: inside double quotes, backticks or a here-document the
  shell re-parses the quoted text, so ``echo "{}"`` on a file named ``$(touch x)`` would run
  ``touch``. A parameter expansion is never re-parsed in any context, so whatever the template
  looks like, a name can at worst be split into words, never executed. A small lexer picks
  the form that keeps the value one word in the context where the placeholder sits
  (``"${1}"`` bare, ``${1}`` inside double quotes, ``'"${1}"'`` inside single quotes).

An argv element (or shell word) that *starts* with a placeholder whose value starts with ``-``
gets ``./`` in front, so a file named ``-rf`` can never be taken for an option.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
from dataclasses import dataclass

from ..errors import InputError
from ..model import ActionSpec, EngineSettings, ExecKind
from .base import Action, TaskContext
from .output import OutputError, check_output_path, remove_temp, temp_output_path
from .pathrule import check_path_lookup
from .template_out import check_argv_out, glued_after, one_form, out_ext, prefix_ok, refuse_glue

__all__ = ["PLACEHOLDERS", "CommandAction", "PreparedCommand", "path_is_appended"]

PLACEHOLDERS = ("{}", "{/}", "{//}", "{.}", "{/.}", "{out}", "{out.EXT}")
"""Every placeholder a template may use, in the order the help lists them."""

_KEYS = {"": 0, "/": 1, "//": 2, ".": 3, "/.": 4, "out": 5}
_OUT = 5
_DASH = 6  # key + _DASH = the same value with './' in front when it starts with '-'
_PATH_KEYS = frozenset({0, 2, 3, 5})  # values that are paths (not bare names)
_UNKNOWN_HINT = "use " + " ".join(PLACEHOLDERS) + " (write {{ and }} for literal braces)"
_NAMES = {v: "{" + k + "}" for k, v in _KEYS.items()}
_POSITIONAL = re.compile(r"[1@*]|\{#?[1@*]")  # after '$': the script reads the path itself
_SH = "/bin/sh"  # the syntax check never looks 'sh' up on PATH (item 24 of issue 7)

Part = str | int
"""A compiled template piece: literal text, or a placeholder key."""


@dataclass(slots=True)
class PreparedCommand:
    """One task's command, ready to spawn. ``out_tmp`` is what ``{out}`` became (a temporary
    name beside ``out_final``); :meth:`CommandAction.finish` moves it into place."""

    argv: list[str]
    out_tmp: str | None = None
    out_final: str | None = None


def _parse_braces(text: str, out_forms: list[str] | None = None) -> list[Part]:
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
            key, form = _OUT, out_ext(inner)
        if key == _OUT and out_forms is not None:
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


def _has_placeholder(parts: list[Part]) -> bool:
    return any(isinstance(p, int) for p in parts)


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
    shown = lead + _NAMES[_OUT] + (str(after).split(None, 1)[0] if isinstance(after, str)
                                   and after.strip() else "")
    if not lex.starts_word() and not (isinstance(before, str) and prefix_ok(before)):
        raise refuse_glue(shown, after if isinstance(after, str) else "")
    glued = glued_after(lex.stack, after) if isinstance(after, str) else after is not None
    if glued is None:  # only closing quotes: the next placeholder would continue the word
        glued = at + 2 < len(parts) and isinstance(parts[at + 2], int)
    if glued:
        raise refuse_glue(shown, after.lstrip("\"'") if isinstance(after, str) else "")


def _compile_shell(parts: list[Part]) -> tuple[str, list[int], bool]:
    """The constant script, the value key of each positional parameter ($1, $2, ...), and
    whether the script expands ``$1``/``$@``/``$*`` itself."""
    out: list[str] = []
    slots: list[int] = []
    slot_of: dict[int, int] = {}
    lex = _ShellLexer()
    for at, part in enumerate(parts):
        if isinstance(part, int):
            if part == _OUT:
                _shell_out_glue(lex, parts, at)
            key = part + _DASH if lex.starts_word() else part
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


def path_is_appended(template: str, shell: bool) -> bool:
    """Does this template get the path appended (no placeholder, and for a shell script no
    ``$1``/``$@``/``$*`` of its own)? Parses only: no ``sh -n``. Raises InputError."""
    parts = _parse_braces(template)
    if shell:
        _script, slots, positional = _compile_shell(parts)
        return not slots and not positional
    try:
        words = shlex.split(template)
    except ValueError:
        raise InputError("--exec", "cannot split the template") from None
    return not any(_has_placeholder(_parse_braces(w)) for w in words)


def _shell_syntax_error(script: str) -> str | None:
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


class CommandAction(Action):
    """A command template run once per file (see the module docstring for the guarantees)."""

    def __init__(self, template: str, shell: bool = False) -> None:
        super().__init__(
            name="exec",
            kind=ExecKind.SUBPROCESS,
            description=("sh -c " if shell else "") + template,
        )
        if "\0" in template:
            raise InputError("--exec", "the command template contains a NUL character")
        self.template = template
        self.shell = shell
        self._elements: list[str | tuple[Part, ...]] = []
        self._head: list[str] = []
        self._slots: list[int] = []
        self._argv0_path = False
        self._out_forms: list[str] = []
        self.appends_path = False
        """No placeholder (and no ``$1``/``$@`` in a shell script): the path is appended."""
        if shell:
            self._compile_shell(template)
        else:
            self._compile_argv(template)
        keys = {k % _DASH for k in self._used_keys()}
        self.uses_out = _OUT in keys
        self.needs_out = self.uses_out
        self.writes_output = self.uses_out
        self._need = frozenset(keys)
        self._dash_keys = tuple(sorted(k for k in self._used_keys() if k >= _DASH))
        self.out_ext = one_form(self._out_forms) or None
        """``'.txt'`` for ``{out.txt}``: the output's extension is replaced by it."""

    # -- compilation (once) ------------------------------------------------------------------

    def _compile_argv(self, template: str) -> None:
        try:
            words = shlex.split(template)
        except ValueError as exc:
            msg = str(exc)
            raise InputError(
                "--exec", f"cannot split the template: {msg[:1].lower()}{msg[1:]}"
            ) from None
        if not words:
            raise InputError("--exec", "the command template is empty")
        compiled = [_parse_braces(w, self._out_forms) for w in words]
        if not any(_has_placeholder(p) for p in compiled):
            compiled.append([0])  # no placeholder at all: the path goes last, as with fd -x
            self.appends_path = True
        for parts in compiled:
            check_argv_out(parts, _OUT, "".join(_NAMES[p] if isinstance(p, int) else p
                                                for p in parts))
            if not _has_placeholder(parts):
                self._elements.append("".join(str(p) for p in parts))
                continue
            if isinstance(parts[0], int):
                parts[0] += _DASH
            self._elements.append(tuple(parts))
        first = self._elements[0]
        dash_paths = {k + _DASH for k in _PATH_KEYS}
        self._argv0_path = isinstance(first, tuple) and len(first) == 1 and first[0] in dash_paths

    def _compile_shell(self, template: str) -> None:
        parts = _parse_braces(template, self._out_forms)
        script, slots, positional = _compile_shell(parts)
        if not slots and positional:
            slots = [_DASH]  # the script reads "$1" itself: pass the path, append nothing
        elif not slots:
            script, slots, _ = _compile_shell([*parts, " ", 0])
            self.appends_path = True
        error = _shell_syntax_error(script)
        if error is not None:
            raise InputError("--exec", f"shell syntax error: {error}")
        self._head = ["sh", "-c", script, "sh"]
        self._slots = slots

    def _used_keys(self) -> set[int]:
        if self.shell:
            return set(self._slots)
        keys: set[int] = set()
        for el in self._elements:
            if isinstance(el, tuple):
                keys.update(p for p in el if isinstance(p, int))
        return keys

    # -- checks ------------------------------------------------------------------------------

    def check(self, spec: ActionSpec, settings: EngineSettings) -> None:
        """``{out}`` needs ``--out``; templates take no ``--opt``; a program looked up through
        ``PATH`` needs a ``PATH`` without relative entries (see ``pathrule.py``)."""
        looked_up = self.looked_up()
        if looked_up is not None:
            check_path_lookup(looked_up, shell=self.shell)
        if self.uses_out and not settings.out_dir:
            raise InputError("--out", "the template uses {out}: give --out DIR")
        if spec.options:
            key = next(iter(spec.options))
            raise InputError(
                "--opt", f"unknown option {key!r}: command templates take no --opt options"
            )
        super().check(spec, settings)

    def looked_up(self) -> str | None:
        """The program name the engine will look up through ``PATH`` (``None``: a path)."""
        if self.shell:
            return self._head[0]
        first = self._elements[0]
        if isinstance(first, str):
            return None if "/" in first else first
        if self._argv0_path or any(isinstance(p, str) and "/" in p for p in first):
            return None
        return "".join(_NAMES[p % _DASH] if isinstance(p, int) else p for p in first)

    # -- per task (hot path) -----------------------------------------------------------------

    def _values(self, path: str, out: str | None) -> list[str]:
        v = ["", "", "", "", "", "", "", "", "", "", "", ""]
        need = self._need
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
        for k in self._dash_keys:
            x = v[k - _DASH]
            v[k] = "./" + x if x[:1] == "-" else x
        return v

    def prepare(self, ctx: TaskContext, *, dry_run: bool = False) -> PreparedCommand:
        """The argv for one task; with ``{out}``, also reserve the temporary output name and
        create the output's folders.

        Raises :class:`OutputError` when the output path is not acceptable (outside ``--out``,
        the input itself, a symlink on the way): the task fails without running anything.
        ``dry_run`` (``--dry-run`` listings) touches nothing on disk and checks nothing: the
        preview reports collisions, and the real run checks again. Its argv names the final
        output (what the user wants to see), not a temporary one.
        """
        out_tmp = out_final = None
        if self.uses_out:
            out_final = ctx.out_path
            if out_final is None or ctx.out_dir is None:
                raise OutputError("the template uses {out} but no output path was given (--out)")
            if dry_run:  # show the name the output will have, not a temporary one
                return PreparedCommand(self._argv(ctx.path, out_final), out_final, out_final)
            check_output_path(out_final, ctx.out_dir, ctx.path)
            parent = os.path.dirname(out_final)
            if parent:
                os.makedirs(parent, exist_ok=True)
            out_tmp = temp_output_path(out_final)
        return PreparedCommand(self._argv(ctx.path, out_tmp), out_tmp, out_final)

    def _argv(self, path: str, out_tmp: str | None) -> list[str]:
        v = self._values(path, out_tmp)
        if self.shell:
            return self._head + [v[k] for k in self._slots]
        argv = []
        for el in self._elements:
            if isinstance(el, str):
                argv.append(el)
            else:
                argv.append("".join([v[p] if isinstance(p, int) else p for p in el]))
        if self._argv0_path and "/" not in argv[0]:
            argv[0] = "./" + argv[0]  # run the file itself, not a namesake on $PATH
        return argv

    def finish(self, prepared: PreparedCommand, ok: bool) -> None:
        """Move ``{out}``'s temporary file into place after success; remove it otherwise.

        A command that exits 0 without writing ``{out}`` is not an error (nothing is moved).
        Raises :class:`OutputError` if the rename fails (the temporary file is removed), so the
        task is reported failed rather than silently missing its output.
        """
        tmp = prepared.out_tmp
        if tmp is None or prepared.out_final is None or tmp == prepared.out_final:
            return  # nothing to move (or a dry run's listing, which names the final output)
        if not ok:
            remove_temp(tmp)
            return
        if not os.path.lexists(tmp):
            return
        try:
            if os.path.islink(prepared.out_final):
                raise OSError("the destination is a symlink")
            os.replace(tmp, prepared.out_final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                remove_temp(tmp)
            reason = exc.strerror or str(exc)
            raise OutputError(f"cannot move the output into place: {reason}") from None

    def out_path_for(
        self, out_dir: str | None, root: str, rel: str, multi_root: bool
    ) -> str | None:
        """The mirrored path ``{out}`` becomes (``None`` when the template does not use it),
        with its extension replaced for ``{out.EXT}`` (like ``{.}``: the last one)."""
        path = super().out_path_for(out_dir, root, rel, multi_root)
        if path is None or self.out_ext is None:
            return path
        return os.path.splitext(path)[0] + self.out_ext

    def __repr__(self) -> str:
        return f"<CommandAction {self.description!r}>"
