"""`CategoryMap` (a vocab with its reverse index) and the decoded label types `Category`/`MultiCategory`."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from typedtensor import Canvas

__all__ = ["CategoryMap", "Category", "MultiCategory"]


class CategoryMap:
    """The ordered labels of a target (`vocab[i]` is a label) and `o2i`, label → index.

    Built from the training labels: unique, sorted when `sort` (and sortable), with a leading
    '#na#' when `add_na` (unknown labels map to it).
    """

    def __init__(self, items: Iterable[Hashable], sort: bool = True, add_na: bool = False) -> None:
        seen: dict[Hashable, None] = {}
        for o in items:
            if o is None or (isinstance(o, float) and o != o):  # missing labels are not classes
                continue
            seen.setdefault(o, None)
        labels: list[Any] = list(seen)
        if sort:
            try:
                labels = sorted(labels)
            except TypeError:  # mixed types: keep first-seen order
                pass
        if add_na:
            labels = ["#na#", *[o for o in labels if o != "#na#"]]
        self.items = labels
        self.add_na = add_na
        self.o2i = {o: i for i, o in enumerate(labels)}

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        return self.items[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __contains__(self, o: object) -> bool:
        return o in self.o2i

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CategoryMap):
            return self.items == other.items
        if isinstance(other, (list, tuple)):
            return self.items == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self.items))

    def index(self, o: Hashable, owner: str = "CategoryMap") -> int:
        """The index of label `o`; an unknown label maps to '#na#' when there is one, else raises `KeyError`."""
        try:
            return self.o2i[o]
        except (KeyError, TypeError):
            if self.add_na:
                return 0
            if o is None or (isinstance(o, float) and o != o):  # a missing label, not a label of another split
                raise KeyError(
                    f"{owner}: a target is {o!r}: the labels hold a missing value (NaN/None). Drop or fill the "
                    "missing labels, or pass add_na=True to map them to '#na#'"
                ) from None
            shown = self.items[:10]
            more = f" ... ({len(self.items)} labels)" if len(self.items) > 10 else ""
            raise KeyError(
                f"{owner}: label {o!r} is not in the vocab learned from the training set {shown}{more}; "
                "it appears only outside the training split. Pass add_na=True to map unknown labels to '#na#', "
                "or give the full vocab explicitly"
            ) from None

    def __repr__(self) -> str:
        return f"CategoryMap({self.items!r})"


class Category(str):
    """A decoded label: a `str` that shows itself as the title of a canvas."""

    def show(self, ctx: Any = None, **kwargs: Any) -> Any:
        """Set `ctx`'s title to this label (a new empty canvas when `ctx` is None)."""
        del kwargs
        ctx = Canvas(0, 0) if ctx is None else ctx
        ctx.title = str(self)
        return ctx


class MultiCategory(list[Any]):
    """Decoded multi-labels: a list of labels that shows itself as a ';'-joined title."""

    def show(self, ctx: Any = None, **kwargs: Any) -> Any:
        """Set `ctx`'s title to the labels joined by ';'."""
        del kwargs
        ctx = Canvas(0, 0) if ctx is None else ctx
        ctx.title = "; ".join(str(o) for o in self)
        return ctx
