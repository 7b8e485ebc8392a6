"""`tui-batch [DIR]`: the default command, the TUI opened on a folder.

Hidden from the command list: the group runs it when no command is given or when the first
word is a folder (see the group in :mod:`tui_batch.cli`). It refuses to start without a
terminal, where Textual would draw into a pipe and wait for keys forever.
"""

from __future__ import annotations

import os
import sys

import click

from .headless import want_tui
from .options import fail

__all__ = ["open_cmd"]


@click.command("open", hidden=True)
@click.argument("folder", required=False)
@click.option("--db", metavar="PATH")
def open_cmd(folder: str | None, db: str | None = None) -> None:
    """Open the TUI on FOLDER (default: the current folder)."""
    if folder is not None and not os.path.isdir(folder):
        fail("FOLDER", f"no such folder: {folder}")
    if not want_tui(False, False):
        # without a terminal Textual would draw into a pipe and wait for keys forever
        fail("TUI", "needs a terminal (stdin and stdout); in a script use "
                    "'tui-batch run ROOT --exec TEMPLATE' (see 'tui-batch run --help')")
    from ..ui import run_tui

    sys.exit(run_tui(root=folder or ".", db=db, start="form"))
