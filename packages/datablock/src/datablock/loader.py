"""`DataLoader`: items → typed batches on the device, through torch's own DataLoader machinery.

Per item (in the workers): `dataset[i]`, then `after_item`; per batch (in the workers): `before_batch`
on the list of items, then a collate that keeps typed tensors' types and gives tuples; then, in the
main process, transfer to `device` and `after_batch` there. A dataset of in-memory tensors (a
`TensorDataset`, or a tuple of tensors) with no item transforms takes a fast path: whole batches are
indexed at once, with no per-item work and no collate.
"""

from __future__ import annotations

import inspect
import pickle
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import Any, TypeVar

import torch
from torch.utils.data import DataLoader as TorchDataLoader
from torch.utils.data import Sampler

from datablock._fetch import (
    Batch,
    BatchIndices,
    Collate,
    Fetcher,
    TensorFetcher,
    Tfms,
    take,
    tensor_columns,
    to_device,
    unwrap_batch,
)
from datablock._pipe import ItemFunc, as_pipeline, decode_with, tfm_name
from datablock.collate import collate, decollate
from datablock.show import decode_preds, grid, retype_targets, samples_table, show_samples, target_types
from datablock.utils import listify
from dispatch_transforms import Pipeline

__all__ = ["DataLoader", "EVENTS"]

_Loader = TypeVar("_Loader", bound="DataLoader")  # `new` gives a loader of the same class

EVENTS = ("after_item", "before_batch", "after_batch")  # the transform hooks, in the order they run


