"""Selecting the files of a job: user text -> FilterSpec -> compiled matcher -> scan ->
duplicates -> preview.

What lives here, one concern per module: :mod:`.values` (sizes and times people type),
:mod:`.parse` (flags and recipe tables -> a validated FilterSpec), :mod:`.globs` and
:mod:`.ignore` (exclude globs, ignore files), :mod:`.matcher` (the compiled filter the scanner
and watch mode share), :mod:`.scanner` (the walk), :mod:`.hashing` and :mod:`.dedupe` (same
content, reading as little as possible), :mod:`.preview` (what a job would do, and its output
collisions). ``select`` may import only ``errors``, ``model`` and ``actions``; the job system,
watch mode and every client build on it. Import from here, not from the submodules.
"""

from __future__ import annotations

from .dedupe import DedupeResult, DedupeStats, find_duplicates
from .hashing import DEFAULT_PREFIX_BYTES, HashCache, HashKey, hash_key
from .ignore import IGNORE_FILES, IgnoreChain, ignored, load_ignore_spec
from .matcher import CompiledFilter, compile_filter
from .parse import check_out_dir, filter_from_dict, filter_from_options, normalise_ext
from .preview import Preview, PreviewRow, build_preview, default_mirror_path, mark_collisions
from .scanner import ScanIssue, ScanResult, scan, scan_all
from .values import parse_size, parse_when

__all__ = [
    "DEFAULT_PREFIX_BYTES",
    "IGNORE_FILES",
    "CompiledFilter",
    "DedupeResult",
    "DedupeStats",
    "HashCache",
    "HashKey",
    "IgnoreChain",
    "Preview",
    "PreviewRow",
    "ScanIssue",
    "ScanResult",
    "build_preview",
    "check_out_dir",
    "compile_filter",
    "default_mirror_path",
    "filter_from_dict",
    "filter_from_options",
    "find_duplicates",
    "hash_key",
    "ignored",
    "load_ignore_spec",
    "mark_collisions",
    "normalise_ext",
    "parse_size",
    "parse_when",
    "scan",
    "scan_all",
]
