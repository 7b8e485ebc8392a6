"""Ctrl+S and Ctrl+O of the filter form: save the form as a TOML recipe, fill it from one.

Kept apart from the form screen so that the screen holds its fields and checks; this is only
the round trip through :class:`~tui_batch.ui.dialogs.recipe.RecipeDialog`, which runs the load
or save itself so that a bad recipe's error ("steps[2].options: ...") shows under the path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from textual.screen import Screen

from ..jobs import load_recipe, save_recipe
from ..model import JobSpec
from .dialogs.recipe import RecipeDialog

__all__ = ["ask_load", "ask_save"]


def ask_save(screen: Screen[Any], spec: JobSpec) -> None:
    """Ask where to save ``spec`` as a recipe (for ``tui-batch run --recipe``) and save it."""

    def save(path: str) -> str:
        save_recipe(spec, os.path.expanduser(path))
        return path

    def done(path: str | None) -> None:
        if path:
            screen.notify(f"Saved {path}", title="Recipe")

    screen.app.push_screen(RecipeDialog("Save recipe", "recipe.toml", save), done)


def ask_load(screen: Screen[Any], loaded: Callable[[JobSpec], None]) -> None:
    """Ask for a recipe and give its spec to ``loaded``; a bad recipe names the wrong key in
    the dialog."""

    def load(path: str) -> JobSpec:
        return load_recipe(os.path.expanduser(path))

    def done(spec: Any) -> None:
        if isinstance(spec, JobSpec):
            loaded(spec)
            screen.notify("Recipe loaded", title="Recipe")

    screen.app.push_screen(RecipeDialog("Open recipe", "recipe.toml", load), done)
