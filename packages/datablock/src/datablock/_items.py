"""Reading items out of any collection: lists, tensors, arrays and pandas DataFrames (row by position)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

__all__ = ["item_at", "iter_items", "select", "short_repr"]


def item_at(items: Any, i: int) -> Any:
    """`items[i]`, where a DataFrame gives its i-th row (a Series) by position."""
    iloc = getattr(items, "iloc", None)
    return iloc[i] if iloc is not None else items[i]


def iter_items(items: Any) -> Iterator[Any]:
    """Iterate items; a DataFrame yields its rows (not its column names)."""
    if hasattr(items, "iloc") and hasattr(items, "columns"):
        for i in range(len(items)):
            yield items.iloc[i]
    else:
        yield from items


def select(items: Any, idxs: Sequence[int]) -> Any:
    """The items at positions `idxs`, keeping the container kind where it is cheap (DataFrame, tensor, list)."""
    iloc = getattr(items, "iloc", None)
    if iloc is not None:
        return iloc[list(idxs)]
    if isinstance(items, torch.Tensor):
        return items[torch.as_tensor(list(idxs), dtype=torch.long)]
    if hasattr(items, "shape") and hasattr(items, "dtype"):  # a numpy array indexes by a list at once
        return items[list(idxs)]
    return [items[i] for i in idxs]


def short_repr(o: Any, n: int = 100) -> str:
    """A repr cut to `n` characters, for error messages that name an item."""
    try:
        r = repr(o)
    except Exception as e:  # noqa: BLE001 - an item whose repr fails must not hide the real error
        r = f"<{type(o).__name__} (repr failed: {e})>"
    r = " ".join(r.split())
    return r if len(r) <= n else r[: n - 3] + "..."
