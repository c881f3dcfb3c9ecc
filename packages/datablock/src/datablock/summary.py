"""`DataBlock.summary`: one sample and one batch through every step, printed, with the failing step named."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from datablock._items import item_at, short_repr
from datablock._pipe import ItemFunc, tfm_name
from datablock.errors import CollateError, ItemError
from datablock.tfmdlists import Datasets

if TYPE_CHECKING:
    from datablock.datablock import DataBlock

__all__ = ["run_summary", "describe"]


def describe(x: Any) -> str:
    """A one-line description of an intermediate result: type, shape and dtype for tensors."""
    if isinstance(x, torch.Tensor):
        meta = getattr(x, "meta", None)
        extra = f", {', '.join(f'{k}={short_repr(v, 40)}' for k, v in meta.items())}" if meta else ""
        return f"{type(x).__name__} of shape {tuple(x.shape)}, dtype {x.dtype}{extra}"
    if isinstance(x, tuple):
        return "(" + ", ".join(describe(o) for o in x) + ")"
    if type(x).__module__.startswith("PIL"):
        return f"PIL image, mode {x.mode}, size (w, h) {x.size}"
    return f"{short_repr(x, 100)} ({type(x).__name__})"


def _advice(step: str, e: BaseException, x: Any) -> str:
    chain: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__
    if any(isinstance(c, CollateError) for c in chain):
        return (
            "items must share one shape to be stacked into a batch: add a resize/crop to item_tfms "
            "(e.g. a Resize transform), or use bs=1 to look at single items"
        )
    msg = " ".join(str(c) for c in chain)
    if "vocab" in msg:
        return "a label is missing from the training vocab: pass add_na=True to the block, or give the vocab"
    if step.startswith("getter"):
        return (
            f"the getter receives one raw item (here a {type(x).__name__}); check get_x/get_y/getters "
            "accept it and return what the block's first type transform expects"
        )
    return (
        f"the step received a {type(x).__name__}; check that it accepts what the previous step returns, "
        "and that the transforms are in the right order"
    )


def _fail(out: Callable[[str], None], step: str, idx: Any, item: Any, x: Any, e: BaseException) -> ItemError:
    root = e
    while root.__cause__ is not None and isinstance(root, ItemError):
        root = root.__cause__
    text = (
        f"Error: step '{step}' failed on item {idx} ({short_repr(item)}):\n"
        f"  {type(root).__name__}: {root}\n"
        f"Advice: {_advice(step, e, x)}"
    )
    out(text)
    return ItemError(f"DataBlock.summary: {text}")


def _run_steps(
    out: Callable[[str], None], fs: Sequence[Any], x: Any, split_idx: int, where: str, idx: Any, item: Any
) -> Any:
    for k, f in enumerate(fs):
        step = f"getter {tfm_name(f)}" if where.startswith("pipeline") and k == 0 and _is_getter(f) else tfm_name(f)
        try:
            x = f(x, split_idx=split_idx) if hasattr(f, "split_idx") else f(x)
        except Exception as e:
            raise _fail(out, f"{step} ({where})", idx, item, x, e) from e
        out(f"    applying {tfm_name(f)} gives\n      {describe(x)}")
    return x


def _is_getter(f: Any) -> bool:
    return isinstance(f, ItemFunc)  # plain functions (getters) are wrapped so, see _pipe.item_step


def run_summary(
    dblock: DataBlock, source: Any, bs: int = 4, show_batch: bool = False, out: Callable[[str], None] = print
) -> Any:
    """The body of `DataBlock.summary` (see there)."""
    out(f"Collecting items from {short_repr(source)}")
    try:
        items = dblock.get_source_items(source)
    except Exception as e:
        raise _fail(out, f"get_items {tfm_name(dblock.get_items)}", "-", source, source, e) from e
    out(f"Found {len(items)} items")
    try:
        splits = dblock.split(items)
    except Exception as e:
        raise _fail(out, f"splitter {dblock.splitter!r}", "-", source, items, e) from e
    out(f"{len(splits)} datasets of sizes {','.join(str(len(s)) for s in splits)}")
    try:
        dsets = Datasets(items, dblock.type_tfms(), splits=splits, n_inp=dblock.n_inp)
    except Exception as e:
        raise _fail(out, "setting up the type pipelines", "-", "(training items)", items, e) from e
    for k, tl in enumerate(dsets.tls):
        out(f"Setting up Pipeline {k}: {' -> '.join(tfm_name(f) for f in tl.tfms.fs) or '(nothing)'}")

    idx = splits[0][0]
    item = item_at(items, idx)
    out(f"\nBuilding one sample (item {idx} of the training set)")
    sample = []
    for k, tl in enumerate(dsets.tls):
        out(f"  Pipeline {k}: {' -> '.join(tfm_name(f) for f in tl.tfms.fs) or '(nothing)'}")
        out(f"    starting from\n      {describe(item)}")
        sample.append(_run_steps(out, tl.tfms.fs, item, 0, f"pipeline {k}", idx, item))
    out(f"\nFinal sample: {describe(tuple(sample))}")

    dls = dblock.dataloaders_from(dsets, bs=bs, num_workers=0)
    dl = dls.train
    train_idx = splits[0][: min(bs, len(splits[0]))]
    out(f"\nBuilding one batch of {len(train_idx)} items")
    samples = []
    for j, i in enumerate(train_idx):
        raw = item_at(items, i)
        try:
            s = dsets[i]
        except Exception as e:
            raise _fail(out, "type pipelines", i, raw, raw, e) from e
        if j == 0:
            out("Applying item_tfms to the first sample:")
        fs = dl.after_item.fs if dl.after_item is not None else []
        if j == 0:
            out(f"  Pipeline: {' -> '.join(tfm_name(f) for f in fs) or '(nothing)'}")
            out(f"    starting from\n      {describe(s)}")
            s = _run_steps(out, fs, s, 0, "item_tfms", i, raw)
        else:
            s = _run_steps(lambda _: None, fs, s, 0, "item_tfms", i, raw)
        samples.append(s)
    if dl.before_batch is not None:
        out("Applying before_batch to the list of items")
        try:
            samples = dl.before_batch(samples)
        except Exception as e:
            raise _fail(out, "before_batch", train_idx, "(the batch's items)", samples, e) from e
    out("Collating items in a batch")
    try:
        batch = dl.collate_fn(samples)
    except Exception as e:
        raise _fail(out, "collate", train_idx, "(the batch's items)", samples, e) from e
    out(f"    gives\n      {describe(batch)}")
    fs = dl.after_batch.fs if dl.after_batch is not None else []
    out(f"\nApplying batch_tfms to the batch\n  Pipeline: {' -> '.join(tfm_name(f) for f in fs) or '(nothing)'}")
    batch = _run_steps(out, fs, batch, 0, "batch_tfms", train_idx, "(the batch)")
    out(f"\nFinal batch: {describe(batch)}")
    return dls.show_batch(batch) if show_batch else batch
