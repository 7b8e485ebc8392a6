"""Where the per-user service keeps its socket, its pid, its log and its registry.

Two folders on purpose. The socket lives in the runtime folder of the control sockets
(:func:`tui_batch.control.runtime_dir`: private, 0700, cleaned by the login session), so that
`tui-batch service status` finds it the way `tui-batch pause 3` finds a job's. What must
survive the process (and a reboot) lives in ``service/`` under the user data folder: the
registry of the jobs it runs (so that a service killed by ``kill -9`` or the OOM killer
finds them again at its next start), its log, its pid file, and the lock that makes it one
service per user (an ``flock``, released by the kernel when the process dies, however it dies).
Both folders follow the environment (``XDG_RUNTIME_DIR``, ``XDG_DATA_HOME``), which is how
tests give each service a private pair.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs

from ..control import runtime_dir
from ..control.paths import MAX_SOCKET_PATH
from ..errors import ControlError

__all__ = ["lock_path", "log_path", "pid_path", "registry_path", "service_dir",
           "service_socket"]

SOCKET_NAME = "service.sock"


def service_dir(*, create: bool = True) -> Path:
    """The service's own folder under the user data folder (made 0700; refused when it is
    not ours or others may enter it: its registry names the job stores it runs)."""
    path = Path(platformdirs.user_data_dir("tui-batch")) / "service"
    if create:
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ControlError(f"cannot create the service folder {path}: {exc.strerror}") \
                from None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ControlError(
            f"service folder {path} is not a private folder of yours (mode "
            f"{stat.S_IMODE(st.st_mode):04o}, uid {st.st_uid}): refusing to use it"
        )
    return path


def service_socket(*, create: bool = True) -> Path:
    """The service's control socket (in the runtime folder, beside the jobs' sockets)."""
    path = runtime_dir(create=create) / SOCKET_NAME
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ControlError(
            f"service socket path {path} is longer than the {MAX_SOCKET_PATH} bytes a Unix "
            "socket allows; set XDG_RUNTIME_DIR to a shorter folder"
        )
    return path


def registry_path() -> Path:
    """The jobs the service runs, its limit and its groups (JSON, replaced atomically)."""
    return service_dir() / "registry.json"


def log_path() -> Path:
    """Where a daemonised service writes its stdout and stderr."""
    return service_dir() / "service.log"


def pid_path() -> Path:
    return service_dir() / "service.pid"


def lock_path() -> Path:
    """Held (flock) by the running service for its whole life: one service per user."""
    return service_dir() / "service.lock"