class DataLoader:
    """Batches from a dataset through torch's DataLoader machinery, keeping typed tensors' types.

    Arguments follow `torch.utils.data.DataLoader` (`bs` is `batch_size`), plus `device` (batches
    arrive there) and three transform hooks: `after_item` (each item, in the workers),
    `before_batch` (the list of items of a batch, in the workers) and `after_batch` (the collated
    batch, on `device`). Each hook is a callable, a `Transform`/`Pipeline`, or a list (made a
    `Pipeline`). Shuffling draws from `generator` (or torch's global RNG), so seeded runs repeat.

    Subclassing (a custom loader):

    - batch order: override `get_idxs()` (the pass's item order; batches are its consecutive `bs`-sized
      chunks), or pass `batch_sampler` (the index lists themselves, e.g. buckets of similar lengths);
    - `before_iter()` runs before each pass (in this process, before the order is drawn): rebuild streams
      or re-sort there;
    - `init_kwargs` holds the constructor arguments that `new()` (so `test_dl`, TTA, the unshuffled copies)
      and export pass again: a subclass adds its own after `super().__init__` (`self.init_kwargs["seq_len"]
      = seq_len`), and replaces any it passed to `super()` changed (e.g. `dataset`). `new()` refuses a
      subclass whose named constructor arguments are missing from it rather than silently using defaults.
    """

    config_safe = True  # an export may name it (and its subclasses) as the loader class

    def __init__(
        self,
        dataset: Any,
        bs: int = 64,
        shuffle: bool = False,
        drop_last: bool = False,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        prefetch_factor: int | None = None,
        generator: torch.Generator | None = None,
        sampler: Sampler[int] | Iterable[int] | None = None,
        batch_sampler: Iterable[Sequence[int]] | None = None,
        device: torch.device | str | None = None,
        after_item: Tfms = None,
        before_batch: Tfms = None,
        after_batch: Tfms = None,
        n_inp: int | None = None,
        collate_fn: Callable[[Sequence[Any]], Any] | None = None,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
    ) -> None:
        # the arguments `new()` passes again (public: subclasses add theirs, export records them)
        self.init_kwargs: dict[str, Any] = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        if not isinstance(bs, int) or isinstance(bs, bool) or bs < 1:
            raise ValueError(f"DataLoader: bs must be a positive int, got {bs!r}")
        if num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be >= 0, got {num_workers}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: expected an indexable dataset with a length, got {type(dataset).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: give either sampler or shuffle=True, not both (the sampler decides order)")
        if batch_sampler is not None and (shuffle or sampler is not None or drop_last):
            raise ValueError(
                "DataLoader: batch_sampler decides the batches; do not also give shuffle, sampler or drop_last"
            )
        self.dataset, self.bs, self.shuffle, self.drop_last = dataset, bs, shuffle, drop_last
        self.num_workers, self.pin_memory, self.persistent_workers = num_workers, pin_memory, persistent_workers
        self.prefetch_factor, self.generator, self.sampler, self.batch_sampler = (
            prefetch_factor,
            generator,
            sampler,
            batch_sampler,
        )
        self.device = None if device is None else torch.device(device)
        self.after_item = as_pipeline(after_item)
        self.before_batch = as_pipeline(before_batch)
        self.after_batch = as_pipeline(after_batch)
        self.collate_fn = collate if collate_fn is None else collate_fn
        self.timeout, self.worker_init_fn, self.multiprocessing_context = (
            timeout,
            worker_init_fn,
            multiprocessing_context,
        )
        self._n_inp = n_inp
        self._refresh()
        n = self.n_items
        if drop_last and batch_sampler is None and 0 < n < bs and sampler is None:
            raise ValueError(
                f"DataLoader: bs={bs} is larger than the dataset ({n} items) and drop_last=True, so no batch "
                "would ever be produced; lower bs or set drop_last=False"
            )
        self._worker_gen = torch.Generator()
        self.n_skipped = 0  # items dropped by SkipItem during the last pass
        self._setup_after_batch()

    def _refresh(self) -> None:
        """Forget what was derived from the dataset and the hooks (after `add_tfms` or a new `dataset`)."""
        simple = self.after_item is None and self.before_batch is None and self.collate_fn is collate
        self._cols = tensor_columns(self.dataset) if simple else None
        self._torch_dl: TorchDataLoader | None = None
        self._torch_dl_dataset: Any = None
        self._indices: BatchIndices | None = None
        self._seen_dataset = self.dataset

    def _setup_after_batch(self) -> None:
        """Batch transforms that still need data (e.g. `Normalize()` without stats, `needs_batch` True)
        learn from this loader's first batch, as the steps before them turn it out."""
        p = self.after_batch
        fs = p.fs if isinstance(p, Pipeline) else [] if p is None else [p]
        split_idx = p.split_idx if isinstance(p, Pipeline) else None
        for k, t in enumerate(fs):
            setup = getattr(t, "setup_from_batch", None) if getattr(t, "needs_batch", False) else None
            if setup is None:
                continue
            b = next((r.data for r in self._raw_batches(workers=False) if r.data is not None), None)
            if b is None:
                raise ValueError(f"DataLoader: {tfm_name(t)} needs a batch to set up, but the dataset gives none")
            b = to_device(b, self.device)
            for f in fs[:k]:
                b = f(b, split_idx=split_idx)
            setup(b)

    # --- batches --------------------------------------------------------------------------------------------
    @property
    def n_items(self) -> int:
        """How many items the dataset holds."""
        if self._cols is None:
            return len(self.dataset)
        return (self._cols if isinstance(self._cols, torch.Tensor) else self._cols[0]).shape[0]

    def get_idxs(self) -> Sequence[int]:
        """This pass's order of the items; batches are consecutive `bs`-sized chunks of it.

        Default: the `sampler`'s order, a seeded permutation with `shuffle`, else `range(n)`. Override it for
        another order (e.g. sorted by length); each call may draw a new one (from `self.generator`).
        """
        if self.sampler is not None:
            return list(self.sampler)
        if self.shuffle:
            return torch.randperm(self.n_items, generator=self.generator).tolist()
        return range(self.n_items)

    def before_iter(self) -> None:
        """Called before each pass over the batches (in this process): a subclass rebuilds per-epoch state here."""

    def _pass_length(self) -> int:
        if self.sampler is None:
            return self.n_items
        if not isinstance(self.sampler, Sized):
            raise TypeError(f"DataLoader: the sampler ({type(self.sampler).__name__}) has no len(); give one that has")
        return len(self.sampler)

    def _batch_indices(self) -> Iterable[Sequence[int]]:
        if self.batch_sampler is not None:
            return self.batch_sampler
        if self._indices is None:
            self._indices = BatchIndices(self.get_idxs, self.bs, self.drop_last, self._pass_length)
        return self._indices

    def _start_pass(self) -> None:
        """Draw this pass's order, then the workers' seed, from the same stream whatever `num_workers` is,
        so a seeded loader gives the same batches with 0 or N workers (test_loader: test_seeded_shuffle_*)."""
        bi = self._batch_indices()
        if isinstance(bi, BatchIndices):
            bi.next_order = bi.get_idxs()
        seed = torch.randint(0, 2**62, (1,), generator=self.generator).item()
        self._worker_gen.manual_seed(int(seed))

    def _fast_batches(self) -> Iterator[Batch]:
        assert self._cols is not None
        bi = self._batch_indices()
        if not isinstance(bi, BatchIndices):
            for idxs in bi:
                yield Batch(take(self._cols, torch.as_tensor(list(idxs), dtype=torch.long)), [])
            return
        order = bi.take_order()
        n = len(order)
        in_order = isinstance(order, range) and order.start == 0 and order.step == 1
        perm = (
            None if in_order else torch.as_tensor(order if isinstance(order, list) else list(order), dtype=torch.long)
        )
        for start in range(0, n, self.bs):
            stop = min(start + self.bs, n)
            if self.drop_last and stop - start < self.bs:
                return
            yield Batch(take(self._cols, slice(start, stop) if perm is None else perm[start:stop]), [])

    def _fetcher(self) -> tuple[Any, Callable[[Any], Batch]]:
        if self._cols is not None:
            return TensorFetcher(self._cols), unwrap_batch
        # columns only where nothing between the items and the collate could see the elements they replace
        use_columns = self.before_batch is None and self.collate_fn is collate
        return Fetcher(self.dataset, self.after_item, use_columns), Collate(self.before_batch, self.collate_fn)

    def _in_process_batches(self) -> Iterator[Batch]:
        if self._cols is not None:
            yield from self._fast_batches()
            return
        fetcher, coll = self._fetcher()
        for idxs in self._batch_indices():
            b = coll(fetcher.__getitems__(idxs))
            yield b.pin_memory() if self.pin_memory and torch.cuda.is_available() else b

    def _workers_ok(self) -> bool:
        """Under spawn/forkserver the workers receive a pickled copy of the pipeline; check it can be."""
        ctx = self.multiprocessing_context
        method = ctx if isinstance(ctx, str) else getattr(ctx, "get_start_method", lambda: None)()
        if method is None:
            method = torch.multiprocessing.get_start_method(allow_none=True) or "fork"
        if method == "fork":
            return True
        try:
            pickle.dumps(self._fetcher())
        except Exception as e:  # noqa: BLE001 - any pickling failure means workers cannot start
            warnings.warn(
                f"DataLoader: num_workers={self.num_workers} changed to 0: the start method {method!r} sends the "
                f"dataset and transforms to the workers by pickling, and they cannot be pickled ({e}). "
                "Use module-level functions instead of lambdas/closures to load in parallel.",
                stacklevel=3,
            )
            self.num_workers = 0
            return False
        return True

    def _torch_loader(self) -> TorchDataLoader:
        if self._torch_dl is None or self._torch_dl_dataset is not self.dataset:
            self._torch_dl_dataset = self.dataset
            fetcher, coll = self._fetcher()
            self._torch_dl = TorchDataLoader(
                fetcher,
                batch_sampler=self._batch_indices(),  # type: ignore[arg-type]  # any index sequences work; stub: lists
                num_workers=self.num_workers,
                collate_fn=coll,
                pin_memory=self.pin_memory and torch.cuda.is_available(),
                timeout=self.timeout,
                worker_init_fn=self.worker_init_fn,
                multiprocessing_context=self.multiprocessing_context,
                generator=self._worker_gen,
                prefetch_factor=self.prefetch_factor,
                persistent_workers=self.persistent_workers,
            )
        return self._torch_dl

    def _raw_batches(self, workers: bool = True) -> Iterator[Batch]:
        self._start_pass()
        if workers and self.num_workers > 0 and self._workers_ok():
            yield from self._torch_loader()
        else:
            yield from self._in_process_batches()

    def _finish(self, data: Any) -> Any:
        data = to_device(data, self.device, non_blocking=self.pin_memory)
        return data if self.after_batch is None else self.after_batch(data)

    def _iterate(self, workers: bool) -> Iterator[Any]:
        self.before_iter()
        if self.dataset is not self._seen_dataset:  # before_iter gave the loader another dataset
            self._refresh()
        skipped: list[tuple[int, str]] = []
        self.n_skipped = 0
        for b in self._raw_batches(workers):
            if b.skipped:
                skipped.extend(b.skipped)
                self.n_skipped = len(skipped)
            if b.data is not None:
                yield self._finish(b.data)
        if skipped:
            idxs = [i for i, _ in skipped]
            warnings.warn(
                f"DataLoader: skipped {len(skipped)} item(s) this pass because a transform raised SkipItem "
                f"(indices {idxs[:10]}{' ...' if len(idxs) > 10 else ''}); first reason: {skipped[0][1]}",
                stacklevel=3,
            )

    def __iter__(self) -> Iterator[Any]:
        return self._iterate(workers=True)

    def __len__(self) -> int:
        batches = self._batch_indices()
        if not isinstance(batches, Sized):
            raise TypeError(f"DataLoader: the batch_sampler ({type(batches).__name__}) has no len()")
        return len(batches)

    # --- the data protocol ----------------------------------------------------------------------------------
    @property
    def n_inp(self) -> int:
        """How many leading elements of a batch are inputs (the rest are targets)."""
        if self._n_inp is not None:
            return self._n_inp
        return int(getattr(self.dataset, "n_inp", 1))

    @property
    def vocab(self) -> Any:
        """The target vocabulary of the dataset (from its `Categorize`), if it has one."""
        vocab = getattr(self.dataset, "vocab", None)
        if vocab is None:
            raise AttributeError(f"DataLoader: the dataset ({type(self.dataset).__name__}) has no vocab")
        return vocab

    def one_batch(self) -> Any:
        """The first batch of a pass, built in this process (no worker start-up)."""
        for b in self._iterate(workers=False):
            return b
        raise ValueError(
            f"DataLoader.one_batch: no batch: the dataset has {self.n_items} items "
            f"(bs={self.bs}, drop_last={self.drop_last})"
        )

    def to(self, device: torch.device | str) -> DataLoader:
        """Send future batches to `device` (in place; returns self)."""
        self.device = torch.device(device)
        self.init_kwargs["device"] = self.device
        return self

    def new(self: _Loader, **kwargs: Any) -> _Loader:
        """A copy of this loader (of the same class) with some arguments changed, e.g. `dl.new(shuffle=False)`.

        The other arguments come from `init_kwargs`, so a subclass's own arguments are kept.
        """
        cls = type(self)
        params = inspect.signature(cls.__init__).parameters
        named = [n for n, p in list(params.items())[1:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        missing = [n for n in named if n not in self.init_kwargs]
        if missing:
            raise TypeError(
                f"{cls.__name__}.new: constructor argument(s) {missing} are not in init_kwargs, so a copy would "
                f"silently use their defaults; in {cls.__name__}.__init__, after super().__init__, record them "
                f"(self.init_kwargs['{missing[0]}'] = {missing[0]})"
            )
        takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
        unknown = set(kwargs) - set(self.init_kwargs) - set(named)
        if unknown:
            raise TypeError(
                f"{cls.__name__}.new: unknown argument(s) {sorted(unknown)}; known: {sorted(self.init_kwargs)}"
            )
        args = {**self.init_kwargs, **kwargs}
        return cls(**(args if takes_any else {k: v for k, v in args.items() if k in named}))

    def add_tfms(self, tfms: Any, event: str, split_idx: int | None = None) -> None:
        """Add `tfms` (a transform or a list) to hook `event` ('after_item', 'before_batch' or 'after_batch').

        They join the hook's pipeline in `order`; a new pipeline runs as split `split_idx` (0 training, 1
        validation; default: the dataset's). `new()` copies keep them; batch transforms that need data
        (`Normalize()`) learn it from this loader's first batch.
        """
        if event not in EVENTS:
            raise ValueError(f"DataLoader.add_tfms: event must be one of {list(EVENTS)}, got {event!r}")
        cur = getattr(self, event)
        if isinstance(cur, Pipeline):
            fs, split = list(cur.fs), cur.split_idx
        else:  # nothing yet, or one callable that receives the whole batch/items (kept so)
            fs = [] if cur is None else [ItemFunc(cur)]
            split = split_idx if split_idx is not None else getattr(self.dataset, "split_idx", None)
        pipe = Pipeline(fs + listify(tfms), split_idx=split)
        setattr(self, event, pipe)
        self.init_kwargs[event] = pipe
        self._refresh()
        if event == "after_batch":
            self._setup_after_batch()

    def retype_targets(self, b: Any) -> Any:
        """Batch `b` with plain tensors at the target positions (model outputs) typed as the dataset's target
        pipelines decode them (`TensorCategory`, `TensorMask`...), so that decoding turns them into labels."""
        return retype_targets(b, target_types(self.dataset, self.n_inp), self.n_inp)

    def decode(self, b: Any) -> Any:
        """Undo `after_batch` on a batch (back on the CPU), keeping it a batch; plain targets are typed first."""
        return to_device(decode_with(self.after_batch, self.retype_targets(b)), "cpu")

    def _decoded_items(self, b: Any, max_n: int) -> list[Any]:
        """Batch `b` split into (at most `max_n`) items, with `after_batch` and `after_item` undone."""
        items = decollate(self.decode(b), max_n)
        return items if self.after_item is None else [decode_with(self.after_item, it) for it in items]

    def decode_batch(self, b: Any, max_n: int = 9, full: bool = True) -> list[Any]:
        """A batch back to a list of (at most `max_n`) items: undo `after_batch`, split, undo `after_item`
        and, with `full`, the dataset's own transforms (so a category index becomes its label)."""
        items = self._decoded_items(b, max_n)
        dec = getattr(self.dataset, "decode", None)
        if full and dec is not None:
            items = [dec(it) for it in items]
        return items

    def show_batch(self, b: Any = None, max_n: int = 9, ncols: int = 3, scale: int = 1, table: bool = False) -> Any:
        """A grid of (at most `max_n`) samples of batch `b` (default: `one_batch()`); `.save(path)` writes a PNG.

        With `table=True` (tabular-like data), a pandas DataFrame with one row per sample instead.
        """
        b = self.one_batch() if b is None else b
        samples = self._decoded_items(b, max_n)
        if table:
            return samples_table(samples, self.dataset, self.n_inp)
        return grid(show_samples(samples, self.dataset, self.n_inp), ncols=ncols, scale=scale)

    def show_results(
        self, b: Any, preds: Any, max_n: int = 9, ncols: int = 3, scale: int = 1, table: bool = False
    ) -> Any:
        """Like `show_batch`, with each sample's title reading `target / prediction`; a prediction that is a
        picture (mask, points, boxes) is drawn on its own canvas beside the target's (two columns).

        `preds` are the model's outputs for `b`, one per target: decoded predictions, or class scores (turned
        into the predicted class). They are decoded through the same steps as the batch.
        """
        b = b if isinstance(b, tuple) else (b,)
        samples = self._decoded_items(b, max_n)
        targets = b[self.n_inp :]
        if not targets:
            raise ValueError("DataLoader.show_results: the batch has no targets (all elements are inputs)")
        typed = decode_preds(preds, [to_device(t, "cpu") for t in targets])
        inputs = tuple(to_device(x, "cpu") for x in b[: self.n_inp])
        pred_samples = [s[self.n_inp :] for s in self._decoded_items((*inputs, *typed), max_n)]
        if table:  # a DataFrame with `<target>_pred` columns
            return samples_table(samples, self.dataset, self.n_inp, preds=pred_samples)
        canvases = show_samples(samples, self.dataset, self.n_inp, preds=pred_samples)
        return grid(canvases, ncols=2 if len(canvases) > len(samples) else ncols, scale=scale)

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {self.n_items}, bs={self.bs}, shuffle={self.shuffle}, "
            f"num_workers={self.num_workers}, device={self.device})"
        )
