"""`Column`: a deterministic pipeline's results for every item, computed once and kept as one tensor.

Targets (a category index, a one-hot vector, a few regression values) cost more to rebuild per item
and per pass than to keep: a column gives `col[i]` for one item, and `col.batch(idxs)` gives a whole
batch's targets with one indexing (no per-item work, no collate), in the workers too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch

from datablock.collate import _plain, retype
from dispatch_transforms import ItemTransform, Pipeline, RandTransform, Transform

__all__ = ["Column", "Stored", "deterministic", "leaves_alone"]

MAX_NUMEL = 4096  # per item: larger results (images, masks) are recomputed, not kept in memory


def _same_meta(t: torch.Tensor, proto: torch.Tensor) -> bool:
    a, b = t.__dict__, proto.__dict__
    return len(a) == len(b) and all(k in a and a[k] is v for k, v in b.items())


def deterministic(p: Pipeline) -> bool:
    """True when `p` gives the same result for an item every time, in every split: no random step and
    no step restricted to one split (plain functions are taken to be pure, as getters and labellers are)."""
    return all(not isinstance(t, RandTransform) and getattr(t, "split_idx", None) is None for t in p.fs)


def leaves_alone(tfms: Any, proto: torch.Tensor) -> bool:
    """True when item transforms `tfms` provably pass an element typed like `proto` through unchanged:
    each is a tuple-mapping `Transform` with no `encodes` for that type (so the element can skip them)."""
    if tfms is None:
        return True
    fs = tfms.fs if isinstance(tfms, Pipeline) else [tfms]
    for t in fs:
        if not isinstance(t, Transform) or isinstance(t, ItemTransform):
            return False
        if t.encodes.table.lookup(type(proto)) is not None:
            return False
    return True


class Column:
    """Every item's result of a deterministic pipeline as one stacked tensor, re-typed like the first."""

    def __init__(self, data: torch.Tensor, proto: torch.Tensor) -> None:
        self.data, self.proto = data, proto

    @classmethod
    def build(cls, n: int, get: Callable[[int], Any]) -> Column | None:
        """`get(i)` for every `i < n` as a column, or None when the results are not small tensors of one
        type, shape, dtype and metadata (or one of them fails: the error then surfaces per item, as usual)."""
        if n == 0:
            return None
        try:
            proto = get(0)
            if not isinstance(proto, torch.Tensor) or proto.numel() > MAX_NUMEL or proto.requires_grad:
                return None
            typ, shape, dtype, device = type(proto), proto.shape, proto.dtype, proto.device
            values = [_plain(proto)]
            for i in range(1, n):
                v = get(i)
                if not (
                    type(v) is typ
                    and v.shape == shape
                    and v.dtype == dtype
                    and v.device == device
                    and _same_meta(v, proto)
                ):
                    return None
                values.append(_plain(v))
        except Exception:  # noqa: BLE001 - a failing item is reported when it is read, with its index
            return None
        return cls(torch.stack(values), proto)

    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        # a copy: a caller editing its item in place must not change the kept value
        return retype(self.data[i].clone(), self.proto)

    def subset(self, idxs: Sequence[int]) -> Column:
        """The column of the items at positions `idxs`."""
        return Column(self.data[torch.as_tensor(list(idxs), dtype=torch.long)], self.proto)

    def batch(self, idxs: Sequence[int]) -> torch.Tensor:
        """The stacked (collated) values of the items at positions `idxs`, typed like the items."""
        return retype(self.data[torch.as_tensor(idxs, dtype=torch.long)], self.proto)


class Stored:
    """Every item's result of a deterministic pipeline, of any size (token id lists), computed once.

    Tensors of one type, dtype and metadata whose first axis varies are kept as one flat tensor with
    offsets (cheap to send to workers); other results as a list. A `SkipItem` raised while building is
    raised again when that item is read, so the loader drops it as usual.
    """

    def __init__(self, data: Any, offsets: torch.Tensor | None, proto: Any, skipped: dict[int, Exception]) -> None:
        self.data, self.offsets, self.proto, self.skipped = data, offsets, proto, skipped

    @classmethod
    def build(cls, n: int, get: Callable[[int], Any], is_skip: Callable[[Exception], bool]) -> Stored:
        """`get(i)` for every `i < n` (errors other than skips propagate, naming the item)."""
        values: list[Any] = []
        skipped: dict[int, Exception] = {}
        for i in range(n):
            try:
                values.append(get(i))
            except Exception as e:
                if not is_skip(e):
                    raise
                skipped[i] = e
                values.append(None)
        kept = [v for v in values if v is not None]
        proto = kept[0] if kept else None
        if isinstance(proto, torch.Tensor) and proto.ndim >= 1 and all(_same_kind(v, proto) for v in kept):
            lens = torch.tensor([0 if v is None else v.shape[0] for v in values], dtype=torch.long)
            offsets = torch.cat([torch.zeros(1, dtype=torch.long), lens.cumsum(0)])
            return cls(torch.cat([_plain(v) for v in kept]), offsets, proto, skipped)
        return cls(values, None, proto, skipped)

    def __len__(self) -> int:
        return len(self.data) if self.offsets is None else len(self.offsets) - 1

    def __getitem__(self, i: int) -> Any:
        if i in self.skipped:
            raise self.skipped[i]
        if self.offsets is None:
            return copy.copy(self.data[i])  # a shallow copy: editing a list item in place must not change it
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return retype(self.data[a:b].clone(), self.proto)

    def lengths(self) -> list[int]:
        """Each item's length (first axis, or `len`), e.g. for loaders that sort or bucket by length."""
        if self.offsets is not None:
            return (self.offsets[1:] - self.offsets[:-1]).tolist()
        return [0 if v is None else len(v) for v in self.data]

    def subset(self, idxs: Sequence[int]) -> Stored:
        """The store of the items at positions `idxs`."""
        idxs = list(idxs)
        skipped = {k: self.skipped[i] for k, i in enumerate(idxs) if i in self.skipped}
        if self.offsets is None:
            return Stored([self.data[i] for i in idxs], None, self.proto, skipped)
        lens = self.offsets[1:] - self.offsets[:-1]
        parts = [self.data[int(self.offsets[i]) : int(self.offsets[i + 1])] for i in idxs]
        sub_lens = lens[torch.as_tensor(idxs, dtype=torch.long)] if idxs else torch.zeros(0, dtype=torch.long)
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), sub_lens.cumsum(0)])
        data = torch.cat(parts) if parts else self.data[:0]
        return Stored(data, offsets, self.proto, skipped)


def _same_kind(v: Any, proto: torch.Tensor) -> bool:
    return (
        type(v) is type(proto)
        and v.ndim == proto.ndim
        and v.shape[1:] == proto.shape[1:]
        and v.dtype == proto.dtype
        and v.device == proto.device
        and _same_meta(v, proto)
    )
