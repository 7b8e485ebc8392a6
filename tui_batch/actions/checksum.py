"""The ``checksum`` action: a digest per file, printed as ``sha256sum`` prints it, with
optional sidecar files and one manifest for the whole job.

Why a class of its own: its output name depends on an option (``algo=md5`` writes ``.md5``
sidecars), it writes nothing under ``--out`` with ``sidecar=false``, and ``manifest=PATH``
needs the job-level hooks (:mod:`.jobhooks`): the manifest is written once, when the job ends,
from every done task, including the tasks a killed earlier run finished, so it can never list
half a tree or be half written (atomic replace).
"""

from __future__ import annotations

import copy
import os

from ..errors import InputError
from ..model import ActionSpec, EngineSettings, ExecKind
from .base import TaskContext
from .jobhooks import JobInfo, JobReport, manifest_name
from .manifest import ALGOS, SIDECAR_EXT, digest_of_line, hash_file, sum_line, write_manifest
from .output import OutputError, atomic_write, check_output_path, display_path
from .python import PythonAction

__all__ = ["ChecksumAction", "checksum", "parse_algo", "parse_bool", "sum_line"]

_DEFAULT_SUFFIX = SIDECAR_EXT["sha256"]


def parse_bool(options: dict[str, str], key: str, default: bool) -> bool:
    """``true/false`` (also ``yes/no``, ``1/0``, ``on/off``) for ``--opt key=...``."""
    raw = options.get(key)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise InputError("--opt", f"{key} must be true or false, got {raw!r}")


def parse_algo(options: dict[str, str], default: str | None = "sha256") -> str | None:
    """The ``algo`` option: sha256, md5 or xxh3-128 (``xxh128`` accepted too)."""
    raw = options.get("algo")
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("xxh128", "xxh3"):
        value = "xxh3-128"
    if value not in ALGOS:
        raise InputError("--opt", f"algo must be one of {', '.join(ALGOS)}, got {raw!r}")
    return value


def _wants_sidecar(ctx: TaskContext) -> bool:
    return parse_bool(ctx.options, "sidecar", ctx.out_dir is not None)


def checksum(ctx: TaskContext) -> str | None:
    """A digest of the content, printed as sha256sum (md5sum, xxh128sum) prints it.

    The printed line names the path as given (``sha256sum PATH``). A sidecar (``--out``, or
    ``sidecar=true``) is ``<file>.sha256`` (``.md5``, ``.xxh128``) at the mirrored path, naming
    the file by its base name, so ``sha256sum -c`` run in the file's folder checks it."""
    algo = parse_algo(ctx.options) or "sha256"
    digest = hash_file(ctx.path, algo)
    if _wants_sidecar(ctx):
        if ctx.out_path is None or ctx.out_dir is None:
            raise OutputError("checksum: sidecar=true writes under --out: give --out DIR")
        final = ctx.out_path
        if final.endswith(_DEFAULT_SUFFIX):  # the action as declared; an md5 job's engine
            final = final[: -len(_DEFAULT_SUFFIX)] + SIDECAR_EXT[algo]  # gives .md5 already
        check_output_path(final, ctx.out_dir, ctx.path)
        line = sum_line(digest, os.path.basename(ctx.path))
        with atomic_write(final) as f:
            f.write(line.encode("utf-8", "surrogateescape") + b"\n")
    return sum_line(digest, ctx.path)


def _check_checksum(options: dict[str, str]) -> None:
    parse_algo(options)
    parse_bool(options, "sidecar", False)
    manifest = options.get("manifest")
    if manifest is not None and not manifest.strip():
        raise InputError("--opt", "manifest needs a file name: manifest=PATH")


class ChecksumAction(PythonAction):
    """``checksum``: see :func:`checksum`; ``manifest=PATH`` is written by :meth:`finish_job`."""

    def for_options(self, options: dict[str, str]) -> ChecksumAction:
        """A copy whose sidecar name follows ``algo`` (values are checked later by check)."""
        bound = copy.copy(self)
        try:
            algo = parse_algo(options) or "sha256"
            sidecar = parse_bool(options, "sidecar", True)
        except InputError:
            return bound
        bound.out_suffix = SIDECAR_EXT[algo]
        bound.writes_output = sidecar
        return bound

    def check(self, spec: ActionSpec, settings: EngineSettings) -> None:
        """The usual checks, then: ``sidecar=true`` needs ``--out``; the manifest path is made
        absolute (a resume from another folder writes the same file) and must not be a
        folder nor land in ``--out`` where a sidecar could take its name."""
        super().check(spec, settings)
        options = spec.options
        if parse_bool(options, "sidecar", False) and not settings.out_dir:
            raise InputError("--opt", "sidecar=true writes <file>.<algo> under --out: "
                                      "give --out DIR")
        manifest = options.get("manifest")
        if manifest is not None:
            path = os.path.abspath(os.path.expanduser(manifest))
            if os.path.isdir(path):
                raise InputError("--opt", f"manifest {display_path(path)} is a folder: "
                                          "give a file name")
            options["manifest"] = path

    def prepare_job(self, info: JobInfo) -> dict[int, str]:
        """The manifest never lists itself (it is rewritten at the end of every run)."""
        manifest = info.options.get("manifest")
        if manifest is None:
            return {}
        real = os.path.realpath(manifest)
        return {t.id: "the manifest itself" for t in info.tasks
                if t.state == "queued" and os.path.realpath(t.path) == real}

    def finish_job(self, info: JobInfo) -> JobReport | None:
        """Write the manifest from every done task of the job, sorted by name."""
        manifest = info.options.get("manifest")
        if manifest is None:
            return None
        done = [t for t in info.tasks if t.state == "done"]
        results = info.results([t.id for t in done])
        rows: list[tuple[str, str]] = []
        report = JobReport()
        for t in done:
            digest = digest_of_line(results.get(t.id))
            if digest is None:
                report.lines.append(f"manifest: no checksum recorded for "
                                    f"{display_path(t.path)}; run it again")
                report.failed = True
                continue
            rows.append((manifest_name(t.root, t.rel, info.multi_root), digest))
        try:
            n = write_manifest(manifest, rows)
        except OSError as exc:
            report.lines.append(f"manifest: cannot write {display_path(manifest)}: "
                                f"{exc.strerror or exc}")
            report.failed = True
            return report
        report.lines.append(f"manifest: {n} file{'s' if n != 1 else ''} listed in "
                            f"{display_path(manifest)}")
        return report


def make_checksum() -> ChecksumAction:
    """The built-in ``checksum`` (a thread action: hashlib and xxhash release the GIL)."""
    return ChecksumAction(
        "checksum", checksum, ExecKind.THREAD,
        options={
            "algo": "sha256 (default), md5 or xxh3-128",
            "sidecar": "true: write <file>.<algo> under --out (default: true with --out)",
            "manifest": "PATH: one manifest for the whole job, written when it ends",
        },
        validate=_check_checksum, writes_output=True, out_suffix=_DEFAULT_SUFFIX,
        dedupe_default=False,  # a line for every file, as sha256sum prints one
    )

