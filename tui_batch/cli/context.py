"""The click settings every command shares (``-h``, the help width).

Why a module of its own: the commands that control a running job import only this and the
control client, so that they answer in well under 100 ms; the shared flags of `run` and
`watch` (:mod:`.options`) pull in much more.
"""

from __future__ import annotations

__all__ = ["CONTEXT"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
"""click context settings of the group and of every command."""
