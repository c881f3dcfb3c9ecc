"""Splitters: `splitter(items) -> (train_idxs, valid_idxs)`, the ways to choose a validation set."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import torch

from datablock._items import is_bool, iter_items, short_repr

__all__ = [
    "Splits",
    "RandomSplitter",
    "TrainTestSplitter",
    "IndexSplitter",
    "EndSplitter",
    "GrandparentSplitter",
    "FuncSplitter",
    "MaskSplitter",
    "FileSplitter",
    "ColSplitter",
    "RandomSubsetSplitter",
    "KFoldSplitter",
]

Splits = tuple[list[int], list[int]]


def _generator(seed: int | None) -> torch.Generator:
    # seed=None draws from torch's global RNG, so `torch.manual_seed` makes a run repeat
    g = torch.Generator()
    g.manual_seed(int(torch.randint(0, 2**62, (1,)).item()) if seed is None else seed)
    return g


def _perm(n: int, g: torch.Generator) -> list[int]:
    return torch.randperm(n, generator=g).tolist()


def _check_pct(name: str, pct: float) -> None:
    if not 0 <= pct <= 1:
        raise ValueError(f"{name}: expected a fraction between 0 and 1, got {pct!r}")


def _mask_split(mask: Sequence[bool]) -> Splits:
    mask = [bool(m) for m in mask]
    return [i for i, m in enumerate(mask) if not m], [i for i, m in enumerate(mask) if m]


class RandomSplitter:
    """A random `valid_pct` of the items go to validation; `seed` makes it repeatable."""

    def __init__(self, valid_pct: float = 0.2, seed: int | None = None) -> None:
        _check_pct("RandomSplitter(valid_pct)", valid_pct)
        self.valid_pct, self.seed = valid_pct, seed

    def __call__(self, items: Any) -> Splits:
        idxs = _perm(len(items), _generator(self.seed))
        cut = int(self.valid_pct * len(items))
        return idxs[cut:], idxs[:cut]


def _stratified_take(labels: Sequence[Hashable], n_take: int, g: torch.Generator) -> set[int]:
    """Pick `n_take` indices with each label's share proportional to its frequency (largest remainder)."""
    groups: dict[Hashable, list[int]] = {}
    for i, lab in enumerate(labels):
        groups.setdefault(lab, []).append(i)
    n = len(labels)
    quotas = {k: n_take * len(v) / n for k, v in groups.items()}
    counts = {k: math.floor(q) for k, q in quotas.items()}
    rest = n_take - sum(counts.values())
    for k in sorted(groups, key=lambda k: quotas[k] - counts[k], reverse=True)[:rest]:
        counts[k] += 1
    taken: set[int] = set()
    for k, members in groups.items():
        order = _perm(len(members), g)
        taken.update(members[j] for j in order[: counts[k]])
    return taken


class TrainTestSplitter:
    """Like scikit-learn's `train_test_split`: `test_size` (fraction or count) to validation, optionally stratified.

    `stratify` is a sequence of labels, one per item; each label keeps its share in both splits.
    """

    def __init__(
        self,
        test_size: float | int = 0.2,
        random_state: int | None = None,
        stratify: Sequence[Hashable] | None = None,
        shuffle: bool = True,
    ) -> None:
        self.test_size, self.random_state, self.stratify, self.shuffle = test_size, random_state, stratify, shuffle

    def __call__(self, items: Any) -> Splits:
        n = len(items)
        if isinstance(self.test_size, float):
            _check_pct("TrainTestSplitter(test_size)", self.test_size)
            n_valid = math.ceil(self.test_size * n)
        else:
            n_valid = int(self.test_size)
        if not 0 <= n_valid <= n:
            raise ValueError(f"TrainTestSplitter: test_size={self.test_size!r} is not possible with {n} items")
        g = _generator(self.random_state)
        if self.stratify is not None:
            if len(self.stratify) != n:
                raise ValueError(f"TrainTestSplitter: stratify has {len(self.stratify)} labels for {n} items")
            valid = _stratified_take(list(self.stratify), n_valid, g)
            return [i for i in range(n) if i not in valid], sorted(valid)
        idxs = _perm(n, g) if self.shuffle else list(range(n))
        return idxs[: n - n_valid], idxs[n - n_valid :]


