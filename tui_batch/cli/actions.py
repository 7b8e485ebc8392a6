"""`tui-batch actions`: the actions a job can run (built-ins and plugins), their options, and
what each declares (what it writes, its default workers, whether a rerun is harmless)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .context import CONTEXT

if TYPE_CHECKING:
    from ..actions import Action

__all__ = ["actions_cmd", "declaration"]


def declaration(a: Action) -> str:
    """What the engine and the preview know of ``a`` before it runs, in words (or "")."""
    parts: list[str] = []
    if a.writes_output:
        parts.append(f"writes {a.output_name('NAME.ext')} under --out")
    if a.default_workers:
        parts.append(f"{a.default_workers} workers unless -j")
    if not a.repeat_safe:
        parts.append("not safe to repeat: it makes its own steps safe to redo")
    return "; ".join(parts)


@click.command("actions", context_settings=CONTEXT)
def actions_cmd() -> None:
    """List the available actions (built-ins and plugins)."""
    from ..actions import list_actions

    for a in list_actions():
        extra = " (needs --out)" if a.needs_out else ""
        click.echo(f"{a.name:14} {a.kind.value:10} {a.description}{extra}")
        said = declaration(a)
        if said:
            click.echo(f"{'':14} {said}")
        for opt, help_text in (a.options or {}).items():
            click.echo(f"{'':14} --opt {opt}=...  {help_text}")
