"""Labellers: functions that turn an item (usually a file path) into its label."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from datablock.resolver import config_safe

__all__ = ["parent_label", "RegexLabeller"]


@config_safe
def parent_label(o: str | os.PathLike[str]) -> str:
    """The name of the folder holding `o`: the label of an image in `train/<label>/x.png`."""
    if isinstance(o, Path):
        return o.parent.name
    # no Path object per item (this runs every epoch); trailing separators ignored as Path does
    return os.path.basename(os.path.dirname(os.fspath(o).rstrip("/" + os.sep)))


class RegexLabeller:
    """Label = first group of regex `pat` applied to `str(o)` (paths use '/' on every OS).

    `match=True` anchors at the start (`re.match`); otherwise `re.search`. An item that does
    not match raises a `ValueError` naming the item and the pattern.
    """

    config_safe = True  # rebuilt from plain data by datablock.config (it holds only plain arguments)

    def __init__(self, pat: str, match: bool = False) -> None:
        self.pat = pat
        self.match = match
        self._regex = re.compile(pat)
        if self._regex.groups < 1:
            raise ValueError(f"RegexLabeller: pattern {pat!r} has no group; put the label in parentheses")

    def __call__(self, o: Any) -> str:
        s = os.fspath(o) if isinstance(o, os.PathLike) else str(o)
        s = s.replace(os.sep, "/")
        res = self._regex.match(s) if self.match else self._regex.search(s)
        if res is None:
            how = "match" if self.match else "search"
            raise ValueError(f"RegexLabeller: pattern {self.pat!r} does not {how} item {s!r}")
        return res.group(1)

    def __repr__(self) -> str:
        return f"RegexLabeller({self.pat!r}, match={self.match})"