class IndexSplitter:
    """The items at `valid_idx` go to validation, the rest to training.

    `valid_idx` holds integers (a list, an array or a tensor); a boolean mask is refused (it would read as the
    indices 0 and 1): that is `MaskSplitter`'s job.
    """

    def __init__(self, valid_idx: Sequence[int]) -> None:
        values = valid_idx.tolist() if hasattr(valid_idx, "tolist") else list(valid_idx)
        values = values if isinstance(values, list) else [values]
        if any(is_bool(v) for v in values):
            raise TypeError("IndexSplitter: valid_idx is a boolean mask, not indices; use MaskSplitter(mask)")
        bad = [v for v in values if not isinstance(v, numbers.Integral)]
        if bad:
            raise TypeError(f"IndexSplitter: valid_idx must hold integer indices, got {short_repr(bad[0])}")
        self.valid_idx = [int(i) for i in values]

    def __call__(self, items: Any) -> Splits:
        n = len(items)
        bad = [i for i in self.valid_idx if not -n <= i < n]
        if bad:
            raise IndexError(f"IndexSplitter: indices {bad[:5]} out of range for {n} items")
        valid = sorted({i % n for i in self.valid_idx})
        vset = set(valid)
        return [i for i in range(n) if i not in vset], valid


class EndSplitter:
    """The last (or first, `valid_last=False`) `valid_pct` of the items go to validation, in order."""

    def __init__(self, valid_pct: float = 0.2, valid_last: bool = True) -> None:
        _check_pct("EndSplitter(valid_pct)", valid_pct)
        self.valid_pct, self.valid_last = valid_pct, valid_last

    def __call__(self, items: Any) -> Splits:
        n = len(items)
        cut = int(self.valid_pct * n)
        idxs = list(range(n))
        return (idxs[: n - cut], idxs[n - cut :]) if self.valid_last else (idxs[cut:], idxs[:cut])


class GrandparentSplitter:
    """Split by the grandparent folder: `train/<label>/x.png` vs `valid/<label>/y.png`; other items are left out."""

    def __init__(self, train_name: str | Sequence[str] = "train", valid_name: str | Sequence[str] = "valid") -> None:
        self.train_name = {train_name} if isinstance(train_name, str) else set(train_name)
        self.valid_name = {valid_name} if isinstance(valid_name, str) else set(valid_name)

    def __call__(self, items: Any) -> Splits:
        names = [Path(os.fspath(o)).parent.parent.name for o in iter_items(items)]
        return (
            [i for i, g in enumerate(names) if g in self.train_name],
            [i for i, g in enumerate(names) if g in self.valid_name],
        )


class FuncSplitter:
    """Items for which `func(item)` is true go to validation."""

    def __init__(self, func: Callable[[Any], bool]) -> None:
        self.func = func

    def __call__(self, items: Any) -> Splits:
        return _mask_split([self.func(o) for o in iter_items(items)])


class MaskSplitter:
    """`mask[i]` true sends item i to validation.

    `mask` holds booleans, or 0/1 integers (a list, an array or a tensor); other values (a list of indices)
    are refused: that is `IndexSplitter`'s job.
    """

    def __init__(self, mask: Sequence[bool]) -> None:
        values = mask.tolist() if hasattr(mask, "tolist") else list(mask)
        values = values if isinstance(values, list) else [values]
        bad = [v for v in values if not (is_bool(v) or (isinstance(v, numbers.Integral) and v in (0, 1)))]
        if bad:
            raise TypeError(
                f"MaskSplitter: mask must hold booleans (or 0/1), got {short_repr(bad[0])}; "
                f"for a list of indices use IndexSplitter(valid_idx)"
            )
        self.mask = [bool(v) for v in values]

    def __call__(self, items: Any) -> Splits:
        if len(self.mask) != len(items):
            raise ValueError(f"MaskSplitter: mask has {len(self.mask)} entries for {len(items)} items")
        return _mask_split(self.mask)


class FileSplitter:
    """Items whose file name is listed (one per line) in the text file `fname` go to validation."""

    def __init__(self, fname: str | os.PathLike[str]) -> None:
        self.fname = Path(fname)

    def __call__(self, items: Any) -> Splits:
        valid = {line.strip() for line in self.fname.read_text().splitlines() if line.strip()}
        return _mask_split([Path(os.fspath(o)).name in valid for o in iter_items(items)])


