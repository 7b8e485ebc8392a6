"""The demo's action, at the address its jobs store: ``tui_batch.demo:inspect_file``.

A job stores its action as a ``module:function`` reference, so this module path is data: a
kept demo tree's jobs name it and ``resume`` imports it by that name. That is why the
action stays here, at the package root, while the rest of the demo (the sample tree, its
job, the command) lives with the CLI in :mod:`tui_batch.cli.demo_tree`. Core module: only the
action API is imported, never Textual or the CLI.

The action (:func:`inspect_file`, a Python action) takes a fraction of a second per file so
the dashboard has something to show, and reports a line count per file. "flaky" files fail
their first attempt so the retry machinery is visible; two "offline" files fail every
automatic attempt and succeed when the user retries them.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import xxhash

from .actions import TaskContext
from .actions.base import ActionError
from .actions.python import action

__all__ = ["ACTION_REF", "OFFLINE_ATTEMPTS", "inspect_file"]

ACTION_REF = "tui_batch.demo:inspect_file"
"""The demo action, as a ``module:function`` reference (shows Python actions)."""

OFFLINE_ATTEMPTS = 3
"""offline-* files fail this many attempts (1 + the demo's 2 retries), then succeed."""


def _delay(path: str, options: dict[str, str]) -> float:
    try:
        scale = float(options.get("delay", "0.4"))
    except ValueError:
        raise ActionError(f"--opt delay must be seconds, got {options['delay']!r}") from None
    fraction = xxhash.xxh3_64_intdigest(os.fsencode(path)) / 2.0**64
    return scale * (0.25 + fraction)


@action(
    kind="async",
    description="Demo: read a file, count its lines (flaky-* fail on the first try).",
    options={"delay": "seconds of simulated work per file (default 0.4, varies per file)"},
)
async def inspect_file(ctx: TaskContext) -> str:
    """Simulated work: wait a little, then report lines and a short hash."""
    await asyncio.sleep(_delay(ctx.path, ctx.options))
    name = os.path.basename(ctx.path)
    if name.startswith("flaky-") and ctx.attempt == 1:
        raise ActionError("simulated upload error: connection reset (will be retried)")
    if name.startswith("offline-") and ctx.attempt <= OFFLINE_ATTEMPTS:
        raise ActionError(
            f"simulated outage: server offline (attempt {ctx.attempt}); "
            "press r to retry failed tasks"
        )
    data = await asyncio.to_thread(Path(ctx.path).read_bytes)
    lines = data.count(b"\n")
    digest = xxhash.xxh3_64_hexdigest(data)[:8]
    return f"{lines} lines, {len(data)} bytes, xxh3 {digest}\n"
