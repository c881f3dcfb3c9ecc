"""Reading items out of any collection: lists, tensors, arrays and pandas DataFrames (row by position)."""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import torch

__all__ = ["item_at", "iter_items", "select", "short_repr", "is_bool", "split_indices", "check_splits"]


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


def is_bool(x: Any) -> bool:
    """A Python or numpy boolean (numpy's is not a `bool`, and neither is an integer)."""
    return isinstance(x, bool) or (type(x).__module__ == "numpy" and type(x).__name__ in ("bool_", "bool"))


def _values(split: Any, where: str) -> tuple[list[Any], str | None]:
    """The entries of `split` as Python values, and "bool"/"int" when its dtype says (tensors, arrays)."""
    if isinstance(split, (str, bytes)) or not hasattr(split, "__iter__"):
        raise TypeError(f"{where}: expected a list of indices or a boolean mask, got {short_repr(split)}")
    dtype = getattr(split, "dtype", None)
    if dtype is not None and hasattr(split, "tolist"):  # a tensor or an array: its dtype decides
        if isinstance(dtype, torch.dtype):
            kind = "bool" if dtype == torch.bool else None if dtype.is_floating_point or dtype.is_complex else "int"
        else:  # numpy: kind "b" boolean, "i"/"u" integers
            kind = {"b": "bool", "i": "int", "u": "int"}.get(getattr(dtype, "kind", ""))
        if kind is None:
            raise TypeError(f"{where}: expected integer indices or a boolean mask, got {dtype} values")
        values = split.tolist()
        return (values if isinstance(values, list) else [values]), kind
    return list(split), None


def split_indices(split: Any, n: int, where: str) -> list[int]:
    """The item indices of one split of `n` items: a list (array, tensor) of indices, or a boolean mask of length n.

    A mask is read as a mask (its true positions), never as the indices 0 and 1. Entries that are neither
    all booleans nor all integers (floats, strings, a mix) are refused, as are indices outside the items.
    """
    values, kind = _values(split, where)
    if kind is None and values:
        bools = [is_bool(v) for v in values]
        if all(bools):
            kind = "bool"
        elif any(bools):
            raise TypeError(f"{where}: mixes booleans and other values; give indices or a boolean mask, not both")
        else:
            bad = [v for v in values if not isinstance(v, numbers.Integral)]
            if bad:
                raise TypeError(f"{where}: expected integer indices or a boolean mask, got {short_repr(bad[0])}")
    if kind == "bool":
        if len(values) != n:
            raise ValueError(f"{where}: a boolean mask needs one entry per item ({n}), got {len(values)}")
        return [i for i, m in enumerate(values) if m]
    idxs = [int(i) for i in values]
    bad_idx = [i for i in idxs if not 0 <= i < n]
    if bad_idx:
        raise IndexError(f"{where}: indices {bad_idx[:5]} are outside the {n} items")
    return idxs


def check_splits(splits: Any, n: int) -> list[list[int]]:
    """Each split of `splits` (training first) as a list of indices into `n` items (see `split_indices`)."""
    if isinstance(splits, (str, bytes)) or not hasattr(splits, "__iter__"):
        raise TypeError(f"splits: expected a list of splits (training first), got {short_repr(splits)}")
    return [split_indices(s, n, f"split {k}") for k, s in enumerate(splits)]
