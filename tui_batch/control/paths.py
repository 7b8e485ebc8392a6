"""Where a running job's control socket lives, decided the same way by the job and by every
client (`tui-batch pause 3` in another shell must find the socket the job made).

The folder is private: `$XDG_RUNTIME_DIR/tui-batch` (a per-user tmpfs the login session
cleans), else `run/` under the data folder. Anyone who can write to that folder could put a
fake socket in the job's place or remove the real one, so a folder that is not ours or that
others may enter is refused, never repaired: we never chmod a folder we did not make.

The socket's name is derived from the job store's real path and the job id, so two stores
with a job 3 each get their own socket, and a path given as `./jobs.db` or through a symlink
finds the same one. The hash keeps the name short: Unix socket paths are limited to about
107 bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from ..errors import ControlError

__all__ = ["MAX_SOCKET_PATH", "runtime_dir", "socket_path", "store_key"]

MAX_SOCKET_PATH = 107
"""Bytes a Unix socket path may have on Linux (sun_path is 108 bytes with its NUL)."""


def _usable_xdg(value: str | None) -> Path | None:
    """``$XDG_RUNTIME_DIR`` when it names an absolute directory owned by us, else None (then
    the data folder is used, as the XDG spec says a missing or foreign one should be)."""
    if not value or not os.path.isabs(value):
        return None
    try:
        st = os.stat(value)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return None
    return Path(value)


def _check_private(path: Path) -> None:
    """Refuse ``path`` unless it is a real directory of ours that nobody else may enter."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise ControlError(f"runtime folder {path}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise ControlError(
            f"runtime folder {path} is not a folder (a symlink or a file): refusing to use it "
            "for control sockets; remove it"
        )
    if st.st_uid != os.getuid():
        raise ControlError(
            f"runtime folder {path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}): "
            "refusing to use it for control sockets"
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise ControlError(
            f"runtime folder {path} has permissions {mode:04o}: others could reach the control "
            f"sockets; refusing to use it (fix it with: chmod 700 {path})"
        )


def runtime_dir(*, create: bool = True) -> Path:
    """The private folder of control sockets, created (mode 0700) unless ``create`` is false.

    Raises :class:`ControlError` when the folder exists but is not private to us, or cannot
    be made. With ``create=False`` a missing folder is returned as it is (a client then simply
    finds no socket)."""
    base = _usable_xdg(os.environ.get("XDG_RUNTIME_DIR"))
    path = base / "tui-batch" if base is not None else Path(
        _user_data_dir()) / "run"
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise ControlError(f"cannot create the runtime folder {path}: {exc.strerror}") from None
    elif not os.path.lexists(path):
        return path
    _check_private(path)
    return path


def store_key(db_path: str) -> str:
    """12 hex digits naming a job store: the same for every spelling of its path."""
    real = os.path.realpath(os.path.expanduser(db_path))
    return hashlib.sha256(os.fsencode(real)).hexdigest()[:12]


def socket_path(db_path: str, job_id: int, *, create: bool = True) -> Path:
    """The control socket of job ``job_id`` of the store at ``db_path``.

    Raises :class:`ControlError` when the runtime folder is unsafe (see :func:`runtime_dir`)
    or the path is too long for a Unix socket."""
    path = runtime_dir(create=create) / f"{store_key(db_path)}-{int(job_id)}.sock"
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ControlError(
            f"control socket path {path} is longer than the {MAX_SOCKET_PATH} bytes a Unix "
            "socket allows; set XDG_RUNTIME_DIR to a shorter folder"
        )
    return path


def _user_data_dir() -> str:
    import platformdirs  # only without $XDG_RUNTIME_DIR: it costs a control command time

    return platformdirs.user_data_dir("tui-batch")
