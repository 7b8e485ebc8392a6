"""`tui-batch demo`: a sample tree in a temp folder and a job on it, in the TUI or headless.

The tree, its job and its clean-up are :mod:`.demo_tree`'s, imported only when the command
runs. Unless ``--keep`` is given the tree (and the job store inside it) is removed at exit, so
the resume hints say there is nothing to resume instead of printing a command that cannot work.
"""

from __future__ import annotations

import sys

import click

from ..jobs import create_job, plan_job
from .headless import reporter_style, run_headless, want_tui
from .options import CONTEXT
from .stores import open_store

__all__ = ["demo_cmd"]


@click.command("demo", context_settings=CONTEXT)
@click.option("--headless", is_flag=True, help="Run the demo job without the TUI.")
@click.option("--db", metavar="PATH", help="Job store (default: a file in the demo tree).")
@click.option("--keep", is_flag=True,
              help="Keep the demo tree (and its job store) at exit, to look at or resume; "
                   "by default it is removed, also after Ctrl-C, SIGTERM or SIGHUP.")
@click.option("--delay", type=float, default=0.4, show_default=True, metavar="S",
              help="Simulated work per file, in seconds (0 to 60; 0: full speed).")
def demo_cmd(headless: bool, db: str | None, keep: bool, delay: float) -> None:
    """Make a sample tree in a temp folder and open the TUI on it."""
    from ..jobs import forget_jobs_on_exit
    from .demo_tree import DELAY, DemoTree, demo_spec, kept_report

    DELAY.check(delay)
    code = 0
    with DemoTree(keep=keep) as tree:
        spec = demo_spec(tree.folder, delay)
        store_path = db or tree.db
        if keep:
            click.echo(f"demo tree: {tree.folder} (kept at exit)", err=True)
        else:
            click.echo(f"demo tree: {tree.folder} (removed at exit; --keep keeps it)", err=True)
            forget_jobs_on_exit("the demo tree is removed at exit, so there is nothing to "
                                "resume ('tui-batch demo --keep' keeps it)")
        tui = not headless and want_tui(False, False)
        if not tui:
            store = open_store(store_path)
            try:
                job_id = create_job(store, plan_job(spec, store=store))
                code = run_headless(store, job_id, reporter_style(False))
            finally:
                store.close()
        else:
            from ..service.handover import before_hand_over
            from ..ui import run_tui

            before_hand_over(tree.keep_now)  # its jobs may run in the service: keep the tree
            code = run_tui(root=tree.folder, spec=spec, db=store_path, start="form")
        if tree.keep:
            # headless: the run's own summary already said how to resume
            for line in kept_report(tree.folder, store_path, resume=tui):
                click.echo(line)
    sys.exit(code)
