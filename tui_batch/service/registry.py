"""What the service must remember across its own death: the jobs it runs, its worker limit,
its groups.

Why a file of its own, and JSON: the job stores the service runs may be many (one per
``--db``), and after a ``kill -9`` or an OOM kill the next service must find every job it was
running before it can open any store. The file is small (one entry per job, not per task),
written whole on every change to a temporary file that is fsynced and renamed over the old
one, so a crash leaves either the old or the new registry, never half of one. The jobs' own
state (which task is done) is in their stores, where the job runner keeps it; the registry
only says "these jobs were in my care".

An entry leaves the registry when its job ends, when it is stopped by ``service stop`` or
``tui-batch cancel``/``stop``, or when it turns out, at a restart, to be finished or run by
another process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Entry", "Registry"]

log = logging.getLogger(__name__)

VERSION = 1
KINDS = ("run", "watch")


@dataclass
class Entry:
    """One job in the service's care."""

    db: str
    job_id: int
    group: str | None = None
    kind: str = "run"
    """``run`` (a stored job run to its end) or ``watch`` (a watch session, kept running until
    it is stopped; its job is found again by the watch's identity)."""
    watch: dict[str, Any] | None = None
    """For ``watch``: the spec and the watch settings to start it again with (the plain JSON
    of :func:`tui_batch.watch.handoff.watch_entry`: the flags of the command that detached
    it, which the job's stored spec does not have when an earlier session made the job)."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.db, self.job_id)


@dataclass
class Registry:
    """The registry in memory; :meth:`save` writes it, :meth:`load` reads it back."""

    path: Path
    workers: int | None = None
    groups: dict[str, int] = field(default_factory=dict)
    jobs: list[Entry] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Registry:
        """The registry at ``path``; an empty one when there is none. A damaged file is kept
        aside (``registry.json.bad``) and said in the log, never a reason not to start."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            log.error("service registry %s is unreadable (%s); set aside as %s.bad", path, exc,
                      path.name)
            with contextlib.suppress(OSError):
                os.replace(path, path.with_name(path.name + ".bad"))
            return cls(path)
        reg = cls(path)
        if not isinstance(raw, dict):
            return reg
        workers = raw.get("workers")
        reg.workers = workers if isinstance(workers, int) and workers > 0 else None
        groups = raw.get("groups")
        if isinstance(groups, dict):
            reg.groups = {str(k): int(v) for k, v in groups.items()
                          if isinstance(v, int) and v > 0}
        for item in raw.get("jobs") or ():
            try:
                entry = Entry(db=str(item["db"]), job_id=int(item["job_id"]),
                              group=item.get("group"), kind=item.get("kind", "run"),
                              watch=item.get("watch"))
                if entry.kind not in KINDS or (entry.kind == "watch") != isinstance(
                        entry.watch, dict):
                    raise ValueError(entry.kind)
                reg.jobs.append(entry)
            except (KeyError, TypeError, ValueError):
                log.warning("service registry: entry %r ignored", item)
        return reg

    def save(self) -> None:
        """Write the whole registry atomically (temporary file, fsync, rename)."""
        data = {"version": VERSION, "workers": self.workers, "groups": self.groups,
                "jobs": [asdict(e) for e in self.jobs]}
        text = json.dumps(data, indent=1, ensure_ascii=True)
        folder = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=".registry-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):
            dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def add(self, entry: Entry) -> None:
        self.jobs = [e for e in self.jobs if e.key != entry.key]
        self.jobs.append(entry)
        self.save()

    def remove(self, key: tuple[str, int]) -> None:
        before = len(self.jobs)
        self.jobs = [e for e in self.jobs if e.key != key]
        if len(self.jobs) != before:
            self.save()
