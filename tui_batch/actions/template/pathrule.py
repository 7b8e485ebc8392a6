"""The PATH rule: no command is looked up through a relative ``PATH`` entry.

A ``PATH`` holding ``.``, an empty element (which means the current folder) or any relative
folder makes ``cat`` mean "whatever file named cat is in the folder I was started from": a
planted program then runs, once per file, with the user's rights. ``find -execdir`` refuses to
run in that case, and so does tui-batch: a command template whose program is looked up through
``PATH`` (``cat {}``; every ``--shell`` template, since the shell and the script's commands are)
is refused before anything runs, naming the entry. A program given as a path (``/bin/cat {}``,
``./tool {}``) needs no lookup and is not affected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ...errors import InputError

__all__ = ["check_path_lookup", "relative_path_entry"]


def relative_path_entry(path_value: str) -> str | None:
    """The first entry of a ``PATH`` value that is not an absolute folder, or ``None``."""
    for entry in path_value.split(os.pathsep):
        if not entry.startswith("/"):
            return entry
    return None


def check_path_lookup(
    command: str, environ: Mapping[str, str] | None = None, *, shell: bool = False
) -> None:
    """Refuse (``InputError('PATH', ...)``) to look ``command`` up through a relative entry.

    ``shell``: the command is the shell of a ``--shell`` template, whose script looks its own
    commands up too, so only fixing ``PATH`` helps.
    """
    env = os.environ if environ is None else environ
    entry = relative_path_entry(env.get("PATH", os.defpath))
    if entry is None:
        return
    shown = f"{entry!r} (an empty entry means the current folder)" if not entry else repr(entry)
    fix = ("remove it from PATH (a --shell script looks its commands up there too)" if shell
           else f"remove it from PATH or give the command as a path (e.g. /usr/bin/{command})")
    raise InputError(
        "PATH",
        f"relative entry {shown}: {command!r} would be looked up there, so a program planted "
        f"in the current folder could run instead; {fix}",
    )
