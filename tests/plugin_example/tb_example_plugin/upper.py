"""The plugin's action: the input's text upper-cased, written as NAME.upper under --out.

It shows what a plugin author needs: ``@action`` to declare the kind (``cpu``: the process
pool finds it again by its entry-point name), the options with their help, the output's name
(``out_ext``), and an atomic write of ``ctx.out_path``.
"""

from __future__ import annotations

from tui_batch.actions import TaskContext, action, atomic_write
from tui_batch.errors import InputError


def _check(options: dict[str, str]) -> None:
    if options.get("mark", "") not in ("", "!", "?"):
        raise InputError("--opt", "mark must be '!' or '?'")


@action(kind="cpu", needs_out=True, out_ext=".upper", validate=_check,
        options={"mark": "append this mark ('!' or '?') to the text"})
def upper(ctx: TaskContext) -> str | None:
    """Upper-case a text file (an example plugin action)."""
    assert ctx.out_path is not None
    with open(ctx.path, encoding="utf-8") as f:
        text = f.read().upper() + ctx.options.get("mark", "")
    with atomic_write(ctx.out_path, "w") as out:
        out.write(text)
    return f"{ctx.rel}: {len(text)} characters (task {ctx.seq} of job {ctx.job_id})"
