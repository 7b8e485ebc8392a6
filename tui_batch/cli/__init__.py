"""The `tui-batch` command (click): the group, its commands, and the console entry point.

Contracts from the brief: flag names, exit codes (0 ok, 1 some task failed or was cancelled,
2 bad usage or input with a one-line message naming the field, 130 interrupted and resumable),
and `run`/`resume` opening the dashboard on a terminal but printing progress otherwise.

One module per command (:mod:`.run`, :mod:`.resume`, :mod:`.watch`, :mod:`.jobs`, :mod:`.log`,
:mod:`.actions`, :mod:`.demo`, and :mod:`.open_tui`, the default; controlling a job that runs
elsewhere: :mod:`.control_cmds`, :mod:`.retry_cmd`, :mod:`.wait_cmd`); the flags they share and
the spec builder are in :mod:`.options`, headless progress in :mod:`.progress`. The commands
know nothing of the group: this module creates it and adds them, so no command module imports
this one. ``cli`` may import every core package and ``api``; the TUI (``tui_batch.ui``) only
inside the functions that open it, so headless runs never load Textual.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from ..errors import InputError, StoreError, TuiBatchError
from ..jobs import EXIT_USAGE
from .context import CONTEXT

if TYPE_CHECKING:
    from .options import build_spec
    from .progress import stats_line

COMMANDS: dict[str, tuple[str, str]] = {
    "open": ("open_tui", "open_cmd"),
    "run": ("run", "run_cmd"),
    "resume": ("resume", "resume_cmd"),
    "jobs": ("jobs", "jobs_cmd"),
    "log": ("log", "log_cmd"),
    "actions": ("actions", "actions_cmd"),
    "demo": ("demo", "demo_cmd"),
    "watch": ("watch", "watch_cmd"),
    # controlling a job running in another process, through its control socket
    "pause": ("control_cmds", "pause_cmd"),
    "cancel": ("control_cmds", "cancel_cmd"),
    "workers": ("control_cmds", "workers_cmd"),
    "retry": ("retry_cmd", "retry_cmd"),
    "priority": ("control_cmds", "priority_cmd"),
    "wait": ("wait_cmd", "wait_cmd"),
    "attach": ("attach", "attach_cmd"),
    # the per-user service that runs detached jobs, and its groups
    "service": ("service_cmd", "service_cmd"),
    "group": ("service_cmd", "group_cmd"),
}
"""Each command's module and object. Commands load when used (``tui-batch pause 7`` must
answer in well under 100 ms, and importing every command costs most of a second)."""

__all__ = ["build_spec", "cli", "main", "stats_line"]


class _Group(click.Group):
    """`tui-batch DIR` opens the TUI on DIR: an unknown first word that is not an option is a
    folder for the default `open` command, not a typo'd subcommand. A leading ``--db PATH``
    goes with it: to `open` (``tui-batch --db X [DIR]``) or to the command that follows
    (``tui-batch --db X jobs``), so the store can be named before or after the command.
    Commands are loaded on first use (:data:`COMMANDS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = self._hoist_db(list(args))
        if args and not args[0].startswith("-") and args[0] not in COMMANDS:
            args = ["open", *args]
        return super().parse_args(ctx, args)

    def _hoist_db(self, args: list[str]) -> list[str]:
        if args[:1] == ["--db"] and len(args) >= 2:
            db, rest = args[:2], args[2:]
        elif args and args[0].startswith("--db="):
            db, rest = args[:1], args[1:]
        else:
            return args
        if not rest or rest[0].startswith("-"):
            return args  # `--db X` alone or before --help/--version: the group's own option
        cmd = load_command(rest[0])
        if cmd is None:
            return ["open", *db, *rest]  # `--db X DIR`
        if any(p.name == "db" for p in cmd.params):
            return [rest[0], *db, *rest[1:]]
        return args


@click.group(cls=_Group, context_settings=CONTEXT, invoke_without_command=True)
@click.version_option(package_name="tui-batch")
@click.option("--db", metavar="PATH",
              help="Job store of the TUI, or of the command that follows "
                   "(default: user data folder).")
@click.pass_context
def cli(ctx: click.Context, db: str | None = None) -> None:
    """Batch-process files: pick them with filters, preview, run an action on each in
    parallel, and watch it on a live dashboard. Without a command: open the TUI here."""
    if ctx.invoked_subcommand is None:
        open_cmd = load_command("open")
        assert open_cmd is not None
        ctx.invoke(open_cmd, folder=None, db=db)


def load_command(name: str) -> click.Command | None:
    """The command called ``name`` (imported on first use), or ``None``."""
    where = COMMANDS.get(name)
    if where is None:
        return None
    module = importlib.import_module(f".{where[0]}", __name__)
    command: click.Command = getattr(module, where[1])
    return command


def __getattr__(name: str) -> Any:
    # build_spec and stats_line are part of this package's face (tests, the API docs)
    if name == "build_spec":
        from .options import build_spec

        return build_spec
    if name == "stats_line":
        from .progress import stats_line

        return stats_line
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: user mistakes become one line on stderr and exit 2."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="tui-batch",
                 standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("tui-batch: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        # one line, naming the option, instead of click's usage block
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        click.echo(f"tui-batch: error: {exc.format_message()}{hint}", err=True)
        sys.exit(EXIT_USAGE if exc.exit_code != 0 else 0)
    except InputError as exc:
        click.echo(f"tui-batch: error: {exc.field}: {exc.message}", err=True)
        sys.exit(EXIT_USAGE)
    except StoreError as exc:
        click.echo(f"tui-batch: error: --db: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except TuiBatchError as exc:
        click.echo(f"tui-batch: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("tui-batch: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
