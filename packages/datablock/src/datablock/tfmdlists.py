"""`TfmdLists` (one lazy transformed collection) and `Datasets` (parallel ones giving tuples)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from datablock._column import Column, Stored, deterministic
from datablock._items import check_splits, item_at, select, short_repr
from datablock._pipe import as_pipeline
from datablock.dataloaders import DataLoaders
from datablock.errors import ItemError, find_skip
from dispatch_transforms import Pipeline

__all__ = ["TfmdLists", "Datasets"]


class _RawItems(Sequence[Any]):
    """The raw items as a sequence (DataFrames by row) with `.train`/`.valid`: what setup sees."""

    def __init__(self, items: Any, splits: list[list[int]] | None) -> None:
        self.items, self.splits = items, splits

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [item_at(self.items, j) for j in range(len(self))[i]]
        return item_at(self.items, i)

    def __iter__(self) -> Iterator[Any]:
        return (item_at(self.items, i) for i in range(len(self.items)))

    def _subset(self, k: int) -> _RawItems:
        if self.splits is None:
            return self
        return _RawItems(select(self.items, self.splits[k]), None)

    @property
    def train(self) -> _RawItems:
        return self._subset(0)

    @property
    def valid(self) -> _RawItems:
        return self._subset(1)


class TfmdLists:
    """`tfms` applied lazily to `items` on indexing: `tl[i]` is `tfms(items[i])`.

    `splits` (lists of indices, or boolean masks over the items: training first) define
    `.train`/`.valid`/`.subset(k)`; transforms are
    set up on the training items only. An item that fails raises an `ItemError` naming its index,
    the item and the failing transform.

    With `cache=True` and a deterministic pipeline (no random and no split-only step) whose results
    are small tensors (targets), every item is computed once after setup and kept as one tensor
    (`column`): reading an item then costs one indexing, and loaders take whole batches of it at once.

    With `cache_all=True` every item's result is computed once after setup whatever its size (token id
    lists: tokenization runs once per item, not once per epoch) and kept in `store` (`store.lengths()` gives
    each item's length). The pipeline must be deterministic; an item that fails raises then.
    """

    def __init__(
        self,
        items: Any,
        tfms: Any = None,
        splits: Sequence[Sequence[int]] | None = None,
        split_idx: int | None = None,
        do_setup: bool = True,
        cache: bool = False,
        column: Column | None = None,
        cache_all: bool = False,
        store: Stored | None = None,
    ) -> None:
        if not hasattr(items, "__len__"):
            items = list(items)
        self.items = items
        self.splits = None if splits is None else check_splits(splits, len(items))
        self.split_idx = split_idx
        self.tfms: Pipeline = as_pipeline(tfms, split_idx, item_steps=True)
        self.cache = cache
        self.column: Column | None = None  # every item's result, when cached (see `cache`)
        self.cache_all = cache_all
        self.store: Stored | None = store if store is not None and len(store) == len(items) else None
        if do_setup:
            self.setup()
        elif column is not None and len(column) == len(items):
            self.column = column
        elif cache:
            self._build_column()
        if cache_all and self.store is None and not do_setup:
            self._build_store()

    def setup(self, train_setup: bool = True) -> None:
        """Set up the transforms in order, each on the (training) items as the previous ones turn them out."""
        self.column = None
        self.tfms.setup(_RawItems(self.items, self.splits), train_setup=train_setup)
        if self.cache:
            self._build_column()
        if self.cache_all:
            self._build_store()

    def _build_store(self) -> None:
        self.store = None
        if not deterministic(self.tfms):
            steps = [t.name for t in self.tfms.fs if not deterministic(Pipeline([t]))]
            raise ValueError(
                f"TfmdLists(cache_all=True): the pipeline has random or split-only steps {steps}, whose results "
                "must not be kept; move them to item_tfms or drop cache_all"
            )
        self.store = Stored.build(len(self.items), self._compute, lambda e: find_skip(e) is not None)

    def _build_column(self) -> None:
        self.column = None
        if deterministic(self.tfms):
            self.column = Column.build(len(self.items), self._compute)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        if self.column is not None:
            return self.column[i]
        if self.store is not None:
            return self.store[i]
        return self._compute(i)

    def _compute(self, i: int) -> Any:
        item = item_at(self.items, i)
        try:
            return self.tfms(item)
        except Exception as e:
            skip = find_skip(e)
            if skip is not None:
                raise skip from None
            raise ItemError(f"item {i} ({short_repr(item)}) could not be built: {e}") from e

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    @property
    def n_subsets(self) -> int:
        """How many splits there are (2 for train/valid)."""
        return 0 if self.splits is None else len(self.splits)

    def subset(self, k: int) -> TfmdLists:
        """The items of split `k` with the same (already set up) transforms, run as split `k`."""
        if self.splits is None or not 0 <= k < len(self.splits):
            raise IndexError(f"TfmdLists.subset: no split {k} (this list has {self.n_subsets} splits)")
        split = self.splits[k]
        column = None if self.column is None else self.column.subset(split)
        store = None if self.store is None else self.store.subset(split)
        return TfmdLists(select(self.items, split), self.tfms, split_idx=k, do_setup=False, column=column, store=store)

    @property
    def train(self) -> TfmdLists:
        """The training items (split 0)."""
        return self.subset(0)

    @property
    def valid(self) -> TfmdLists:
        """The validation items (split 1)."""
        return self.subset(1)

    def new(self, items: Any, split_idx: int | None = None) -> TfmdLists:
        """Other `items` through the same transforms (already set up), e.g. a test set with `split_idx=1`."""
        return TfmdLists(items, self.tfms, split_idx=split_idx, do_setup=False)

    def decode(self, o: Any, full: bool = True) -> Any:
        """Undo the transforms on `o` (with `full=False`, only until it can show itself)."""
        return self.tfms.decode(o, full=full)

    def show(self, o: Any, ctx: Any = None, **kwargs: Any) -> Any:
        """Decode `o` until it can show itself and show it into `ctx`."""
        return self.tfms.show(o, ctx=ctx, **kwargs)

    @property
    def vocab(self) -> Any:
        """The vocab of the last transform that has one (e.g. `Categorize`), else None."""
        for t in reversed(self.tfms.fs):
            v = getattr(t, "vocab", None)
            if v is not None:
                return v
        return None

    def __repr__(self) -> str:
        return f"TfmdLists: {len(self)} items through {self.tfms!r}"


class Datasets:
    """Parallel `TfmdLists` over the same items: `ds[i]` is `(x_tfms(items[i]), y_tfms(items[i]), ...)`.

    `tfms` holds one list of transforms per element of a sample; the first `n_inp` elements are
    inputs (default: all but the last). With `cache_targets` (default) the targets' pipelines are
    computed once per item when they are deterministic and give small tensors (see `TfmdLists`):
    a getter or labeller that is not a pure function of the item needs `cache_targets=False`.
    `cache_all` lists the pipelines (by position) whose results of any size are kept (`TfmdLists(cache_all=)`),
    e.g. a text input's token ids.
    """

    def __init__(
        self,
        items: Any = None,
        tfms: Sequence[Any] | None = None,
        splits: Sequence[Sequence[int]] | None = None,
        n_inp: int | None = None,
        split_idx: int | None = None,
        do_setup: bool = True,
        tls: Sequence[TfmdLists] | None = None,
        cache_targets: bool = True,
        cache_all: Sequence[int] = (),
    ) -> None:
        if tls is None:
            if items is None:
                raise ValueError("Datasets: give items (and tfms), or tls")
            tfms = [None] if tfms is None else list(tfms)
            k_inp = n_inp if n_inp is not None else max(1, len(tfms) - 1)
            tls = [
                TfmdLists(
                    items, t, splits, split_idx, do_setup, cache=cache_targets and k >= k_inp, cache_all=k in cache_all
                )
                for k, t in enumerate(tfms)
            ]
        if not tls:
            raise ValueError("Datasets: no pipelines (tfms is empty)")
        lens = {len(tl) for tl in tls}
        if len(lens) > 1:
            raise ValueError(f"Datasets: the TfmdLists have different lengths {sorted(lens)}")
        self.tls = list(tls)
        self.n_inp = n_inp if n_inp is not None else max(1, len(self.tls) - 1)
        if not 1 <= self.n_inp <= len(self.tls):
            raise ValueError(f"Datasets: n_inp={self.n_inp} is not between 1 and the {len(self.tls)} pipelines")

    @property
    def items(self) -> Any:
        """The raw items (shared by every pipeline)."""
        return self.tls[0].items

    @property
    def splits(self) -> list[list[int]] | None:
        """The index lists of the splits (training first), or None."""
        return self.tls[0].splits

    @property
    def split_idx(self) -> int | None:
        """Which split this dataset runs as (0 train, 1 valid, None: both)."""
        return self.tls[0].split_idx

    def __len__(self) -> int:
        return len(self.tls[0])

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        return tuple(tl[i] for tl in self.tls)

    def columns(self) -> dict[int, Column]:
        """The elements of a sample kept as columns (position -> `Column`): loaders batch them at once."""
        return {k: tl.column for k, tl in enumerate(self.tls) if tl.column is not None}

    def partial_item(self, i: int, skip: Sequence[int]) -> tuple[Any, ...]:
        """Sample `i` without the elements at positions `skip` (those a loader takes from `columns()`)."""
        return tuple(tl[i] for k, tl in enumerate(self.tls) if k not in skip)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return (self[i] for i in range(len(self)))

    @property
    def n_subsets(self) -> int:
        """How many splits there are (2 for train/valid)."""
        return self.tls[0].n_subsets

    def subset(self, k: int) -> Datasets:
        """Split `k` of every pipeline."""
        return Datasets(tls=[tl.subset(k) for tl in self.tls], n_inp=self.n_inp)

    @property
    def train(self) -> Datasets:
        """The training samples (split 0)."""
        return self.subset(0)

    @property
    def valid(self) -> Datasets:
        """The validation samples (split 1)."""
        return self.subset(1)

    def new(self, items: Any, split_idx: int | None = None, with_labels: bool = True) -> Datasets:
        """Other `items` through the same pipelines; `with_labels=False` keeps only the input pipelines."""
        tls = self.tls if with_labels else self.tls[: self.n_inp]
        return Datasets(tls=[tl.new(items, split_idx) for tl in tls], n_inp=self.n_inp)

    def decode(self, o: Sequence[Any], full: bool = True) -> tuple[Any, ...]:
        """Decode each element of sample `o` with its own pipeline."""
        return tuple(tl.decode(x, full=full) for x, tl in zip(o, self.tls, strict=False))

    def show(self, o: Sequence[Any], ctx: Any = None, **kwargs: Any) -> Any:
        """Show each element of sample `o` in turn into one context (an image, then its label as title)."""
        for x, tl in zip(o, self.tls, strict=False):
            ctx = tl.show(x, ctx=ctx, **kwargs)
        return ctx

    @property
    def vocab(self) -> Any:
        """The target's vocab (from the last pipeline that has one), or None."""
        for tl in reversed(self.tls[self.n_inp :] or self.tls):
            v = tl.vocab
            if v is not None:
                return v
        return None

    def dataloaders(self, bs: int = 64, shuffle_train: bool = True, **kwargs: Any) -> DataLoaders:
        """`DataLoaders` over the train and valid splits (see `DataLoaders.from_dsets`)."""
        return DataLoaders.from_dsets(self, bs=bs, shuffle_train=shuffle_train, **kwargs)

    def __repr__(self) -> str:
        return f"Datasets: {len(self)} samples, {len(self.tls)} pipelines, n_inp={self.n_inp}"
