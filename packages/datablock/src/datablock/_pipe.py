"""Turning the transform arguments users pass (None, a callable, a list) into pipelines, and undoing them."""

from __future__ import annotations

from typing import Any

from datablock.utils import listify
from dispatch_transforms import ItemTransform, Pipeline, Transform

__all__ = ["as_pipeline", "decode_with", "tfm_name", "ItemFunc", "item_step"]


def tfm_name(tfm: Any) -> str:
    """A short readable name of a transform or function, for messages."""
    name = getattr(tfm, "name", None)
    if isinstance(name, str):
        return name
    return getattr(tfm, "__name__", None) or type(tfm).__name__


class ItemFunc(ItemTransform):
    """A plain function as a pipeline step that receives the whole item (a tuple too) and is not dispatched:
    getters and labellers take any item, whatever their annotations say."""

    retain = False  # the function's result as it is

    def __init__(self, func: Any) -> None:
        super().__init__()
        self.func = func
        self.name = tfm_name(func)

    def encodes(self, x: object) -> Any:
        return self.func(x)


def item_step(f: Any) -> Any:
    """`f` ready for an item pipeline: Transforms as they are, other callables as `ItemFunc`."""
    if isinstance(f, Transform) or (isinstance(f, type) and issubclass(f, Transform)) or not callable(f):
        return f
    return ItemFunc(f)


def as_pipeline(tfms: Any, split_idx: int | None = None, *, item_steps: bool = False) -> Any:
    """`tfms` (None, one step, a list of them or a `Pipeline`) as what runs them, as split `split_idx`.

    A loader's hooks (the default): None or `[]` → None (nothing to run); a single callable stays itself (it
    receives the whole batch); a list → a `Pipeline` whose plain functions are dispatched `Transform(f)`s
    (each element of a tuple in turn); a `Pipeline` is re-made only for another, given `split_idx`.

    A dataset's pipeline (`item_steps=True`, `TfmdLists`): always a `Pipeline` running exactly as `split_idx`
    (None included); plain functions are `ItemFunc` steps receiving the whole item, whatever their annotations.
    """
    if isinstance(tfms, Pipeline):
        if tfms.split_idx == split_idx or (split_idx is None and not item_steps):
            return tfms
        return Pipeline(tfms.fs, split_idx=split_idx)
    if item_steps:
        return Pipeline([item_step(f) for f in listify(tfms)], split_idx=split_idx)
    if tfms is None:
        return None
    if isinstance(tfms, (list, tuple)):
        return Pipeline(list(tfms), split_idx=split_idx) if tfms else None
    if not callable(tfms):
        raise TypeError(f"expected a transform, a callable or a list of them, got {type(tfms).__name__}")
    return tfms


def decode_with(tfm: Any, o: Any) -> Any:
    """`tfm.decode(o)` when `tfm` can decode, else `o` unchanged."""
    dec = getattr(tfm, "decode", None)
    return o if dec is None else dec(o)
