"""Small helpers shared by the datablock modules and the apps built on them."""

from __future__ import annotations

from typing import Any

__all__ = ["listify"]


def listify(x: Any) -> list[Any]:
    """`x` as a list: None → `[]`, a list or tuple → its elements, anything else → `[x]`.

    For arguments that take one thing or several (`item_tfms`, `type_tfms`, `get_x`...). Unlike fastai's
    `listify`, only lists and tuples are unpacked: a string, a tensor, a `Pipeline`, a generator or any other
    iterable is one element.

    >>> listify(None), listify(3), listify((1, 2))
    ([], [3], [1, 2])
    """
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]
