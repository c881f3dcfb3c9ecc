"""`tiers quickstart APP`: train on data that ships with the application packages and write what a newcomer
wants to look at. Each application's recipe is a module of this package that reads only public names."""

from __future__ import annotations

import importlib

from tiers.quickstart.common import Quickstart, QuickstartResult, summary

__all__ = ["RECIPES", "Quickstart", "QuickstartResult", "recipe", "summary"]

RECIPES: dict[str, str] = {
    "vision": "tiers.quickstart.vision",
    "segment": "tiers.quickstart.segment",
    "text": "tiers.quickstart.text",
    "tabular": "tiers.quickstart.tabular",
    "collab": "tiers.quickstart.collab",
}
"""Application -> the module whose `QUICKSTART` trains it (imported on demand, so `tiers --help` stays fast)."""


def recipe(app: str) -> Quickstart:
    """The quickstart of `app` (one of `RECIPES`)."""
    if app not in RECIPES:
        raise KeyError(f"no quickstart {app!r}; expected one of {list(RECIPES)}")
    return importlib.import_module(RECIPES[app]).QUICKSTART
