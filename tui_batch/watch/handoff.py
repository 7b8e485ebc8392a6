"""Handing a watch to another process (the per-user service): what travels with it, and its
job opened before it goes.

Why a module of its own: `tui-batch watch --detach` (the client) and the service must agree on
one plain-JSON description of a watch session, its spec and its watch flags (settle, poll,
rescan, on-stop, watch id, temporary names, retained tasks). The service keeps it in its
registry, so a service restarted after ``kill -9`` starts the very same watch again, with the
flags of the command that detached it (the job's stored ``watch`` entry only has those of the
session that created the job). The client opens the watch's job first, under the watch lock
exactly as a :class:`~.watcher.Watcher` does, so the job id is known at once (printed, given
its ``--after`` links) and a watch already running elsewhere is refused before anything is
handed over; the service's Watcher then finds that same job by the watch's identity.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InputError
from ..jobs.states import QUEUED
from ..model import JobSpec
from ..store import Store, WatchLock, WatchState, identity_key
from .job import WatchJob, watch_identity, with_roots
from .settings import DEFAULT_RETAIN, DEFAULT_SETTLE

__all__ = ["open_watch_job", "watch_entry", "watcher_args"]


def _absolute(spec: JobSpec) -> JobSpec:
    """The spec with absolute roots (as the Watcher makes them): one spelling of each path
    in the client, the service and the identity."""
    return with_roots(spec, [os.path.abspath(os.path.expanduser(r)) for r in spec.filter.roots])


def watch_entry(spec: JobSpec, *, settle: float, poll: bool, rescan: float | None,
                on_stop: str, watch_id: str | None, temp_patterns: Sequence[str],
                retain_finished: int) -> dict[str, Any]:
    """The watch as it travels to the service and stays in its registry (JSON)."""
    return {"spec": _absolute(spec).to_dict(), "settle": float(settle), "poll": bool(poll),
            "rescan": rescan or None, "on_stop": on_stop, "watch_id": watch_id,
            "temp_patterns": list(temp_patterns), "retain_finished": int(retain_finished)}


def _get(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], default: Any) -> Any:
    """``data[key]`` when it has one of ``kinds`` (a bool is no number here), else
    InputError; ``default`` when missing or null."""
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise InputError(f"watch.{key}", f"unexpected value {value!r}")
    return value


def watcher_args(data: object) -> tuple[JobSpec, dict[str, Any]]:
    """``(spec, keyword arguments of Watcher)`` from :func:`watch_entry`'s dict, its shape
    checked (it comes from a socket or a file; the Watcher checks the values' ranges)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("spec"), Mapping):
        raise InputError("watch", "expected the watch's spec and settings")
    spec = JobSpec.from_dict(data["spec"])  # a pipeline's steps included
    temp = _get(data, "temp_patterns", (list,), [])
    if not all(isinstance(t, str) for t in temp):
        raise InputError("watch.temp_patterns", "expected a list of globs")
    return spec, {
        "settle": float(_get(data, "settle", (int, float), DEFAULT_SETTLE)),
        "poll": _get(data, "poll", (bool,), False),
        "rescan": _get(data, "rescan", (int, float), None),
        "on_stop": _get(data, "on_stop", (str,), "finish"),
        "watch_id": _get(data, "watch_id", (str,), None),
        "temp_patterns": tuple(temp),
        "retain_finished": _get(data, "retain_finished", (int,), DEFAULT_RETAIN),
    }


def open_watch_job(store: Store, spec: JobSpec, *, watch_id: str | None, settle: float,
                   poll: bool, rescan: float | None) -> int:
    """Find or create the watch's job as :class:`~.watcher.Watcher` would, under its watch
    lock (InputError when the same watch runs elsewhere), and mark it queued: handed over,
    not running yet. Returns the job id; the lock is released (the service takes it)."""
    spec = _absolute(spec)
    identity, label = watch_identity(spec, watch_id)
    lock = WatchLock(store.path, identity_key(identity))
    lock.acquire()
    state = WatchState(store.path)
    try:
        job = WatchJob(store, state, identity, label)
        job.open(spec, multi_root=len(spec.filter.roots) > 1,
                 watch={"settle": float(settle), "rescan": rescan or None, "poll": poll})
        store.set_job_state(job.job_id, QUEUED)
        return job.job_id
    finally:
        state.close()
        lock.release()
