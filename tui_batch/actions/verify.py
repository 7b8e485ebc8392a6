"""The ``verify`` action: check files against a manifest, as ``sha256sum -c`` does, in parallel.

``tui-batch run DIR --action verify --opt manifest=DIR/SHA256SUMS``: each selected file the
manifest lists is hashed and compared (a mismatch fails its task: ``checksum mismatch:
expected X, got Y``); a selected file the manifest does not list is skipped (``not in the
manifest``, through the ``prepare_job`` hook); when the job ends, the listed files that are
gone are reported (``missing: NAME`` on stderr, counted) and fail the job (exit 1), through
the ``finish_job`` hook (:mod:`.jobhooks`). Names in the manifest are relative to the root
(with several roots: ``<root's base name>/rel``), as ``checksum manifest=`` writes them.
"""

from __future__ import annotations

import os

from ..errors import InputError
from ..model import ActionSpec, EngineSettings, ExecKind
from .base import ActionError, TaskContext, TaskSkipped
from .checksum import parse_algo
from .jobhooks import JobInfo, JobReport, JobTask, manifest_name
from .manifest import Manifest, hash_file, load_manifest
from .output import display_path
from .python import PythonAction

__all__ = ["VerifyAction", "make_verify", "verify"]

NOT_LISTED = "not in the manifest"


def _manifest(options: dict[str, str]) -> Manifest:
    path = options.get("manifest")
    if not path or not path.strip():
        raise InputError("--opt", "verify needs the manifest to check: --opt manifest=PATH")
    return load_manifest(path, parse_algo(options, None))


def _listed(m: Manifest, root: str, rel: str, multi_root: bool | None) -> str | None:
    """The manifest's name for a file, or None. ``multi_root`` None (a task does not know):
    the name under its root first, then with the root's base name in front."""
    names: tuple[str, ...]
    if multi_root is None:
        names = (rel, manifest_name(root, rel, True))
    else:
        names = (manifest_name(root, rel, multi_root),)
    for name in names:
        if name in m.entries:
            return name
    return None


def verify(ctx: TaskContext) -> str | None:
    """Hash the file with the manifest's algorithm and compare it with the listed digest."""
    m = _manifest(ctx.options)
    name = _listed(m, ctx.root, ctx.rel, None)
    if name is None:  # prepare_job skips these up front; a watch or API run gets here
        raise TaskSkipped(NOT_LISTED)
    expected = m.entries[name]
    got = hash_file(ctx.path, m.algo)
    if got != expected:
        raise ActionError(f"checksum mismatch: expected {expected}, got {got}")
    return f"{ctx.path}: OK"


def _check_verify(options: dict[str, str]) -> None:
    parse_algo(options, None)
    _manifest(options)  # refuses a missing or malformed manifest before anything runs


def _on_disk(name: str, info: JobInfo) -> bool:
    if not info.multi_root:
        return os.path.lexists(os.path.join(info.roots[0], name)) if info.roots else False
    rest = name.partition("/")[2]
    return any(manifest_name(root, rest, True) == name
               and os.path.lexists(os.path.join(root, rest)) for root in info.roots)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class VerifyAction(PythonAction):
    """``verify``: see the module docstring."""

    def check(self, spec: ActionSpec, settings: EngineSettings) -> None:
        """The usual checks; the manifest path is made absolute, so a resume from another
        folder reads the same file."""
        super().check(spec, settings)
        path = spec.options.get("manifest")
        if path:
            spec.options["manifest"] = os.path.abspath(os.path.expanduser(path))

    def prepare_job(self, info: JobInfo) -> dict[int, str]:
        """Skip the selected files the manifest does not list."""
        m = _manifest(info.options)
        return {t.id: NOT_LISTED for t in info.tasks
                if t.state == "queued" and _listed(m, t.root, t.rel, info.multi_root) is None}

    def finish_job(self, info: JobInfo) -> JobReport | None:
        """Report the listed files that are gone (the job fails), and count the rest."""
        try:
            m = _manifest(info.options)
        except InputError as exc:
            return JobReport([f"verify: {exc.message}"], failed=True)
        checked: set[str] = set()
        mismatched = 0
        for t in info.tasks:
            if t.state not in ("done", "failed"):
                continue
            name = _task_name(m, t, info.multi_root)
            if name is not None:
                checked.add(name)
                mismatched += t.state == "failed"
        missing: list[str] = []
        unselected = 0
        for name in sorted(m.entries, key=os.fsencode):
            if name in checked:
                continue
            if _on_disk(name, info):
                unselected += 1
            else:
                missing.append(name)
        lines = [f"missing: {display_path(name)}" for name in missing]
        summary = (f"verify: {_plural(len(checked) - mismatched, 'file')} OK, "
                   f"{mismatched:,} mismatched or unreadable, {len(missing):,} missing "
                   f"({_plural(len(m.entries), 'file')} in {display_path(m.path)})")
        lines.append(summary)
        if unselected:
            lines.append(f"verify: {_plural(unselected, 'listed file')} not selected by the "
                         "filter (not checked)")
        return JobReport(lines, failed=bool(missing))


def _task_name(m: Manifest, t: JobTask, multi_root: bool) -> str | None:
    return _listed(m, t.root, t.rel, multi_root) or _listed(m, t.root, t.rel, None)


def make_verify() -> VerifyAction:
    """The built-in ``verify`` (a thread action, as ``checksum``)."""
    return VerifyAction(
        "verify", verify, ExecKind.THREAD,
        description="Check files against a manifest (sha256sum -c): mismatched and missing.",
        options={
            "manifest": "PATH of the manifest to check (sha256sum/md5sum/xxh128sum format)",
            "algo": "sha256, md5 or xxh3-128 (default: from the manifest's name or digests)",
        },
        validate=_check_verify, dedupe_default=False,  # every listed file is checked
    )
