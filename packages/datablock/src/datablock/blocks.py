"""Blocks: what a kind of data contributes to a `DataBlock` (type transforms, item and batch transforms).

An application adds its own kinds (images, masks, points, text) by returning a `TransformBlock`
from a function, e.g. `def ImageBlock(): return TransformBlock(type_tfms=[open_image], batch_tfms=[...])`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from datablock.losskind import check_loss_kind
from datablock.transforms import (
    Categorize,
    EncodedMultiCategorize,
    MultiCategorize,
    OneHotEncode,
    RegressionSetup,
)
from datablock.utils import listify

__all__ = ["TransformBlock", "CategoryBlock", "MultiCategoryBlock", "RegressionBlock"]


class TransformBlock:
    """One kind of data: `type_tfms` turn a raw item into a typed one; `item_tfms`/`batch_tfms` are added
    to the loaders' per-item and per-batch transforms; `dl_type` (a `DataLoader` subclass) and
    `dls_kwargs` let a block ask for a special loader.

    What a target block says about the model, as plain data: `loss_kind` (see `check_loss_kind`; default:
    the one declared by the last type transform that has a `loss_kind` attribute, e.g. `Categorize`) and
    `c`, the number of classes or outputs when the block knows it up front (e.g. a mask's codes; else
    the loaders learn it from the vocab or `RegressionSetup.c`). `cache_all=True` keeps every item's result
    of the block's (deterministic) type pipeline, whatever its size, so e.g. tokenization runs once per item.

    An item transform that needs another element of the sample (a point's `canvas_size` from the image) is an
    `ItemTransform` in `item_tfms`: it receives the whole sample tuple.
    """

    def __init__(
        self,
        type_tfms: Any = None,
        item_tfms: Any = None,
        batch_tfms: Any = None,
        dl_type: type | None = None,
        dls_kwargs: dict[str, Any] | None = None,
        loss_kind: str | dict[str, Any] | None = None,
        c: int | None = None,
        cache_all: bool = False,
    ) -> None:
        self.type_tfms = listify(type_tfms)
        self.item_tfms = listify(item_tfms)
        self.batch_tfms = listify(batch_tfms)
        self.dl_type = dl_type
        self.dls_kwargs = dict(dls_kwargs or {})
        if loss_kind is None:
            loss_kind = next((t.loss_kind for t in reversed(self.type_tfms) if hasattr(t, "loss_kind")), None)
        self.loss_kind = check_loss_kind(loss_kind, "TransformBlock(loss_kind=)")
        if c is not None and (not isinstance(c, int) or isinstance(c, bool) or c < 1):
            raise ValueError(f"TransformBlock: c must be a positive int (classes or outputs), got {c!r}")
        self.c = c
        self.cache_all = cache_all

    def __repr__(self) -> str:
        names = [getattr(t, "name", getattr(t, "__name__", type(t).__name__)) for t in self.type_tfms]
        return f"TransformBlock(type_tfms={names})"


# Blocks are functions spelled like types (as fastai users know them): each returns a TransformBlock.
def CategoryBlock(vocab: Iterable[Hashable] | None = None, sort: bool = True, add_na: bool = False) -> TransformBlock:
    """A single-label classification target: labels → `TensorCategory` with a vocab from the training set."""
    return TransformBlock(type_tfms=[Categorize(vocab=vocab, sort=sort, add_na=add_na)])


def MultiCategoryBlock(
    encoded: bool = False, vocab: Iterable[Hashable] | None = None, add_na: bool = False
) -> TransformBlock:
    """A multi-label target: a list of labels (or, `encoded=True`, 0/1 values named by `vocab`) → one-hot."""
    if encoded:
        if vocab is None:
            raise ValueError("MultiCategoryBlock(encoded=True) needs vocab= (the names of the encoded columns)")
        return TransformBlock(type_tfms=[EncodedMultiCategorize(vocab=vocab)])
    return TransformBlock(type_tfms=[MultiCategorize(vocab=vocab, add_na=add_na), OneHotEncode()])


def RegressionBlock(n_out: int | None = None) -> TransformBlock:
    """A regression target: numbers (or lists of them) → float tensors; `n_out` outputs (learned if None)."""
    return TransformBlock(type_tfms=[RegressionSetup(c=n_out)], c=n_out)
