"""The command-template action: what happens around each task's command, on disk.

:class:`CommandAction` is what ``--exec`` resolves to. Its template is compiled once
(:mod:`.compiled`); per task it adds what the text alone cannot: ``{out}`` becomes a fresh
temporary name beside the final output (after the output path was checked and its folders
created), and :meth:`CommandAction.finish` renames that temporary into place when the command
succeeded, or removes it. Its :meth:`~CommandAction.check` refuses, before anything runs, what
the job's settings make impossible (``{out}`` without ``--out``, ``--opt`` options, a program
looked up through a relative ``PATH`` entry, see :mod:`.pathrule`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from ...errors import InputError
from ...model import ActionSpec, EngineSettings, ExecKind
from ..base import Action, TaskContext
from ..output import OutputError, check_output_path, remove_temp, temp_output_path
from .compiled import CompiledTemplate
from .pathrule import check_path_lookup

__all__ = ["CommandAction", "PreparedCommand"]


@dataclass(slots=True)
class PreparedCommand:
    """One task's command, ready to spawn. ``out_tmp`` is what ``{out}`` became (a temporary
    name beside ``out_final``); :meth:`CommandAction.finish` moves it into place."""

    argv: list[str]
    out_tmp: str | None = None
    out_final: str | None = None


class CommandAction(Action):
    """A command template run once per file (see :mod:`.compiled` for the guarantees).

    Raises :class:`~tui_batch.errors.InputError` (field ``--exec``) for a template that cannot
    be compiled.
    """

    def __init__(self, template: str, shell: bool = False) -> None:
        super().__init__(
            name="exec",
            kind=ExecKind.SUBPROCESS,
            description=("sh -c " if shell else "") + template,
        )
        compiled = CompiledTemplate(template, shell)
        self.template = template
        self.shell = shell
        self._compiled = compiled
        self.appends_path = compiled.appends_path
        """No placeholder (and no ``$1``/``$@`` in a shell script): the path is appended."""
        self.uses_out = compiled.uses_out
        self.needs_out = self.uses_out
        self.writes_output = self.uses_out
        self.out_ext = compiled.out_ext or ""
        """``'.txt'`` for ``{out.txt}``: the output's extension is replaced by it (the base
        class's :meth:`output_name`, like ``{.}``: the last extension)."""

    # -- checks ------------------------------------------------------------------------------

    def check(self, spec: ActionSpec, settings: EngineSettings) -> None:
        """``{out}`` needs ``--out``; templates take no ``--opt``; a program looked up through
        ``PATH`` needs a ``PATH`` without relative entries (see :mod:`.pathrule`)."""
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
        return self._compiled.looked_up()

    # -- per task (hot path) -----------------------------------------------------------------

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
                argv = self._compiled.argv(ctx.path, out_final, ctx.seq, ctx.slot)
                return PreparedCommand(argv, out_final, out_final)
            check_output_path(out_final, ctx.out_dir, ctx.path)
            parent = os.path.dirname(out_final)
            if parent:
                os.makedirs(parent, exist_ok=True)
            out_tmp = temp_output_path(out_final)
        argv = self._compiled.argv(ctx.path, out_tmp, ctx.seq, ctx.slot)
        return PreparedCommand(argv, out_tmp, out_final)

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

    def __repr__(self) -> str:
        return f"<CommandAction {self.description!r}>"
