"""The stand-in for a :class:`~tui_batch.jobs.JobRunner` when a dashboard shows a job that
runs in another process (`tui-batch attach`, Enter on a running job in the jobs screen).

Why a module of its own: the dashboard drives "a runner" (``engine``, ``spec``, ``run()``,
``stop()``, ``aclose()``); :class:`RemoteRunner` gives that surface over a
:class:`~.remote.RemoteJob`, with the one difference that matters to a viewer: ``stop()``
detaches and never stops the job.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..errors import ControlError
from ..model import ActionSpec, EngineSettings, FilterSpec, JobSpec
from .remote import RemoteJob

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["RemoteRunner"]

EXIT_OK = 0


def _spec(data: dict[str, Any]) -> JobSpec:
    """A stored spec as the viewer needs it (its settings); never re-validated."""
    try:
        flt = FilterSpec.from_dict(data.get("filter") or {})
        action = ActionSpec.from_dict(data.get("action") or {})
    except Exception:  # a spec this version cannot read: the settings still can be
        flt, action = FilterSpec(), ActionSpec(name="?")
    return JobSpec(filter=flt, action=action,
                   settings=EngineSettings.from_dict(data.get("settings") or {}),
                   name=data.get("name"))


class RemoteRunner:
    """What a dashboard runs when it shows a job running elsewhere: a JobRunner's surface
    (``engine``, ``spec``, ``run``, ``stop``, ``aclose``) over a :class:`RemoteJob`.

    ``run()`` returns when the job ends, with the job's exit code; ``stop()`` detaches (the
    job goes on) and ``run()`` then returns 0."""

    remote = True

    def __init__(self, store: Store, job_id: int) -> None:
        self.store = store
        self.job_id = job_id
        self.spec = JobSpec(filter=FilterSpec(), action=ActionSpec(name="?"))
        self.engine = RemoteJob(store.path, job_id)
        self.detached = False
        """:meth:`stop` was called while the job still ran."""

    async def open(self) -> None:
        """Read the job's spec and connect (at once: the first frame waits for both).
        ControlError when the job is not running."""
        job, served = await asyncio.gather(asyncio.to_thread(self.store.get_job, self.job_id),
                                           self.engine.open())
        self.spec = _spec(job.spec)
        self.engine.settings = self.spec.settings
        if not served:
            raise ControlError(f"job {self.job_id} is not running (nothing serves its "
                               "control socket)")

    async def run(self) -> int:
        """Until the job ends (its exit code), the viewer detaches (0), or the connection
        breaks (ControlError: the job's process is gone without a word)."""
        engine = self.engine
        await engine.wait_ended()
        if engine.ended:
            return EXIT_OK if engine.end_code is None else engine.end_code
        if engine.lost and not self.detached:
            raise ControlError(f"the connection to job {self.job_id} broke: its process ended "
                               f"without saying how (`tui-batch jobs {self.job_id}` shows "
                               "where it stopped)")
        return EXIT_OK

    def stop(self) -> None:
        """Detach: stop watching; the job goes on."""
        if self.engine.connected:
            self.detached = True
        self.engine.detach()

    async def aclose(self) -> None:
        await self.engine.aclose()
