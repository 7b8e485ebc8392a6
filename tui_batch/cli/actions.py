"""`tui-batch actions`: the actions a job can run (built-ins and plugins) and their options."""

from __future__ import annotations

import click

from .options import CONTEXT

__all__ = ["actions_cmd"]


@click.command("actions", context_settings=CONTEXT)
def actions_cmd() -> None:
    """List the available actions (built-ins and plugins)."""
    from ..actions import list_actions

    for a in list_actions():
        extra = " (needs --out)" if a.needs_out else ""
        click.echo(f"{a.name:14} {a.kind.value:10} {a.description}{extra}")
        for opt, help_text in (a.options or {}).items():
            click.echo(f"{'':14} --opt {opt}=...  {help_text}")
