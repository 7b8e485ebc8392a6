"""Plain data shared by the scanner, actions, engine, store and every client.

Nothing here imports Textual (enforced by tests/test_architecture.py). Specs serialise to plain
dicts (``to_dict``/``from_dict``) because a job stores its full spec in SQLite and a recipe file
stores it as TOML; ``from_dict`` validates, so a hand-edited recipe is refused with the key named.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import InputError


class Priority(enum.IntEnum):
    """Queue priority. Higher runs first; FIFO within a level."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3

    @classmethod
    def parse(cls, value: str | int | Priority, field_name: str = "--priority") -> Priority:
        """Accept names in any case ('high') or the numbers 0-3."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                raise InputError(field_name, f"unknown priority {value!r}") from None
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            names = ", ".join(p.name.lower() for p in cls)
            raise InputError(field_name, f"unknown priority {value!r} (use {names})") from None


class TaskState(enum.StrEnum):
    """Life cycle of one task. Terminal states: DONE, FAILED, CANCELLED, SKIPPED."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"  # was running when the process died; re-queued by resume

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED})


class ExecKind(enum.StrEnum):
    """How an action is executed; the engine picks the executor from this."""

    SUBPROCESS = "subprocess"  # command templates
    THREAD = "thread"  # blocking I/O Python actions
    PROCESS = "process"  # CPU-bound Python actions
    ASYNC = "async"  # native coroutines


@dataclass
class FilterSpec:
    """Which files a job selects. Values are already parsed (bytes, epoch seconds, regex text).

    Parse user text with :func:`tui_batch.filters.filter_from_options`; construct directly only
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
    def from_dict(cls, data: dict[str, Any]) -> FilterSpec:
        from .filters import filter_from_dict

        return filter_from_dict(data)


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
    def from_dict(cls, data: dict[str, Any]) -> ActionSpec:
        known = {"template", "shell", "name", "options"}
        unknown = set(data) - known
        if unknown:
            raise InputError("action", f"unknown key(s): {', '.join(sorted(unknown))}")
        spec = cls(
            template=data.get("template"),
            shell=bool(data.get("shell", False)),
            name=data.get("name"),
            options={str(k): str(v) for k, v in (data.get("options") or {}).items()},
        )
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
    dedupe: bool = True
    out_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["priority"] = self.priority.name.lower()
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineSettings:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise InputError("settings", f"unknown key(s): {', '.join(sorted(unknown))}")
        d = dict(data)
        if "priority" in d:
            d["priority"] = Priority.parse(d["priority"])
        s = cls(**d)
        s.check()
        return s

    def check(self) -> None:
        if self.workers < 0:
            raise InputError("--workers", "must be 0 (one per CPU) or more")
        if self.retries < 0:
            raise InputError("--retries", "must be 0 or more")
        if self.backoff < 0:
            raise InputError("--backoff", "must be 0 or more seconds")
        if self.timeout is not None and self.timeout <= 0:
            raise InputError("--timeout", "must be more than 0 seconds")
        if self.halt_failure_percent is not None and not 0 < self.halt_failure_percent <= 100:
            raise InputError("--halt", "percentage must be in (0, 100]")


@dataclass
class JobSpec:
    """Everything needed to (re)create a job: stored whole in the job store and in recipes."""

    filter: FilterSpec
    action: ActionSpec
    settings: EngineSettings = field(default_factory=EngineSettings)
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "filter": self.filter.to_dict(),
            "action": self.action.to_dict(),
            "settings": self.settings.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        return cls(
            filter=FilterSpec.from_dict(data.get("filter") or {}),
            action=ActionSpec.from_dict(data.get("action") or {}),
            settings=EngineSettings.from_dict(data.get("settings") or {}),
            name=data.get("name"),
        )


@dataclass(slots=True)
class FileEntry:
    """One selected file, as the scanner saw it.

    ``path`` is a str that may carry surrogate escapes (non-UTF-8 names, PEP 383); it is passed
    to the OS as-is and stored as bytes (``os.fsencode``), so names round-trip byte-exact.
    """

    path: str
    root: str
    rel: str  # path relative to root
    size: int
    mtime_ns: int
    dev: int = 0
    ino: int = 0