class ColSplitter:
    """Split a DataFrame on column `col`: truthy (or equal to / in `on`) rows go to validation."""

    def __init__(self, col: int | str = "is_valid", on: Any = None) -> None:
        self.col, self.on = col, on

    def __call__(self, items: Any) -> Splits:
        if not hasattr(items, "columns"):
            raise TypeError(f"ColSplitter: expected a pandas DataFrame, got {type(items).__name__}")
        try:
            col = items.iloc[:, self.col] if isinstance(self.col, int) else items[self.col]
        except (KeyError, IndexError) as e:
            raise KeyError(f"ColSplitter: column {self.col!r} not in DataFrame columns {list(items.columns)}") from e
        if self.on is None:
            mask = col.astype(bool)
        elif isinstance(self.on, (list, tuple, set)):
            mask = col.isin(list(self.on))
        else:
            mask = col == self.on
        return _mask_split(mask.tolist())


class RandomSubsetSplitter:
    """A random `train_sz` fraction to train on and a disjoint `valid_sz` fraction to validate on (quick runs)."""

    def __init__(self, train_sz: float, valid_sz: float, seed: int | None = None) -> None:
        _check_pct("RandomSubsetSplitter(train_sz)", train_sz)
        _check_pct("RandomSubsetSplitter(valid_sz)", valid_sz)
        if train_sz + valid_sz > 1:
            raise ValueError(f"RandomSubsetSplitter: train_sz + valid_sz = {train_sz + valid_sz} exceeds 1")
        self.train_sz, self.valid_sz, self.seed = train_sz, valid_sz, seed

    def __call__(self, items: Any) -> Splits:
        n = len(items)
        idxs = _perm(n, _generator(self.seed))
        n_train, n_valid = int(self.train_sz * n), int(self.valid_sz * n)
        return idxs[:n_train], idxs[n_train : n_train + n_valid]


class KFoldSplitter:
    """Fold `fold` of `n_splits` goes to validation; across folds every item is validated exactly once.

    `stratify` (one label per item) deals each label's items round-robin over the folds, so every
    fold keeps the label proportions. Keep `seed` fixed across folds so they partition the same order.
    """

    def __init__(
        self,
        n_splits: int = 5,
        fold: int = 0,
        stratify: Sequence[Hashable] | None = None,
        shuffle: bool = True,
        seed: int | None = 42,
    ) -> None:
        if n_splits < 2:
            raise ValueError(f"KFoldSplitter: n_splits must be at least 2, got {n_splits}")
        if not 0 <= fold < n_splits:
            raise ValueError(f"KFoldSplitter: fold must be in [0, {n_splits}), got {fold}")
        self.n_splits, self.fold, self.stratify, self.shuffle, self.seed = n_splits, fold, stratify, shuffle, seed

    def folds(self, items: Any) -> list[list[int]]:
        """All `n_splits` folds (lists of indices), the same for every `fold` when `seed` is fixed."""
        n = len(items)
        if n < self.n_splits:
            raise ValueError(f"KFoldSplitter: {n} items cannot make {self.n_splits} folds")
        g = _generator(self.seed)
        order = _perm(n, g) if self.shuffle else list(range(n))
        folds: list[list[int]] = [[] for _ in range(self.n_splits)]
        if self.stratify is None:
            sizes = [n // self.n_splits + (1 if k < n % self.n_splits else 0) for k in range(self.n_splits)]
            start = 0
            for k, size in enumerate(sizes):
                folds[k] = order[start : start + size]
                start += size
        else:
            if len(self.stratify) != n:
                raise ValueError(f"KFoldSplitter: stratify has {len(self.stratify)} labels for {n} items")
            groups: dict[Hashable, list[int]] = {}
            for i in order:
                groups.setdefault(self.stratify[i], []).append(i)
            k = 0  # continue the round-robin across labels so fold sizes differ by at most one
            for members in groups.values():
                for i in members:
                    folds[k].append(i)
                    k = (k + 1) % self.n_splits
        return [sorted(f) for f in folds]

    def __call__(self, items: Any) -> Splits:
        valid = self.folds(items)[self.fold]
        vset = set(valid)
        return [i for i in range(len(items)) if i not in vset], valid
