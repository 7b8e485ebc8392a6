"""Command templates: ``--exec 'gzip -k {}'``, placeholders as fd and GNU parallel have them.

A template is compiled once, when the action is resolved, and file names are data, never code:
they are substituted inside argv elements, or passed to a constant ``sh -c`` script as
positional parameters, never pasted into text a shell parses. The modules, in the order a
template goes through them:

* ``placeholders``: what ``{}``, ``{/}``, ``{//}``, ``{.}``, ``{/.}``, ``{out}`` mean; the
  brace parser;
* ``outrule``: where ``{out}`` may stand (a whole argument, so it can be renamed into place);
* ``shell``: the ``--shell`` script, its quoting-context lexer and the ``sh -n`` check;
* ``compiled``: the compiled pieces and the per-task argv (the hot path);
* ``pathrule``: no program is looked up through a relative ``PATH`` entry;
* ``action``: :class:`CommandAction`, the temporary ``{out}`` and its rename after the command.
"""

from __future__ import annotations

from .action import CommandAction, PreparedCommand
from .compiled import path_is_appended
from .placeholders import PLACEHOLDERS

__all__ = ["PLACEHOLDERS", "CommandAction", "PreparedCommand", "path_is_appended"]
