"""A job the TUI starts, handed to the per-user service and watched from the dashboard.

Why a module of its own: the brief says every job started from the dashboard runs in the
service (closing the terminal or losing the SSH connection never stops it), so the TUI needs
what `run --detach` does (start the service on first use, submit the stored job) plus one
thing `--detach` does not: to watch the job it has just handed over, at once. The runner here
is the dashboard's stand-in for a :class:`~tui_batch.jobs.JobRunner`: a
:class:`~tui_batch.control.remote_runner.RemoteRunner` whose ``open()`` hands the job over
first and then attaches, waiting the few milliseconds until the job serves its socket.

When the service cannot take the job (it cannot be started, its folders are refused, it is
stopping), :class:`ServiceUnavailable` says why, and the TUI runs the job in its own process
instead: a job is never lost. ``TUI_BATCH_INPROCESS=1`` asks for that in-process path from
the start (the test suite, and programs embedding the TUI that manage their own processes).
Never imports Textual.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..control.remote_runner import RemoteRunner
from ..errors import ControlError
from ..jobs import JobRunner
from ..jobs.states import DONE, EXIT_FAILED, EXIT_OK, FINAL_STATES

if TYPE_CHECKING:
    from ..model import JobSpec
    from ..store import Store

__all__ = ["INPROCESS_ENV", "EndedRunner", "JobEnded", "ServiceRunner", "ServiceUnavailable",
           "before_hand_over", "for_service", "hand_over", "in_process", "watch_runner"]

INPROCESS_ENV = "TUI_BATCH_INPROCESS"
"""Set (to anything but ``0`` or empty): the TUI runs its jobs in its own process."""
ATTACH_WAIT = 10.0
"""Seconds the dashboard waits for a job the service has taken to serve its socket (it is
built before the service answers; serving starts as its run does)."""
STALE_STATE = 0.5
"""Seconds after the hand-over from which a final stored state is the run's own end."""


_BEFORE: list[Callable[[str, int], None]] = []


def before_hand_over(hook: Callable[[str, int], None]) -> None:
    """Call ``hook(db, job_id)`` (in the hand-over's thread) before each job this process
    hands over: the demo keeps its temp tree then, since a job will run in it elsewhere."""
    _BEFORE.append(hook)


def in_process() -> bool:
    """The TUI runs jobs in its own process (:data:`INPROCESS_ENV`), not in the service."""
    return os.environ.get(INPROCESS_ENV, "").strip() not in ("", "0")


def for_service(spec: JobSpec) -> JobSpec:
    """``spec`` (changed in place) with absolute roots and output folder when its job will
    run in the service, which runs in a folder of its own (in-process: left as typed)."""
    if not in_process():
        spec.filter.roots = [os.path.abspath(os.path.expanduser(r)) for r in spec.filter.roots]
        if spec.settings.out_dir:
            spec.settings.out_dir = os.path.abspath(os.path.expanduser(spec.settings.out_dir))
    return spec


class ServiceUnavailable(ControlError):
    """The service could not take the job (the message says why); it was not handed over."""


class JobEnded(ControlError):
    """The job ended in the service before the dashboard could attach (its stored state in
    :attr:`state`): there is nothing to watch, only a finished job to show."""

    def __init__(self, job_id: int, state: str) -> None:
        super().__init__(f"job {job_id} ended ({state}) before the dashboard attached")
        self.state = state


def hand_over(db: str, job_id: int, *, watch: dict[str, Any] | None = None,
              group: str | None = None) -> dict[str, Any]:
    """Give stored job ``job_id`` of store ``db`` to the service, started if none runs
    (blocking: call it in a thread). Returns the service's answer plus ``service_pid`` and
    ``started`` (this call started the service). ``watch``: the job is a watch with these
    settings (:func:`tui_batch.watch.handoff.watch_entry`).

    Raises :class:`ServiceUnavailable` when the job was not handed over."""
    from .process import start_background

    try:
        client, started = start_background()
    except ControlError as exc:
        raise ServiceUnavailable(f"the service did not start: {exc}") from None
    except OSError as exc:  # its log or folder could not be opened
        raise ServiceUnavailable(f"the service did not start: {exc}") from None
    with client:
        for hook in _BEFORE:
            hook(db, job_id)
        extra: dict[str, Any] = {} if watch is None else {"kind": "watch", "watch": watch}
        try:
            answer = client.call("submit", timeout=60.0, db=os.path.realpath(db),
                                 job_id=job_id, group=group, **extra)
        except ControlError as exc:
            raise ServiceUnavailable(f"the service did not take job {job_id}: {exc}") \
                from None
        return {**answer, "service_pid": client.pid, "started": started}


