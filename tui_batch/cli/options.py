"""The flags `run` and `watch` share, and the one spec builder behind them.

A watch and a run can never disagree on what a flag means: both commands take their filter,
action, engine and output flags from the groups below and turn them into a JobSpec with
:func:`build_spec` (which also merges a ``--recipe`` under the flags). :func:`fail` is how
every command refuses input: an InputError naming the field, which ``main`` prints as one line
and exit code 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click

from ..errors import InputError
from ..model import ActionSpec, EngineSettings, JobSpec, Priority, StepSpec
from .context import CONTEXT
from .task_output import OutputChoice

__all__ = [
    "CONTEXT", "action_options", "build_spec", "engine_options", "fail", "filter_options",
    "output_choice", "output_options",
]



def fail(field: str, message: str) -> NoReturn:
    """Refuse the command: ``field`` (a flag, an argument or a variable) is wrong."""
    raise InputError(field, message)


def filter_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Which files: the filter flags."""
    opts = [
        click.option("--ext", "-e", "ext", multiple=True, metavar="EXT",
                     help="Keep files with this extension (repeatable, or comma-separated)."),
        click.option("--min-size", metavar="SIZE", help="At least this big (10k, 1.5MiB, 2GB)."),
        click.option("--max-size", metavar="SIZE", help="At most this big."),
        click.option("--newer", metavar="WHEN", help="Modified at or after (2024-05-01, 7d, 12h)."),
        click.option("--older", metavar="WHEN", help="Modified before."),
        click.option("--name", metavar="REGEX", help="Base name matches this regex."),
        click.option("--exclude", multiple=True, metavar="PATH_OR_GLOB",
                     help="Skip this path or glob (repeatable)."),
        click.option("--exclude-re", multiple=True, metavar="REGEX",
                     help="Skip relative paths matching this regex (repeatable)."),
        click.option("--hidden", is_flag=True, help="Include hidden files and folders."),
        click.option("--follow", is_flag=True, help="Follow symlinks (loops are detected)."),
        click.option("--no-ignore", is_flag=True, help="Do not honour .gitignore/.ignore files."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def action_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """What to run on each file: the action flags."""
    opts = [
        click.option("--exec", "-x", "exec_", metavar="TEMPLATE",
                     help="Command per file: {} {/} {//} {.} {/.} {out} {out.EXT} {#} {%}."),
        click.option("--shell", is_flag=True,
                     help="Run the template with sh -c (names passed as arguments, never pasted)."),
        click.option("--action", "-a", "action_name", metavar="NAME",
                     help="Built-in, plugin or module:function action."),
        click.option("--opt", multiple=True, metavar="KEY=VALUE",
                     help="Action option (of the first step, with --then)."),
        click.option("--then", multiple=True, metavar="NAME_OR_TEMPLATE",
                     help="Then run this on each file's output (repeatable: a pipeline; an "
                          "action name or module:function, else a template naming {})."),
        click.option("--recipe", metavar="FILE.toml", help="Load the job from a recipe file."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def engine_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """How to run: workers, priority, retries, timeouts, halting, dedupe, --out."""
    opts = [
        click.option("--workers", "-j", type=int, metavar="N",
                     help="Parallel tasks, 1 to 1024 (default: CPUs)."),
        click.option("--priority", metavar="P", help="low, normal, high or urgent."),
        click.option("--retries", type=int, metavar="N",
                     help="Extra attempts after a failure (0 to 100)."),
        click.option("--backoff", type=float, metavar="S",
                     help="First retry delay, 0 to 3600 (doubles)."),
        click.option("--timeout", type=float, metavar="S",
                     help="Seconds per attempt (more than 0, at most 30 days)."),
        click.option("--no-retry-code", multiple=True, type=int, metavar="CODE",
                     help="Exit code (0 to 255) that is never retried (repeatable)."),
        click.option("--halt-after", type=int, metavar="N",
                     help="Start no new task after N failures (N >= 1)."),
        click.option("--halt-percent", type=float, metavar="PCT",
                     help="Start no new task once PCT% (more than 0, at most 100) of "
                          "finished tasks failed."),
        click.option("--dedupe/--no-dedupe", default=None,
                     help="Skip duplicate files (default on, off for actions that write one "
                          "output per file: copy, gzip, {out} templates)."),
        click.option("--out", metavar="DIR", help="Output folder (mirrors the input tree)."),
        click.option("--max-output", metavar="SIZE",
                     help="Task output kept per stream per attempt (default 10MiB; 0: only "
                          "the last lines); what is cut is said."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Where the job goes and how it reports: --db, --json, --headless, and how the tasks'
    output is printed (-k, --tag, --quiet, --results; see :func:`output_choice`)."""
    opts = [
        click.option("--db", metavar="PATH", help="Job store (default: user data folder)."),
        click.option("--json", "as_json", is_flag=True,
                     help="JSON lines on stdout (task events carry the output)."),
        click.option("--headless", is_flag=True, help="No dashboard even on a terminal."),
        click.option("--keep-order", "-k", "keep_order", is_flag=True,
                     help="Print task output in input order, not as tasks end (as parallel "
                          "-k)."),
        click.option("--tag", is_flag=True,
                     help="Start each output line with the file's relative path and a tab."),
        click.option("--quiet", is_flag=True,
                     help="Print no task output (progress and failures still on stderr)."),
        click.option("--results", metavar="DIR",
                     help="Also write each task's stdout, stderr and exitval under DIR, "
                          "mirroring the input tree."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def output_choice(kw: dict[str, Any]) -> OutputChoice:
    """Take the task-output flags out of ``kw`` (``results`` still unchecked: see
    :func:`~.results.check_results_dir`). Any of them means no dashboard."""
    return OutputChoice(
        keep_order=bool(kw.pop("keep_order", False)), tag=bool(kw.pop("tag", False)),
        quiet=bool(kw.pop("quiet", False)), results=kw.pop("results", None) or None,
    )


def _parse_opts(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            fail("--opt", f"expected KEY=VALUE, got {p!r}")
        out[key.strip()] = value
    return out


def build_spec(roots: Sequence[str], kw: dict[str, Any]) -> JobSpec:
    """CLI flags (over an optional recipe) -> a validated JobSpec.

    A recipe's values are all validated first, inside its blame (errors name the file, the
    key and its line), including those a flag overrides: a wrong recipe is never half used.
    """
    from ..jobs import read_recipe
    from ..model import FilterSpec
    from ..model.limits import CLI_WORKERS
    from ..select import check_out_dir, filter_from_dict, filter_from_options

    recipe = read_recipe(kw["recipe"]) if kw.get("recipe") else None
    cli_action = kw.get("exec_") is not None or kw.get("action_name") is not None
    rflt: FilterSpec | None = None
    raction: ActionSpec | None = None
    rsteps: list[StepSpec] = []
    settings = EngineSettings()
    if recipe is not None:
        with recipe.blame():
            # the recipe's roots only matter (and must exist) when none are given here
            rflt = filter_from_dict(recipe.table("filter"), check_roots=not roots)
            if recipe.table("action"):
                raction = ActionSpec.from_dict(recipe.table("action"), partial=cli_action)
            rsteps = [StepSpec.from_dict(t, i)
                      for i, t in enumerate(recipe.data.get("steps") or (), 1)]
            settings = EngineSettings.from_dict(recipe.table("settings"))

    exts: list[str] = []
    for e in kw.get("ext") or ():
        exts.extend(x for x in e.split(",") if x.strip())
    given_filter = any(
        kw.get(k) for k in ("ext", "min_size", "max_size", "newer", "older", "name", "exclude",
                            "exclude_re", "hidden", "follow", "no_ignore")
    )
    if rflt is not None and not roots and not given_filter:
        flt = rflt
    else:
        base = rflt or FilterSpec()

        def pick(key: str, recipe_value: Any) -> Any:
            v = kw.get(key)
            return v if v not in (None, (), False, "") else recipe_value

        flt = filter_from_options(
            roots=list(roots) or list(base.roots),
            ext=exts or list(base.extensions),
            min_size=pick("min_size", base.min_size),
            max_size=pick("max_size", base.max_size),
            newer=pick("newer", base.newer),
            older=pick("older", base.older),
            name=pick("name", base.name_regex),
            exclude=list(kw.get("exclude") or ()) + list(base.excludes),
            exclude_re=list(kw.get("exclude_re") or ()) + list(base.exclude_res),
            hidden=bool(kw.get("hidden") or base.hidden),
            follow=bool(kw.get("follow") or base.follow),
            no_ignore=bool(kw.get("no_ignore") or not base.use_ignore),
        )

    if cli_action:
        action = ActionSpec(
            template=kw.get("exec_"), shell=bool(kw.get("shell")), name=kw.get("action_name"),
            options={**(raction.options if raction is not None else {}),
                     **_parse_opts(kw.get("opt") or ())},
        )
        action.check()
    elif kw.get("then"):
        fail("--then", "give the first step with --exec TEMPLATE or --action NAME")
    elif rsteps:  # the recipe's pipeline; --opt and --shell are about its first step
        action = rsteps[0].action
        action.shell = action.shell or bool(kw.get("shell"))
        action.options.update(_parse_opts(kw.get("opt") or ()))
    elif raction is not None:
        action = raction
        action.shell = action.shell or bool(kw.get("shell"))
        action.options.update(_parse_opts(kw.get("opt") or ()))
    else:
        fail("--exec", "no action: give --exec TEMPLATE or --action NAME")
    # A command-line action replaces the recipe's action or steps, --then included.
    steps = [StepSpec(action), *(StepSpec(then_action(v, bool(kw.get("shell"))))
                                 for v in kw.get("then") or ())] if cli_action else rsteps

    for key, attr in (("workers", "workers"), ("retries", "retries"), ("backoff", "backoff"),
                      ("timeout", "timeout"), ("halt_after", "halt_after_failures"),
                      ("halt_percent", "halt_failure_percent"), ("out", "out_dir")):
        if kw.get(key) is not None:
            setattr(settings, attr, kw[key])
    if kw.get("priority") is not None:
        settings.priority = Priority.parse(kw["priority"])
    if kw.get("dedupe") is not None:
        settings.dedupe = kw["dedupe"]
    if kw.get("no_retry_code"):
        settings.no_retry_exit_codes = list(kw["no_retry_code"])
    if kw.get("max_output") is not None:
        from ..select import parse_size

        settings.max_output = parse_size(kw["max_output"], "--max-output")
    if kw.get("workers") is not None:
        CLI_WORKERS.check(kw["workers"])
    settings.check()
    if settings.out_dir is not None:
        settings.out_dir = os.path.abspath(settings.out_dir)
        check_out_dir(flt.roots, settings.out_dir)
    name = recipe.data.get("name") if recipe is not None else None
    spec = JobSpec(filter=flt, action=action, settings=settings, name=name)
    if len(steps) > 1:
        from ..jobs.recipe import check_steps

        spec.set_steps(steps)
        if recipe is not None and not cli_action:
            with recipe.blame():
                check_steps(spec)
        else:
            check_steps(spec)
    return spec


_MODULE_FUNCTION = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def then_action(value: str, shell: bool = False) -> ActionSpec:
    """A ``--then`` value: a built-in, plugin or registered action's name, or
    ``module:function``, is that action; anything else is a command template (run with
    ``sh -c`` when ``--shell`` is given)."""
    from ..actions import list_actions

    text = value.strip()
    if not text:
        fail("--then", "empty: give an action name or a command template")
    if _MODULE_FUNCTION.match(text) or text in {a.name for a in list_actions()}:
        return ActionSpec(name=text)
    return ActionSpec(template=value, shell=shell)
