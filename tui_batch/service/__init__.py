"""The per-user service (issue 11): jobs that outlive the terminal, under one queue for the
machine.

`tui-batch run ... --detach` hands a stored job to this long-lived process, started on first
use (:func:`start_background`) or by systemd (`service start --foreground`). It runs each job
with a :class:`~tui_batch.jobs.JobRunner` (so every job keeps its own control socket:
`tui-batch pause/cancel/workers/wait JOB` work unchanged), all under one worker limit, one
priority order and named groups with their own limits (:class:`~tui_batch.engine.SharedLimit`),
and remembers them in a registry so that a service killed by ``kill -9`` picks them up at its
next start. Its own socket (:mod:`.server`, the jobs' protocol) takes ``submit``, ``status``,
``stop`` and the limits. Never imports Textual.
"""

from __future__ import annotations

from .client import ServiceClient, ServiceRefused, connect_service
from .host import Service, check_group_name, check_workers
from .paths import log_path, registry_path, service_dir, service_socket
from .process import AlreadyRunning, run_foreground, start_background, stop_service
from .registry import Entry, Registry

__all__ = [
    "AlreadyRunning",
    "Entry",
    "Registry",
    "Service",
    "ServiceClient",
    "ServiceRefused",
    "check_group_name",
    "check_workers",
    "connect_service",
    "log_path",
    "registry_path",
    "run_foreground",
    "service_dir",
    "service_socket",
    "start_background",
    "stop_service",
]
