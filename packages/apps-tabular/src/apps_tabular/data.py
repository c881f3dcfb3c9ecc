"""Tensor-backed tabular loaders: `TabularDataLoader` and `TabularDataLoaders.from_df / from_csv`.

The categorical and continuous columns become two tensors once (`TabularPandas.tensors`); a batch is
one index gather of each (datablock's `DataLoader` fast path for tensor datasets): no per-row Python
and no pandas in the loop; shuffling draws a permutation of indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import torch

from apps_tabular.core import TabularDataset, TabularPandas
from datablock import DataLoader, DataLoaders

__all__ = ["TabularDataLoader", "TabularDataLoaders"]

CONFIG_FORMAT = "apps_tabular.TabularDataLoaders/1"


def _cpu(t: Any) -> np.ndarray:
    return t.detach().cpu().as_subclass(torch.Tensor).numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


class TabularDataLoader(DataLoader):
    """A datablock `DataLoader` over a `TabularDataset`: batches `(cats, conts[, ys])` by index gathers.

    Decoding and showing give tables: `decode_batch` returns rows (pandas Series), `show_batch` and
    `show_results` return a DataFrame (a notebook shows it as a table).
    """

    @property
    def tabular(self) -> TabularPandas:
        """The `TabularPandas` behind the dataset (procs, vocabs)."""
        ds = self.dataset
        if not isinstance(ds, TabularDataset):
            raise AttributeError(f"TabularDataLoader: the dataset is a {type(ds).__name__}, not a TabularDataset")
        return ds.tabular

    def frame(self, b: Sequence[Any], max_n: int | None = None) -> pd.DataFrame:
        """Batch `b` as a processed DataFrame (codes, scaled values, encoded targets), at most `max_n` rows."""
        to = self.tabular
        b = tuple(b)
        n = b[0].shape[0] if max_n is None else min(max_n, b[0].shape[0])
        n_inp = 2 if to.with_cont else 1
        cats = _cpu(b[0][:n])
        data: dict[str, Any] = {c: cats[:, j] for j, c in enumerate(to.cat_names)}
        if to.with_cont:
            conts = _cpu(b[1][:n])
            data.update({c: conts[:, j] for j, c in enumerate(to.cont_names)})
        if len(b) > n_inp and to.y_names:
            ys = _cpu(b[n_inp][:n])
            if ys.ndim == 1:
                data[to.y_names[0]] = ys
            else:
                data.update({c: ys[:, j] for j, c in enumerate(to.y_names)})
        return pd.DataFrame(data)

    def decode_frame(self, b: Sequence[Any], max_n: int | None = None) -> pd.DataFrame:
        """Batch `b` back to readable values, as a DataFrame."""
        return self.tabular.decode_frame(self.frame(b, max_n))

    def decode_batch(self, b: Any, max_n: int = 9, full: bool = True) -> list[Any]:  # noqa: ARG002 - protocol
        """A batch back to a list of (at most `max_n`) readable rows, each a pandas Series."""
        df = self.decode_frame(b if isinstance(b, (tuple, list)) else (b,), max_n)
        return [row for _, row in df.iterrows()]

    # a table is the picture of tabular data: these return a DataFrame where the base returns a canvas
    def show_batch(self, b: Any = None, max_n: int = 10, **kwargs: Any) -> pd.DataFrame:  # type: ignore[override]  # a table, see above
        """The first `max_n` rows of batch `b` (default: `one_batch()`), decoded, as a DataFrame."""
        del kwargs  # the picture arguments of other loaders (ncols, scale) mean nothing for a table
        return self.decode_frame(self.one_batch() if b is None else b, max_n)

    def decode_preds(self, preds: Any) -> pd.DataFrame:
        """Predictions (decoded by the loss: class indices, 0/1 per label, or numbers) as readable columns."""
        to, p = self.tabular, _cpu(preds)
        kind = to.y_spec["kind"]
        if kind == "category":
            if p.ndim == 2:  # scores or probabilities: the predicted class
                p = p.argmax(axis=1)
            return pd.DataFrame({f"{to.y_names[0]}_pred": np.array(to.vocab.items, dtype=object)[p.astype(np.int64)]})
        p = p.reshape(len(p), -1)
        return pd.DataFrame({f"{n}_pred": p[:, j] for j, n in enumerate(to.y_names)})

    def show_results(self, b: Any, preds: Any, max_n: int = 10, **kwargs: Any) -> pd.DataFrame:  # type: ignore[override]  # a table
        """Rows of batch `b` with their targets and a `<target>_pred` column per target, as a DataFrame."""
        del kwargs
        df = self.decode_frame(b, max_n)
        pr = self.decode_preds(preds[: len(df)])
        return pd.concat([df.reset_index(drop=True), pr], axis=1)


def _tabular(dl: Any) -> TabularDataLoader:
    """`dl` (one of `TabularDataLoaders`' loaders), checked to be a `TabularDataLoader`."""
    if not isinstance(dl, TabularDataLoader):
        raise TypeError(f"TabularDataLoaders: expected TabularDataLoader loaders, got a {type(dl).__name__}")
    return dl


_Tabulars = TypeVar("_Tabulars", bound="TabularDataLoaders")  # `from_tabular` gives the class it is called on


class TabularDataLoaders(DataLoaders):
    """Training and validation `TabularDataLoader`s over one `TabularPandas` (the data protocol, plus
    `c`, `loss_kind`, `vocab`, `test_dl(df)` through the fitted procs, tables for showing)."""

    path: Path  # where the data came from (`path=` of the factories)

    @classmethod
    def from_tabular(
        cls: type[_Tabulars],
        to: TabularPandas,
        bs: int = 64,
        shuffle_train: bool = True,
        val_bs: int | None = None,
        device: torch.device | str | None = None,
        drop_last: bool | None = None,
        **kwargs: Any,
    ) -> _Tabulars:
        """Loaders over `to`'s splits: training shuffled (and its last partial batch dropped), validation in order."""
        train, valid = to.train, to.valid
        drop = shuffle_train if drop_last is None else drop_last
        if drop and len(train) < bs:
            drop = False  # fewer rows than a batch: keep them rather than train on nothing
        dl_train = TabularDataLoader(train, bs=bs, shuffle=shuffle_train, drop_last=drop, device=device, **kwargs)
        dl_valid = TabularDataLoader(valid, bs=val_bs or bs, shuffle=False, drop_last=False, device=device, **kwargs)
        return cls(dl_train, dl_valid)

    @classmethod
    def from_df(
        cls,
        df: pd.DataFrame,
        path: str | Path = ".",
        procs: Sequence[Any] | None = None,
        cat_names: Sequence[str] | str | None = None,
        cont_names: Sequence[str] | str | None = None,
        y_names: Sequence[str] | str | None = None,
        y_block: Any = None,
        valid_idx: Sequence[int] | None = None,
        bs: int = 64,
        shuffle_train: bool = True,
        val_bs: int | None = None,
        device: torch.device | str | None = None,
        **kwargs: Any,
    ) -> TabularDataLoaders:
        """Loaders from a DataFrame (fastai's signature): rows at positions `valid_idx` validate (default: a
        seeded random 20%); `procs` are fitted on the other rows."""
        splits = None
        if valid_idx is not None:
            va = np.asarray(list(valid_idx), dtype=np.int64)
            splits = (np.setdiff1d(np.arange(len(df)), va), va)
        to = TabularPandas(df, procs, cat_names, cont_names, y_names, y_block=y_block, splits=splits)
        dls = cls.from_tabular(to, bs=bs, shuffle_train=shuffle_train, val_bs=val_bs, device=device, **kwargs)
        dls.path = Path(path)
        return dls

    @classmethod
    def from_csv(cls, csv: str | Path, skipinitialspace: bool = True, **kwargs: Any) -> TabularDataLoaders:
        """Loaders from a CSV file (read with `pandas.read_csv`); `kwargs` as `from_df`."""
        return cls.from_df(pd.read_csv(csv, skipinitialspace=skipinitialspace), **kwargs)

    # --- what the data says about the model -------------------------------------------------------------------
    @property
    def tabular(self) -> TabularPandas:
        """The `TabularPandas` behind the loaders (its procs, names and vocabs)."""
        train = self.train
        if not isinstance(train, TabularDataLoader):
            raise TypeError(
                f"TabularDataLoaders: the training loader is a {type(train).__name__}, not a TabularDataLoader"
            )
        return train.tabular

    @property
    def cat_names(self) -> list[str]:
        """Categorical input columns (in the order of the `cats` tensor)."""
        return list(self.tabular.cat_names)

    @property
    def cont_names(self) -> list[str]:
        """Continuous input columns (in the order of the `conts` tensor)."""
        return list(self.tabular.cont_names)

    @property
    def y_names(self) -> list[str]:
        """Target columns."""
        return list(self.tabular.y_names)

    @property
    def vocab(self) -> Any:
        """The target vocab (classification)."""
        return self.tabular.vocab

    @property
    def c(self) -> int:
        """Number of model outputs the target calls for."""
        return self.tabular.c

    @property
    def loss_kind(self) -> dict[str, Any]:
        """`{"kind": "cross_entropy"|"bce"|"mse", "axis": -1}`: the loss the target calls for, as data."""
        return self.tabular.loss_kind

    # --- new rows ---------------------------------------------------------------------------------------------
    def test_dl(self, items: Any, with_labels: bool = False, **kwargs: Any) -> TabularDataLoader:
        """Rows of a DataFrame (or one row, a Series or dict) through the procs fitted on training rows,
        in order; unseen categories become `#na#`. With `with_labels`, the target columns are encoded too."""
        df = _as_frame(items)
        new = self.tabular.new(df, with_labels=with_labels)
        ds = TabularDataset(new, None, with_labels=with_labels)
        return _tabular(self.valid).new(
            dataset=ds, shuffle=False, drop_last=False, sampler=None, batch_sampler=None, **kwargs
        )

    # --- export -----------------------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """The procs, names and target encoding as plain data (no rows): `from_config` rebuilds loaders for
        `test_dl` and decoding, without pickle."""
        return {"format": CONFIG_FORMAT, "tabular": self.tabular.to_config(), "bs": self.train.bs}

    @classmethod
    def from_config(
        cls,
        cfg: dict[str, Any],
        device: torch.device | str | None = None,
        allow: Sequence[str] = (),
        near: Any = None,
    ) -> TabularDataLoaders:
        """Empty loaders from `to_config()`, ready for `test_dl(df)`, decoding and `predict`.

        `allow` and `near` are `DataLoaders.from_config`'s: this config is plain data only (procs by their
        registered names), so there is nothing to resolve against them.
        """
        del allow, near
        if cfg.get("format") != CONFIG_FORMAT:
            raise ValueError(
                f"TabularDataLoaders.from_config: expected format {CONFIG_FORMAT!r}, got {cfg.get('format')!r}"
            )
        to = TabularPandas.from_config(cfg["tabular"])
        ds = TabularDataset(to, None)
        bs = int(cfg.get("bs", 64))
        return cls(TabularDataLoader(ds, bs=bs, device=device), TabularDataLoader(ds, bs=bs, device=device))


def _as_frame(items: Any) -> pd.DataFrame:
    if isinstance(items, pd.DataFrame):
        return items
    if isinstance(items, pd.Series):
        return items.to_frame().T.infer_objects()
    if isinstance(items, dict):
        return pd.DataFrame([items])
    if isinstance(items, (list, tuple)) and items and all(isinstance(o, (pd.Series, dict)) for o in items):
        return pd.DataFrame([dict(o) for o in items]).infer_objects()
    raise TypeError(
        f"test_dl: expected a DataFrame, a row (Series or dict) or a list of rows, got {type(items).__name__}"
    )