class ServiceRunner(RemoteRunner):
    """A job this dashboard hands to the service and then watches: a RemoteRunner whose
    :meth:`open` submits the job first. Leaving (``stop()``) detaches, as for any viewer;
    stopping the job itself is ``engine.stop()`` (the job's ``stop`` control)."""

    handed_over = True
    """This dashboard started the job (unlike a viewer of `tui-batch attach`): quitting it
    asks whether to leave the job running or to stop it."""

    def __init__(self, store: Store, job_id: int, *,
                 watch: dict[str, Any] | None = None) -> None:
        super().__init__(store, job_id)
        self.watch = watch
        """The watch's settings when the job is a watch (handed over as one)."""
        self.service_pid: int | None = None
        """The service's process, once it has taken the job."""
        self.service_started = False
        """The hand-over started the service (its first use)."""
        self.local: Callable[[], Any] | None = None
        """Builds the runner that runs the job in this process when the service cannot take
        it (a watch's :class:`~tui_batch.watch.Watcher`; None: a JobRunner)."""

    async def open(self) -> None:
        """Hand the job over (:class:`ServiceUnavailable`: it stays here, untouched), then
        attach; :class:`JobEnded` when it ended before its socket could be reached."""
        answer = await asyncio.to_thread(hand_over, self.store.path, self.job_id,
                                         watch=self.watch)
        self.service_pid = answer.get("service_pid")
        self.service_started = bool(answer.get("started"))
        loop = asyncio.get_running_loop()
        taken = loop.time()
        deadline = taken + ATTACH_WAIT
        delay = 0.005
        while True:
            try:
                await super().open()
                return
            except ControlError:
                if self.engine.info:  # connected, then refused or broken: not a start race
                    raise
                # A state stored before this run (a resumed job's) is not its end: the
                # service marks the job running as its run starts, within milliseconds.
                state = (await asyncio.to_thread(self.store.get_job, self.job_id)).state
                if state in FINAL_STATES and loop.time() - taken > STALE_STATE:
                    raise JobEnded(self.job_id, state) from None
                if loop.time() >= deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)


def watch_runner(store: Store, spec: JobSpec, options: dict[str, Any]) -> ServiceRunner:
    """`tui-batch watch` on a terminal: the watch's job opened here (its id known at once;
    InputError when the same watch runs elsewhere, WatchError or InputError for settings it
    refuses) and a runner that hands the watch to the service; when the service cannot take
    it, the runner's :attr:`~ServiceRunner.local` builds the same watch in this process.
    ``options``: the Watcher's keyword arguments (those the service cannot be given, as the
    test-only ``poll_delay_ms``, apply in this process only)."""
    from functools import partial

    from ..jobs import resolve_checked_action
    from ..watch import DEFAULT_RESCAN, DEFAULT_RETAIN, DEFAULT_SETTLE, Watcher
    from ..watch.handoff import open_watch_job, watch_entry
    from ..watch.settings import check_settings
    from ..watch.temp import compile_temp_patterns

    spec = for_service(spec)
    defaults: dict[str, Any] = {
        "settle": DEFAULT_SETTLE, "poll": False, "rescan": DEFAULT_RESCAN, "on_stop": "finish",
        "watch_id": None, "temp_patterns": (), "retain_finished": DEFAULT_RETAIN}
    given = {k: options.get(k, default) for k, default in defaults.items()}  # what travels
    check_settings(settle=given["settle"], rescan=given["rescan"],
                   retain_finished=given["retain_finished"], on_stop=given["on_stop"])
    compile_temp_patterns(given["temp_patterns"])
    resolve_checked_action(spec)  # refused here, before the job is stored
    job_id = open_watch_job(store, spec, watch_id=given["watch_id"], settle=given["settle"],
                            poll=given["poll"], rescan=given["rescan"])
    runner = ServiceRunner(store, job_id, watch=watch_entry(spec, **given))
    runner.local = partial(Watcher, spec, store, **options)
    return runner


class EndedRunner:
    """A job handed to the service that ended before its dashboard could attach (a fast
    job): its stored tasks, shown as a finished run; running it runs nothing."""

    def __init__(self, runner: JobRunner, state: str) -> None:
        self._runner = runner
        self.store = runner.store
        self.job_id = runner.job_id
        self.spec = runner.spec
        self.engine = runner.engine
        self.state = state
        """The job's stored end state (done, failed, cancelled, dependency failed)."""

    async def run(self) -> int:
        """The exit code of the run the service made."""
        return EXIT_OK if self.state == DONE else EXIT_FAILED

    def stop(self) -> None:
        """Nothing runs here."""

    async def aclose(self) -> None:
        await self._runner.aclose()
