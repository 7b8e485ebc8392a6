"""What every extractor shares: loading an optional parser, the options, writing the text.

The heavy parsers (PDF, DOCX, PPTX) are an extra (``pip install 'tui-batch[docs]'``), so they are
imported only inside the task that needs one, through :func:`need`: without the extra a
document's task fails with the command to run, and text files still work. Every failure a user
can do something about is an :class:`ActionError` of one line (it pickles back from a worker).
"""

from __future__ import annotations

import codecs
import importlib
import importlib.util
import re
from dataclasses import dataclass
from types import ModuleType

from ...errors import InputError
from ..base import ActionError, TaskContext
from ..output import OutputError, atomic_write, check_output_path

__all__ = [
    "DOCS_HINT",
    "DOCS_MODULES",
    "PageRange",
    "check_encoding",
    "docs_missing",
    "need",
    "output_path",
    "page_range",
    "tidy",
    "write_output",
]

DOCS_HINT = "install the docs extra: pip install 'tui-batch[docs]'"

DOCS_MODULES = {"pypdfium2": "pypdfium2", "docx": "python-docx", "pptx": "python-pptx"}
"""Module -> the distribution the ``docs`` extra installs for it."""


def need(module: str, what: str) -> ModuleType:
    """Import an optional parser, or fail the task saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name not in (module, None) and not str(exc.name).startswith(module + "."):
            raise ActionError(f"{what}: cannot load {module}: {exc}; {DOCS_HINT}") from None
        raise ActionError(
            f"{what} needs {DOCS_MODULES.get(module, module)}, which is not installed; {DOCS_HINT}"
        ) from None
    except ImportError as exc:  # installed but broken (a missing native library)
        raise ActionError(f"{what}: cannot load {module}: {exc}; {DOCS_HINT}") from None


def docs_missing() -> list[str]:
    """The distributions of the docs extra that are not installed (no import is made)."""
    missing = []
    for module, dist in DOCS_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(dist)
    return missing


# -- options -------------------------------------------------------------------------------


def check_encoding(raw: str) -> str:
    """The codec's canonical name, or ``InputError`` naming the option."""
    name = raw.strip()
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise InputError("--opt", f"encoding: unknown text encoding {raw!r}") from None
    # codecs that turn bytes into bytes (hex, zlib, base64) are not text encodings
    if getattr(info, "_is_text_encoding", True) is False:
        raise InputError("--opt", f"encoding: {raw!r} is not a text encoding")
    return info.name


_RANGE = re.compile(r"^\s*(\d+)?\s*(-)?\s*(\d+)?\s*$")


@dataclass(frozen=True, slots=True)
class PageRange:
    """``pages=1-3,7,10-``: which pages (PDF) or slides (PPTX) to read, counted from 1."""

    spans: tuple[tuple[int, int | None], ...]

    @classmethod
    def parse(cls, raw: str) -> PageRange:
        spans: list[tuple[int, int | None]] = []
        for part in raw.split(","):
            m = _RANGE.match(part)
            if not part.strip() or m is None or not (m.group(1) or m.group(3)):
                raise InputError(
                    "--opt", f"pages: expected numbers and ranges like 1-3,7,10-, got {raw!r}")
            lo_s, dash, hi_s = m.groups()
            lo = int(lo_s) if lo_s else 1
            hi = (int(hi_s) if hi_s else None) if dash else lo
            if lo < 1 or (hi is not None and hi < lo):
                raise InputError("--opt", f"pages: {part.strip()!r} is not a range of pages "
                                          "counted from 1")
            spans.append((lo, hi))
        return cls(tuple(spans))

    def indexes(self, count: int) -> list[int]:
        """The 0-based indexes of the chosen pages of a ``count``-page document, in order."""
        chosen: set[int] = set()
        for lo, hi in self.spans:
            top = count if hi is None else min(hi, count)
            chosen.update(range(lo - 1, top))
        return sorted(chosen)


def page_range(options: dict[str, str]) -> PageRange | None:
    raw = options.get("pages")
    return PageRange.parse(raw) if raw is not None and raw.strip() else None


# -- text ----------------------------------------------------------------------------------

# C0 controls other than tab, newline and form feed (page breaks), DEL, and the non-characters
# and markers some PDF producers leave in their text (U+FFFE, U+FEFF mid-text, U+0002)
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ufeff\ufffe\uffff]")
_LIGATURES = str.maketrans({
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
    "\ufb05": "st", "\ufb06": "st",
})
_TRAILING = re.compile(r"[ \t]+$", re.M)
_BLANKS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """Text from a document's layout, made plain: Unix line ends, no control characters, the
    typographic ligatures spelled out (so "office" is found by grep), no trailing blanks, at
    most one empty line in a row, and one newline at the end (none for an empty text)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", text).translate(_LIGATURES)
    text = _BLANKS.sub("\n\n", _TRAILING.sub("", text)).strip("\n")
    return text + "\n" if text else ""


def write_output(ctx: TaskContext, text: str) -> None:
    """Write the text (UTF-8) to the task's output, atomically, after the output checks."""
    final = output_path(ctx)
    with atomic_write(final) as f:
        # a lone surrogate (a broken document) becomes U+FFFD rather than invalid UTF-8
        f.write(text.encode("utf-8", "replace"))


def output_path(ctx: TaskContext) -> str:
    """The checked output path of the task (the action needs ``--out``)."""
    if ctx.out_path is None or ctx.out_dir is None:
        raise OutputError("extract-text: no output path (give --out DIR)")
    check_output_path(ctx.out_path, ctx.out_dir, ctx.path)
    return ctx.out_path
