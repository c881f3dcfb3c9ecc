"""The errors datablock raises on bad data, and `SkipItem`, which lets a transform drop a corrupt item."""

from __future__ import annotations

__all__ = ["SkipItem", "ItemError", "CollateError", "find_skip"]


class SkipItem(Exception):
    """Raise from a getter or transform to drop this item from its batch (counted and warned once per epoch)."""


class ItemError(RuntimeError):
    """An item could not be built: the message names the index, the item and the failing step."""


class CollateError(ValueError):
    """Items of one batch could not be stacked (different shapes or types); the message says how to fix it."""


def find_skip(e: BaseException) -> SkipItem | None:
    """The `SkipItem` behind `e`, if `e` is one or was raised from one (transform wrappers chain errors)."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, SkipItem):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None
