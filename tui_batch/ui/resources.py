"""Locate the packaged TCSS.

The stylesheet lives at the repository top level (``styles/``) so designers find it, and the
wheel force-includes it as ``tui_batch/styles``. An installed app must read the packaged copy;
an editable install (or a source checkout on ``PYTHONPATH``) has no ``tui_batch/styles`` and
falls back to the top-level folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

STYLESHEET = "app.tcss"


def styles_dir() -> Path:
    """The folder holding the app's TCSS files, packaged copy first."""
    try:
        packaged = resources.files("tui_batch") / "styles"
        if packaged.is_dir() and (packaged / STYLESHEET).is_file():
            return Path(str(packaged))
    except (ModuleNotFoundError, NotADirectoryError):  # pragma: no cover - zipped installs
        pass
    return Path(__file__).resolve().parents[2] / "styles"


def stylesheet_path() -> Path:
    """Absolute path of ``app.tcss`` (Textual's CSS_PATH needs a real file)."""
    return styles_dir() / STYLESHEET
