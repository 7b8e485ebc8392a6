"""``--results DIR``: each task's stdout, stderr and exit status as files, as GNU parallel has it.

Why a module of its own: the folder must be refused or fenced off before the job is planned,
and the files must never be seen half-written. Layout: ``DIR/<rel>/stdout``, ``DIR/<rel>/stderr``
and ``DIR/<rel>/exitval`` (the exit code and a newline), ``<rel>`` being the input's path under
its root (under the root's name with several roots, as ``--out`` mirrors them). Each file is
written to a temporary name beside it and renamed into place, so a reader sees the old file or
the new one; a task that runs again (a retry, a resume, a watch's new version of the file)
replaces its files.

A pipeline (``[[steps]]``, ``--then``) files each step apart: ``DIR/<rel>/step-<N>/stdout``,
``stderr`` and ``exitval``, N counted from 1, ``<rel>`` the scanned file's (not an intermediate
output's) for every step, so ``DIR/report.pdf/step-2/exitval`` is what step 2 did to
``report.pdf``.

Where DIR may be (:func:`check_results_dir`): not an input root (``DIR/a.txt/stdout`` cannot be
made beside the input ``a.txt``), and not the ``--out`` folder, inside it or around it (the same
clash with the outputs). Inside a root it is fine: it is left out of the scan, and out of a
watch, like ``--out``, so results never become inputs of this job or of the next run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import InputError
from .task_output import Captured, tag_name

if TYPE_CHECKING:
    from ..engine import Task
    from ..model import JobSpec

__all__ = ["ResultsDir", "check_results_dir", "exit_value", "fence_off"]

FLAG = "--results"


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_results_dir(results: str, roots: Sequence[str], out_dir: str | None) -> str:
    """The absolute results folder, created; refused (InputError) where it would clash with
    the inputs or the outputs (see the module doc)."""
    path = os.path.abspath(os.path.expanduser(results))
    real = os.path.realpath(path)
    for root in roots:
        root_abs = os.path.abspath(os.path.expanduser(root))
        if real == os.path.realpath(root_abs):
            raise InputError(FLAG, f"the results folder cannot be the input folder {root!r} "
                                   "(its files would be made among the inputs)")
    if out_dir:
        out_real = os.path.realpath(os.path.abspath(os.path.expanduser(out_dir)))
        if _inside(real, out_real) or _inside(out_real, real):
            raise InputError(FLAG, f"the results folder and --out {out_dir!r} must be apart "
                                   "(a task's output file and its results folder would clash)")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise InputError(FLAG, f"cannot create {results!r}: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(FLAG, f"cannot write in {results!r}")
    return path


def fence_off(spec: JobSpec, results: str) -> None:
    """Leave a results folder that lies inside an input root out of the scan (and a watch)."""
    real = os.path.realpath(results)
    for root in spec.filter.roots:
        if _inside(real, os.path.realpath(os.path.abspath(root))):
            if results not in spec.filter.excludes:
                spec.filter.excludes.append(results)
            return


def exit_value(task: Task) -> int:
    """The status a shell would give: the exit code; 128 + N for a kill by signal N; 1 for a
    failure that has neither (a Python action that raised, a timeout without a code)."""
    if task.exit_code is not None:
        return task.exit_code
    if task.signal is not None:
        return 128 + task.signal
    return 0 if task.state.value == "done" else 1


class ResultsDir:
    """Writes the results files of each task whose result stands (done, failed, cancelled)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.errors = 0
        """Tasks whose files could not be written (said once, on stderr)."""

    def write(self, task: Task, cap: Captured, multi_root: bool, *, step: int | None = None,
              name: str | None = None) -> None:
        """The task's three files, each replaced atomically. A pipeline's task: ``step``
        (0-based) and ``name``, its file's (:func:`tag_name` of its first-step task)."""
        rel = name or tag_name(task, multi_root)
        if os.path.isabs(rel) or ".." in rel.split(os.sep):
            return  # not a path inside its root: never aim a file outside DIR
        where = os.path.join(self.folder, rel)
        if step is not None:
            where = os.path.join(where, f"step-{step + 1}")
        try:
            os.makedirs(where, exist_ok=True)
            for name, data in (("stdout", cap.stdout), ("stderr", cap.stderr),
                               ("exitval", b"%d\n" % exit_value(task))):
                _atomic(os.path.join(where, name), data)
        except OSError as exc:
            self.errors += 1
            if self.errors == 1:
                import sys

                sys.stderr.write(f"tui-batch: warning: --results: cannot write "
                                 f"{os.fsencode(where).decode('utf-8', 'backslashreplace')}: "
                                 f"{exc.strerror} (said once)\n")
                sys.stderr.flush()


def _atomic(path: str, data: bytes) -> None:
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tbtmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW,
                 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
