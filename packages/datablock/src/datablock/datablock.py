"""`DataBlock`: say what the inputs and targets are, how to get, split and label the items; get `DataLoaders`."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from datablock._items import check_splits
from datablock.blocks import TransformBlock
from datablock.dataloaders import DataLoaders
from datablock.loader import DataLoader
from datablock.splitters import RandomSplitter
from datablock.tfmdlists import Datasets
from datablock.utils import listify

__all__ = ["DataBlock"]


def _as_block(b: Any, position: int) -> TransformBlock:
    if isinstance(b, TransformBlock):
        return b
    if callable(b):
        made = b()
        if isinstance(made, TransformBlock):
            return made
        raise TypeError(f"DataBlock: block {position} ({b!r}) returned {type(made).__name__}, not a TransformBlock")
    raise TypeError(
        f"DataBlock: block {position} is a {type(b).__name__}; expected a TransformBlock or a block function"
    )


class DataBlock:
    """The recipe for `DataLoaders`: one block per element of a sample, and the functions that fill them.

    - `blocks`: e.g. `(ImageBlock, CategoryBlock)`; the first `n_inp` (default: all but the last) are inputs;
    - `get_items(source)` lists the items; `splitter(items)` gives (train, valid) indices;
    - `get_x`/`get_y` (or `getters`, one per block) turn an item into each element;
    - `item_tfms` run per item (after the blocks' own), `batch_tfms` per batch, on the device.
    """

    def __init__(
        self,
        blocks: Sequence[Any] | None = None,
        dl_type: type[DataLoader] | None = None,
        getters: Sequence[Callable[[Any], Any] | None] | None = None,
        n_inp: int | None = None,
        item_tfms: Any = None,
        batch_tfms: Any = None,
        get_items: Callable[[Any], Any] | None = None,
        splitter: Callable[[Any], tuple[list[int], list[int]]] | None = None,
        get_y: Callable[[Any], Any] | Sequence[Callable[[Any], Any]] | None = None,
        get_x: Callable[[Any], Any] | Sequence[Callable[[Any], Any]] | None = None,
    ) -> None:
        blocks = [TransformBlock(), TransformBlock()] if blocks is None else list(blocks)
        if not blocks:
            raise ValueError("DataBlock: blocks is empty; give one block per element of a sample")
        self.blocks = [_as_block(b, i) for i, b in enumerate(blocks)]
        self.n_inp = n_inp if n_inp is not None else max(1, len(self.blocks) - 1)
        if not 1 <= self.n_inp <= len(self.blocks):
            raise ValueError(f"DataBlock: n_inp={self.n_inp} must be between 1 and the {len(self.blocks)} blocks")
        self.getters = self._getters(getters, get_x, get_y)
        self.get_items, self.splitter = get_items, splitter if splitter is not None else RandomSplitter()
        self.item_tfms = [t for b in self.blocks for t in b.item_tfms] + listify(item_tfms)
        self.batch_tfms = [t for b in self.blocks for t in b.batch_tfms] + listify(batch_tfms)
        self.dl_type = dl_type or next((b.dl_type for b in self.blocks if b.dl_type is not None), None)
        self.dls_kwargs: dict[str, Any] = {}
        for b in self.blocks:
            self.dls_kwargs.update(b.dls_kwargs)

    def _getters(self, getters: Any, get_x: Any, get_y: Any) -> list[Any]:
        n, n_inp = len(self.blocks), self.n_inp
        if getters is not None:
            getters = list(getters)
            if len(getters) != n:
                raise ValueError(f"DataBlock: {len(getters)} getters for {n} blocks; give one per block (None: item)")
            return getters
        xs = listify(get_x) if isinstance(get_x, (list, tuple)) else [get_x] * n_inp
        ys = listify(get_y) if isinstance(get_y, (list, tuple)) else [get_y] * (n - n_inp)
        if len(xs) != n_inp or len(ys) != n - n_inp:
            # the usual cause: several targets with n_inp left at its default (every block but the last)
            guess = n - len(ys) if isinstance(get_y, (list, tuple)) else len(xs)
            hint = f" (with {len(ys)} target getters, did you mean n_inp={guess}?)" if 1 <= guess < n else ""
            raise ValueError(
                f"DataBlock: get_x gives {len(xs)} getters for {n_inp} inputs and get_y {len(ys)} for {n - n_inp} "
                f"targets; give one function or one per block{hint}"
            )
        return xs + ys

    # --- the recipe ----------------------------------------------------------------------------------------
    def type_tfms(self) -> list[list[Any]]:
        """Each element's pipeline: its getter, then its block's type transforms (fresh copies, set up per call)."""
        pipes = [
            ([g] if g is not None else []) + list(b.type_tfms) for g, b in zip(self.getters, self.blocks, strict=True)
        ]
        # copies: a second datasets() call must learn its own vocab (test_each_datasets_call_learns_its_own_vocab)
        return copy.deepcopy(pipes)

    def get_source_items(self, source: Any) -> Any:
        """The items of `source` (`get_items(source)`, or `source` itself); an empty result is an error."""
        items = self.get_items(source) if self.get_items is not None else source
        if not hasattr(items, "__len__"):
            items = list(items)
        if len(items) == 0:
            raise ValueError(
                f"DataBlock: no items found in {source!r}"
                + (f" by get_items={self.get_items!r}" if self.get_items is not None else "")
                + "; check the path and the file extensions"
            )
        return items

    def split(self, items: Any) -> list[list[int]]:
        """Apply the splitter and check the training split is not empty."""
        splits = check_splits(self.splitter(items), len(items))  # index lists or boolean masks, each checked
        if not splits or len(splits[0]) == 0:
            sizes = [len(s) for s in splits]
            raise ValueError(
                f"DataBlock: the training split is empty (split sizes {sizes} for {len(items)} items); "
                f"check the splitter {self.splitter!r} (e.g. the folder names GrandparentSplitter looks for)"
            )
        return splits

    def datasets(self, source: Any) -> Datasets:
        """`Datasets` over the items of `source`, split, with every element's type pipeline set up."""
        items = self.get_source_items(source)
        keep = [k for k, b in enumerate(self.blocks) if b.cache_all]
        return Datasets(items, self.type_tfms(), splits=self.split(items), n_inp=self.n_inp, cache_all=keep)

    def dataloaders(
        self, source: Any, bs: int = 64, shuffle: bool = True, num_workers: int = 0, **kwargs: Any
    ) -> DataLoaders:
        """`DataLoaders` for `source`: train (shuffled) and valid loaders with the item and batch transforms."""
        dsets = self.datasets(source)
        return self.dataloaders_from(dsets, bs=bs, shuffle=shuffle, num_workers=num_workers, **kwargs)

    def dataloaders_from(self, dsets: Datasets, bs: int = 64, shuffle: bool = True, **kwargs: Any) -> DataLoaders:
        """`DataLoaders` over already built `dsets` with this block's item and batch transforms."""
        kw = {**self.dls_kwargs, **kwargs}
        if self.dl_type is not None:
            kw.setdefault("dl_type", self.dl_type)
        targets = self.blocks[self.n_inp :]
        if len(targets) == 1:  # what the one target block says about the model (several: the user decides)
            kw.setdefault("loss_kind", targets[0].loss_kind)
            kw.setdefault("c", targets[0].c)
        return DataLoaders.from_dsets(
            dsets, bs=bs, shuffle_train=shuffle, after_item=self.item_tfms, after_batch=self.batch_tfms, **kw
        )

    def summary(self, source: Any, bs: int = 4, show_batch: bool = False, out: Callable[[str], None] = print) -> Any:
        """Run one sample and one batch through every step, printing each intermediate result.

        On failure it prints and raises an error naming the step, the item and the cause, with advice.
        Returns the batch (or, with `show_batch`, its picture).
        """
        from datablock.summary import run_summary

        return run_summary(self, source, bs=bs, show_batch=show_batch, out=out)

    def __repr__(self) -> str:
        return f"DataBlock(blocks={self.blocks}, n_inp={self.n_inp}, splitter={self.splitter!r})"
