"""How a job is described: which files (FilterSpec), what to run (ActionSpec), how to run it
(EngineSettings), and the three together (JobSpec).

Specs serialise to plain dicts (``to_dict``/``from_dict``) because a job stores its full spec in
SQLite and a recipe file stores it as TOML. ``ActionSpec`` and ``EngineSettings`` validate in
``from_dict``, so a hand-edited recipe is refused with the key named. ``FilterSpec.from_dict``
only rebuilds a spec from trusted, already parsed values (what ``to_dict`` wrote): turning user
text (``"10MiB"``, ``"7d"``) into a filter is the job of :func:`tui_batch.select.filter_from_dict`,
and ``model`` must not import ``select`` (it sits below every other package). Callers that read
user-written dicts pass that parser to :meth:`JobSpec.from_dict` as ``filter_factory``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InputError
from .enums import Priority
from .limits import EXIT_CODE, OPTIONAL_SETTINGS, SETTINGS
from .logfiles import DEFAULT_MAX_OUTPUT
from .steps import StepSpec

__all__ = ["ActionSpec", "EngineSettings", "FilterSpec", "JobSpec", "StepSpec"]



@dataclass
class FilterSpec:
    """Which files a job selects. Values are already parsed (bytes, epoch seconds, regex text).

    Parse user text with :func:`tui_batch.select.filter_from_options`; construct directly only
    with trusted values.
    """

    roots: list[str] = field(default_factory=lambda: ["."])
    extensions: list[str] = field(default_factory=list)  # normalised: lower case, leading dot
    min_size: int | None = None
    max_size: int | None = None
    newer: float | None = None  # epoch seconds; keep files modified at or after
    older: float | None = None  # epoch seconds; keep files modified before
    name_regex: str | None = None  # searched (re.search) in the base name
    excludes: list[str] = field(default_factory=list)  # paths or globs
    exclude_res: list[str] = field(default_factory=list)  # regexes searched in the relative path
    hidden: bool = False
    follow: bool = False
    use_ignore: bool = True  # honour .gitignore / .ignore / .tbignore files

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FilterSpec:
        """Rebuild a spec from trusted, already parsed values (what :meth:`to_dict` wrote).

        Nothing is parsed or checked beyond the shape (a table of known keys): to read a dict a
        person wrote (a recipe's ``[filter]``), use :func:`tui_batch.select.filter_from_dict`.
        """
        if not isinstance(data, Mapping):
            raise InputError("filter", f"expected a table of filter settings, got {data!r}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError("filter", f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
        values: dict[str, Any] = {k: list(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


@dataclass
class ActionSpec:
    """What to run on each file: a command template, or a named / ``module:function`` action."""

    template: str | None = None
    shell: bool = False
    name: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, partial: bool = False) -> ActionSpec:
        """From a stored job or a recipe's ``[action]`` table; errors name the key
        (``action.template``). ``partial``: only check the types, for a recipe whose action
        the command line replaces (its options still apply)."""
        if not isinstance(data, Mapping):
            raise InputError("action", f"expected a table (template, shell, name, options), "
                                       f"got {data!r}")
        known = {"template", "shell", "name", "options"}
        unknown = set(data) - known
        if unknown:
            raise InputError("action", f"unknown key(s): {', '.join(sorted(unknown))}")
        for key in ("template", "name"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise InputError(f"action.{key}", f"expected text, got {data[key]!r}")
        shell = data.get("shell", False)
        if not isinstance(shell, bool):
            raise InputError("action.shell", f"expected true or false, got {shell!r}")
        spec = cls(
            template=data.get("template"),
            shell=shell,
            name=data.get("name"),
            options=_option_values(data.get("options")),
        )
        if partial:
            return spec
        if spec.template is not None and spec.name is not None:
            raise InputError("action", "give either template or name, not both")
        if spec.template is None and spec.name is None:
            raise InputError("action", "no action: give template or name")
        if spec.template is not None and not spec.template.strip():
            raise InputError("action.template", "the command template is empty")
        spec.check()
        return spec

    def check(self) -> None:
        """Exactly one of template / name."""
        if self.template is not None and self.name is not None:
            raise InputError("--exec", "give either --exec or --action, not both")
        if self.template is None and self.name is None:
            raise InputError("--exec", "no action: give --exec TEMPLATE or --action NAME")
        if self.template is not None and not self.template.strip():
            raise InputError("--exec", "the command template is empty")

    @property
    def label(self) -> str:
        """Short human description for lists (jobs screen, `tui-batch jobs`)."""
        if self.template is not None:
            return ("sh -c " if self.shell else "") + self.template
        return str(self.name)


def _option_values(options: Any) -> dict[str, str]:
    """Action options: a table of scalars, kept as text (``--opt KEY=VALUE`` is text too)."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InputError("action.options", f"expected a table of KEY = VALUE, got {options!r}")
    out: dict[str, str] = {}
    for k, v in options.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif not isinstance(v, str | int | float):
            raise InputError(f"action.options.{k}", f"expected text or a number, got {v!r}")
        out[str(k)] = str(v)
    return out


@dataclass
class EngineSettings:
    """How tasks are run. Defaults are what a user gets without flags."""

    workers: int = 0  # 0 = number of CPUs
    priority: Priority = Priority.NORMAL
    retries: int = 0  # extra attempts after the first
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    backoff_max: float = 60.0
    jitter: float = 0.1  # +/- fraction of the delay
    timeout: float | None = None  # seconds per attempt
    kill_grace: float = 5.0  # SIGTERM -> SIGKILL delay
    no_retry_exit_codes: list[int] = field(default_factory=list)
    halt_after_failures: int | None = None  # stop starting tasks after N failures
    halt_failure_percent: float | None = None  # ... or when this % of finished tasks failed
    dedupe: bool | None = None  # None: the action decides (actions.default_dedupe)
    out_dir: str | None = None
    max_output: int = DEFAULT_MAX_OUTPUT  # bytes kept per stream per attempt (--max-output)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["priority"] = self.priority.name.lower()
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineSettings:
        """From a stored job or a recipe's ``[settings]`` table; errors name the key
        (``settings.workers``) and, for numbers, the allowed range."""
        if not isinstance(data, Mapping):
            raise InputError("settings", f"expected a table of engine settings, got {data!r}")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise InputError("settings", f"unknown key(s): {', '.join(sorted(unknown))}")
        d = dict(data)
        if "priority" in d:
            if isinstance(d["priority"], bool):
                raise InputError("settings.priority", f"unknown priority {d['priority']!r}")
            d["priority"] = Priority.parse(d["priority"], "settings.priority")
        s = cls(**d)
        s.check(keys=True)
        return s

    def check(self, *, keys: bool = False) -> None:
        """Every value of the right type and in its range (:mod:`tui_batch.model.limits`).

        Errors name the CLI flag, or the recipe/store key (``settings.<name>``) with ``keys``;
        whole numbers given as integral floats (``4.0``) are normalised to ints.
        """
        def name(attr: str, flag: str) -> str:
            return f"settings.{attr}" if keys else flag

        for attr, limit in SETTINGS.items():
            value = getattr(self, attr)
            if value is None and attr in OPTIONAL_SETTINGS:
                continue
            field_name = name(attr, limit.flag)
            if attr == "workers" and type(value) is int and value < 0:
                raise InputError(field_name, "must be 0 (one per CPU) or more")
            setattr(self, attr, limit.check(value, field_name))
        codes = self.no_retry_exit_codes
        if isinstance(codes, str | bytes) or not isinstance(codes, list | tuple):
            raise InputError(name("no_retry_exit_codes", EXIT_CODE.flag),
                             f"expected a list of exit codes ({EXIT_CODE.describe()}), "
                             f"got {codes!r}")
        self.no_retry_exit_codes = [
            int(EXIT_CODE.check(c, name("no_retry_exit_codes", EXIT_CODE.flag))) for c in codes
        ]
        if not isinstance(self.priority, Priority):
            self.priority = Priority.parse(self.priority, name("priority", "--priority"))
        if self.dedupe is not None and not isinstance(self.dedupe, bool):
            raise InputError(name("dedupe", "--dedupe"),
                             f"expected true or false, got {self.dedupe!r}")
        if self.out_dir is not None and (not isinstance(self.out_dir, str) or not self.out_dir):
            raise InputError(name("out_dir", "--out"), f"expected a folder, got {self.out_dir!r}")


@dataclass
class JobSpec:
    """Everything needed to (re)create a job: stored whole in the job store and in recipes."""

    filter: FilterSpec
    action: ActionSpec
    settings: EngineSettings = field(default_factory=EngineSettings)
    name: str | None = None
    steps: list[StepSpec] = field(default_factory=list)
    """A pipeline's steps, in order (empty: one action, ``action``). When there are steps,
    ``action`` is the first step's action (kept in step by :meth:`__post_init__` and
    :meth:`set_steps`)."""

    def __post_init__(self) -> None:
        if self.steps:
            self.action = self.steps[0].action

    def set_steps(self, steps: list[StepSpec]) -> None:
        """Make this job a pipeline (two or more steps) or, with one step or none, a plain job
        of its ``action``."""
        self.steps = list(steps) if len(steps) > 1 else []
        if steps:
            self.action = steps[0].action

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "filter": self.filter.to_dict(),
            "action": self.action.to_dict(),
            "settings": self.settings.to_dict(),
        }
        if self.steps:
            d["steps"] = [s.to_dict() for s in self.steps]
        return d

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        filter_factory: Callable[[Mapping[str, Any]], FilterSpec] | None = None,
    ) -> JobSpec:
        """From a stored job or a recipe. ``filter_factory`` builds the filter from its table
        (default :meth:`FilterSpec.from_dict`, trusted values); a recipe passes
        :func:`tui_batch.select.filter_from_dict` so user text is parsed and validated."""
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise InputError("name", f"expected text, got {name!r}")
        make_filter = filter_factory or FilterSpec.from_dict
        raw_steps = data.get("steps")
        if raw_steps is None:
            return cls(
                filter=make_filter(data.get("filter") or {}),
                action=ActionSpec.from_dict(data.get("action") or {}),
                settings=EngineSettings.from_dict(data.get("settings") or {}),
                name=data.get("name"),
            )
        if not isinstance(raw_steps, list) or not raw_steps:
            raise InputError("steps", "expected one or more [[steps]] tables")
        steps = [StepSpec.from_dict(t, i) for i, t in enumerate(raw_steps, 1)]
        stored = data.get("action")
        if stored and ActionSpec.from_dict(stored) != steps[0].action:
            raise InputError("action", "give either [action] or [[steps]], not both")
        spec = cls(
            filter=make_filter(data.get("filter") or {}),
            action=steps[0].action,
            settings=EngineSettings.from_dict(data.get("settings") or {}),
            name=data.get("name"),
        )
        spec.set_steps(steps)
        return spec
