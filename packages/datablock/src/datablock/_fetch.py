"""The pieces behind `DataLoader`: batch index orders, the fetchers torch's workers call, device moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import TensorDataset

from datablock._column import Column, leaves_alone
from datablock.collate import _plain, retype
from datablock.errors import find_skip

__all__ = [
    "Batch",
    "BatchIndices",
    "batch_columns",
    "Fetcher",
    "Collate",
    "TensorFetcher",
    "take",
    "to_device",
    "tensor_columns",
    "unwrap_batch",
]

Tfms = Callable[[Any], Any] | Sequence[Callable[[Any], Any]] | None


def _map_tensors(fn: Callable[[torch.Tensor], torch.Tensor], b: Any) -> Any:
    """Apply `fn` to every tensor of a batch (tuples, lists, dicts), re-typing each result like its input."""
    if isinstance(b, torch.Tensor):
        return retype(fn(_plain(b)), b)
    if isinstance(b, tuple):
        return tuple(_map_tensors(fn, o) for o in b)
    if isinstance(b, list):
        return [_map_tensors(fn, o) for o in b]
    if isinstance(b, Mapping):
        return {k: _map_tensors(fn, v) for k, v in b.items()}
    return b


def to_device(b: Any, device: torch.device | str | None, non_blocking: bool = False) -> Any:
    """Move every tensor of batch `b` to `device`, keeping types, tuples and metadata."""
    if device is None:
        return b
    return _map_tensors(lambda t: t.to(device, non_blocking=non_blocking), b)


def tensor_columns(ds: Any) -> tuple[torch.Tensor, ...] | torch.Tensor | None:
    """The tensors behind an in-memory dataset (fast path), or None."""
    if isinstance(ds, torch.Tensor):
        return ds
    if isinstance(ds, TensorDataset):
        return tuple(ds.tensors)
    if isinstance(ds, tuple) and ds and all(isinstance(t, torch.Tensor) for t in ds):
        n = ds[0].shape[0]
        if any(t.shape[0] != n for t in ds):
            raise ValueError(f"DataLoader: the tensors of a tuple dataset differ in length: {[t.shape[0] for t in ds]}")
        return ds
    return None


class Batch:
    """A collated batch and the items dropped by `SkipItem` on its way (crosses the worker boundary)."""

    def __init__(self, data: Any, skipped: list[tuple[int, str]]) -> None:
        self.data = data
        self.skipped = skipped

    def pin_memory(self) -> Batch:  # called by torch's pin-memory thread
        self.data = _map_tensors(lambda t: t.pin_memory(), self.data)
        return self


class BatchIndices:
    """Index lists, one per batch: consecutive `bs`-sized chunks of the pass's order `get_idxs()` (the last one
    dropped with `drop_last`); a new order on every pass. Used as torch's `batch_sampler`."""

    def __init__(
        self, get_idxs: Callable[[], Sequence[int]], bs: int, drop_last: bool, length: Callable[[], int]
    ) -> None:
        self.get_idxs, self.bs, self.drop_last, self.length = get_idxs, bs, drop_last, length
        self.next_order: Sequence[int] | None = None  # None: not drawn yet for the coming pass

    def take_order(self) -> Sequence[int]:
        """The order drawn in advance for this pass (see `DataLoader._start_pass`), else a fresh one."""
        order, self.next_order = self.next_order, None
        return self.get_idxs() if order is None else order

    def __iter__(self) -> Iterator[list[int]]:
        order = self.take_order()
        n = len(order)
        for start in range(0, n, self.bs):
            stop = min(start + self.bs, n)
            if self.drop_last and stop - start < self.bs:
                return
            yield list(order[start:stop])

    def __len__(self) -> int:
        n = self.length()
        return n // self.bs if self.drop_last else -(-n // self.bs)


def batch_columns(dataset: Any, after_item: Any) -> dict[int, Column]:
    """The sample elements of `dataset` a loader may take as whole columns: kept by the dataset (see
    `Datasets.columns`) and left alone by every item transform."""
    columns = getattr(dataset, "columns", None)
    if columns is None or not hasattr(dataset, "partial_item"):
        return {}
    cols = columns()
    return {k: c for k, c in cols.items() if leaves_alone(after_item, c.proto)}


class Fetcher:
    """The dataset torch's fetcher sees: `__getitems__` builds a whole batch's items, dropping `SkipItem`s.

    With `use_columns`, elements the dataset keeps as columns are not built per item: each batch takes
    them with one indexing, and `Collate` puts them back in place.
    """

    def __init__(self, dataset: Any, after_item: Callable[[Any], Any] | None, use_columns: bool = False) -> None:
        self.dataset, self.after_item = dataset, after_item
        self.columns = batch_columns(dataset, after_item) if use_columns else {}
        self.skip = sorted(self.columns)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        x = self.dataset[i]
        return x if self.after_item is None else self.after_item(x)

    def _partial(self, i: int) -> Any:
        x = self.dataset.partial_item(i, self.skip)
        return x if self.after_item is None else self.after_item(x)

    def __getitems__(self, idxs: Sequence[int]) -> tuple[list[Any], list[tuple[int, str]], list[tuple[int, Any]]]:
        if not self.columns and self.after_item is None:
            try:  # the common case in one comprehension; a failure is sorted out item by item below
                return [self.dataset[i] for i in idxs], [], []
            except Exception:  # noqa: BLE001 - rebuilt per item, where a SkipItem is told from a real error
                pass
        items, skipped, kept = [], [], []
        get = self._partial if self.columns else self.__getitem__
        for i in idxs:
            try:
                items.append(get(i))
                kept.append(i)
            except Exception as e:
                skip = find_skip(e)
                if skip is None:
                    raise
                skipped.append((int(i), str(skip)))
        cols = [(k, c.batch(kept)) for k, c in self.columns.items()] if kept else []
        return items, skipped, cols


class Collate:
    """`before_batch` on the list of items, then the collate; runs in the workers."""

    def __init__(self, before_batch: Callable[[Any], Any] | None, collate_fn: Callable[[Sequence[Any]], Any]) -> None:
        self.before_batch, self.collate_fn = before_batch, collate_fn

    def __call__(self, fetched: tuple[list[Any], list[tuple[int, str]], list[tuple[int, Any]]]) -> Batch:
        items, skipped, cols = fetched
        if not items:
            return Batch(None, skipped)
        if self.before_batch is not None:
            items = self.before_batch(items)
        b = self.collate_fn(items)
        if cols:  # the elements taken as columns go back to their places in the sample
            out = list(b)
            for k, col in sorted(cols, key=lambda kc: kc[0]):
                out.insert(k, col)
            b = tuple(out)
        return Batch(b, skipped)


class TensorFetcher:
    """Fast path through workers: a batch is one indexing of each tensor; no per-item work."""

    def __init__(self, cols: tuple[torch.Tensor, ...] | torch.Tensor) -> None:
        self.cols = cols

    def __len__(self) -> int:
        return (self.cols if isinstance(self.cols, torch.Tensor) else self.cols[0]).shape[0]

    def __getitems__(self, idxs: Sequence[int]) -> Batch:
        return Batch(take(self.cols, torch.as_tensor(idxs, dtype=torch.long)), [])


def take(cols: tuple[torch.Tensor, ...] | torch.Tensor, idx: slice | torch.Tensor) -> Any:
    if isinstance(cols, torch.Tensor):
        return retype(_plain(cols)[idx], cols)
    return tuple(retype(_plain(t)[idx], t) for t in cols)


def unwrap_batch(b: Batch) -> Batch:
    return b
